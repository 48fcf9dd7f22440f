//! Decodes an OpenAI-compatible SSE stream into [`ChatChunk`]s.
//!
//! [`decode`] runs the provider-neutral [`event_stream`] driver (SSE parsing, the idle timer,
//! the end and error rules) with this format's reader. Each `data:` event is read by
//! [`parse_event`] into a chunk (its `choices` copied raw, see [`WireBody`]), skipped, the end
//! (`[DONE]`), or an error; the members a provider repeats at the start of every chunk are
//! checked once per stream, not once per chunk ([`SeenPrefix`]). The stream ends after
//! `[DONE]`, at a clean end of the body once a `finish_reason` was seen, or after its first
//! error.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use router_core::json::RawJson;
use router_core::response::{ChatChunk, FinishReason};

use super::response::{ReadError, SeenPrefix, WireBody, error_member, normalized};
use crate::client::{ChunkStream, Inner};
pub(crate) use crate::event_stream::Event;
use crate::event_stream::{self, EventReader};
use crate::sse::SseEvent;
use crate::transport::TransportError;

/// Reads one `data:` payload; `exclude_reasoning` drops the deltas' reasoning.
pub(crate) fn parse_event(data: &[u8], seen: &mut SeenPrefix, exclude_reasoning: bool) -> Event {
    if data.trim_ascii() == b"[DONE]" {
        return Event::Done;
    }
    let wire = match crate::utf8::str_of(data) {
        Ok(data) => WireBody::read_chunk(data, seen),
        Err(err) => return Event::Invalid(format!("stream event is not valid JSON: {err}")),
    };
    let wire = match wire {
        Ok(wire) => wire,
        Err(ReadError::Json(err)) => {
            return Event::Invalid(format!("stream event is not valid JSON: {err}"));
        }
        Err(ReadError::Shape(why)) => return Event::Invalid(why.to_owned()),
    };
    if let Some(error) = wire.error {
        return Event::Error(error_member(error));
    }
    match wire.choices {
        Some((choices, summary)) => Event::Chunk(ChatChunk {
            choices: normalized(choices, &summary, exclude_reasoning),
            has_output: summary.has_output,
            finish_reason: summary
                .finish_reason
                .as_deref()
                .map(FinishReason::normalize),
            usage: wire.usage,
        }),
        // A usage chunk without `choices`: hand it on with `choices: []`.
        None => match wire.usage {
            Some(usage) => Event::Chunk(ChatChunk {
                choices: RawJson::empty_array(),
                has_output: false,
                finish_reason: None,
                usage: Some(usage),
            }),
            None => Event::Skip,
        },
    }
}

/// The chunk stream over a 2xx response body.
pub(crate) fn decode(
    inner: Arc<Inner>,
    body: impl Stream<Item = Result<Bytes, TransportError>> + Send + 'static,
    exclude_reasoning: bool,
) -> ChunkStream {
    event_stream::decode(inner, body, reader(exclude_reasoning))
}

/// The reader of one stream's events.
pub(crate) fn reader(exclude_reasoning: bool) -> impl EventReader {
    Reader {
        seen: SeenPrefix::default(),
        exclude_reasoning,
    }
}

/// Reads OpenAI's `data:` events, remembering the start of the last chunk ([`SeenPrefix`]).
struct Reader {
    seen: SeenPrefix,
    exclude_reasoning: bool,
}

impl EventReader for Reader {
    fn read(&mut self, event: &SseEvent) -> Event {
        parse_event(event.data(), &mut self.seen, self.exclude_reasoning)
    }
}

#[cfg(test)]
mod tests;
