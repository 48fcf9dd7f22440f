//! The canonical answer, read back: what the chat exchange renders (a `chat.completion` body, a
//! `chat.completion.chunk` event, an error in OpenRouter's shape), borrowed from its bytes.
//!
//! The `choices` are the provider's, copied verbatim by the exchange, so only the members every
//! format needs are read and anything else is skipped. Strings borrow from the bytes unless
//! they hold escapes.

use std::borrow::Cow;

use router_core::response::ReasoningDetail;
use serde::Deserialize;
use serde_json::value::RawValue;

/// A `chat.completion` body.
#[derive(Debug, Deserialize)]
pub(crate) struct Completion<'a> {
    /// The generation id (`gen-…`).
    #[serde(borrow)]
    pub(crate) id: Cow<'a, str>,
    /// The model that answered.
    #[serde(borrow)]
    pub(crate) model: Cow<'a, str>,
    /// Unix seconds.
    #[serde(default)]
    pub(crate) created: u64,
    /// The choices; the first is the answer.
    #[serde(borrow, default)]
    pub(crate) choices: Vec<Choice<'a>>,
    /// Token counts and cost, as rendered (see [`Completion::usage`]).
    #[serde(borrow, default)]
    pub(crate) usage: Option<&'a RawValue>,
}

/// One choice of a `chat.completion`.
#[derive(Debug, Deserialize)]
pub(crate) struct Choice<'a> {
    /// The assistant's message.
    #[serde(borrow, default)]
    pub(crate) message: Option<Message<'a>>,
    /// `stop`, `length`, `tool_calls`, `content_filter` or `error`.
    #[serde(borrow, default)]
    pub(crate) finish_reason: Option<Cow<'a, str>>,
}

/// The assistant's message of a choice.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Message<'a> {
    /// The text.
    #[serde(borrow, default)]
    pub(crate) content: Option<Cow<'a, str>>,
    /// A refusal, when the model refused.
    #[serde(borrow, default)]
    pub(crate) refusal: Option<Cow<'a, str>>,
    /// The reasoning text.
    #[serde(borrow, default)]
    pub(crate) reasoning: Option<Cow<'a, str>>,
    /// The reasoning, in pieces with their signatures.
    #[serde(borrow, default)]
    pub(crate) reasoning_details: Option<Vec<ReasoningDetail<'a>>>,
    /// The function calls.
    #[serde(borrow, default)]
    pub(crate) tool_calls: Option<Vec<ToolCall<'a>>>,
}

/// A function call, whole (in a message) or in pieces (in a chunk's delta).
#[derive(Debug, Deserialize)]
pub(crate) struct ToolCall<'a> {
    /// Which call a streamed piece belongs to.
    #[serde(default)]
    pub(crate) index: Option<u32>,
    /// The call id.
    #[serde(borrow, default)]
    pub(crate) id: Option<Cow<'a, str>>,
    /// The function and its arguments.
    #[serde(borrow, default)]
    pub(crate) function: Option<FunctionCall<'a>>,
}

/// A function call's name and arguments (a JSON text, or a piece of it).
#[derive(Debug, Deserialize)]
pub(crate) struct FunctionCall<'a> {
    /// The function.
    #[serde(borrow, default)]
    pub(crate) name: Option<Cow<'a, str>>,
    /// The arguments.
    #[serde(borrow, default)]
    pub(crate) arguments: Option<Cow<'a, str>>,
}

/// One `chat.completion.chunk` event.
#[derive(Debug, Deserialize)]
pub(crate) struct Chunk<'a> {
    /// The generation id.
    #[serde(borrow)]
    pub(crate) id: Cow<'a, str>,
    /// The model answering.
    #[serde(borrow)]
    pub(crate) model: Cow<'a, str>,
    /// Unix seconds.
    #[serde(default)]
    pub(crate) created: u64,
    /// The choices' deltas; empty in the usage chunk.
    #[serde(borrow, default)]
    pub(crate) choices: Vec<ChunkChoice<'a>>,
    /// The usage (the last chunk before `[DONE]`), as rendered (see [`Chunk::usage`]).
    #[serde(borrow, default)]
    pub(crate) usage: Option<&'a RawValue>,
    /// The error that ended a committed stream.
    #[serde(borrow, default)]
    pub(crate) error: Option<ErrorObject<'a>>,
}

/// One choice of a chunk.
#[derive(Debug, Deserialize)]
pub(crate) struct ChunkChoice<'a> {
    /// What this chunk adds.
    #[serde(borrow, default)]
    pub(crate) delta: Option<Message<'a>>,
    /// Set on the choice's last chunk.
    #[serde(borrow, default)]
    pub(crate) finish_reason: Option<Cow<'a, str>>,
}

/// `usage`, as the exchange renders it.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct Usage {
    /// Prompt tokens, cached ones included.
    #[serde(default)]
    pub(crate) prompt_tokens: u64,
    /// Completion tokens, reasoning included.
    #[serde(default)]
    pub(crate) completion_tokens: u64,
    /// Cache reads and writes.
    #[serde(default)]
    pub(crate) prompt_tokens_details: PromptDetails,
    /// Reasoning tokens.
    #[serde(default)]
    pub(crate) completion_tokens_details: CompletionDetails,
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct PromptDetails {
    /// Prompt tokens read from the provider's cache.
    #[serde(default)]
    pub(crate) cached_tokens: u64,
    /// Prompt tokens written to it.
    #[serde(default)]
    pub(crate) cache_write_tokens: u64,
}

/// `usage.completion_tokens_details`.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct CompletionDetails {
    /// Completion tokens spent reasoning.
    #[serde(default)]
    pub(crate) reasoning_tokens: u64,
}

/// An error body in OpenRouter's shape.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody<'a> {
    /// The error.
    #[serde(borrow)]
    pub(crate) error: ErrorObject<'a>,
}

/// `error` of an error body or of a stream's error chunk.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorObject<'a> {
    /// The HTTP status.
    pub(crate) code: u16,
    /// What went wrong, safe to show.
    #[serde(borrow)]
    pub(crate) message: Cow<'a, str>,
    /// `error_type` and what else the error adds.
    #[serde(borrow, default)]
    pub(crate) metadata: Option<ErrorMetadata<'a>>,
}

/// `error.metadata`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorMetadata<'a> {
    /// OpenRouter's typed error.
    #[serde(borrow, default)]
    pub(crate) error_type: Option<Cow<'a, str>>,
}

// === impl Completion, Chunk ===

impl Completion<'_> {
    /// The token counts.
    pub(crate) fn usage(&self) -> Usage {
        Usage::read(self.usage)
    }
}

impl Chunk<'_> {
    /// The token counts, when this is the usage chunk.
    pub(crate) fn usage(&self) -> Option<Usage> {
        self.usage.map(|raw| Usage::read(Some(raw)))
    }
}

// === impl Usage ===

impl Usage {
    /// Reads `raw`; zeros when it is missing or `null`.
    fn read(raw: Option<&RawValue>) -> Usage {
        raw.and_then(|raw| serde_json::from_str::<Option<Usage>>(raw.get()).ok())
            .flatten()
            .unwrap_or_default()
    }
}

impl Usage {
    /// Prompt tokens neither read from nor written to the cache.
    pub(crate) fn uncached_prompt_tokens(&self) -> u64 {
        self.prompt_tokens
            .saturating_sub(self.prompt_tokens_details.cached_tokens)
            .saturating_sub(self.prompt_tokens_details.cache_write_tokens)
    }
}

// === impl ErrorObject ===

impl ErrorObject<'_> {
    /// A 500 that says nothing more.
    pub(crate) fn internal() -> ErrorObject<'static> {
        ErrorObject {
            code: 500,
            message: Cow::Borrowed("internal server error"),
            metadata: None,
        }
    }

    /// OpenRouter's typed error, when the error has one.
    pub(crate) fn error_type(&self) -> Option<&str> {
        self.metadata.as_ref()?.error_type.as_deref()
    }
}

impl Choice<'_> {
    /// The message, or an empty one.
    pub(crate) fn message(&self) -> &Message<'_> {
        const EMPTY: &Message<'static> = &Message {
            content: None,
            refusal: None,
            reasoning: None,
            reasoning_details: None,
            tool_calls: None,
        };
        self.message.as_ref().unwrap_or(EMPTY)
    }
}

impl Message<'_> {
    /// Whether `reasoning_details` has pieces (which then say all `reasoning` says, and more).
    pub(crate) fn has_reasoning_details(&self) -> bool {
        self.reasoning_details
            .as_ref()
            .is_some_and(|details| !details.is_empty())
    }
}
