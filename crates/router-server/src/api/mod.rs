//! The HTTP handlers, one module per endpoint group. Chat completions have a folder of their
//! own, [`crate::chat`].
//!
//! - [`route`]: `POST /api/v1/route` (and `/v1/route`): a request's plan, explained, without a
//!   call.
//! - [`models`]: `GET /api/v1/models` (and `/v1/models`), one model's row and endpoints, and
//!   `GET /api/v1/providers`.
//! - [`generation`]: `GET /api/v1/generation?id=…` (and `/v1/generation`): a generation record.
//! - [`key`]: `GET /api/v1/key` (and `/v1/key`, the legacy `/api/v1/auth/key`): the key's usage.
//! - [`health`]: `GET /health`.
//! - [`sessions`]: `GET /api/v1/sessions/{id}` (and `/v1/sessions/{id}`): a conversation's
//!   requests, pin and cache savings.

use axum::body::Body;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_TYPE, HeaderName};
use axum::response::Response;

pub(crate) mod generation;
pub(crate) mod health;
pub(crate) mod key;
pub(crate) mod keys;
pub(crate) mod models;
pub(crate) mod route;
pub(crate) mod sessions;

/// The response header carrying the generation id.
pub(crate) const X_GENERATION_ID: HeaderName = HeaderName::from_static("x-generation-id");

/// A `200` `application/json` response with `body`.
pub(crate) fn json_response(body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    // Room for the receipt headers a chat completion adds, so the map is allocated once.
    let headers = response.headers_mut();
    headers.reserve(16);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
