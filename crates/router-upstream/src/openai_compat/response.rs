//! Reads an OpenAI-compatible chat completion body into a [`ChatResponse`].
//!
//! The body is deserialized into borrowed wire types: `choices` is captured as raw JSON and
//! copied once into the response, `usage` is read into numbers, and the finish reason is read off
//! the choices without building them. The choice and usage types are shared with the stream
//! decoder.

use std::borrow::Cow;
use std::fmt;

use router_core::pricing::Usage;
use router_core::response::{ChatResponse, FinishReason};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::ProviderErrorBody;

/// What is wrong with a 2xx body.
#[derive(Debug)]
pub(crate) enum BodyProblem {
    /// Not JSON, or not the expected shape; says why.
    Invalid(String),
    /// The provider reported an error in a 2xx body.
    Error(ProviderErrorBody),
}

/// Reads a non-streaming response body.
pub(crate) fn parse_response(body: &[u8]) -> Result<ChatResponse, BodyProblem> {
    // Checking UTF-8 once up front lets serde_json read the body as a `str`, which skips the
    // per-string validation it does on bytes.
    let invalid = |err: &dyn fmt::Display| {
        BodyProblem::Invalid(format!("response body is not valid JSON: {err}"))
    };
    let body = std::str::from_utf8(body).map_err(|err| invalid(&err))?;
    let wire: WireResponse<'_> = serde_json::from_str(body).map_err(|err| invalid(&err))?;
    if let Some(error) = wire.error {
        return Err(BodyProblem::Error(error_member(error)));
    }
    let Some(choices) = wire.choices else {
        return Err(BodyProblem::Invalid(
            "response body has no `choices`".to_owned(),
        ));
    };
    let summary = summarize_choices(choices).map_err(BodyProblem::Invalid)?;
    Ok(ChatResponse {
        upstream_id: wire.id.map(Cow::into_owned),
        choices: choices.to_owned(),
        usage: wire.usage.map(WireUsage::into_usage).unwrap_or_default(),
        finish_reason: summary
            .finish_reason
            .as_deref()
            .map(FinishReason::normalize),
        system_fingerprint: wire.system_fingerprint.map(Cow::into_owned),
        service_tier: wire.service_tier.map(Cow::into_owned),
    })
}

/// Reads the `error` member of a body or chunk.
pub(crate) fn error_member(error: &RawValue) -> ProviderErrorBody {
    match serde_json::from_str::<serde_json::Value>(error.get()) {
        Ok(value) => ProviderErrorBody::from_error_member(&value),
        Err(_) => ProviderErrorBody::default(),
    }
}

/// A chat completion (or chunk) body, borrowed.
#[derive(Deserialize)]
struct WireResponse<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Option<&'a RawValue>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(borrow, default)]
    system_fingerprint: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    service_tier: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// `usage` in OpenAI's shape. Counts that are missing, `null` or not integers read as zero.
#[derive(Deserialize, Default)]
pub(crate) struct WireUsage {
    #[serde(default, deserialize_with = "count")]
    prompt_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    completion_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    total_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptTokensDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionTokensDetails>,
}

#[derive(Deserialize, Default)]
struct PromptTokensDetails {
    #[serde(default, deserialize_with = "count")]
    cached_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    cache_write_tokens: u64,
}

#[derive(Deserialize, Default)]
struct CompletionTokensDetails {
    #[serde(default, deserialize_with = "count")]
    reasoning_tokens: u64,
}

impl WireUsage {
    pub(crate) fn into_usage(self) -> Usage {
        let prompt = self.prompt_tokens_details.unwrap_or_default();
        let completion = self.completion_tokens_details.unwrap_or_default();
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            total_tokens: self.total_tokens,
            cached_tokens: prompt.cached_tokens,
            cache_write_tokens: prompt.cache_write_tokens,
            reasoning_tokens: completion.reasoning_tokens,
        }
    }
}

/// A token count: a non-negative integer; `null`, negatives and non-numbers read as zero, and
/// a float is truncated.
fn count<'de, D: de::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct CountVisitor;

    impl<'de> Visitor<'de> for CountVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a token count")
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
            Ok(value)
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
            Ok(u64::try_from(value).unwrap_or(0))
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<u64, E> {
            // `as` saturates, and maps NaN to zero.
            Ok(value as u64)
        }

        fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
            Ok(0)
        }

        fn visit_none<E: de::Error>(self) -> Result<u64, E> {
            Ok(0)
        }

        fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
            deserializer.deserialize_any(self)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<u64, E> {
            Ok(0)
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<u64, E> {
            Ok(0)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(0)
        }

        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(0)
        }
    }

    deserializer.deserialize_any(CountVisitor)
}

/// What the stream and the response need to know about `choices`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ChoicesSummary<'a> {
    /// The first non-null `finish_reason`, as the provider wrote it.
    pub(crate) finish_reason: Option<Cow<'a, str>>,
    /// Whether some `delta` carries output (content, tool calls, reasoning, a refusal, audio).
    pub(crate) has_output: bool,
}

/// Reads `choices` (an array) for its finish reason and output, without building the choices.
pub(crate) fn summarize_choices(choices: &RawValue) -> Result<ChoicesSummary<'_>, String> {
    if !choices.get().starts_with('[') {
        return Err("`choices` is not an array".to_owned());
    }
    serde_json::from_str::<ChoicesSummary<'_>>(choices.get())
        .map_err(|err| format!("`choices` is malformed: {err}"))
}

impl<'de> Deserialize<'de> for ChoicesSummary<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SummaryVisitor;

        impl<'de> Visitor<'de> for SummaryVisitor {
            type Value = ChoicesSummary<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of choices")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut summary = ChoicesSummary::default();
                while let Some(choice) = seq.next_element::<WireChoice<'de>>()? {
                    if summary.finish_reason.is_none() {
                        summary.finish_reason = choice.finish_reason;
                    }
                    summary.has_output |= choice.delta.is_some_and(|delta| delta.has_output());
                }
                Ok(summary)
            }
        }

        deserializer.deserialize_seq(SummaryVisitor)
    }
}

/// One choice, only the parts we read (`message` is skipped).
#[derive(Deserialize)]
struct WireChoice<'a> {
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    delta: Option<WireDelta<'a>>,
}

/// A stream delta, only the fields that count as output.
#[derive(Deserialize)]
struct WireDelta<'a> {
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_details: Option<&'a RawValue>,
    #[serde(borrow, default)]
    refusal: Option<&'a RawValue>,
    #[serde(borrow, default)]
    audio: Option<&'a RawValue>,
}

impl WireDelta<'_> {
    fn has_output(&self) -> bool {
        [
            self.content,
            self.tool_calls,
            self.reasoning,
            self.reasoning_content,
            self.reasoning_details,
            self.refusal,
            self.audio,
        ]
        .into_iter()
        .flatten()
        .any(|raw| !matches!(raw.get(), "null" | "\"\"" | "[]" | "{}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_usage_ids_and_finish_reason() {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt","system_fingerprint":"fp_1","service_tier":"default","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"there\""},"finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":8,"cache_write_tokens":2,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":3}}}"#;
        let response = parse_response(body).unwrap();
        assert_eq!(response.upstream_id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(response.system_fingerprint.as_deref(), Some("fp_1"));
        assert_eq!(response.service_tier.as_deref(), Some("default"));
        assert_eq!(response.finish_reason, Some(FinishReason::Length));
        assert_eq!(
            response.choices.get(),
            r#"[{"index":0,"message":{"role":"assistant","content":"Hi \"there\""},"finish_reason":"length"}]"#
        );
        assert_eq!(
            response.usage,
            Usage {
                prompt_tokens: 12,
                completion_tokens: 5,
                total_tokens: 17,
                cached_tokens: 8,
                cache_write_tokens: 2,
                reasoning_tokens: 3,
            }
        );
    }

    #[test]
    fn missing_or_odd_usage_counts_read_as_zero() {
        let body = br#"{"choices":[{"finish_reason":"tool_calls","message":{}}],"usage":{"prompt_tokens":4,"completion_tokens":null,"total_tokens":4.0,"prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":-1}}}"#;
        let response = parse_response(body).unwrap();
        assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(
            response.usage,
            Usage {
                prompt_tokens: 4,
                total_tokens: 4,
                ..Usage::default()
            }
        );
        let response = parse_response(br#"{"choices":[]}"#).unwrap();
        assert_eq!(response.usage, Usage::default());
        assert_eq!(response.finish_reason, None);
        assert_eq!(response.upstream_id, None);
    }

    #[test]
    fn rejects_bodies_that_are_not_completions() {
        for body in [
            &b"<html>bad gateway</html>"[..],
            b"",
            b"{\"id\":\"x\"}",
            b"{\"choices\":null}",
            b"{\"choices\":{\"0\":1}}",
            b"[1,2]",
        ] {
            assert!(
                matches!(parse_response(body), Err(BodyProblem::Invalid(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn an_error_object_in_a_2xx_body_is_an_error() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        let Err(BodyProblem::Error(error)) = parse_response(body) else {
            panic!("expected an error");
        };
        assert_eq!(error.message.as_deref(), Some("Rate limit reached"));
        assert_eq!(error.code.as_deref(), Some("rate_limit_exceeded"));
    }

    #[test]
    fn output_is_content_tool_calls_reasoning_or_refusal() {
        let cases = [
            (r#"[{"delta":{"role":"assistant","content":""}}]"#, false),
            (r#"[{"delta":{"content":null,"tool_calls":[]}}]"#, false),
            (r#"[]"#, false),
            (r#"[{"delta":{},"finish_reason":"stop"}]"#, false),
            (r#"[{"delta":{"content":"a"}}]"#, true),
            (r#"[{"delta":{"content":"\n"}}]"#, true),
            (r#"[{"delta":{"tool_calls":[{"index":0}]}}]"#, true),
            (r#"[{"delta":{"reasoning":"hmm"}}]"#, true),
            (r#"[{"delta":{"reasoning_content":"hmm"}}]"#, true),
            (r#"[{"delta":{"refusal":"no"}}]"#, true),
            (r#"[{"delta":{}},{"delta":{"content":"b"}}]"#, true),
        ];
        for (choices, expected) in cases {
            let raw: Box<RawValue> = serde_json::from_str(choices).unwrap();
            let summary = summarize_choices(&raw).unwrap();
            assert_eq!(summary.has_output, expected, "{choices}");
        }
    }

    #[test]
    fn finish_reason_is_the_first_non_null_one() {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"[{"delta":{},"finish_reason":null},{"delta":{},"finish_reason":"end_turn"}]"#,
        )
        .unwrap();
        let summary = summarize_choices(&raw).unwrap();
        assert_eq!(summary.finish_reason.as_deref(), Some("end_turn"));
    }
}
