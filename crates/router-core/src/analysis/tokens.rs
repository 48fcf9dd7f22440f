//! The prompt token estimate, one function for the server and for offline calibration and
//! evaluation, so the Auto Router decides the same on the same prompt online and offline.
//!
//! A prompt costs about one token per four bytes of its text (UTF-8), plus
//! [`MESSAGE_OVERHEAD_BYTES`] per message for the role and separators, plus the raw bytes of the
//! `tools` definitions. Text is measured as decoded, not as the client encoded it: a string
//! content's length is read off its JSON literal without decoding or allocating (`\n` is one
//! byte, `\u00e9` two), so `"é"` and `"\u00e9"` count alike, and pretty-printed JSON costs no more
//! than compact. A content given as an array of parts counts its raw JSON (images included).
//!
//! Offline, a labelled prompt is one user message: [`user_prompt_tokens`] and
//! [`user_prompt_features`] give exactly what the server computes for
//! `{"messages":[{"role":"user","content":PROMPT}]}`.

use crate::json::Json;
use crate::request::{Message, RequestFeatures, estimate_tokens};

/// Bytes counted for each message besides its content (role, separators).
pub const MESSAGE_OVERHEAD_BYTES: usize = 16;

/// Estimated prompt tokens of a request's messages and `tools`.
pub fn request_tokens(messages: &[Message<'_>], tools: Option<Json<'_>>) -> u32 {
    let content: usize = messages
        .iter()
        .map(|message| {
            let text = message.content.map_or(0, |raw| content_bytes(raw.get()));
            let calls = message.tool_calls.map_or(0, |raw| raw.get().len());
            MESSAGE_OVERHEAD_BYTES + text + calls
        })
        .sum();
    estimate_tokens(content + tools.map_or(0, |raw| raw.get().len()))
}

/// Estimated prompt tokens of `prompt` sent as the only (user) message.
pub fn user_prompt_tokens(prompt: &str) -> u32 {
    estimate_tokens(MESSAGE_OVERHEAD_BYTES + prompt.len())
}

/// The request features the server computes for `prompt` sent as the only (user) message, with
/// no tools, images, structured output or `max_tokens`.
pub fn user_prompt_features(prompt: &str) -> RequestFeatures {
    RequestFeatures {
        prompt_tokens_estimate: user_prompt_tokens(prompt),
        ..RequestFeatures::default()
    }
}

/// The bytes of a content value: the decoded UTF-8 length of a string literal, else the raw
/// JSON's length.
fn content_bytes(raw: &str) -> usize {
    match raw.strip_prefix('"').and_then(|it| it.strip_suffix('"')) {
        Some(inner) => decoded_len(inner.as_bytes()),
        None => raw.len(),
    }
}

/// The UTF-8 length of a valid JSON string literal's inside once its escapes are decoded.
fn decoded_len(inner: &[u8]) -> usize {
    let escapes = inner.iter().filter(|&&b| b == b'\\').count();
    if escapes == 0 {
        return inner.len();
    }
    let mut len = 0;
    let mut idx = 0;
    while idx < inner.len() {
        if inner[idx] != b'\\' {
            len += 1;
            idx += 1;
            continue;
        }
        match inner.get(idx + 1) {
            Some(b'u') => {
                let unit = inner
                    .get(idx + 2..idx + 6)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u16::from_str_radix(hex, 16).ok())
                    .unwrap_or(0);
                len += match unit {
                    0..=0x7f => 1,
                    0x80..=0x7ff => 2,
                    // Each half of a surrogate pair: two of the character's four bytes.
                    0xd800..=0xdfff => 2,
                    _ => 3,
                };
                idx += 6;
            }
            _ => {
                len += 1;
                idx += 2;
            }
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::ChatRequest;

    fn server_estimate(body: &str) -> u32 {
        ChatRequest::parse(body.as_bytes())
            .unwrap()
            .features()
            .prompt_tokens_estimate
    }

    #[test]
    fn escapes_count_as_the_text_they_stand_for() {
        assert_eq!(decoded_len(br"plain"), 5);
        assert_eq!(decoded_len(br#"a\nb\"c\\"#), 6);
        assert_eq!(decoded_len(br"\u00e9"), "é".len());
        assert_eq!(decoded_len(br"\u4e2d"), "中".len());
        assert_eq!(decoded_len(br"\ud83d\ude00"), "😀".len());
        assert_eq!(content_bytes(r#""é""#), content_bytes(r#""\u00e9""#));
        assert_eq!(content_bytes(r#"[{"type":"text","text":"x"}]"#), 28);
    }

    #[test]
    fn the_server_counts_a_prompt_as_offline_tools_do() {
        for prompt in [
            "",
            "hi",
            "Fix this:\n\tdef f(x): return \"x\" \\ 2",
            "Übersetze bitte: «Guten Morgen» — 中文也可以 😀",
        ] {
            let content = serde_json::to_string(prompt).unwrap();
            let compact = format!(r#"{{"messages":[{{"role":"user","content":{content}}}]}}"#);
            let pretty = format!(
                "{{\n  \"model\": \"openrouter/auto\",\n  \"messages\": [\n    {{ \"role\": \"user\", \"content\": {content} }}\n  ]\n}}"
            );
            // Every non-ASCII character as a \u escape, as Python's json.dumps writes it.
            let ascii: String = content
                .chars()
                .flat_map(|c| {
                    if c.is_ascii() {
                        vec![c.to_string()]
                    } else {
                        let mut units = [0u16; 2];
                        c.encode_utf16(&mut units)
                            .iter()
                            .map(|unit| format!("\\u{unit:04x}"))
                            .collect()
                    }
                })
                .collect();
            let escaped = format!(r#"{{"messages":[{{"role":"user","content":{ascii}}}]}}"#);
            let offline = user_prompt_tokens(prompt);
            assert_eq!(server_estimate(&compact), offline, "{prompt:?}");
            assert_eq!(server_estimate(&pretty), offline, "{prompt:?}");
            assert_eq!(server_estimate(&escaped), offline, "{prompt:?}");
            assert_eq!(user_prompt_features(prompt).prompt_tokens_estimate, offline);
        }
    }

    #[test]
    fn messages_and_tools_add_up() {
        let body = r#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"12345678"}],"tools":[{"type":"function"}]}"#;
        let tools = r#"[{"type":"function"}]"#.len();
        let expected = estimate_tokens(2 * MESSAGE_OVERHEAD_BYTES + 8 + 8 + tools);
        assert_eq!(server_estimate(body), expected);
    }
}
