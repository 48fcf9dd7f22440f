//! Google's Gemini API: `POST {base_url}/models/{model}:generateContent`, and
//! `:streamGenerateContent?alt=sse` for streams.
//!
//! - [`request`]: writes the body (`contents`, `systemInstruction`, `tools`,
//!   `generationConfig`) from the canonical request.
//! - [`response`]: reads an answer, and each stream event, into canonical answers.
//!
//! The key goes in the `x-goog-api-key` header (set up by the client), never in the URL, so no
//! URL that could be logged carries it. The model is part of the URL, so each model and method
//! has its own transport ([`Inner::transport_for`]), all sharing the provider's connection pool.

mod request;
mod response;

use std::sync::Arc;

use router_core::catalog::Endpoint;
use router_core::fallback::FailureClass;
use router_core::request::ChatRequest;
use router_core::response::ChatResponse;

use crate::client::{ChunkStream, Inner};
use crate::error::UpstreamError;
use crate::event_stream;
use crate::exchange::{BodyProblem, WireFormat, Written};
use crate::transport::{Response, Transport};
pub(crate) use response::StreamReader;

/// The prefix of tool-call ids Turnout makes up when Gemini gives none (they are not sent back).
pub(crate) const SYNTHETIC_ID_PREFIX: &str = "call_gm_";

/// Gemini's `generateContent` format.
#[derive(Debug)]
pub(crate) struct Gemini;

impl WireFormat for Gemini {
    fn write(
        endpoint: &Endpoint,
        request: &ChatRequest<'_>,
        _stream: bool,
    ) -> Result<Written, String> {
        request::write_body(endpoint, request).map_err(|err| err.to_string())
    }

    fn transport(
        inner: &Inner,
        endpoint: &Endpoint,
        stream: bool,
    ) -> Result<Option<Arc<Transport>>, UpstreamError> {
        inner.transport_for(&path(endpoint, stream)).map(Some)
    }

    fn refine(err: UpstreamError) -> UpstreamError {
        refine(err)
    }

    fn parse(bytes: &[u8], exclude_reasoning: bool) -> Result<ChatResponse, BodyProblem> {
        response::parse_response(bytes, exclude_reasoning)
    }

    fn decode(inner: Arc<Inner>, response: Response, exclude_reasoning: bool) -> ChunkStream {
        let reader = StreamReader::new(exclude_reasoning);
        event_stream::decode(inner, response.into_stream(), reader)
    }
}

/// `models/{model}:generateContent`, or `:streamGenerateContent?alt=sse`. A model named
/// `models/...` in the catalog is taken as it is.
fn path(endpoint: &Endpoint, stream: bool) -> String {
    let model = endpoint.upstream_model.trim_start_matches("models/");
    match stream {
        false => format!("models/{model}:generateContent"),
        true => format!("models/{model}:streamGenerateContent?alt=sse"),
    }
}

/// Gemini words a context overflow as "The input token count (N) exceeds the maximum number of
/// tokens allowed (M)", which the shared rules do not know: it is a context-length error.
fn refine(mut err: UpstreamError) -> UpstreamError {
    let overflow = err.provider_message.as_deref().is_some_and(|message| {
        message.contains("token count") && message.contains("exceeds the maximum")
    });
    if err.class == FailureClass::BadRequest && overflow {
        err.class = FailureClass::ContextLength;
    }
    err
}
