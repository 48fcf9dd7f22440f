//! The provider-neutral HTTP exchange every wire format shares: send a body with the first-byte
//! timeout, classify a non-2xx answer from its status, headers and body, read a bounded error
//! body, read a 2xx body up to `max_response_bytes`, and describe a 2xx body that could not be
//! read.

use std::time::SystemTime;

use reqwest::header::HeaderValue;
use router_core::fallback::FailureClass;

use crate::client::Inner;
use crate::error::{self, UpstreamError};
use crate::transport::{Response, Transport};

/// The most of an error body we read (the rest is dropped with the connection).
pub(crate) const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Sends `body` on `transport` and waits for the headers; a non-2xx answer is classified into
/// an error.
pub(crate) async fn send(
    inner: &Inner,
    transport: &Transport,
    body: Vec<u8>,
    stream: bool,
) -> Result<Response, UpstreamError> {
    let settings = &inner.settings;
    let accept = match stream {
        true => HeaderValue::from_static("text/event-stream"),
        false => HeaderValue::from_static("application/json"),
    };
    tracing::trace!(provider = inner.name(), stream, "sending chat request");
    let sent = transport.post(body, accept, settings.total_timeout);
    let response = match tokio::time::timeout(settings.first_byte_timeout, sent).await {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => {
            return Err(error::from_transport(
                inner.name(),
                &inner.scrubber(),
                err,
                FailureClass::Unavailable,
            ));
        }
        Err(_) => {
            return Err(UpstreamError::new(
                inner.name(),
                FailureClass::Timeout,
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
        class = %err.class,
        "provider answered with an error"
    );
    Err(err)
}

/// Reads at most [`MAX_ERROR_BODY_BYTES`] of a body, each read within the idle timeout. What
/// could not be read is left out: this is only for classifying and logging an error.
pub(crate) async fn read_limited(inner: &Inner, mut response: Response) -> Vec<u8> {
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

/// Reads a whole 2xx body, bounded by the request's total timeout and by
/// `max_response_bytes`: a longer body is an invalid response, read no further.
pub(crate) async fn read_body(
    inner: &Inner,
    response: Response,
) -> Result<bytes::Bytes, UpstreamError> {
    let limit = inner.settings.max_response_bytes;
    response.bytes_within(limit).await.map_err(|err| {
        error::from_transport(
            inner.name(),
            &inner.scrubber(),
            err,
            FailureClass::StreamInterrupted,
        )
    })
}

/// Whether the answer is JSON (a stream request answered with a JSON error, or ignored).
pub(crate) fn is_json(response: &Response) -> bool {
    response
        .header(&reqwest::header::CONTENT_TYPE)
        .is_some_and(|it| it.trim_ascii_start().starts_with(b"application/json"))
}

/// The error for a 2xx body that is not an answer: `why`, and the start of the body, which
/// tells an operator what came back (an HTML error page, ...).
pub(crate) fn invalid_body(inner: &Inner, status: u16, why: &str, raw: &[u8]) -> UpstreamError {
    let excerpt = String::from_utf8_lossy(&raw[..raw.len().min(256)]);
    let detail = format!("{why}; the body starts with: {excerpt}");
    let mut err = UpstreamError::new(
        inner.name(),
        FailureClass::InvalidResponse,
        inner.scrubber().clean(&detail),
    );
    err.status = Some(status);
    err
}
