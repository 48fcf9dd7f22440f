//! OpenAI's Responses API (`POST /api/v1/responses`, `/v1/responses`) in front of the chat
//! exchange: `request` translates the request, this module renders the `response` object and
//! errors, `events` the typed event stream.
//!
//! The response's `output` holds, in order, a `reasoning` item (its text as one summary part),
//! a `message` item with one `output_text` part, and one `function_call` item per call. Its `id`
//! is the generation id; `status` is `completed`, or `incomplete` with
//! `incomplete_details.reason: max_output_tokens` when the answer was cut by the length limit.
//!
//! Errors are OpenAI's `{"error":{"message","type","param","code"}}` plus OpenRouter's top-level
//! `error_type`; `code` is OpenRouter's typed error and `type` follows the status.

use axum::http::StatusCode;
use router_core::request::RequestError;
use serde_json::{Value, json};

use super::Front;
use super::answer::{Completion, ErrorObject, Message, Usage};
use crate::config::FrontSettings;

mod events;
mod request;

pub(crate) use events::ResponseEvents;

/// The Responses API.
#[derive(Debug)]
pub(crate) struct Responses;

impl Front for Responses {
    type Events = ResponseEvents;

    fn translate(body: &[u8], front: &FrontSettings) -> Result<(Vec<u8>, Self), RequestError> {
        Ok((request::translate(body, front)?, Responses))
    }

    fn answer(&self, completion: &Completion<'_>) -> Vec<u8> {
        let choice = completion.choices.first();
        let finish_reason = choice.and_then(|it| it.finish_reason.as_deref());
        let mut output = Vec::new();
        if let Some(choice) = choice {
            output_items(&completion.id, choice.message(), &mut output);
        }
        let body = response_object(
            &completion.id,
            &completion.model,
            completion.created,
            status(finish_reason),
            output,
            Some(&completion.usage()),
        );
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn events(self) -> ResponseEvents {
        ResponseEvents::default()
    }

    fn error(
        status: StatusCode,
        error: &ErrorObject<'_>,
        _generation_id: Option<&str>,
        _body: &[u8],
    ) -> (StatusCode, Vec<u8>) {
        let body = json!({
            "error": {
                "message": error.message,
                "type": error_kind(status),
                "param": null,
                "code": error.error_type(),
            },
            "error_type": error.error_type(),
        });
        (status, serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// OpenAI's error `type` for a status.
fn error_kind(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        code if code >= 500 => "server_error",
        _ => "invalid_request_error",
    }
}

/// `completed`, or `incomplete` for an answer cut by the length limit.
fn status(finish_reason: Option<&str>) -> &'static str {
    match finish_reason {
        Some("length") => "incomplete",
        _ => "completed",
    }
}

/// A `response` object.
fn response_object(
    id: &str,
    model: &str,
    created: u64,
    status: &str,
    output: Vec<Value>,
    usage: Option<&Usage>,
) -> Value {
    let incomplete_details = match status {
        "incomplete" => json!({ "reason": "max_output_tokens" }),
        _ => Value::Null,
    };
    json!({
        "id": id,
        "object": "response",
        "created_at": created,
        "status": status,
        "model": model,
        "output": output,
        "usage": usage.map(usage_object),
        "error": null,
        "incomplete_details": incomplete_details,
        "instructions": null,
        "metadata": {},
        "parallel_tool_calls": true,
        "temperature": null,
        "top_p": null,
        "tool_choice": "auto",
        "tools": [],
    })
}

/// The Responses API's `usage`.
fn usage_object(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.prompt_tokens_details.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {
            "reasoning_tokens": usage.completion_tokens_details.reasoning_tokens,
        },
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    })
}

/// The id of the message item of response `id`.
fn message_id(id: &str) -> String {
    format!("msg_{id}")
}

/// The id of the reasoning item of response `id`.
fn reasoning_id(id: &str) -> String {
    format!("rs_{id}")
}

/// The id of the function call item of call `call_id`.
fn function_call_id(call_id: &str) -> String {
    format!("fc_{call_id}")
}

/// A completed `message` item.
fn message_item(id: &str, text: &str) -> Value {
    json!({
        "type": "message",
        "id": message_id(id),
        "status": "completed",
        "role": "assistant",
        "content": [output_text(text)],
    })
}

/// An `output_text` part.
fn output_text(text: &str) -> Value {
    json!({ "type": "output_text", "text": text, "annotations": [], "logprobs": [] })
}

/// A `reasoning` item with `text` as its summary.
fn reasoning_item(id: &str, text: &str) -> Value {
    let summary = if text.is_empty() {
        json!([])
    } else {
        json!([{ "type": "summary_text", "text": text }])
    };
    json!({ "type": "reasoning", "id": reasoning_id(id), "summary": summary })
}

/// A `function_call` item.
fn function_call_item(call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({
        "type": "function_call",
        "id": function_call_id(call_id),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    })
}

/// The output items of a whole message.
fn output_items(id: &str, message: &Message<'_>, out: &mut Vec<Value>) {
    let reasoning: String = if message.has_reasoning_details() {
        message
            .reasoning_details
            .iter()
            .flatten()
            .filter_map(|it| it.text.as_deref().or(it.summary.as_deref()))
            .collect()
    } else {
        message.reasoning.as_deref().unwrap_or_default().to_owned()
    };
    if !reasoning.is_empty() {
        out.push(reasoning_item(id, &reasoning));
    }
    let text = message.content.as_deref().or(message.refusal.as_deref());
    if let Some(text) = text.filter(|it| !it.is_empty()) {
        out.push(message_item(id, text));
    }
    for call in message.tool_calls.iter().flatten() {
        let function = call.function.as_ref();
        out.push(function_call_item(
            call.id.as_deref().unwrap_or_default(),
            function
                .and_then(|it| it.name.as_deref())
                .unwrap_or_default(),
            function
                .and_then(|it| it.arguments.as_deref())
                .unwrap_or_default(),
            "completed",
        ));
    }
}
