//! Anthropic's Messages API (`POST {base_url}/messages`).
//!
//! - [`request`]: writes the Messages body from the canonical request (system blocks, content
//!   blocks, tools, thinking, `cache_control` kept as sent).
//! - [`response`]: reads a message, and the stream's events, into canonical answers.
//!
//! The key goes in `x-api-key` with `anthropic-version` (set up by the client). Errors come as
//! `{"type":"error","error":{"type","message"}}` with the HTTP status, or as a stream `error`
//! event; both are classified by the shared rules (`overloaded_error`, a 529, is unavailable and
//! falls back).

mod request;
mod response;

use std::sync::Arc;

use router_core::catalog::Endpoint;
use router_core::request::ChatRequest;
use router_core::response::ChatResponse;

use crate::client::{ChunkStream, Inner};
use crate::error::{ErrorKind, UpstreamError};
use crate::{event_stream, exchange};
pub(crate) use response::StreamReader;

/// The `anthropic-version` header sent on every request.
pub(crate) const API_VERSION: &str = "2023-06-01";

/// A non-streaming message.
pub(crate) async fn complete(
    inner: &Arc<Inner>,
    endpoint: &Endpoint,
    request: &ChatRequest<'_>,
) -> Result<ChatResponse, UpstreamError> {
    let written = write(inner, endpoint, request, false)?;
    exchange::complete(
        inner,
        &inner.transport,
        written.body,
        exchange::as_classified,
        |bytes| response::parse_response(bytes, written.exclude_reasoning),
    )
    .await
}

/// A streaming message: resolves once Anthropic answered with 2xx headers.
pub(crate) async fn stream(
    inner: &Arc<Inner>,
    endpoint: &Endpoint,
    request: &ChatRequest<'_>,
) -> Result<ChunkStream, UpstreamError> {
    let written = write(inner, endpoint, request, true)?;
    let response = exchange::open_stream(
        inner,
        &inner.transport,
        written.body,
        exchange::as_classified,
        |bytes| response::parse_response(bytes, true),
    )
    .await?;
    let reader = StreamReader::new(written.exclude_reasoning);
    Ok(event_stream::decode(
        Arc::clone(inner),
        response.into_stream(),
        reader,
    ))
}

/// The body, or a client error naming what cannot be sent.
fn write(
    inner: &Inner,
    endpoint: &Endpoint,
    request: &ChatRequest<'_>,
    stream: bool,
) -> Result<request::Written, UpstreamError> {
    request::write_body(endpoint, request, stream)
        .map_err(|err| UpstreamError::new(inner.name(), ErrorKind::BadRequest, err.to_string()))
}
