//! Anthropic's Messages API: `POST /v1/messages` (JSON and SSE) and its error bodies.
//!
//! The handler checks `x-api-key` (when the mock has a key), reads the request, runs the model's
//! [`crate::Behavior`] (latency, failure, hang, non-JSON, a huge body, then the answer) and answers
//! with the [`crate::plan`] every format shares: thinking blocks with a signature when `thinking`
//! is on, a `tool_use` block when tools are offered, JSON when `output_config` asks for a schema. A
//! request with `cache_control` anywhere writes its prompt to the simulated cache on first sight
//! (`cache_creation_input_tokens`) and reads it after (`cache_read_input_tokens`). Streams follow
//! Anthropic's event sequence: `message_start`, `content_block_start`/`_delta`/`_stop` per block
//! (tool arguments in two `input_json_delta`s), `ping`, `message_delta` with the stop reason and
//! usage, `message_stop`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::native::{
    before_answer, cache_view, echoed_key, error_response, failure_status, last_user_text,
};
use crate::openai::{Frame, Playback, json_response, sse_response};
use crate::plan::{Ask, Plan, plan};
use crate::recorder::{CallGuard, CallOutcome, NewCall};
use crate::script::{Behavior, Failure, FailureKind};
use crate::server::Shared;

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 64 << 20;

/// The signature of every mock thinking block.
pub const THINKING_SIGNATURE: &str = "mock-signature";

/// `POST /v1/messages`.
pub(crate) async fn messages(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request too large",
            None,
        );
    };
    let record = |model: &str, stream: bool, outcome| {
        let call = NewCall {
            uri: parts.uri.clone(),
            model,
            stream,
            body: body.clone(),
            headers: parts.headers.clone(),
        };
        shared.recorder.record(call, outcome)
    };
    if let Some(expected) = &shared.expected_authorization {
        let key = expected.trim_start_matches("Bearer ");
        let sent = parts.headers.get("x-api-key");
        if sent.is_none_or(|value| value.as_bytes() != key.as_bytes()) {
            record("", false, CallOutcome::Rejected).finish(CallOutcome::Rejected);
            return error(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid x-api-key",
                None,
            );
        }
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(object)) => Value::Object(object),
        _ => {
            record("", false, CallOutcome::Rejected).finish(CallOutcome::Rejected);
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "the body is not a JSON object",
                None,
            );
        }
    };
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    let problem = if model.is_empty() {
        Some("model: Field required")
    } else if !request["max_tokens"].is_u64() {
        Some("max_tokens: Field required")
    } else if !request["messages"].is_array() {
        Some("messages: Field required")
    } else {
        None
    };
    if let Some(problem) = problem {
        record(&model, false, CallOutcome::Rejected).finish(CallOutcome::Rejected);
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            problem,
            None,
        );
    }
    let stream = request["stream"].as_bool().unwrap_or(false);
    let behavior = shared.behavior(&model);
    let guard = record(&model, stream, CallOutcome::InProgress);
    let key = parts.headers.get("x-api-key");
    let guard = match before_answer(&behavior, guard, stream, |it| failure_response(it, key)).await
    {
        Ok(guard) => guard,
        Err(response) => return response,
    };
    let texts = message_texts(&request);
    let (cache_messages, prompt_tokens) = cache_view(&texts);
    let (cache_read, cache_write) = if body_mentions(&body, b"\"cache_control\"") {
        match shared.prompt_cache.read_and_write(&model, &cache_messages) {
            0 => (0, prompt_tokens),
            read => (read.min(prompt_tokens), 0),
        }
    } else {
        (0, 0)
    };
    let ask = ask_of(&request, &texts);
    let plan = plan(&ask, &behavior);
    let answer = Answer {
        id: format!(
            "msg_mock_{}",
            shared.next_id.fetch_add(1, Ordering::Relaxed)
        ),
        model: &model,
        plan: &plan,
        stop_reason: behavior.finish_reason.clone().unwrap_or_else(|| {
            match plan.tool_call {
                Some(_) => "tool_use",
                None => "end_turn",
            }
            .to_owned()
        }),
        input_tokens: prompt_tokens - cache_read - cache_write,
        cache_read,
        cache_write,
    };
    if stream {
        return stream_response(&answer, &behavior, guard);
    }
    guard.finish(CallOutcome::Completed);
    json_response(StatusCode::OK, &answer.message())
}

/// Whether `body` contains `needle` (a member name, as the client wrote it).
fn body_mentions(body: &Bytes, needle: &[u8]) -> bool {
    body.windows(needle.len()).any(|window| window == needle)
}

/// Each message's role and text (text blocks joined; tool results count as their text), the
/// system prompt first.
fn message_texts(request: &Value) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    let system = block_text(&request["system"]);
    if !system.is_empty() {
        texts.push(("system".to_owned(), system));
    }
    for message in request["messages"].as_array().into_iter().flatten() {
        let answers_tool = message["content"]
            .as_array()
            .is_some_and(|blocks| blocks.iter().any(|block| block["type"] == "tool_result"));
        let role = match answers_tool {
            true => "tool",
            false => message["role"].as_str().unwrap_or("user"),
        };
        texts.push((role.to_owned(), block_text(&message["content"])));
    }
    texts
}

/// The text of a string or of an array of blocks.
fn block_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|block| match block["type"].as_str() {
                Some("text") => block["text"].as_str().map(str::to_owned),
                Some("tool_result") => Some(block_text(&block["content"])),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// What the request asks for.
fn ask_of<'a>(request: &Value, texts: &'a [(String, String)]) -> Ask<'a> {
    let last_user_text = last_user_text(texts);
    let answers_tool_call = request["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .and_then(|last| last["content"].as_array())
        .is_some_and(|blocks| blocks.iter().any(|block| block["type"] == "tool_result"));
    let tools = request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tool| {
            let name = tool["name"].as_str()?.to_owned();
            Some((name, tool.get("input_schema").cloned()))
        })
        .collect();
    let choice = &request["tool_choice"];
    let json = match &request["output_config"]["format"] {
        Value::Object(format) => Some(format.get("schema").cloned().unwrap_or(Value::Null)),
        _ => None,
    };
    Ask {
        last_user_text,
        tools,
        forced_tool: (choice["type"] == "tool")
            .then(|| choice["name"].as_str().map(str::to_owned))
            .flatten(),
        tools_off: choice["type"] == "none",
        answers_tool_call,
        json,
        thinking: request["thinking"]["type"] == "enabled",
    }
}

/// The answer, in Anthropic's words.
struct Answer<'a> {
    id: String,
    model: &'a str,
    plan: &'a Plan,
    stop_reason: String,
    input_tokens: u32,
    cache_read: u32,
    cache_write: u32,
}

impl Answer<'_> {
    fn tool_use_id(&self) -> String {
        format!("toolu_{}", self.id.trim_start_matches("msg_"))
    }

    fn usage(&self, output_tokens: u32) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": output_tokens,
        })
    }

    fn message(&self) -> Value {
        let mut content = Vec::new();
        if let Some(thinking) = &self.plan.thinking {
            content.push(
                json!({"type":"thinking","thinking":thinking,"signature":THINKING_SIGNATURE}),
            );
        }
        if !self.plan.text.is_empty() || self.plan.tool_call.is_none() {
            content.push(json!({"type":"text","text":self.plan.text}));
        }
        if let Some((name, arguments)) = &self.plan.tool_call {
            let input: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
            content
                .push(json!({"type":"tool_use","id":self.tool_use_id(),"name":name,"input":input}));
        }
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.stop_reason,
            "stop_sequence": null,
            "usage": self.usage(self.plan.completion_tokens),
        })
    }
}

/// One SSE event of Anthropic's stream.
fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

fn stream_response(answer: &Answer<'_>, behavior: &Behavior, guard: CallGuard) -> Response {
    let mut content = Vec::new();
    let mut block = 0;
    let start = json!({"type":"message_start","message":{
        "id": answer.id, "type": "message", "role": "assistant", "model": answer.model,
        "content": [], "stop_reason": null, "stop_sequence": null, "usage": answer.usage(1)}});
    let mut head = vec![Frame::Tail(event("message_start", &start))];
    if let Some(thinking) = &answer.plan.thinking {
        head.push(Frame::Tail(event("content_block_start", &json!({"type":"content_block_start","index":block,"content_block":{"type":"thinking","thinking":""}}))));
        content.push(Frame::Content(event("content_block_delta", &json!({"type":"content_block_delta","index":block,"delta":{"type":"thinking_delta","thinking":thinking}}))));
        content.push(Frame::Tail(event("content_block_delta", &json!({"type":"content_block_delta","index":block,"delta":{"type":"signature_delta","signature":THINKING_SIGNATURE}}))));
        content.push(Frame::Tail(event(
            "content_block_stop",
            &json!({"type":"content_block_stop","index":block}),
        )));
        block += 1;
    }
    if !answer.plan.text.is_empty() || answer.plan.tool_call.is_none() {
        content.push(Frame::Tail(event("content_block_start", &json!({"type":"content_block_start","index":block,"content_block":{"type":"text","text":""}}))));
        content.push(Frame::Tail(event("ping", &json!({"type":"ping"}))));
        for word in answer.plan.text.split_inclusive(' ') {
            content.push(Frame::Content(event("content_block_delta", &json!({"type":"content_block_delta","index":block,"delta":{"type":"text_delta","text":word}}))));
        }
        content.push(Frame::Tail(event(
            "content_block_stop",
            &json!({"type":"content_block_stop","index":block}),
        )));
        block += 1;
    }
    if let Some((name, arguments)) = &answer.plan.tool_call {
        content.push(Frame::Content(event("content_block_start", &json!({"type":"content_block_start","index":block,"content_block":{"type":"tool_use","id":answer.tool_use_id(),"name":name,"input":{}}}))));
        // The arguments arrive in two pieces, split inside the JSON, as Anthropic's do.
        let middle = arguments.len() / 2;
        let middle = (0..=middle)
            .rev()
            .find(|idx| arguments.is_char_boundary(*idx))
            .unwrap_or(0);
        for piece in [&arguments[..middle], &arguments[middle..]] {
            content.push(Frame::Content(event("content_block_delta", &json!({"type":"content_block_delta","index":block,"delta":{"type":"input_json_delta","partial_json":piece}}))));
        }
        content.push(Frame::Tail(event(
            "content_block_stop",
            &json!({"type":"content_block_stop","index":block}),
        )));
    }
    let mut frames = head;
    match (behavior.error_after_chunks, behavior.fail_after_chunks) {
        (Some(n_chunks), _) => {
            frames.extend(take_content(content, n_chunks));
            let error_event =
                json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}});
            frames.push(Frame::Tail(event("error", &error_event)));
        }
        (None, Some(n_chunks)) => {
            frames.extend(take_content(content, n_chunks));
            frames.push(Frame::Cut);
        }
        (None, None) => {
            frames.extend(content);
            let delta = json!({"type":"message_delta","delta":{"stop_reason":answer.stop_reason,"stop_sequence":null},"usage":{"output_tokens":answer.plan.completion_tokens}});
            frames.push(Frame::Tail(event("message_delta", &delta)));
            frames.push(Frame::Tail(event(
                "message_stop",
                &json!({"type":"message_stop"}),
            )));
        }
    }
    sse_response(Playback::new(frames, behavior, guard))
}

/// The frames up to the `n_chunks`-th content frame (the frames between them included).
pub(crate) fn take_content(frames: Vec<Frame>, n_chunks: usize) -> Vec<Frame> {
    let mut kept = Vec::new();
    let mut seen = 0;
    for frame in frames {
        if matches!(frame, Frame::Content(_)) {
            if seen == n_chunks {
                break;
            }
            seen += 1;
        }
        kept.push(frame);
    }
    kept
}

/// An error body in Anthropic's shape, `{"type":"error","error":{"type","message"}}`.
fn error(status: StatusCode, kind: &str, message: &str, retry_after: Option<u64>) -> Response {
    let body = json!({"type":"error","error":{"type":kind,"message":message}});
    error_response(status, &body, retry_after)
}

/// A scripted failure in Anthropic's words (`overloaded_error` is its 529); `key` is the
/// request's `x-api-key`, which an [`FailureKind::EchoKey`] failure quotes back upper-cased.
fn failure_response(failure: &Failure, key: Option<&HeaderValue>) -> Response {
    let status = failure_status(failure);
    if failure.kind == FailureKind::EchoKey {
        let key = echoed_key(key);
        let message = format!("invalid x-api-key: {key}");
        return error(
            status,
            "authentication_error",
            &message,
            failure.retry_after,
        );
    }
    let (kind, message) = match failure.kind {
        FailureKind::EchoKey => ("authentication_error", "invalid x-api-key"),
        FailureKind::RateLimit => (
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
        ),
        FailureKind::ContextLength => (
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
        ),
        FailureKind::Moderation => (
            "permission_error",
            "Your request was flagged by the content policy (moderation)",
        ),
        FailureKind::Overloaded => ("overloaded_error", "Overloaded"),
        FailureKind::Generic => match failure.status {
            401 => ("authentication_error", "invalid x-api-key"),
            403 => (
                "permission_error",
                "Your API key does not have permission to use the specified resource.",
            ),
            404 => (
                "not_found_error",
                "The requested resource could not be found.",
            ),
            429 => ("rate_limit_error", "Your account has hit a rate limit."),
            529 => ("overloaded_error", "Overloaded"),
            500.. => (
                "api_error",
                "An unexpected error has occurred internal to Anthropic's systems.",
            ),
            _ => (
                "invalid_request_error",
                "There was an issue with the format or content of your request.",
            ),
        },
    };
    error(status, kind, message, failure.retry_after)
}
