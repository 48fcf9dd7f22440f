//! `GET /health`: answers `200 {"status":"ok"}` while the server runs.

use axum::response::Response;

use super::json_response;

/// The health check.
pub(crate) async fn health() -> Response {
    json_response(&br#"{"status":"ok"}"#[..])
}
