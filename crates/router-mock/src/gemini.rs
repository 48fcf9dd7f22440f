//! Google's Gemini API: `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse`, and its error bodies.
//!
//! The handler checks `x-goog-api-key` (when the mock has a key; a key in the URL is refused, as
//! it should never be sent there), reads the request, runs the model's [`crate::Behavior`] and
//! answers with the [`crate::plan`] every format shares: thought parts when `thinkingConfig`
//! asks to include thoughts, a `functionCall` part when function declarations are offered,
//! JSON when `responseMimeType` is `application/json`. Usage reports thoughts and cached
//! tokens (`thoughtsTokenCount`, `cachedContentTokenCount`). Streams send one
//! `GenerateContentResponse` per event, usage on the last, and end with the body.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
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

/// The thought signature of every mock function call.
pub const THOUGHT_SIGNATURE: &str = "bW9jay10aG91Z2h0LXNpZ25hdHVyZQ==";

/// `POST /v1beta/models/{model}:{method}`.
pub(crate) async fn models(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "request too large", None);
    };
    let (model, method) = rest.rsplit_once(':').unwrap_or((rest.as_str(), ""));
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return error(StatusCode::NOT_FOUND, "method not found", None),
    };
    let record = |model: &str, outcome| {
        let call = NewCall {
            uri: parts.uri.clone(),
            model,
            stream,
            body: body.clone(),
            headers: parts.headers.clone(),
        };
        shared.recorder.record(call, outcome)
    };
    let key_in_url = parts
        .uri
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair.starts_with("key=")));
    if let Some(expected) = &shared.expected_authorization {
        let key = expected.trim_start_matches("Bearer ");
        let sent = parts.headers.get("x-goog-api-key");
        if key_in_url || sent.is_none_or(|value| value.as_bytes() != key.as_bytes()) {
            record(model, CallOutcome::Rejected).finish(CallOutcome::Rejected);
            return error(
                StatusCode::UNAUTHORIZED,
                "API key not valid. Please pass a valid API key.",
                None,
            );
        }
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(object)) if object.get("contents").is_some_and(Value::is_array) => {
            Value::Object(object)
        }
        _ => {
            record(model, CallOutcome::Rejected).finish(CallOutcome::Rejected);
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid JSON payload received: `contents` is required.",
                None,
            );
        }
    };
    let behavior = shared.behavior(model);
    let guard = record(model, CallOutcome::InProgress);
    let key = parts.headers.get("x-goog-api-key");
    let guard = match before_answer(&behavior, guard, stream, |it| failure_response(it, key)).await
    {
        Ok(guard) => guard,
        Err(response) => return response,
    };
    let texts = content_texts(&request);
    let (cache_messages, prompt_tokens) = cache_view(&texts);
    let cached = shared
        .prompt_cache
        .read_and_write(model, &cache_messages)
        .min(prompt_tokens);
    let ask = ask_of(&request, &texts);
    let plan = plan(&ask, &behavior);
    let answer = Answer {
        id: format!("gm-mock-{}", shared.next_id.fetch_add(1, Ordering::Relaxed)),
        model,
        plan: &plan,
        finish_reason: behavior
            .finish_reason
            .clone()
            .unwrap_or_else(|| "STOP".to_owned()),
        prompt_tokens,
        cached,
    };
    if stream {
        return stream_response(&answer, &behavior, guard);
    }
    guard.finish(CallOutcome::Completed);
    json_response(StatusCode::OK, &answer.whole())
}

/// Each content's role and text, the system instruction first.
fn content_texts(request: &Value) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    let system = parts_text(&request["systemInstruction"]["parts"]);
    if !system.is_empty() {
        texts.push(("system".to_owned(), system));
    }
    for content in request["contents"].as_array().into_iter().flatten() {
        let answers_tool = content["parts"].as_array().is_some_and(|parts| {
            parts
                .iter()
                .any(|part| part.get("functionResponse").is_some())
        });
        let role = match (content["role"].as_str(), answers_tool) {
            (Some("model"), _) => "assistant",
            (_, true) => "tool",
            _ => "user",
        };
        texts.push((role.to_owned(), parts_text(&content["parts"])));
    }
    texts
}

fn parts_text(parts: &Value) -> String {
    parts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|part| part["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn ask_of<'a>(request: &Value, texts: &'a [(String, String)]) -> Ask<'a> {
    let last_user_text = last_user_text(texts);
    let answers_tool_call = request["contents"]
        .as_array()
        .and_then(|contents| contents.last())
        .and_then(|last| last["parts"].as_array())
        .is_some_and(|parts| {
            parts
                .iter()
                .any(|part| part.get("functionResponse").is_some())
        });
    let tools = request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|tool| {
            tool["functionDeclarations"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter_map(|declaration| {
            let name = declaration["name"].as_str()?.to_owned();
            let schema = declaration
                .get("parametersJsonSchema")
                .or_else(|| declaration.get("parameters"))
                .cloned();
            Some((name, schema))
        })
        .collect();
    let calling = &request["toolConfig"]["functionCallingConfig"];
    let config = &request["generationConfig"];
    let json = (config["responseMimeType"] == "application/json").then(|| {
        config
            .get("responseJsonSchema")
            .or_else(|| config.get("responseSchema"))
            .cloned()
            .unwrap_or(Value::Null)
    });
    Ask {
        last_user_text,
        tools,
        forced_tool: calling["allowedFunctionNames"][0]
            .as_str()
            .map(str::to_owned),
        tools_off: calling["mode"] == "NONE",
        answers_tool_call,
        json,
        thinking: config["thinkingConfig"]["includeThoughts"] == true,
    }
}

/// The answer, in Gemini's words.
struct Answer<'a> {
    id: String,
    model: &'a str,
    plan: &'a Plan,
    finish_reason: String,
    prompt_tokens: u32,
    cached: u32,
}

impl Answer<'_> {
    fn usage(&self) -> Value {
        let thoughts = self.plan.reasoning_tokens;
        let candidates = self.plan.completion_tokens - thoughts;
        let mut usage = json!({
            "promptTokenCount": self.prompt_tokens,
            "candidatesTokenCount": candidates,
            "totalTokenCount": self.prompt_tokens + self.plan.completion_tokens,
        });
        if thoughts > 0 {
            usage["thoughtsTokenCount"] = json!(thoughts);
        }
        if self.cached > 0 {
            usage["cachedContentTokenCount"] = json!(self.cached);
        }
        usage
    }

    fn response(&self, parts: Vec<Value>, finish: Option<&str>, usage: bool) -> Value {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let Some(finish) = finish {
            candidate["finishReason"] = json!(finish);
            if matches!(finish, "SAFETY") {
                candidate["safetyRatings"] = json!([{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]);
            }
        }
        let mut response =
            json!({"candidates": [candidate], "modelVersion": self.model, "responseId": self.id});
        if usage {
            response["usageMetadata"] = self.usage();
        }
        response
    }

    fn call_part(&self) -> Option<Value> {
        let (name, arguments) = self.plan.tool_call.as_ref()?;
        let args: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
        Some(
            json!({"functionCall": {"name": name, "args": args}, "thoughtSignature": THOUGHT_SIGNATURE}),
        )
    }

    fn whole(&self) -> Value {
        let mut parts = Vec::new();
        if let Some(thinking) = &self.plan.thinking {
            parts.push(json!({"text": thinking, "thought": true}));
        }
        if !self.plan.text.is_empty() {
            parts.push(json!({"text": self.plan.text}));
        }
        parts.extend(self.call_part());
        self.response(parts, Some(&self.finish_reason), true)
    }
}

fn data(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\r\n\r\n"))
}

fn stream_response(answer: &Answer<'_>, behavior: &Behavior, guard: CallGuard) -> Response {
    // The parts of each event, in order.
    let mut events: Vec<Vec<Value>> = Vec::new();
    if let Some(thinking) = &answer.plan.thinking {
        events.push(vec![json!({"text": thinking, "thought": true})]);
    }
    for word in answer.plan.text.split_inclusive(' ') {
        events.push(vec![json!({"text": word})]);
    }
    events.extend(answer.call_part().map(|part| vec![part]));
    let n_events = events.len();
    let mut frames = Vec::new();
    match (behavior.error_after_chunks, behavior.fail_after_chunks) {
        (Some(n_chunks), _) => {
            for parts in events.into_iter().take(n_chunks) {
                frames.push(Frame::Content(data(&answer.response(parts, None, false))));
            }
            let blocked = answer.response(vec![], Some("SAFETY"), true);
            frames.push(Frame::Tail(data(&blocked)));
        }
        (None, Some(n_chunks)) => {
            for parts in events.into_iter().take(n_chunks) {
                frames.push(Frame::Content(data(&answer.response(parts, None, false))));
            }
            frames.push(Frame::Cut);
        }
        (None, None) => {
            if n_events == 0 {
                events.push(vec![json!({"text": ""})]);
            }
            let n_events = events.len();
            // The last event carries the finish reason and the usage, with the last parts.
            for (idx, parts) in events.into_iter().enumerate() {
                let last = idx + 1 == n_events;
                let finish = last.then_some(answer.finish_reason.as_str());
                frames.push(Frame::Content(data(&answer.response(parts, finish, last))));
            }
        }
    }
    sse_response(Playback::new(frames, behavior, guard))
}

/// An error body in Google's shape, `{"error":{"code","message","status"}}`.
fn error(status: StatusCode, message: &str, retry_after: Option<u64>) -> Response {
    let name = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    };
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": name}});
    error_response(status, &body, retry_after)
}

/// A scripted failure in Google's words; `key` is the request's `x-goog-api-key`, which an
/// [`FailureKind::EchoKey`] failure quotes back upper-cased.
fn failure_response(failure: &Failure, key: Option<&HeaderValue>) -> Response {
    let status = failure_status(failure);
    if failure.kind == FailureKind::EchoKey {
        let key = echoed_key(key);
        let message = format!("API key not valid: {key}. Please pass a valid API key.");
        return error(status, &message, failure.retry_after);
    }
    let message = match failure.kind {
        FailureKind::EchoKey => "API key not valid. Please pass a valid API key.",
        FailureKind::RateLimit => "Resource has been exhausted (e.g. check quota).",
        FailureKind::ContextLength => {
            "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576)."
        }
        FailureKind::Moderation => "The request was blocked by the safety system (content policy).",
        FailureKind::Overloaded => "The model is overloaded. Please try again later.",
        FailureKind::Generic => "An internal error has occurred.",
    };
    error(status, message, failure.retry_after)
}
