//! Decodes an OpenAI-compatible SSE stream into [`ChatChunk`]s.
//!
//! [`decode`] drives the [`SseParser`] over the response body, one network chunk at a time, with
//! the idle timeout around every read. The idle timer is set once and moved on lazily: a read
//! notes when it started, and only when the timer fires is it checked against that and re-armed,
//! so a stream of many events costs one timer, not one per read. Each `data:` event is read by
//! [`parse_event`] into a chunk (its `choices` copied raw, see [`WireBody`]), skipped, the end
//! (`[DONE]`), or an error; the members a provider repeats at the start of every chunk are
//! checked once per stream, not once per chunk ([`SeenPrefix`]). The stream ends after
//! `[DONE]`, at a clean end of the body once a `finish_reason` was seen, or after its first
//! error.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use router_core::json::RawJson;
use router_core::response::{ChatChunk, FinishReason};
use tokio::time::{Instant, Sleep};

use super::response::{ReadError, SeenPrefix, WireBody, error_member};
use crate::client::{ChunkStream, Inner};
use crate::error::{self, ErrorKind, ProviderErrorBody, UpstreamError};
use crate::sse::SseParser;
use crate::transport::TransportError;

/// What one `data:` event is.
#[derive(Debug)]
pub(crate) enum Event {
    /// A chunk to hand on.
    Chunk(ChatChunk),
    /// `[DONE]`: the stream is over.
    Done,
    /// Neither choices, usage nor an error (a keep-alive or vendor extension): nothing to hand on.
    Skip,
    /// The provider reported an error.
    Error(ProviderErrorBody),
    /// Not JSON, or not a chunk; says why.
    Invalid(String),
}

/// Reads one `data:` payload.
pub(crate) fn parse_event(data: &[u8], seen: &mut SeenPrefix) -> Event {
    if data.trim_ascii() == b"[DONE]" {
        return Event::Done;
    }
    let wire = match std::str::from_utf8(data) {
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
            choices: RawJson::from(choices),
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
) -> ChunkStream {
    let idle_timeout = inner.settings.idle_timeout;
    // One event cannot be larger than a whole answer may be.
    let parser = SseParser::with_max_event_bytes(inner.settings.max_response_bytes);
    let read_started = Instant::now();
    let decoder = Decoder {
        idle_timeout,
        read_started,
        idle: Box::pin(tokio::time::sleep_until(read_started + idle_timeout)),
        inner,
        body: Box::pin(body),
        parser,
        seen: SeenPrefix::default(),
        saw_finish: false,
        body_ended: false,
        done: false,
    };
    // The state is boxed: `unfold` moves it in and out of its future for every item, and a
    // pointer is cheaper to move than the decoder.
    Box::pin(futures_util::stream::unfold(
        Box::new(decoder),
        |mut decoder| async move {
            let item = decoder.next_item().await?;
            Some((item, decoder))
        },
    ))
}

type Body = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send>>;

/// The state of one stream.
struct Decoder {
    inner: Arc<Inner>,
    body: Body,
    parser: SseParser,
    /// What the last chunk started with, for reading the next one (see [`SeenPrefix`]).
    seen: SeenPrefix,
    idle_timeout: Duration,
    /// When the read in progress started.
    read_started: Instant,
    /// Fires no earlier than `idle_timeout` after `read_started`; re-armed when it fires early.
    idle: Pin<Box<Sleep>>,
    /// A chunk carried a `finish_reason`: a clean end of the body is no longer an interruption.
    saw_finish: bool,
    /// The body has no more bytes.
    body_ended: bool,
    /// `[DONE]`, the end, or an error was handed out: nothing more comes.
    done: bool,
}

impl Decoder {
    async fn next_item(&mut self) -> Option<Result<ChatChunk, UpstreamError>> {
        if self.done {
            return None;
        }
        loop {
            let next = match self.body_ended {
                false => self.parser.next_event(),
                true => match self.parser.next_event() {
                    Ok(None) => self.parser.finish(),
                    other => other,
                },
            };
            let event = match next {
                Ok(event) => event,
                Err(err) => return self.fail(ErrorKind::InvalidResponse, err.to_string()),
            };
            if let Some(event) = event {
                match parse_event(event.data(), &mut self.seen) {
                    Event::Chunk(chunk) => {
                        self.saw_finish |= chunk.finish_reason.is_some();
                        return Some(Ok(chunk));
                    }
                    Event::Skip => continue,
                    Event::Done => {
                        self.done = true;
                        return None;
                    }
                    Event::Error(body) => {
                        self.done = true;
                        let inner = &self.inner;
                        return Some(Err(error::from_parsed(
                            inner.name(),
                            &inner.scrubber(),
                            None,
                            None,
                            body,
                            event.data(),
                        )));
                    }
                    Event::Invalid(why) => return self.fail(ErrorKind::InvalidResponse, why),
                }
            }
            if self.body_ended {
                self.done = true;
                return match self.saw_finish {
                    true => None,
                    false => self.fail(
                        ErrorKind::StreamInterrupted,
                        "the stream ended before [DONE] and before a finish_reason".to_owned(),
                    ),
                };
            }
            match self.next_read().await {
                Ok(Some(Ok(bytes))) => self.parser.push(&bytes),
                Ok(None) => self.body_ended = true,
                Ok(Some(Err(_))) if self.saw_finish => {
                    // Cut off after the finish: only the usage chunk can be missing.
                    tracing::debug!(provider = self.inner.name(), "stream cut off after finish");
                    self.done = true;
                    return None;
                }
                Ok(Some(Err(err))) => {
                    self.done = true;
                    let inner = &self.inner;
                    return Some(Err(error::from_transport(
                        inner.name(),
                        &inner.scrubber(),
                        err,
                        ErrorKind::StreamInterrupted,
                    )));
                }
                Err(_) => {
                    let why = format!("no stream data for {:?}", self.idle_timeout);
                    return self.fail(ErrorKind::Timeout, why);
                }
            }
        }
    }

    /// The body's next chunk, or `Err(())` when none came within the idle timeout.
    async fn next_read(&mut self) -> Result<Option<Result<Bytes, TransportError>>, ()> {
        self.read_started = Instant::now();
        loop {
            tokio::select! {
                biased;
                chunk = self.body.next() => return Ok(chunk),
                () = self.idle.as_mut() => {
                    let due = self.read_started + self.idle_timeout;
                    if Instant::now() >= due {
                        return Err(());
                    }
                    self.idle.as_mut().reset(due);
                }
            }
        }
    }

    fn fail(
        &mut self,
        kind: ErrorKind,
        detail: String,
    ) -> Option<Result<ChatChunk, UpstreamError>> {
        self.done = true;
        let detail = self.inner.scrubber().clean(&detail);
        Some(Err(UpstreamError::new(self.inner.name(), kind, detail)))
    }
}

#[cfg(test)]
mod tests;
