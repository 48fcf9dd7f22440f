//! The provider-neutral HTTP exchange every wire format shares: send a body with the first-byte
//! timeout, classify a non-2xx answer from its status, headers and body, read a bounded error
//! body, read a 2xx body up to `max_response_bytes`, and describe a 2xx body that could not be
//! read.
//!
//! [`complete`] and [`stream`] are the whole exchange of a non-streaming and a streaming call in
//! any [`WireFormat`]: a format brings its body, its readers of a 2xx answer and, where its
//! errors need it, a refinement of the shared classification.

use std::sync::Arc;
use std::time::SystemTime;

use router_core::fallback::FailureClass;

use router_core::catalog::Endpoint;
use router_core::request::ChatRequest;
use router_core::response::ChatResponse;

use crate::client::{ChunkStream, Inner};
use crate::error::{self, ProviderErrorBody, UpstreamError};
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
    tracing::trace!(provider = inner.name(), stream, "sending chat request");
    let sent = transport.post(body, stream, settings.total_timeout);
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

/// A request body as a wire format wrote it.
#[derive(Debug)]
pub(crate) struct Written {
    /// The JSON body.
    pub(crate) body: Vec<u8>,
    /// Leave reasoning out of the answer (`reasoning.exclude`, `include_reasoning: false`).
    pub(crate) exclude_reasoning: bool,
}

/// What a wire format brings to the shared exchange: its body, where the call goes, how its
/// errors are worded, and its readers of a 2xx answer.
pub(crate) trait WireFormat {
    /// The body for `endpoint`, or what cannot be sent (a client error).
    fn write(
        endpoint: &Endpoint,
        request: &ChatRequest<'_>,
        stream: bool,
    ) -> Result<Written, String>;

    /// The transport of a call, when not the provider's one transport (Gemini puts the model in
    /// the URL).
    fn transport(
        _inner: &Inner,
        _endpoint: &Endpoint,
        _stream: bool,
    ) -> Result<Option<Arc<Transport>>, UpstreamError> {
        Ok(None)
    }

    /// Rewords the error of a non-2xx answer, after the shared classification.
    fn refine(err: UpstreamError) -> UpstreamError {
        err
    }

    /// Reads a whole 2xx body (or, for a stream request, a JSON body in its place).
    fn parse(bytes: &[u8], exclude_reasoning: bool) -> Result<ChatResponse, BodyProblem>;

    /// Decodes a 2xx event stream.
    fn decode(inner: Arc<Inner>, response: Response, exclude_reasoning: bool) -> ChunkStream;
}

/// A non-streaming call in wire format `F`.
pub(crate) async fn complete<F: WireFormat>(
    inner: &Arc<Inner>,
    endpoint: &Endpoint,
    request: &ChatRequest<'_>,
) -> Result<ChatResponse, UpstreamError> {
    let written = write::<F>(inner, endpoint, request, false)?;
    let own = F::transport(inner, endpoint, false)?;
    let transport = own.as_deref().unwrap_or(&inner.transport);
    let response = send(inner, transport, written.body, false)
        .await
        .map_err(F::refine)?;
    let status = response.status().as_u16();
    let bytes = read_body(inner, response).await?;
    F::parse(&bytes, written.exclude_reasoning)
        .map_err(|problem| body_error(inner, status, problem, &bytes))
}

/// A streaming call in wire format `F`: resolves once the provider answered with 2xx headers.
/// Some providers answer a stream request with a JSON body (an error, or `stream` ignored): the
/// provider's error in it is the error, else the answer is invalid.
pub(crate) async fn stream<F: WireFormat>(
    inner: &Arc<Inner>,
    endpoint: &Endpoint,
    request: &ChatRequest<'_>,
) -> Result<ChunkStream, UpstreamError> {
    let written = write::<F>(inner, endpoint, request, true)?;
    let own = F::transport(inner, endpoint, true)?;
    let transport = own.as_deref().unwrap_or(&inner.transport);
    let response = send(inner, transport, written.body, true)
        .await
        .map_err(F::refine)?;
    if !is_json(&response) {
        return Ok(F::decode(
            Arc::clone(inner),
            response,
            written.exclude_reasoning,
        ));
    }
    let status = response.status().as_u16();
    let bytes = read_limited(inner, response).await;
    let problem = match F::parse(&bytes, true) {
        Err(problem @ BodyProblem::Error(_)) => problem,
        _ => BodyProblem::Invalid("expected an event stream, got a JSON body".to_owned()),
    };
    Err(body_error(inner, status, problem, &bytes))
}

/// `F`'s body, or a client error naming what cannot be sent.
fn write<F: WireFormat>(
    inner: &Inner,
    endpoint: &Endpoint,
    request: &ChatRequest<'_>,
    stream: bool,
) -> Result<Written, UpstreamError> {
    F::write(endpoint, request, stream)
        .map_err(|why| UpstreamError::new(inner.name(), FailureClass::BadRequest, why))
}
