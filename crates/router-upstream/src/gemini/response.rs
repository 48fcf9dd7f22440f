//! Reads Gemini answers (`GenerateContentResponse`), whole ([`parse_response`]) and streamed
//! ([`StreamReader`], one response per SSE event), into the canonical shapes of
//! [`crate::canonical::output`].
//!
//! Parts become content (text), reasoning (text parts marked `thought`), tool calls
//! (`functionCall`, arguments re-encoded as a JSON string, an id made up when Gemini gives
//! none) and `reasoning_details` (a `thoughtSignature`, sent back with the call next turn).
//! `finishReason` is normalized ([`finish`]) and kept as `native_finish_reason`. Usage counts
//! thoughts as completion and reasoning tokens and `cachedContentTokenCount` as cached tokens.
//! A prompt blocked for safety (`promptFeedback.blockReason`), and in a stream a safety stop,
//! is a moderation error: before the first token the request falls back, after it the stream
//! ends with the error chunk.

use std::borrow::Cow;

use router_core::pricing::Usage;
use router_core::response::{ChatResponse, FinishReason};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::SYNTHETIC_ID_PREFIX;
use super::request::FORMAT;
use crate::canonical::output::{
    self, Delta, Finish, FunctionDelta, Message, ReasoningDetail, ToolCall, ToolCallDelta,
};
use crate::error::ProviderErrorBody;
use crate::event_stream::{Event, EventReader};
use crate::sse::SseEvent;

use crate::exchange::BodyProblem;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse<'a> {
    #[serde(borrow, default)]
    candidates: Vec<Candidate<'a>>,
    #[serde(borrow, default)]
    prompt_feedback: Option<PromptFeedback<'a>>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(borrow, default)]
    response_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    #[serde(borrow, default)]
    content: Option<CandidateContent<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CandidateContent<'a> {
    #[serde(borrow, default)]
    parts: Vec<WirePart<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePart<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    thought: bool,
    #[serde(borrow, default)]
    function_call: Option<WireFunctionCall<'a>>,
    #[serde(borrow, default)]
    thought_signature: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireFunctionCall<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    args: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback<'a> {
    #[serde(borrow, default)]
    block_reason: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
    #[serde(default)]
    tool_use_prompt_token_count: u64,
    #[serde(default)]
    total_token_count: u64,
}

/// The normalized finish for a `finishReason`; `has_tool_calls` turns a `STOP` after function
/// calls into `tool_calls`.
pub(crate) fn finish(native: &str, has_tool_calls: bool) -> Finish<'_> {
    let reason = match native {
        "STOP" if has_tool_calls => FinishReason::ToolCalls,
        "STOP" | "FINISH_REASON_UNSPECIFIED" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY"
        | "LANGUAGE" => FinishReason::ContentFilter,
        "MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" => FinishReason::Error,
        _ => FinishReason::Stop,
    };
    Finish { reason, native }
}

/// Whether a finish reason is a safety block (a stream ends with an error on it).
fn is_safety_block(native: &str) -> bool {
    matches!(
        native,
        "SAFETY" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY"
    )
}

/// The error for content blocked for safety, worded so it classifies as moderation.
fn safety_error(what: &str, reason: &str) -> ProviderErrorBody {
    ProviderErrorBody {
        message: Some(format!(
            "the {what} was blocked by the provider's safety system ({reason})"
        )),
        code: Some(reason.to_owned()),
        numeric_code: None,
    }
}

impl UsageMetadata {
    fn usage(self) -> Usage {
        let prompt = self
            .prompt_token_count
            .saturating_add(self.tool_use_prompt_token_count);
        let completion = self
            .candidates_token_count
            .saturating_add(self.thoughts_token_count);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: self
                .total_token_count
                .max(prompt.saturating_add(completion)),
            cached_tokens: self.cached_content_token_count,
            cache_write_tokens: 0,
            reasoning_tokens: self.thoughts_token_count,
        }
    }
}

/// Reads a whole answer.
pub(crate) fn parse_response(
    body: &[u8],
    exclude_reasoning: bool,
) -> Result<ChatResponse, BodyProblem> {
    let wire: WireResponse<'_> = serde_json::from_slice(body)
        .map_err(|err| BodyProblem::Invalid(format!("response body is not an answer: {err}")))?;
    if wire.error.is_some() {
        return Err(BodyProblem::Error(ProviderErrorBody::parse(body)));
    }
    let Some(candidate) = wire.candidates.into_iter().next() else {
        return match wire
            .prompt_feedback
            .and_then(|feedback| feedback.block_reason)
        {
            Some(reason) => Err(BodyProblem::Error(safety_error("prompt", &reason))),
            None => Err(BodyProblem::Invalid(
                "the answer has no candidates".to_owned(),
            )),
        };
    };
    let mut message = Message::default();
    let mut content = String::new();
    let mut reasoning = String::new();
    for part in candidate.content.map(|it| it.parts).unwrap_or_default() {
        if let Some(signature) = part.thought_signature {
            let index = message.reasoning_details.len();
            message
                .reasoning_details
                .push(signature_detail(signature.into_owned(), index));
        }
        if let Some(call) = part.function_call {
            let index = message.tool_calls.len();
            message.tool_calls.push(ToolCall {
                id: call_id(call.id.as_deref(), index),
                name: call.name.into_owned(),
                arguments: call.args.map_or("{}", RawValue::get).to_owned(),
            });
        } else if let Some(text) = part.text {
            match part.thought {
                true => reasoning.push_str(&text),
                false => content.push_str(&text),
            }
        }
    }
    message.content = (!content.is_empty() || message.tool_calls.is_empty()).then_some(content);
    if exclude_reasoning {
        message.reasoning_details.clear();
    } else if !reasoning.is_empty() {
        message.reasoning = Some(reasoning);
    }
    let has_tool_calls = !message.tool_calls.is_empty();
    let finish = candidate
        .finish_reason
        .as_deref()
        .map(|native| finish(native, has_tool_calls));
    let usage = wire.usage_metadata.unwrap_or_default().usage();
    Ok(output::response(
        wire.response_id.map(Cow::into_owned),
        &message,
        finish,
        usage,
    ))
}

/// The call's id: Gemini's, else `call_<index>`.
fn call_id(id: Option<&str>, index: usize) -> String {
    match id {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => format!("{SYNTHETIC_ID_PREFIX}{index}"),
    }
}

fn signature_detail(signature: String, index: usize) -> ReasoningDetail {
    ReasoningDetail {
        kind: "reasoning.encrypted",
        text: None,
        signature: None,
        data: Some(signature),
        format: FORMAT,
        index,
    }
}

// === the stream ===

/// Reads the events of one `streamGenerateContent?alt=sse` stream: each is a whole
/// `GenerateContentResponse` with the next parts.
pub(crate) struct StreamReader {
    exclude_reasoning: bool,
    /// The role went out on the first chunk.
    sent_role: bool,
    /// Output went out: a safety stop now ends the stream with an error after it.
    sent_output: bool,
    /// Tool calls so far (the next one's OpenAI `index`).
    tool_calls: usize,
    /// Reasoning blocks so far.
    reasoning_blocks: usize,
    /// A finish was handed on; a later usage-only event becomes a usage chunk.
    finished: bool,
}

impl StreamReader {
    /// A reader; `exclude_reasoning` drops thoughts from the chunks.
    pub(crate) fn new(exclude_reasoning: bool) -> Self {
        Self {
            exclude_reasoning,
            sent_role: false,
            sent_output: false,
            tool_calls: 0,
            reasoning_blocks: 0,
            finished: false,
        }
    }

    fn read_data(&mut self, data: &[u8]) -> Event {
        let wire: WireResponse<'_> = match serde_json::from_slice(data) {
            Ok(wire) => wire,
            Err(err) => return Event::Invalid(format!("stream event is not valid JSON: {err}")),
        };
        if wire.error.is_some() {
            return Event::Error(ProviderErrorBody::parse(data));
        }
        let usage = wire.usage_metadata.map(UsageMetadata::usage);
        let Some(candidate) = wire.candidates.into_iter().next() else {
            if let Some(reason) = wire.prompt_feedback.and_then(|it| it.block_reason) {
                return Event::Error(safety_error("prompt", &reason));
            }
            return match (usage, self.finished) {
                (Some(usage), true) => Event::Chunk(output::usage_chunk(usage)),
                _ => Event::Skip,
            };
        };
        if let Some(native) = candidate.finish_reason.as_deref()
            && is_safety_block(native)
        {
            let what = if self.sent_output { "answer" } else { "prompt" };
            return Event::Error(safety_error(what, native));
        }
        let mut content = String::new();
        let mut reasoning = String::new();
        let mut details = Vec::new();
        let mut calls: Vec<(String, Cow<'_, str>, &str)> = Vec::new();
        for part in candidate.content.map(|it| it.parts).unwrap_or_default() {
            if let Some(signature) = part.thought_signature
                && !self.exclude_reasoning
            {
                details.push(signature_detail(
                    signature.into_owned(),
                    self.reasoning_blocks,
                ));
                self.reasoning_blocks += 1;
            }
            if let Some(call) = part.function_call {
                let id = call_id(call.id.as_deref(), self.tool_calls + calls.len());
                calls.push((id, call.name, call.args.map_or("{}", RawValue::get)));
            } else if let Some(text) = part.text {
                match part.thought {
                    true if !self.exclude_reasoning => reasoning.push_str(&text),
                    true => {}
                    false => content.push_str(&text),
                }
            }
        }
        let first_call = self.tool_calls;
        self.tool_calls += calls.len();
        let tool_calls: Vec<ToolCallDelta<'_>> = calls
            .iter()
            .enumerate()
            .map(|(offset, (id, name, arguments))| ToolCallDelta {
                index: first_call + offset,
                id: Some(id),
                kind: Some("function"),
                function: FunctionDelta {
                    name: Some(name),
                    arguments,
                },
            })
            .collect();
        let has_tool_calls = self.tool_calls > 0;
        let finish = candidate
            .finish_reason
            .as_deref()
            .map(|native| finish(native, has_tool_calls));
        let delta = Delta {
            role: (!self.sent_role).then_some("assistant"),
            content: (!content.is_empty() || !self.sent_role).then_some(content.as_str()),
            reasoning: (!reasoning.is_empty()).then_some(reasoning.as_str()),
            reasoning_details: (!details.is_empty()).then_some(details),
            tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        };
        self.sent_role = true;
        self.finished |= finish.is_some();
        let usage = finish.as_ref().and(usage);
        let chunk = output::chunk(&delta, finish, usage);
        self.sent_output |= chunk.has_output;
        Event::Chunk(chunk)
    }
}

impl EventReader for StreamReader {
    fn read(&mut self, event: &SseEvent) -> Event {
        self.read_data(event.data())
    }
}

#[cfg(test)]
mod tests;
