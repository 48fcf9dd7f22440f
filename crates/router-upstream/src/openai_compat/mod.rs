//! The OpenAI chat completions wire format, spoken by OpenAI and most other providers.
//!
//! - [`request`]: writes the upstream body from the canonical request's raw pieces
//!   (`reasoning` translated to `reasoning_effort`, `user` hashed).
//! - [`response`]: reads a completion body, and the JSON of each stream event (`WireBody`);
//!   normalizes what needs it (`finish_reason` with `native_finish_reason` spliced in, a
//!   missing `index` or `role`, excluded reasoning), copying the rest.
//! - [`stream`]: decodes the SSE stream into chunks.
//!
//! This module runs the exchange (the shared [`exchange`] functions) and hands a 2xx to the
//! parser or decoder.

mod request;
pub(crate) mod response;
pub(crate) mod stream;

use std::sync::Arc;

use router_core::catalog::Endpoint;
use router_core::request::ChatRequest;
use router_core::response::ChatResponse;

use crate::client::{ChunkStream, Inner};
use crate::error::{ErrorKind, UpstreamError};
use crate::exchange;
pub(crate) use stream::reader;

/// A non-streaming chat completion.
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

/// A streaming chat completion: resolves once the provider answered with 2xx headers.
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
    Ok(stream::decode(
        Arc::clone(inner),
        response.into_stream(),
        written.exclude_reasoning,
    ))
}

/// The body, or a client error naming the field that cannot be translated.
fn write(
    inner: &Inner,
    endpoint: &Endpoint,
    request: &ChatRequest<'_>,
    stream: bool,
) -> Result<request::Written, UpstreamError> {
    request::write_body(endpoint, request, stream)
        .map_err(|err| UpstreamError::new(inner.name(), ErrorKind::BadRequest, err.to_string()))
}
