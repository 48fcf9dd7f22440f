//! Deterministic reply text and token counts.
//!
//! The mock never samples: the same request always gets the same reply and the same usage, so
//! tests can assert exact values and benchmarks do the same work on every run.

/// How many characters of the last user message the default reply quotes.
const QUOTED_CHARS: usize = 40;

/// The reply a model gives when its [`crate::Behavior`] sets none:
/// `Mock reply to: <first 40 characters of the last user message>`.
///
/// ```
/// assert_eq!(router_mock::default_reply("What is the capital of France?"),
///            "Mock reply to: What is the capital of France?");
/// ```
pub fn default_reply(last_user_text: &str) -> String {
    let quoted = match last_user_text.char_indices().nth(QUOTED_CHARS) {
        Some((end, _)) => &last_user_text[..end],
        None => last_user_text,
    };
    let quoted = quoted.trim();
    if quoted.is_empty() {
        return "Mock reply.".to_owned();
    }
    format!("Mock reply to: {quoted}")
}

/// Completion tokens of `reply`: its number of whitespace-separated words.
pub(crate) fn completion_tokens(reply: &str) -> u32 {
    u32::try_from(reply.split_whitespace().count()).unwrap_or(u32::MAX)
}

/// Prompt tokens of `chars` characters of message text: one token per four characters.
pub(crate) fn tokens_of_chars(chars: usize) -> u32 {
    u32::try_from(chars / 4).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_at_most_forty_characters_on_a_char_boundary() {
        let long = "é".repeat(50);
        let reply = default_reply(&long);
        assert_eq!(reply, format!("Mock reply to: {}", "é".repeat(40)));
        assert_eq!(default_reply("  "), "Mock reply.");
    }

    #[test]
    fn counts_words_and_characters() {
        assert_eq!(completion_tokens("Mock reply to:  hi\n"), 4);
        assert_eq!(completion_tokens(""), 0);
        assert_eq!(tokens_of_chars(9), 2);
    }
}
