//! Reads Messages API answers: a whole message ([`parse_response`]) and the stream's events
//! ([`StreamReader`]), into the canonical shapes of [`crate::canonical::output`].
//!
//! `stop_reason` is normalized (`end_turn`, `stop_sequence`: `stop`; `max_tokens`: `length`;
//! `tool_use`: `tool_calls`; `refusal`: `content_filter`) and kept as `native_finish_reason`.
//! Usage counts the cache reads and writes into `prompt_tokens` (Anthropic's `input_tokens`
//! leaves them out) and reports them as `cached_tokens` and `cache_write_tokens`. Thinking
//! blocks become `reasoning` and `reasoning_details` with their signatures, unless the client
//! excluded reasoning.

use std::borrow::Cow;

use router_core::pricing::Usage;
use router_core::response::{ChatResponse, FinishReason};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::canonical::output::{
    self, Delta, Finish, FunctionDelta, Message, ReasoningDetail, ToolCall, ToolCallDelta,
};
use crate::error::ProviderErrorBody;
use crate::event_stream::{Event, EventReader};
use crate::sse::SseEvent;

/// `format` of Anthropic's reasoning blocks in `reasoning_details`.
const FORMAT: &str = "anthropic-claude-v1";

use crate::exchange::BodyProblem;

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Vec<WireBlock<'a>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: WireUsage,
}

/// A content block. Flat rather than a tagged enum: serde cannot read a borrowed raw `input`
/// through an internally tagged enum.
#[derive(Deserialize)]
struct WireBlock<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    signature: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

/// Anthropic's usage; every count is optional (a stream's `message_delta` carries some).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

/// Reads a whole message.
pub(crate) fn parse_response(
    body: &[u8],
    exclude_reasoning: bool,
) -> Result<ChatResponse, BodyProblem> {
    if let Some(error) = error_body(body) {
        return Err(BodyProblem::Error(error));
    }
    let wire: WireMessage<'_> = serde_json::from_slice(body)
        .map_err(|err| BodyProblem::Invalid(format!("response body is not a message: {err}")))?;
    let mut message = Message::default();
    let mut content = String::new();
    let mut reasoning = String::new();
    for block in wire.content {
        match block.kind.as_ref() {
            "text" => content.push_str(block.text.as_deref().unwrap_or_default()),
            "thinking" => {
                let thinking = block.thinking.unwrap_or_default();
                let signature = block.signature;
                reasoning.push_str(&thinking);
                let index = message.reasoning_details.len();
                message.reasoning_details.push(ReasoningDetail {
                    kind: "reasoning.text",
                    text: Some(thinking.into_owned()),
                    signature: signature.map(Cow::into_owned),
                    data: None,
                    format: FORMAT,
                    index,
                });
            }
            "redacted_thinking" => {
                let index = message.reasoning_details.len();
                message.reasoning_details.push(ReasoningDetail {
                    kind: "reasoning.encrypted",
                    text: None,
                    signature: None,
                    data: block.data.map(Cow::into_owned),
                    format: FORMAT,
                    index,
                });
            }
            "tool_use" => message.tool_calls.push(ToolCall {
                id: block.id.map(Cow::into_owned).unwrap_or_default(),
                name: block.name.map(Cow::into_owned).unwrap_or_default(),
                arguments: block.input.map_or("{}", RawValue::get).to_owned(),
            }),
            _ => {}
        }
    }
    message.content = (!content.is_empty() || message.tool_calls.is_empty()).then_some(content);
    if exclude_reasoning {
        message.reasoning_details.clear();
    } else if !reasoning.is_empty() {
        message.reasoning = Some(reasoning);
    }
    let finish = wire.stop_reason.as_deref().map(finish);
    let mut usage = Usage::default();
    add_usage(&mut usage, wire.usage);
    Ok(output::response(
        wire.id.map(Cow::into_owned),
        &message,
        finish,
        usage,
    ))
}

/// The normalized finish for a `stop_reason`.
pub(crate) fn finish(native: &str) -> Finish<'_> {
    let reason = match native {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    };
    Finish { reason, native }
}

/// Adds what `wire` reports to `usage`: prompt counts replace, the output count replaces (a
/// stream reports it cumulatively).
fn add_usage(usage: &mut Usage, wire: WireUsage) {
    let cache_read = wire.cache_read_input_tokens;
    let cache_write = wire.cache_creation_input_tokens;
    if let Some(input) = wire.input_tokens {
        usage.cached_tokens = cache_read.unwrap_or(usage.cached_tokens);
        usage.cache_write_tokens = cache_write.unwrap_or(usage.cache_write_tokens);
        usage.prompt_tokens = input
            .saturating_add(usage.cached_tokens)
            .saturating_add(usage.cache_write_tokens);
    }
    if let Some(output) = wire.output_tokens {
        usage.completion_tokens = output;
    }
    usage.total_tokens = usage.prompt_tokens.saturating_add(usage.completion_tokens);
}

/// An Anthropic error body (`{"type":"error","error":{...}}`), if `body` is one.
fn error_body(body: &[u8]) -> Option<ProviderErrorBody> {
    #[derive(Deserialize)]
    struct Wire<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<Cow<'a, str>>,
    }
    let wire: Wire<'_> = serde_json::from_slice(body).ok()?;
    (wire.kind.as_deref() == Some("error")).then(|| ProviderErrorBody::parse(body))
}

// === the stream ===

/// Reads the events of one Messages stream. Keeps the stream's usage, which arrives in two
/// halves (`message_start`, `message_delta`), and the OpenAI index of each tool-use block.
pub(crate) struct StreamReader {
    exclude_reasoning: bool,
    usage: Usage,
    /// Content block index to tool-call index, for the blocks that are tool calls.
    tool_blocks: Vec<(u64, usize)>,
    /// Reasoning blocks seen so far (the `index` of `reasoning_details`).
    reasoning_blocks: usize,
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    message: Option<StartMessage>,
    #[serde(borrow, default)]
    content_block: Option<WireBlock<'a>>,
    #[serde(borrow, default)]
    delta: Option<WireDelta<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireDelta<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    partial_json: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    signature: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
}

impl StreamReader {
    /// A reader; `exclude_reasoning` drops thinking from the chunks.
    pub(crate) fn new(exclude_reasoning: bool) -> Self {
        Self {
            exclude_reasoning,
            usage: Usage::default(),
            tool_blocks: Vec::new(),
            reasoning_blocks: 0,
        }
    }

    fn tool_index(&self, block: u64) -> Option<usize> {
        self.tool_blocks
            .iter()
            .find(|(it, _)| *it == block)
            .map(|(_, idx)| *idx)
    }

    fn reasoning_detail(&self, text: Option<String>, signature: Option<String>) -> ReasoningDetail {
        ReasoningDetail {
            kind: "reasoning.text",
            text,
            signature,
            data: None,
            format: FORMAT,
            index: self.reasoning_blocks.saturating_sub(1),
        }
    }

    /// Reads one event's data.
    fn read_data(&mut self, data: &[u8]) -> Event {
        let wire: WireEvent<'_> = match serde_json::from_slice(data) {
            Ok(wire) => wire,
            Err(err) => return Event::Invalid(format!("stream event is not valid JSON: {err}")),
        };
        match wire.kind.as_ref() {
            "message_start" => {
                if let Some(usage) = wire.message.and_then(|it| it.usage) {
                    add_usage(&mut self.usage, usage);
                }
                let delta = Delta {
                    role: Some("assistant"),
                    content: Some(""),
                    ..Delta::default()
                };
                Event::Chunk(output::chunk(&delta, None, None))
            }
            "content_block_start" => {
                let index = wire.index.unwrap_or(0);
                let Some(block) = wire.content_block else {
                    return Event::Invalid("content_block_start without a block".to_owned());
                };
                match block.kind.as_ref() {
                    "tool_use" => {
                        let id = block.id.unwrap_or_default();
                        let name = block.name.unwrap_or_default();
                        let tool_index = self.tool_blocks.len();
                        self.tool_blocks.push((index, tool_index));
                        let delta = Delta {
                            tool_calls: Some(vec![ToolCallDelta {
                                index: tool_index,
                                id: Some(&id),
                                kind: Some("function"),
                                function: FunctionDelta {
                                    name: Some(&name),
                                    arguments: "",
                                },
                            }]),
                            ..Delta::default()
                        };
                        Event::Chunk(output::chunk(&delta, None, None))
                    }
                    "thinking" => {
                        self.reasoning_blocks += 1;
                        Event::Skip
                    }
                    "redacted_thinking" => {
                        let data = block.data.unwrap_or_default();
                        self.reasoning_blocks += 1;
                        if self.exclude_reasoning {
                            return Event::Skip;
                        }
                        let delta = Delta {
                            reasoning_details: Some(vec![ReasoningDetail {
                                kind: "reasoning.encrypted",
                                text: None,
                                signature: None,
                                data: Some(data.into_owned()),
                                format: FORMAT,
                                index: self.reasoning_blocks - 1,
                            }]),
                            ..Delta::default()
                        };
                        Event::Chunk(output::chunk(&delta, None, None))
                    }
                    "text" if block.text.as_deref().is_some_and(|it| !it.is_empty()) => {
                        let delta = Delta {
                            content: block.text.as_deref(),
                            ..Delta::default()
                        };
                        Event::Chunk(output::chunk(&delta, None, None))
                    }
                    _ => Event::Skip,
                }
            }
            "content_block_delta" => {
                let Some(delta) = wire.delta else {
                    return Event::Invalid("content_block_delta without a delta".to_owned());
                };
                let index = wire.index.unwrap_or(0);
                match delta.kind.as_deref() {
                    Some("text_delta") => {
                        let chunk = Delta {
                            content: Some(delta.text.as_deref().unwrap_or("")),
                            ..Delta::default()
                        };
                        Event::Chunk(output::chunk(&chunk, None, None))
                    }
                    Some("input_json_delta") => {
                        let Some(tool_index) = self.tool_index(index) else {
                            return Event::Invalid(
                                "input_json_delta for a block that is not a tool call".to_owned(),
                            );
                        };
                        let chunk = Delta {
                            tool_calls: Some(vec![ToolCallDelta {
                                index: tool_index,
                                id: None,
                                kind: None,
                                function: FunctionDelta {
                                    name: None,
                                    arguments: delta.partial_json.as_deref().unwrap_or(""),
                                },
                            }]),
                            ..Delta::default()
                        };
                        Event::Chunk(output::chunk(&chunk, None, None))
                    }
                    Some("thinking_delta") if !self.exclude_reasoning => {
                        let text = delta.thinking.as_deref().unwrap_or("");
                        let chunk = Delta {
                            reasoning: Some(text),
                            reasoning_details: Some(vec![
                                self.reasoning_detail(Some(text.to_owned()), None),
                            ]),
                            ..Delta::default()
                        };
                        Event::Chunk(output::chunk(&chunk, None, None))
                    }
                    Some("signature_delta") if !self.exclude_reasoning => {
                        let chunk = Delta {
                            reasoning_details: Some(vec![
                                self.reasoning_detail(None, delta.signature.map(Cow::into_owned)),
                            ]),
                            ..Delta::default()
                        };
                        Event::Chunk(output::chunk(&chunk, None, None))
                    }
                    _ => Event::Skip,
                }
            }
            "content_block_stop" => Event::Skip,
            "message_delta" => {
                if let Some(usage) = wire.usage {
                    add_usage(&mut self.usage, usage);
                }
                let native = wire.delta.and_then(|it| it.stop_reason);
                match native.as_deref() {
                    Some(native) => Event::Chunk(output::chunk(
                        &Delta::default(),
                        Some(finish(native)),
                        Some(self.usage),
                    )),
                    None => Event::Chunk(output::usage_chunk(self.usage)),
                }
            }
            "message_stop" => Event::Done,
            "ping" => Event::Skip,
            "error" => Event::Error(ProviderErrorBody::parse(data)),
            // Anthropic may add event types; they are skipped, as its docs ask.
            _ => Event::Skip,
        }
    }
}

impl EventReader for StreamReader {
    fn read(&mut self, event: &SseEvent) -> Event {
        self.read_data(event.data())
    }
}

#[cfg(test)]
mod tests;
