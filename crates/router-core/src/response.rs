//! The canonical (provider-neutral) chat completion response and stream chunk.
//!
//! Provider clients translate their wire formats into these; the server renders them in
//! OpenRouter's shape with its own `id`, `model` and `provider`. `choices` stays raw JSON in
//! OpenAI's shape, so an OpenAI-compatible response is passed through without being rebuilt.

use std::borrow::Cow;

use serde::Deserialize;

use crate::json::RawJson;
use crate::pricing::Usage;

/// Why a choice stopped, normalized to OpenRouter's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// The model finished, or hit a stop sequence.
    Stop,
    /// The token limit was reached.
    Length,
    /// The model called tools.
    ToolCalls,
    /// A content filter stopped it.
    ContentFilter,
    /// A provider error cut it short.
    Error,
}

impl FinishReason {
    /// Normalizes a provider's value (`end_turn`, `max_tokens`, `STOP`, ...). Unknown values map to
    /// `Stop`, as OpenRouter does.
    pub fn normalize(native: &str) -> Self {
        match native {
            "length" | "max_tokens" | "MAX_TOKENS" | "model_length" => FinishReason::Length,
            "tool_calls" | "tool_use" | "function_call" => FinishReason::ToolCalls,
            "content_filter" | "SAFETY" | "RECITATION" | "refusal" => FinishReason::ContentFilter,
            "error" => FinishReason::Error,
            _ => FinishReason::Stop,
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Error => "error",
        }
    }
}

/// A complete (non-streaming) response from a provider.
#[derive(Debug)]
pub struct ChatResponse {
    /// The provider's own id for the generation (kept for records, never shown as our `id`).
    pub upstream_id: Option<String>,
    /// `choices`, in OpenAI's chat completion shape.
    pub choices: RawJson,
    /// Token usage; zero when the provider reported none.
    pub usage: Usage,
    /// The first choice's finish reason, normalized.
    pub finish_reason: Option<FinishReason>,
    /// `system_fingerprint`, if the provider sent one.
    pub system_fingerprint: Option<String>,
    /// `service_tier`, if the provider sent one.
    pub service_tier: Option<String>,
}

/// One chunk of a streamed response.
#[derive(Debug)]
pub struct ChatChunk {
    /// `choices` of the chunk in OpenAI's chunk shape (`delta`, `finish_reason`); `[]` for a
    /// usage-only chunk.
    pub choices: RawJson,
    /// Whether a delta carries output (content, a tool call, reasoning or a refusal): the first
    /// such chunk is the stream's first token.
    pub has_output: bool,
    /// The first choice's finish reason, when this chunk ends it.
    pub finish_reason: Option<FinishReason>,
    /// Usage, on the provider's usage chunk.
    pub usage: Option<Usage>,
}

/// One piece of an OpenAI-shaped message's `reasoning_details`, read from the JSON that carries
/// it (a client's conversation, or an answer read back): `reasoning.text` (text and signature),
/// `reasoning.summary` (summary) or `reasoning.encrypted` (data). Strings borrow from the JSON
/// unless they hold escapes.
#[derive(Debug, Deserialize)]
pub struct ReasoningDetail<'a> {
    /// The piece's type.
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    /// The reasoning text (`reasoning.text`).
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
    /// The summary (`reasoning.summary`).
    #[serde(borrow, default)]
    pub summary: Option<Cow<'a, str>>,
    /// The provider's signature over the text, which lets the reasoning be sent back.
    #[serde(borrow, default)]
    pub signature: Option<Cow<'a, str>>,
    /// Redacted reasoning (`reasoning.encrypted`).
    #[serde(borrow, default)]
    pub data: Option<Cow<'a, str>>,
    /// Whose blocks these are (`anthropic-claude-v1`, `google-gemini-v1`).
    #[serde(borrow, default)]
    pub format: Option<Cow<'a, str>>,
}
