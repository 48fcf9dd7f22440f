//! OpenAI's chat completions wire format: `POST /v1/chat/completions` (JSON and SSE), its error
//! bodies, and `GET /v1/models`.
//!
//! The handler here reads the request and runs the model's [`crate::Behavior`] in order:
//! latency, failure, hang, non-JSON, a huge body, then the answer. `answer` renders answers (bodies from
//! borrowed `Serialize` structs straight into one buffer; a stream's chunks rendered up front and
//! then paced out, each its own body frame); `error` renders OpenAI's error bodies.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::prompt_cache::CacheMessage;
use crate::recorder::{CallOutcome, NewCall};
use crate::reply::{completion_tokens, default_reply, tokens_of_chars};
use crate::script::FailureKind;
use crate::server::Shared;

mod answer;
mod error;

use answer::{
    Answer, Usage, completion_response, huge_response, non_json_response, stream_response,
};
pub(crate) use error::OpenAiError;
use error::failure_response;

/// Largest request body accepted; prompts for context-length tests can be big.
const MAX_BODY_BYTES: usize = 64 << 20;

/// `system_fingerprint` of every response.
const SYSTEM_FINGERPRINT: &str = "fp_mock";

/// Arguments of every scripted tool call.
const TOOL_ARGUMENTS: &str = "{}";

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return OpenAiError::invalid_request("The request body is too large or could not be read.")
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            .into_response();
    };
    if let Some(expected) = &shared.expected_authorization {
        let sent = parts.headers.get(header::AUTHORIZATION);
        if sent.is_none_or(|value| value.as_bytes() != expected.as_bytes()) {
            let error = OpenAiError::unauthorized(sent.is_none());
            return reject(&shared, body, parts, error);
        }
    }
    let request = match serde_json::from_slice::<ChatRequest<'_>>(&body) {
        Ok(request) => request,
        Err(err) => {
            let message = format!(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. ({err}))"
            );
            let error = OpenAiError::invalid_request(&message);
            return reject(&shared, body.clone(), parts, error);
        }
    };
    let model = match &request.model {
        Some(model) if !model.is_empty() => model.as_ref(),
        _ => {
            let error = OpenAiError::invalid_request("you must provide a model parameter");
            return reject(&shared, body.clone(), parts, error);
        }
    };
    let texts = match request.message_texts() {
        Ok(texts) => texts,
        Err(message) => {
            let error = OpenAiError::invalid_request(&message).with_param("messages");
            return reject(&shared, body.clone(), parts, error);
        }
    };
    let stream = request.stream.unwrap_or(false);
    let behavior = shared.behavior(model);
    let echoed_key = behavior
        .fail
        .as_ref()
        .filter(|failure| failure.kind == FailureKind::EchoKey)
        .map(|_| echoed_key(&parts.headers));
    let call = NewCall {
        uri: parts.uri,
        model,
        stream,
        body: body.clone(),
        headers: parts.headers,
    };
    let guard = shared.recorder.record(call, CallOutcome::InProgress);

    // From here on, a client that goes away drops this future and with it `guard`, which
    // records the disconnect.
    if !behavior.first_token_latency.is_zero() {
        tokio::time::sleep(behavior.first_token_latency).await;
    }
    let messages: Vec<CacheMessage<'_>> = texts
        .iter()
        .map(|message| CacheMessage {
            role: &message.role,
            text: &message.text,
            chars: message.text.chars().count(),
        })
        .collect();
    let prompt_chars: usize = messages.iter().map(|message| message.chars).sum();
    let prompt_tokens = tokens_of_chars(prompt_chars).max(1);
    if let Some(failure) = &behavior.fail {
        guard.finish(CallOutcome::Failed);
        return failure_response(failure, model, prompt_tokens, echoed_key.as_deref());
    }
    if behavior.hang {
        std::future::pending::<()>().await;
    }
    if behavior.non_json {
        return non_json_response(stream, guard);
    }
    if let Some(bytes) = behavior.huge_body_bytes {
        return huge_response(stream, bytes, guard);
    }

    let cached_tokens = shared.prompt_cache.read_and_write(model, &messages);
    let reply = match (&behavior.tool_call, &behavior.reply) {
        (Some(_), _) => Cow::Borrowed(""),
        (None, Some(reply)) => Cow::Borrowed(reply.as_str()),
        (None, None) => {
            let last_user = messages.iter().rev().find(|message| message.role == "user");
            Cow::Owned(default_reply(last_user.map_or("", |message| message.text)))
        }
    };
    let completion_tokens = match (behavior.completion_tokens, &behavior.tool_call) {
        (Some(tokens), _) => tokens,
        (None, Some(name)) => tokens_of_chars(name.len() + TOOL_ARGUMENTS.len()).max(1),
        (None, None) => completion_tokens(&reply),
    };
    let answer = Answer {
        id: format!(
            "chatcmpl-mock-{}",
            shared.next_id.fetch_add(1, Ordering::Relaxed)
        ),
        created: unix_seconds(),
        model,
        reply: &reply,
        tool_call: behavior.tool_call.as_deref(),
        reasoning: behavior.reasoning.as_deref(),
        usage: Usage::new(prompt_tokens, completion_tokens, cached_tokens),
    };
    if stream {
        let include_usage = request
            .stream_options
            .is_some_and(|options| options.include_usage);
        return stream_response(&answer, &behavior, include_usage, guard);
    }
    let response = completion_response(&answer);
    guard.finish(CallOutcome::Completed);
    response
}

/// The body of `GET /v1/models`.
pub(crate) fn models_body(names: &[String]) -> Response {
    let data: Vec<ModelEntry<'_>> = names
        .iter()
        .map(|id| ModelEntry {
            id,
            object: "model",
            created: 0,
            owned_by: "router-mock",
        })
        .collect();
    json_response(
        StatusCode::OK,
        &ModelList {
            object: "list",
            data,
        },
    )
}

// --- Request ---

/// The fields of a chat request the mock reads; the rest is recorded but not parsed.
#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    messages: Option<Vec<WireMessage<'a>>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize, Clone, Copy)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
struct ContentPart<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

/// A message's role and decoded text.
struct MessageText<'a> {
    role: Cow<'a, str>,
    text: Cow<'a, str>,
}

impl<'a> ChatRequest<'a> {
    /// Decodes the messages' text (string content, or the text parts of an array).
    fn message_texts(&self) -> Result<Vec<MessageText<'a>>, String> {
        let Some(messages) = &self.messages else {
            return Err("Missing required parameter: 'messages'.".to_owned());
        };
        if messages.is_empty() {
            return Err("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.".to_owned());
        }
        messages
            .iter()
            .enumerate()
            .map(|(idx, message)| {
                let text = match message.content.map(RawValue::get) {
                    None | Some("null") => Cow::Borrowed(""),
                    Some(json) if json.starts_with('"') => {
                        serde_json::from_str::<Cow<'a, str>>(json).map_err(|err| {
                            format!("Invalid 'messages[{idx}].content': {err}.")
                        })?
                    }
                    Some(json) => {
                        let parts = serde_json::from_str::<Vec<ContentPart<'_>>>(json)
                            .map_err(|_| {
                                format!(
                                    "Invalid 'messages[{idx}].content': expected a string or an array of content parts."
                                )
                            })?;
                        let texts: Vec<String> = parts
                            .into_iter()
                            .filter(|part| part.kind == "text")
                            .filter_map(|part| part.text.map(Cow::into_owned))
                            .collect();
                        Cow::Owned(texts.join("\n"))
                    }
                };
                Ok(MessageText {
                    role: message.role.clone(),
                    text,
                })
            })
            .collect()
    }
}
/// Records a request the mock refuses itself and answers with `error`.
fn reject(shared: &Shared, body: Bytes, parts: Parts, error: OpenAiError<'_>) -> Response {
    let call = NewCall {
        uri: parts.uri,
        model: "",
        stream: false,
        body,
        headers: parts.headers,
    };
    shared
        .recorder
        .record(call, CallOutcome::Rejected)
        .finish(CallOutcome::Rejected);
    error.into_response()
}

// --- Rendering helpers ---

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Vec<ModelEntry<'a>>,
}

#[derive(Serialize)]
struct ModelEntry<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        // Our own structs of strings and numbers always serialize.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
/// The request's key, upper-cased, for a [`FailureKind::EchoKey`] failure.
fn echoed_key(headers: &axum::http::HeaderMap) -> String {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    authorization
        .strip_prefix("Bearer ")
        .unwrap_or(authorization)
        .to_ascii_uppercase()
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |it| it.as_secs())
}
