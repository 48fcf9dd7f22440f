//! Other request formats in front of the chat exchange: Anthropic's Messages API
//! (`POST /api/v1/messages`), OpenAI's Responses API (`POST /api/v1/responses`) and the legacy
//! completions (`POST /api/v1/completions`).
//!
//! There is one code path. Each format is a translation at the edge ([`Front`]): the client's
//! request becomes a chat completions request (OpenRouter's: OpenAI's chat format with
//! `reasoning`, `reasoning_details` and `cache_control` on content parts), written as the bytes
//! [`crate::chat::exchange`] reads; the exchange routes and runs it exactly as it runs a
//! chat completion (plan, fallback loop, commit rule, receipts, cost, records); and its answer
//! (a `chat.completion` body, an error in OpenRouter's shape, or a chunk stream) is rendered in
//! the client's format. Pieces the chat format carries as they are (`cache_control`, text, tool
//! schemas, thinking signatures) are copied as raw JSON, byte for byte.
//!
//! - `answer`: the canonical answer as the exchange renders it, read back (`chat.completion`,
//!   chunks, usage, errors).
//! - `sse`: the stream adapter: canonical events in, the client's events out.
//! - `anthropic_messages`, `responses`, `completions`: the three formats.
//! - `json`: small writers shared by the request translations.
//!
//! Authentication takes `Authorization: Bearer <key>` or Anthropic's `x-api-key: <key>`. Model
//! names listed in `[front.model_aliases]` (Anthropic's `claude-sonnet-4-5`, dated or not) are
//! replaced by the catalog ids they stand for.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use router_core::request::RequestError;

use crate::api::X_GENERATION_ID;
use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::chat;
use crate::config::FrontSettings;
use crate::error::ApiError;
use crate::extract::ChatBody;
use crate::sticky::SessionHeader;

mod answer;
mod anthropic_messages;
mod completions;
mod json;
mod responses;
mod sse;

use answer::{Completion, ErrorObject};
use sse::Events;

/// Anthropic's API key header.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// A request format in front of the chat exchange.
pub(crate) trait Front: Sized + Send + 'static {
    /// The stream renderer of one answer.
    type Events: Events;

    /// The chat completions body for the client's `body`, and what rendering the answer needs.
    fn translate(body: &[u8], front: &FrontSettings) -> Result<(Vec<u8>, Self), RequestError>;

    /// The client's body for a `chat.completion`.
    fn answer(&self, completion: &Completion<'_>) -> Vec<u8>;

    /// The stream renderer for this request.
    fn events(self) -> Self::Events;

    /// The client's error body and status for an error in OpenRouter's shape (`error`, read
    /// from `body`).
    fn error(
        status: StatusCode,
        error: &ErrorObject<'_>,
        generation_id: Option<&str>,
        body: &[u8],
    ) -> (StatusCode, Vec<u8>);
}

/// `POST /api/v1/messages`: Anthropic's Messages API.
pub(crate) async fn messages(State(app): State<AppState>, request: Request) -> Response {
    serve::<anthropic_messages::Messages>(app, request).await
}

/// `POST /api/v1/responses`: OpenAI's Responses API.
pub(crate) async fn responses(State(app): State<AppState>, request: Request) -> Response {
    serve::<responses::Responses>(app, request).await
}

/// `POST /api/v1/completions`: the legacy text completions.
pub(crate) async fn completions(State(app): State<AppState>, request: Request) -> Response {
    serve::<completions::TextCompletion>(app, request).await
}

/// Authenticates, reads and translates the body, runs the chat exchange, and renders its answer.
async fn serve<F: Front>(app: AppState, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    api_key_as_bearer(&mut parts.headers);
    let auth = match ClientAuth::from_request_parts(&mut parts, &app).await {
        Ok(auth) => auth,
        Err(err) => return render_error::<F>(err.into_response()).await,
    };
    let Ok(SessionHeader(session_header)) =
        SessionHeader::from_request_parts(&mut parts, &app).await;
    let body = match ChatBody::from_request(Request::from_parts(parts, body), &app).await {
        Ok(ChatBody(body)) => body,
        Err(err) => return render_error::<F>(err.into_response()).await,
    };
    let (canonical, front) = match F::translate(&body, &app.config().front) {
        Ok(translated) => translated,
        Err(err) => return render_error::<F>(ApiError::from(err).into_response()).await,
    };
    drop(body);
    let response = chat::exchange(app, auth, session_header, canonical.into()).await;
    render(front, response).await
}

/// Anthropic's clients send their key as `x-api-key`: it authenticates as a bearer key would,
/// unless `Authorization` is also sent.
fn api_key_as_bearer(headers: &mut HeaderMap) {
    if headers.contains_key(AUTHORIZATION) {
        return;
    }
    let Some(key) = headers.get(X_API_KEY) else {
        return;
    };
    let mut bearer = Vec::with_capacity(7 + key.len());
    bearer.extend_from_slice(b"Bearer ");
    bearer.extend_from_slice(key.as_bytes());
    if let Ok(value) = HeaderValue::from_bytes(&bearer) {
        headers.insert(AUTHORIZATION, value);
    }
}

/// The exchange's answer in the client's format: a stream is translated event by event, a JSON
/// body (an answer or an error) at once. Headers (the route receipt, `X-Generation-Id`) stay.
async fn render<F: Front>(front: F, response: Response) -> Response {
    if is_event_stream(response.headers()) {
        let (parts, body) = response.into_parts();
        let events = sse::translate(body, front.events());
        return Response::from_parts(parts, Body::from_stream(events));
    }
    if !response.status().is_success() {
        return render_error::<F>(response).await;
    }
    let (mut parts, body) = response.into_parts();
    // The exchange's own body, already whole in memory.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return render_error::<F>(ApiError::Internal.into_response()).await;
    };
    let rendered = match serde_json::from_slice::<Completion<'_>>(&bytes) {
        Ok(completion) => front.answer(&completion),
        Err(err) => {
            tracing::debug!(error = %err, "the exchange's answer did not read back");
            return render_error::<F>(ApiError::Internal.into_response()).await;
        }
    };
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(rendered))
}

/// An error response in OpenRouter's shape, rendered in the client's format (status and headers
/// such as `Retry-After` kept, unless the format has its own status for the error).
async fn render_error<F: Front>(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::Internal.into_response();
    };
    let generation_id = parts
        .headers
        .get(X_GENERATION_ID)
        .and_then(|it| it.to_str().ok());
    let (status, rendered) = match serde_json::from_slice::<answer::ErrorBody<'_>>(&bytes) {
        Ok(body) => F::error(parts.status, &body.error, generation_id, &bytes),
        Err(_) => {
            let error = ErrorObject::internal();
            let body = ApiError::Internal.body();
            F::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &error,
                generation_id,
                &body,
            )
        }
    };
    parts.status = status;
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(rendered))
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|it| it.as_bytes().starts_with(b"text/event-stream"))
}

/// The catalog id for `name`: its alias target ([`alias`]), or itself.
fn catalog_id<'a>(front: &'a FrontSettings, name: &'a str) -> &'a str {
    alias(front, name).unwrap_or(name)
}

/// The catalog id of each of `names` ([`catalog_id`]).
fn catalog_ids<'a>(
    front: &'a FrontSettings,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    names
        .into_iter()
        .map(|name| catalog_id(front, name))
        .collect()
}

/// The catalog id `[front.model_aliases]` maps `model` to: its own entry, else the entry of its
/// undated name (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`). `None` when neither is
/// listed.
fn alias<'a>(front: &'a FrontSettings, model: &str) -> Option<&'a str> {
    if front.model_aliases.is_empty() {
        return None;
    }
    if let Some(target) = front.model_aliases.get(model) {
        return Some(target);
    }
    let (undated, date) = model.rsplit_once('-')?;
    let is_date = date.len() == 8 && date.bytes().all(|it| it.is_ascii_digit());
    is_date
        .then(|| front.model_aliases.get(undated))
        .flatten()
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_match_exact_and_dated_names() {
        let mut front = FrontSettings::default();
        front
            .model_aliases
            .insert("claude-sonnet-4-5".to_owned(), "test/one".to_owned());
        assert_eq!(alias(&front, "claude-sonnet-4-5"), Some("test/one"));
        assert_eq!(
            alias(&front, "claude-sonnet-4-5-20250929"),
            Some("test/one")
        );
        assert_eq!(alias(&front, "claude-sonnet-4-5-latest"), None);
        assert_eq!(alias(&front, "claude-opus-4-5"), None);
        assert_eq!(alias(&front, "test/one"), None);
    }

    #[test]
    fn an_api_key_header_authenticates_as_a_bearer_key() {
        let mut headers = HeaderMap::new();
        headers.insert(X_API_KEY, HeaderValue::from_static("sk-one"));
        api_key_as_bearer(&mut headers);
        assert_eq!(headers[AUTHORIZATION], "Bearer sk-one");
        headers.insert(X_API_KEY, HeaderValue::from_static("sk-two"));
        api_key_as_bearer(&mut headers);
        assert_eq!(headers[AUTHORIZATION], "Bearer sk-one");
    }
}
