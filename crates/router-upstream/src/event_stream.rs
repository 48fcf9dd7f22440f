//! The provider-neutral half of a streamed answer: SSE events in, [`ChatChunk`]s out.
//!
//! [`decode`] drives the [`SseParser`] over a response body, one network chunk at a time, with
//! the idle timeout around every read and one event bounded by `max_response_bytes`, and hands each event to the wire format's
//! [`EventReader`], which says what the event is ([`Event`]). The idle timer is set once and
//! moved on lazily: a read notes when it started, and only when the timer fires is it checked
//! against that and re-armed, so a stream of many events costs one timer, not one per read.
//! The stream ends after the reader's [`Event::Done`], at a clean end of the body once a
//! `finish_reason` was seen, or after its first error.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use router_core::fallback::FailureClass;
use router_core::response::ChatChunk;
use tokio::time::{Instant, Sleep};

use crate::client::{ChunkStream, Inner};
use crate::error::{self, ProviderErrorBody, UpstreamError};
use crate::sse::{SseEvent, SseParser};
use crate::transport::TransportError;

/// What one SSE event is.
#[derive(Debug)]
pub(crate) enum Event {
    /// A chunk to hand on.
    Chunk(ChatChunk),
    /// The end of the stream (`[DONE]`, `message_stop`).
    Done,
    /// Nothing to hand on (a keep-alive, a `ping`, the end of a content block).
    Skip,
    /// The provider reported an error.
    Error(ProviderErrorBody),
    /// Not JSON, or not the expected shape; says why.
    Invalid(String),
}

/// Reads the events of one stream in one wire format; it may keep state between events.
pub(crate) trait EventReader: Send + 'static {
    /// What `event` is.
    fn read(&mut self, event: &SseEvent) -> Event;
}

/// The chunk stream over a 2xx response body, read by `reader`.
pub(crate) fn decode<R: EventReader>(
    inner: Arc<Inner>,
    body: impl Stream<Item = Result<Bytes, TransportError>> + Send + 'static,
    reader: R,
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
        reader,
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

type Body = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send>>;

/// The state of one stream.
struct Decoder<R> {
    inner: Arc<Inner>,
    body: Body,
    parser: SseParser,
    /// The wire format's reader of events.
    reader: R,
    idle_timeout: Duration,
    /// When the read in progress started.
    read_started: Instant,
    /// Fires no earlier than `idle_timeout` after `read_started`; re-armed when it fires early.
    idle: Pin<Box<Sleep>>,
    /// A chunk carried a `finish_reason`: a clean end of the body is no longer an interruption.
    saw_finish: bool,
    /// The body has no more bytes.
    body_ended: bool,
    /// The end, or an error was handed out: nothing more comes.
    done: bool,
}

impl<R: EventReader> Decoder<R> {
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
                Err(err) => return self.fail(FailureClass::InvalidResponse, err.to_string()),
            };
            if let Some(event) = event {
                match self.reader.read(&event) {
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
                    Event::Invalid(why) => return self.fail(FailureClass::InvalidResponse, why),
                }
            }
            if self.body_ended {
                self.done = true;
                return match self.saw_finish {
                    true => None,
                    false => self.fail(
                        FailureClass::StreamInterrupted,
                        "the stream ended before its end event and before a finish_reason"
                            .to_owned(),
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
                        FailureClass::StreamInterrupted,
                    )));
                }
                Err(()) => {
                    let why = format!("no stream data for {:?}", self.idle_timeout);
                    return self.fail(FailureClass::Timeout, why);
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
        kind: FailureClass,
        detail: String,
    ) -> Option<Result<ChatChunk, UpstreamError>> {
        self.done = true;
        let detail = self.inner.scrubber().clean(&detail);
        Some(Err(UpstreamError::new(self.inner.name(), kind, detail)))
    }
}

/// Test support: a stream read event by event without the network, in pieces cut anywhere.
#[cfg(test)]
pub(crate) mod pieces {
    use router_core::pricing::Usage;
    use router_core::response::FinishReason;

    use super::{Event, EventReader};
    use crate::sse::SseParser;

    /// What one event became, comparable across runs.
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) enum Outcome {
        /// A chunk: its `choices`, finish, usage and whether it is output.
        Chunk(String, Option<FinishReason>, Option<Usage>, bool),
        /// The end event.
        Done,
        /// A provider error: its code and message.
        Error(Option<String>, Option<String>),
        /// An unreadable event.
        Invalid(String),
    }

    /// Feeds `wire` to `reader` in pieces cut at `cuts` (each taken modulo the length) and
    /// returns what every event became, `Skip`s left out.
    pub(crate) fn read_in_pieces(
        mut reader: impl EventReader,
        wire: &[u8],
        cuts: &[usize],
    ) -> Vec<Outcome> {
        let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (wire.len() + 1)).collect();
        points.sort_unstable();
        points.push(wire.len());
        let mut parser = SseParser::new();
        let mut outcomes = Vec::new();
        let mut fed = 0;
        let mut take = |parser: &mut SseParser, outcomes: &mut Vec<Outcome>, last: bool| loop {
            let next = match last {
                false => parser.next_event(),
                true => match parser.next_event() {
                    Ok(None) => parser.finish(),
                    other => other,
                },
            };
            let Some(event) = next.unwrap() else { break };
            match reader.read(&event) {
                Event::Chunk(chunk) => outcomes.push(Outcome::Chunk(
                    chunk.choices.get().to_owned(),
                    chunk.finish_reason,
                    chunk.usage,
                    chunk.has_output,
                )),
                Event::Done => outcomes.push(Outcome::Done),
                Event::Skip => {}
                Event::Error(body) => outcomes.push(Outcome::Error(body.code, body.message)),
                Event::Invalid(why) => outcomes.push(Outcome::Invalid(why)),
            }
        };
        for point in points {
            parser.push(&wire[fed..point.max(fed)]);
            fed = point.max(fed);
            take(&mut parser, &mut outcomes, false);
        }
        take(&mut parser, &mut outcomes, true);
        outcomes
    }

    /// The text of every chunk's `delta.content`, and each tool call's name and arguments as
    /// assembled from their pieces, by index.
    pub(crate) fn assemble(outcomes: &[Outcome]) -> (String, Vec<(String, String)>, String) {
        let mut content = String::new();
        let mut reasoning = String::new();
        let mut calls: Vec<(String, String)> = Vec::new();
        for outcome in outcomes {
            let Outcome::Chunk(choices, ..) = outcome else {
                continue;
            };
            let choices: serde_json::Value = serde_json::from_str(choices).unwrap();
            for choice in choices.as_array().unwrap() {
                let delta = &choice["delta"];
                content += delta["content"].as_str().unwrap_or_default();
                reasoning += delta["reasoning"].as_str().unwrap_or_default();
                for call in delta["tool_calls"].as_array().into_iter().flatten() {
                    let index = usize::try_from(call["index"].as_u64().unwrap()).unwrap();
                    if index == calls.len() {
                        calls.push((String::new(), String::new()));
                    }
                    calls[index].0 += call["function"]["name"].as_str().unwrap_or_default();
                    calls[index].1 += call["function"]["arguments"].as_str().unwrap_or_default();
                }
            }
        }
        (content, calls, reasoning)
    }
}
