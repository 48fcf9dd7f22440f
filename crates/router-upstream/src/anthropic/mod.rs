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
use crate::event_stream;
use crate::exchange::{BodyProblem, WireFormat, Written};
use crate::transport::Response;
pub(crate) use response::StreamReader;

/// The `anthropic-version` header sent on every request.
pub(crate) const API_VERSION: &str = "2023-06-01";

/// Anthropic's Messages format.
#[derive(Debug)]
pub(crate) struct Anthropic;

impl WireFormat for Anthropic {
    fn write(
        endpoint: &Endpoint,
        request: &ChatRequest<'_>,
        stream: bool,
    ) -> Result<Written, String> {
        request::write_body(endpoint, request, stream).map_err(|err| err.to_string())
    }

    fn parse(bytes: &[u8], exclude_reasoning: bool) -> Result<ChatResponse, BodyProblem> {
        response::parse_response(bytes, exclude_reasoning)
    }

    fn decode(inner: Arc<Inner>, response: Response, exclude_reasoning: bool) -> ChunkStream {
        let reader = StreamReader::new(exclude_reasoning);
        event_stream::decode(inner, response.into_stream(), reader)
    }
}
