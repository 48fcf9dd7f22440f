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
use crate::exchange::{BodyProblem, WireFormat, Written};
use crate::transport::Response;
pub(crate) use stream::reader;

/// The OpenAI chat completions format.
#[derive(Debug)]
pub(crate) struct OpenAiCompat;

impl WireFormat for OpenAiCompat {
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
        stream::decode(inner, response.into_stream(), exclude_reasoning)
    }
}
