//! What the native formats' handlers (Anthropic's and Gemini's) share: playing the part of a
//! model's [`Behavior`] that comes before an answer, the prompt as the simulated cache reads it,
//! and the pieces of their error answers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use serde_json::Value;

use crate::openai::{huge_response, json_response};
use crate::prompt_cache::CacheMessage;
use crate::recorder::{CallGuard, CallOutcome};
use crate::reply::tokens_of_chars;
use crate::script::{Behavior, Failure};

/// Plays what `behavior` does before answering: waits the first-token latency, then fails (the
/// format's error body, from `failure`), hangs, sends a non-JSON body or a huge one. `Ok` hands
/// the call back to be answered; `Err` is the response the behaviour gave instead.
pub(crate) async fn before_answer(
    behavior: &Behavior,
    guard: CallGuard,
    stream: bool,
    failure: impl FnOnce(&Failure) -> Response,
) -> Result<CallGuard, Response> {
    if !behavior.first_token_latency.is_zero() {
        tokio::time::sleep(behavior.first_token_latency).await;
    }
    if let Some(fail) = &behavior.fail {
        guard.finish(CallOutcome::Failed);
        return Err(failure(fail));
    }
    if behavior.hang {
        std::future::pending::<()>().await;
    }
    if behavior.non_json {
        guard.finish(CallOutcome::Completed);
        let html = (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            "<html>oops</html>",
        );
        return Err(html.into_response());
    }
    if let Some(bytes) = behavior.huge_body_bytes {
        return Err(huge_response(stream, bytes, guard));
    }
    Ok(guard)
}

/// Each message's role and text as the prompt cache reads them, and the prompt's tokens (at
/// least 1).
pub(crate) fn cache_view(texts: &[(String, String)]) -> (Vec<CacheMessage<'_>>, u32) {
    let messages: Vec<CacheMessage<'_>> = texts
        .iter()
        .map(|(role, text)| CacheMessage {
            role,
            text,
            chars: text.chars().count(),
        })
        .collect();
    let prompt_tokens = tokens_of_chars(messages.iter().map(|it| it.chars).sum()).max(1);
    (messages, prompt_tokens)
}

/// An error answer: `body` with `status`, and `Retry-After` when given (seconds).
pub(crate) fn error_response(
    status: StatusCode,
    body: &Value,
    retry_after: Option<u64>,
) -> Response {
    let mut response = json_response(status, body);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The status of a scripted failure (500 when it is not a status).
pub(crate) fn failure_status(failure: &Failure) -> StatusCode {
    StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The request's key upper-cased, as a [`crate::script::FailureKind::EchoKey`] failure quotes
/// it back (so a test can see a key leak through the router).
pub(crate) fn echoed_key(key: Option<&HeaderValue>) -> String {
    key.and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// The text of the last user message of `texts` (role and text pairs), or "".
pub(crate) fn last_user_text(texts: &[(String, String)]) -> &str {
    texts
        .iter()
        .rev()
        .find(|(role, _)| role == "user")
        .map_or("", |(_, text)| text.as_str())
}
