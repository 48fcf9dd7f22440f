//! Anthropic's Messages API (`POST /api/v1/messages`, `/v1/messages`) in front of the chat
//! exchange: `request` translates the request, this module renders the answer (a `message`
//! object, or an error in Anthropic's envelope), `events` renders the stream.
//!
//! Errors are `{"type":"error","error":{"type","message","error_type"},"request_id"}`: `type`
//! is Anthropic's (`invalid_request_error` 400, `authentication_error` 401, `billing_error` 402,
//! `permission_error` 403, `not_found_error` 404, `request_too_large` 413, `rate_limit_error`
//! 429, `api_error` 500, `overloaded_error` 529, `timeout_error` 504), `error_type` is
//! OpenRouter's and `request_id` the generation id. A provider that is unavailable (503) is
//! answered as Anthropic's `529 overloaded_error`, which Anthropic's clients retry.

use axum::http::StatusCode;
use router_core::request::RequestError;
use serde_json::{Value, json};

use super::answer::{Completion, ErrorObject, Message, Usage};
use super::{Front, answer};
use crate::config::FrontSettings;

mod events;
mod request;

pub(crate) use events::MessageEvents;

/// The Messages API.
#[derive(Debug)]
pub(crate) struct Messages;

impl Front for Messages {
    type Events = MessageEvents;

    fn translate(body: &[u8], front: &FrontSettings) -> Result<(Vec<u8>, Self), RequestError> {
        Ok((request::translate(body, front)?, Messages))
    }

    fn answer(&self, completion: &Completion<'_>) -> Vec<u8> {
        let choice = completion.choices.first();
        let message = choice.map(answer::Choice::message);
        let mut content = Vec::new();
        if let Some(message) = message {
            content_blocks(message, &mut content);
        }
        let body = json!({
            "id": completion.id,
            "type": "message",
            "role": "assistant",
            "model": completion.model,
            "content": content,
            "stop_reason": stop_reason(choice.and_then(|it| it.finish_reason.as_deref())),
            "stop_sequence": null,
            "usage": usage(&completion.usage()),
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn events(self) -> MessageEvents {
        MessageEvents::default()
    }

    fn error(
        status: StatusCode,
        error: &ErrorObject<'_>,
        generation_id: Option<&str>,
        _body: &[u8],
    ) -> (StatusCode, Vec<u8>) {
        let (status, kind) = error_type(status);
        let body = json!({
            "type": "error",
            "error": error_object(kind, error),
            "request_id": generation_id,
        });
        (status, serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// The `error` member of an error body or event.
fn error_object(kind: &str, error: &ErrorObject<'_>) -> Value {
    let mut object = json!({ "type": kind, "message": error.message });
    if let (Some(error_type), Some(object)) = (error.error_type(), object.as_object_mut()) {
        object.insert("error_type".to_owned(), json!(error_type));
    }
    object
}

/// Anthropic's status and error type for one of ours.
fn error_type(status: StatusCode) -> (StatusCode, &'static str) {
    let kind = match status.as_u16() {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => return (overloaded(), "overloaded_error"),
        408 | 504 => "timeout_error",
        code if code >= 500 => "api_error",
        _ => "invalid_request_error",
    };
    (status, kind)
}

/// Anthropic's `529 Overloaded`.
fn overloaded() -> StatusCode {
    StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
}

/// Anthropic's `stop_reason` for a `finish_reason`.
fn stop_reason(finish_reason: Option<&str>) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("tool_calls") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// Anthropic's `usage`: input tokens without the cache's, and the cache's reads and writes.
fn usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.uncached_prompt_tokens(),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": usage.prompt_tokens_details.cache_write_tokens,
        "cache_read_input_tokens": usage.prompt_tokens_details.cached_tokens,
    })
}

/// The content blocks of a whole message: thinking, then text, then tool uses.
fn content_blocks(message: &Message<'_>, out: &mut Vec<Value>) {
    if message.has_reasoning_details() {
        for detail in message.reasoning_details.iter().flatten() {
            match detail.kind.as_ref() {
                "reasoning.encrypted" => out.push(json!({
                    "type": "redacted_thinking",
                    "data": detail.data.as_deref().unwrap_or_default(),
                })),
                _ => out.push(json!({
                    "type": "thinking",
                    "thinking": detail.text.as_deref().or(detail.summary.as_deref()).unwrap_or_default(),
                    "signature": detail.signature.as_deref().unwrap_or_default(),
                })),
            }
        }
    } else if let Some(reasoning) = message.reasoning.as_deref().filter(|it| !it.is_empty()) {
        out.push(json!({ "type": "thinking", "thinking": reasoning, "signature": "" }));
    }
    let text = message.content.as_deref().or(message.refusal.as_deref());
    if let Some(text) = text.filter(|it| !it.is_empty()) {
        out.push(json!({ "type": "text", "text": text }));
    }
    for call in message.tool_calls.iter().flatten() {
        let function = call.function.as_ref();
        let arguments = function.and_then(|it| it.arguments.as_deref());
        out.push(json!({
            "type": "tool_use",
            "id": call.id.as_deref().unwrap_or_default(),
            "name": function.and_then(|it| it.name.as_deref()).unwrap_or_default(),
            "input": tool_input(arguments),
        }));
    }
}

/// A call's arguments as the object Anthropic's `input` is (`{}` when they are not JSON).
fn tool_input(arguments: Option<&str>) -> Value {
    arguments
        .filter(|it| !it.trim().is_empty())
        .and_then(|it| serde_json::from_str::<Value>(it).ok())
        .unwrap_or_else(|| json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(message: Value, finish_reason: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": "gen-1", "model": "test/one", "object": "chat.completion", "created": 1,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37,
                      "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 4}}
        }))
        .unwrap()
    }

    fn render(bytes: &[u8]) -> Value {
        let completion: Completion<'_> = serde_json::from_slice(bytes).unwrap();
        serde_json::from_slice(&Messages.answer(&completion)).unwrap()
    }

    #[test]
    fn a_completion_becomes_a_message() {
        let bytes = completion(
            json!({"role": "assistant", "content": "Hi.",
                   "reasoning": "Greet.",
                   "reasoning_details": [{"type": "reasoning.text", "text": "Greet.", "signature": "s1"}],
                   "tool_calls": [{"id": "call_1", "type": "function",
                                   "function": {"name": "f", "arguments": "{\"a\":1}"}}]}),
            "tool_calls",
        );
        let message = render(&bytes);
        assert_eq!(
            message,
            json!({
                "id": "gen-1", "type": "message", "role": "assistant", "model": "test/one",
                "content": [
                    {"type": "thinking", "thinking": "Greet.", "signature": "s1"},
                    {"type": "text", "text": "Hi."},
                    {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 6, "output_tokens": 7,
                          "cache_creation_input_tokens": 4, "cache_read_input_tokens": 20}
            })
        );
    }

    #[test]
    fn statuses_map_to_anthropic_error_types() {
        for (status, expected_status, kind) in [
            (400, 400, "invalid_request_error"),
            (401, 401, "authentication_error"),
            (404, 404, "not_found_error"),
            (429, 429, "rate_limit_error"),
            (500, 500, "api_error"),
            (502, 502, "api_error"),
            (503, 529, "overloaded_error"),
        ] {
            let (mapped, name) = error_type(StatusCode::from_u16(status).unwrap());
            assert_eq!((mapped.as_u16(), name), (expected_status, kind));
        }
    }
}
