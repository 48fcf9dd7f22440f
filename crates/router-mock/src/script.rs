//! Scripted behaviour: what a mock model does with a request (latency, pacing, the reply, a
//! failure, a hang, a tool call), and the JSON script file the binary reads.
//!
//! Everything here deserializes with `deny_unknown_fields`, so a typo in a script fails loudly.
//! Durations are written in milliseconds (`first_token_latency_ms`).

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// What a mock model does with a request. `Behavior::default()` answers at once with a
/// deterministic reply derived from the last user message.
///
/// Checks run in this order: `first_token_latency`, then `fail`, `hang`, `non_json`,
/// `huge_body_bytes`, and finally the answer (`tool_call` or text, streamed or not).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behavior {
    /// Delay before the first byte of any response (for a non-streaming answer: before the
    /// whole body; for a stream: before the headers). Written `first_token_latency_ms` in scripts.
    #[serde(rename = "first_token_latency_ms", deserialize_with = "millis")]
    pub first_token_latency: Duration,
    /// Pacing of stream chunks, in chunks (words) per second; `None` sends them as fast as the
    /// connection takes them.
    pub tokens_per_second: Option<f64>,
    /// The reply text. `None` gives a deterministic reply derived from the last user message
    /// (see [`crate::default_reply`]); streams send it one word per chunk.
    pub reply: Option<String>,
    /// Fail with this error before any output.
    pub fail: Option<Failure>,
    /// Streaming only: send this many content chunks (the two of `reasoning`, then words, or the
    /// two chunks of a tool call), then drop the connection abruptly (no finish chunk, no
    /// `[DONE]`); with 0 the client gets the 200 headers and then the cut. Ignored for
    /// non-streaming requests.
    pub fail_after_chunks: Option<usize>,
    /// Answer 200 with a body that is not JSON: `<html>oops</html>` (with an `application/json`
    /// content type), or for streams the event `data: not-json`.
    pub non_json: bool,
    /// Accept the request and never answer, until the client goes away.
    pub hang: bool,
    /// Answer 200 with a body of this many bytes (`1073741824` for 1 GiB), generated as it is
    /// sent and never held in memory: a completion whose `content` string never ends, or for a
    /// stream one `data:` line that never does. Chunked, so no `content-length` warns the client.
    pub huge_body_bytes: Option<u64>,
    /// Answer with a call to this function instead of text (`finish_reason: "tool_calls"`).
    pub tool_call: Option<String>,
    /// Report this many completion tokens instead of the number of words of the reply.
    pub completion_tokens: Option<u32>,
    /// Report this finish reason, in the wire format's own words (`length`, `max_tokens`,
    /// `end_turn`, `MAX_TOKENS`, `SAFETY`, ...), instead of the natural one.
    pub finish_reason: Option<String>,
    /// Streaming only: send this many content chunks, then the format's own error in the
    /// stream (OpenAI: an `error` chunk; Anthropic: an `error` event, `overloaded_error`;
    /// Gemini: a `SAFETY` stop) and end it cleanly.
    pub error_after_chunks: Option<usize>,
    /// Reason before answering: this text comes first, as `reasoning` and as a signed
    /// `reasoning_details` piece (`reasoning.text` with the signature [`crate::REASONING_SIGNATURE`]);
    /// streams send it in one chunk and the signature in the next.
    pub reasoning: Option<String>,
}

/// A scripted error, sent before any output with an OpenAI-style body
/// `{"error":{"message","type","param","code"}}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// The HTTP status.
    pub status: u16,
    /// Seconds for the `Retry-After` header; no header when `None`.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Which error body to send.
    #[serde(default)]
    pub kind: FailureKind,
}

/// The kind of error body a [`Failure`] sends, worded as OpenAI words it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A plain error for the status: `server_error` for 5xx, `invalid_request_error` otherwise.
    #[default]
    Generic,
    /// `rate_limit_exceeded` (OpenAI sends it with 429).
    RateLimit,
    /// `context_length_exceeded`: "This model's maximum context length is ... tokens" (OpenAI
    /// sends it with 400).
    ContextLength,
    /// The input was flagged by moderation (`content_policy_violation`; OpenRouter sends 403).
    Moderation,
    /// The provider is overloaded (`server_error`; usually 503 or 529).
    Overloaded,
    /// `invalid_api_key` whose message quotes the request's key back upper-cased, as a careless
    /// provider might: what a client of the router must never see.
    EchoKey,
}

/// A script file for the `router-mock` binary: a default behaviour and one per model name.
///
/// ```json
/// {"default": {"first_token_latency_ms": 20},
///  "models": {"gpt-flaky": {"fail": {"status": 429, "kind": "rate_limit", "retry_after": 1}}}}
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Script {
    /// The behaviour of models not named in `models`.
    pub default: Behavior,
    /// Behaviour per model name (the `model` of the request body).
    pub models: HashMap<String, Behavior>,
}

// === impl Failure ===

impl Failure {
    /// A failure with `status` and the [`FailureKind::Generic`] body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            kind: FailureKind::Generic,
        }
    }

    /// A 429 `rate_limit_exceeded`, with `Retry-After: retry_after` when given.
    pub fn rate_limit(retry_after: Option<u64>) -> Self {
        Self {
            status: 429,
            retry_after,
            kind: FailureKind::RateLimit,
        }
    }

    /// A 400 `context_length_exceeded`.
    pub fn context_length() -> Self {
        Self {
            status: 400,
            retry_after: None,
            kind: FailureKind::ContextLength,
        }
    }

    /// A 403 moderation refusal.
    pub fn moderation() -> Self {
        Self {
            status: 403,
            retry_after: None,
            kind: FailureKind::Moderation,
        }
    }

    /// A 503 "overloaded".
    pub fn overloaded() -> Self {
        Self {
            status: 503,
            retry_after: None,
            kind: FailureKind::Overloaded,
        }
    }
}

fn millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_reads_milliseconds_and_failures() {
        let script: Script = serde_json::from_str(
            r#"{"default":{"first_token_latency_ms":25,"tokens_per_second":50.0},
                "models":{"m":{"fail":{"status":429,"kind":"rate_limit","retry_after":3}}}}"#,
        )
        .unwrap();
        assert_eq!(
            script.default.first_token_latency,
            Duration::from_millis(25)
        );
        assert_eq!(script.default.tokens_per_second, Some(50.0));
        let fail = script.models["m"].fail.clone().unwrap();
        assert_eq!(
            (fail.status, fail.retry_after, fail.kind),
            (429, Some(3), FailureKind::RateLimit)
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<Script>(r#"{"default":{"first_token_latency":5}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("first_token_latency"), "{err}");
    }
}
