//! OpenAI-shaped `choices` built from what a native format decoded, for a whole response
//! ([`Message`]) and for one stream chunk ([`Delta`]).
//!
//! Every choice has `index`, `role` (a delta: on the stream's first chunk), a normalized
//! `finish_reason` and the provider's own value in `native_finish_reason`; tool calls are in
//! OpenAI's shape (`arguments` a JSON string); reasoning is `reasoning` plus
//! `reasoning_details`, the blocks with their signatures, which a client sends back on its next
//! turn.

use router_core::json::RawJson;
use router_core::pricing::Usage;
use router_core::response::{ChatChunk, ChatResponse, FinishReason};
use serde::Serialize;

/// One reasoning block, as `reasoning_details` carries it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReasoningDetail {
    /// `reasoning.text` or `reasoning.encrypted`.
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// The reasoning text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<String>,
    /// The provider's signature over the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) signature: Option<String>,
    /// An encrypted (redacted) block.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<String>,
    /// Which provider's blocks these are, such as `anthropic-claude-v1`.
    pub(crate) format: &'static str,
    /// The block's position among the answer's reasoning blocks.
    pub(crate) index: usize,
}

/// A complete tool call.
#[derive(Debug, Clone)]
pub(crate) struct ToolCall {
    /// The call id.
    pub(crate) id: String,
    /// The function's name.
    pub(crate) name: String,
    /// The arguments: a JSON object's text.
    pub(crate) arguments: String,
}

/// A whole answer's message.
#[derive(Debug, Default)]
pub(crate) struct Message {
    /// The text; `None` when there was none.
    pub(crate) content: Option<String>,
    /// The reasoning text; `None` when there was none (or it is excluded).
    pub(crate) reasoning: Option<String>,
    /// The reasoning blocks.
    pub(crate) reasoning_details: Vec<ReasoningDetail>,
    /// The tool calls.
    pub(crate) tool_calls: Vec<ToolCall>,
}

/// One stream chunk's delta.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Delta<'a> {
    /// `assistant` on the first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<&'static str>,
    /// Text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content: Option<&'a str>,
    /// Reasoning text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reasoning: Option<&'a str>,
    /// Reasoning blocks (a signature arrives as a block of its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reasoning_details: Option<Vec<ReasoningDetail>>,
    /// Pieces of tool calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tool_calls: Option<Vec<ToolCallDelta<'a>>>,
}

/// A piece of a tool call in a stream: the first has the id and name, the rest add arguments.
#[derive(Debug, Serialize)]
pub(crate) struct ToolCallDelta<'a> {
    /// The call's position among the answer's tool calls (OpenAI's `index`).
    pub(crate) index: usize,
    /// The call id (first piece only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<&'a str>,
    /// `function` (first piece only).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<&'static str>,
    /// The name and a piece of the arguments.
    pub(crate) function: FunctionDelta<'a>,
}

/// The function part of a [`ToolCallDelta`].
#[derive(Debug, Serialize)]
pub(crate) struct FunctionDelta<'a> {
    /// The name (first piece only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<&'a str>,
    /// A piece of the arguments' text.
    pub(crate) arguments: &'a str,
}

/// A finish: the normalized reason and the provider's own value.
#[derive(Debug, Clone)]
pub(crate) struct Finish<'a> {
    /// Normalized.
    pub(crate) reason: FinishReason,
    /// As the provider sent it.
    pub(crate) native: &'a str,
}

// === rendering ===

#[derive(Serialize)]
struct ResponseChoice<'a> {
    index: u32,
    message: WireMessage<'a>,
    finish_reason: Option<&'static str>,
    native_finish_reason: Option<&'a str>,
    logprobs: Option<()>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    reasoning_details: &'a [ReasoningDetail],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCall<'a>>,
}

#[derive(Serialize)]
struct WireToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: &'a Delta<'a>,
    finish_reason: Option<&'static str>,
    native_finish_reason: Option<&'a str>,
}

/// The canonical response for `message`.
pub(crate) fn response(
    upstream_id: Option<String>,
    message: &Message,
    finish: Option<Finish<'_>>,
    usage: Usage,
) -> ChatResponse {
    let choice = ResponseChoice {
        index: 0,
        message: WireMessage {
            role: "assistant",
            content: message.content.as_deref(),
            reasoning: message.reasoning.as_deref(),
            reasoning_details: &message.reasoning_details,
            tool_calls: message
                .tool_calls
                .iter()
                .map(|call| WireToolCall {
                    id: &call.id,
                    kind: "function",
                    function: WireFunction {
                        name: &call.name,
                        arguments: &call.arguments,
                    },
                })
                .collect(),
        },
        finish_reason: finish.as_ref().map(|it| it.reason.as_str()),
        native_finish_reason: finish.as_ref().map(|it| it.native),
        logprobs: None,
    };
    ChatResponse {
        upstream_id,
        choices: raw(&[choice]),
        usage,
        finish_reason: finish.map(|it| it.reason),
        system_fingerprint: None,
        service_tier: None,
    }
}

/// The canonical chunk for `delta`.
pub(crate) fn chunk(
    delta: &Delta<'_>,
    finish: Option<Finish<'_>>,
    usage: Option<Usage>,
) -> ChatChunk {
    let has_output = delta.content.is_some_and(|it| !it.is_empty())
        || delta.reasoning.is_some_and(|it| !it.is_empty())
        || delta.reasoning_details.is_some()
        || delta.tool_calls.is_some();
    let choice = ChunkChoice {
        index: 0,
        delta,
        finish_reason: finish.as_ref().map(|it| it.reason.as_str()),
        native_finish_reason: finish.as_ref().map(|it| it.native),
    };
    ChatChunk {
        choices: raw(&[choice]),
        has_output,
        finish_reason: finish.map(|it| it.reason),
        usage,
    }
}

/// A usage-only chunk (`choices: []`).
pub(crate) fn usage_chunk(usage: Usage) -> ChatChunk {
    ChatChunk {
        choices: RawJson::empty_array(),
        has_output: false,
        finish_reason: None,
        usage: Some(usage),
    }
}

/// `value` as raw JSON. Our own structs of strings and numbers always serialize.
fn raw(value: &impl Serialize) -> RawJson {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned());
    RawJson::parse(&text).unwrap_or_else(|_| RawJson::empty_array())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn a_response_choice_has_every_member_openai_clients_read() {
        let message = Message {
            content: Some("Hi".to_owned()),
            reasoning: Some("hmm".to_owned()),
            reasoning_details: vec![ReasoningDetail {
                kind: "reasoning.text",
                text: Some("hmm".to_owned()),
                signature: Some("sig".to_owned()),
                data: None,
                format: "anthropic-claude-v1",
                index: 0,
            }],
            tool_calls: vec![ToolCall {
                id: "t1".to_owned(),
                name: "f".to_owned(),
                arguments: r#"{"a":1}"#.to_owned(),
            }],
        };
        let finish = Finish {
            reason: FinishReason::ToolCalls,
            native: "tool_use",
        };
        let response = response(None, &message, Some(finish), Usage::default());
        let choices: Value = serde_json::from_str(response.choices.get()).unwrap();
        assert_eq!(
            choices,
            json!([{"index":0,"message":{"role":"assistant","content":"Hi","reasoning":"hmm",
                "reasoning_details":[{"type":"reasoning.text","text":"hmm","signature":"sig","format":"anthropic-claude-v1","index":0}],
                "tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
                "finish_reason":"tool_calls","native_finish_reason":"tool_use","logprobs":null}])
        );
    }

    #[test]
    fn a_chunk_with_only_a_role_is_not_output() {
        let delta = Delta {
            role: Some("assistant"),
            content: Some(""),
            ..Delta::default()
        };
        let chunk = chunk(&delta, None, None);
        assert!(!chunk.has_output);
        assert_eq!(
            chunk.choices.get(),
            r#"[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"native_finish_reason":null}]"#
        );
    }
}
