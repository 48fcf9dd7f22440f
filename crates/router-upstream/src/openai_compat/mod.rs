//! The OpenAI chat completions wire format, spoken by OpenAI and most other providers.
//!
//! - [`request`]: writes the upstream body from the canonical request's raw pieces.
//! - [`response`]: reads a completion body, and the JSON of each stream event (`WireBody`).
//! - [`stream`]: decodes the SSE stream into chunks.
//!
//! This module holds the HTTP exchange itself: send with the first-byte timeout, classify a
//! non-2xx answer from its status, headers and body, and hand a 2xx to the parser or decoder.

mod request;
pub(crate) mod response;
pub(crate) mod stream;

use std::sync::Arc;
use std::time::SystemTime;

use reqwest::header::{self, HeaderValue};
use router_core::catalog::Endpoint;
use router_core::request::ChatRequest;
use router_core::response::ChatResponse;

use crate::client::{ChunkStream, Inner};
use crate::error::{self, ErrorKind, UpstreamError};
use crate::transport::Response;
use response::BodyProblem;

/// The most of an error body we read (the rest is dropped with the connection).
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// A non-streaming chat completion.
pub(crate) async fn complete(
    inner: &Arc<Inner>,
    endpoint: &Endpoint,
    request: &ChatRequest<'_>,
) -> Result<ChatResponse, UpstreamError> {
    let body = request::write_body(endpoint, request, false);
    let response = send(inner, body, false).await?;
    let status = response.status().as_u16();
    // Reading the body is bounded by the request's total timeout and by `max_response_bytes`.
    let limit = inner.settings.max_response_bytes;
    let bytes = response.bytes_within(limit).await.map_err(|err| {
        error::from_transport(
            inner.name(),
            &inner.scrubber(),
            err,
            ErrorKind::StreamInterrupted,
        )
    })?;
    response::parse_response(&bytes).map_err(|problem| body_error(inner, status, problem, &bytes))
}

/// A streaming chat completion: resolves once the provider answered with 2xx headers.
pub(crate) async fn stream(
    inner: &Arc<Inner>,
    endpoint: &Endpoint,
    request: &ChatRequest<'_>,
) -> Result<ChunkStream, UpstreamError> {
    let body = request::write_body(endpoint, request, true);
    let response = send(inner, body, true).await?;
    let is_json = response
        .header(&header::CONTENT_TYPE)
        .is_some_and(|it| it.trim_ascii_start().starts_with(b"application/json"));
    if is_json {
        // Some providers answer a stream request with a JSON error (or ignore `stream`).
        let status = response.status().as_u16();
        let bytes = read_limited(inner, response).await;
        let problem = match response::parse_response(&bytes) {
            Err(problem @ BodyProblem::Error(_)) => problem,
            _ => BodyProblem::Invalid("expected an event stream, got a JSON body".to_owned()),
        };
        return Err(body_error(inner, status, problem, &bytes));
    }
    Ok(stream::decode(Arc::clone(inner), response.into_stream()))
}

/// Sends the request and waits for the headers; a non-2xx answer is classified into an error.
async fn send(inner: &Arc<Inner>, body: Vec<u8>, stream: bool) -> Result<Response, UpstreamError> {
    let settings = &inner.settings;
    let accept = match stream {
        true => HeaderValue::from_static("text/event-stream"),
        false => HeaderValue::from_static("application/json"),
    };
    tracing::trace!(provider = inner.name(), stream, "sending chat request");
    let sent = inner.transport.post(body, accept, settings.total_timeout);
    let response = match tokio::time::timeout(settings.first_byte_timeout, sent).await {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => {
            return Err(error::from_transport(
                inner.name(),
                &inner.scrubber(),
                err,
                ErrorKind::Unavailable,
            ));
        }
        Err(_) => {
            return Err(UpstreamError::new(
                inner.name(),
                ErrorKind::Timeout,
                format!(
                    "no response headers within {:?}",
                    settings.first_byte_timeout
                ),
            ));
        }
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = error::retry_after(response.headers(), SystemTime::now());
    let bytes = read_limited(inner, response).await;
    let err = error::from_response(
        inner.name(),
        &inner.scrubber(),
        Some(status),
        retry_after,
        &bytes,
    );
    tracing::debug!(
        provider = inner.name(),
        status = status.as_u16(),
        kind = %err.kind,
        "provider answered with an error"
    );
    Err(err)
}

/// Reads at most [`MAX_ERROR_BODY_BYTES`] of a body, each read within the idle timeout. What
/// could not be read is left out: this is only for classifying and logging an error.
async fn read_limited(inner: &Inner, mut response: Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match tokio::time::timeout(inner.settings.idle_timeout, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            Ok(Ok(None) | Err(_)) | Err(_) => break,
        }
    }
    body.truncate(MAX_ERROR_BODY_BYTES);
    body
}

/// The error for a 2xx body that is not a completion.
fn body_error(inner: &Inner, status: u16, problem: BodyProblem, raw: &[u8]) -> UpstreamError {
    let scrubber = inner.scrubber();
    match problem {
        BodyProblem::Error(parsed) => {
            error::from_parsed(inner.name(), &scrubber, None, None, parsed, raw)
        }
        BodyProblem::Invalid(why) => {
            // The start of the body tells an operator what came back (an HTML error page, ...).
            let excerpt = String::from_utf8_lossy(&raw[..raw.len().min(256)]);
            let detail = format!("{why}; the body starts with: {excerpt}");
            let mut err = UpstreamError::new(
                inner.name(),
                ErrorKind::InvalidResponse,
                scrubber.clean(&detail),
            );
            err.status = Some(status);
            err
        }
    }
}
