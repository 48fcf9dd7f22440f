//! The provider-neutral HTTP exchange every wire format shares: send a body with the first-byte
//! timeout, classify a non-2xx answer from its status, headers and body, read a bounded error
//! body, read a 2xx body up to `max_response_bytes`, and describe a 2xx body that could not be
//! read.
//!
//! [`complete`] and [`open_stream`] are the whole exchange of a non-streaming and a streaming
//! call; a wire format brings its body, its reader of a 2xx body and, where its errors need it,
//! a refinement of the shared classification.

use std::time::SystemTime;

use reqwest::header::HeaderValue;

use crate::client::Inner;
use crate::error::{self, ErrorKind, ProviderErrorBody, UpstreamError};
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
            ErrorKind::StreamInterrupted,
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
        ErrorKind::InvalidResponse,
        inner.scrubber().clean(&detail),
    );
    err.status = Some(status);
    err
}

/// Why a 2xx body is not an answer; each wire format's reader says which.
#[derive(Debug)]
pub(crate) enum BodyProblem {
    /// Not JSON, or not the expected shape; says why.
    Invalid(String),
    /// The provider reported an error in a 2xx body (or, for Gemini, blocked the prompt).
    Error(ProviderErrorBody),
}

/// The error for a 2xx body that is not an answer.
pub(crate) fn body_error(
    inner: &Inner,
    status: u16,
    problem: BodyProblem,
    raw: &[u8],
) -> UpstreamError {
    match problem {
        BodyProblem::Error(parsed) => {
            error::from_parsed(inner.name(), &inner.scrubber(), None, None, parsed, raw)
        }
        BodyProblem::Invalid(why) => invalid_body(inner, status, &why, raw),
    }
}

/// A non-streaming call: sends `body` on `transport`, reads the 2xx body whole (up to
/// `max_response_bytes`) and reads the answer from it with `parse`. `refine` may reword the
/// error of a non-2xx answer in the format's own terms.
pub(crate) async fn complete<T>(
    inner: &Inner,
    transport: &Transport,
    body: Vec<u8>,
    refine: fn(UpstreamError) -> UpstreamError,
    parse: impl FnOnce(&[u8]) -> Result<T, BodyProblem>,
) -> Result<T, UpstreamError> {
    let response = send(inner, transport, body, false).await.map_err(refine)?;
    let status = response.status().as_u16();
    let bytes = read_body(inner, response).await?;
    parse(&bytes).map_err(|problem| body_error(inner, status, problem, &bytes))
}

/// The start of a streaming call: sends `body` on `transport` and returns the 2xx answer, whose
/// body is the event stream. Some providers answer a stream request with a JSON body (an error,
/// or `stream` ignored): `parse` reads it, and the provider's error in it is the error, else the
/// answer is invalid. `refine` as for [`complete`].
pub(crate) async fn open_stream<T>(
    inner: &Inner,
    transport: &Transport,
    body: Vec<u8>,
    refine: fn(UpstreamError) -> UpstreamError,
    parse: impl FnOnce(&[u8]) -> Result<T, BodyProblem>,
) -> Result<Response, UpstreamError> {
    let response = send(inner, transport, body, true).await.map_err(refine)?;
    if !is_json(&response) {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let bytes = read_limited(inner, response).await;
    let problem = match parse(&bytes) {
        Err(problem @ BodyProblem::Error(_)) => problem,
        _ => BodyProblem::Invalid("expected an event stream, got a JSON body".to_owned()),
    };
    Err(body_error(inner, status, problem, &bytes))
}

/// The `refine` of a format whose errors the shared classification reads as they are.
pub(crate) fn as_classified(err: UpstreamError) -> UpstreamError {
    err
}
