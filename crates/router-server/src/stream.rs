//! Streaming responses (`stream: true`) and the commit rule they follow.
//!
//! A streaming request stays invisible to the client until it **commits**: before that, a
//! failing attempt falls back to the next one silently, and if every attempt fails the client
//! gets a plain JSON error with the real status. Two things commit a response:
//!
//! - the keep-alive timer: after `server.keepalive_interval` without output, the `200` headers
//!   go out followed by a `: OPENROUTER PROCESSING` comment, and another each interval. Comments
//!   are invisible to SSE clients, so fallback is still possible; if everything then fails, the
//!   error is one final SSE chunk instead of a status.
//! - the first chunk with output (a content, tool-call, reasoning or refusal delta). From then
//!   on the stream belongs to that attempt: a later failure is the error chunk, then `[DONE]`.
//!   Chunks without output that came before it are held back until it arrives, so a failed
//!   attempt leaves no trace.
//!
//! Every response ends with the usage chunk (`choices: []`, usage with cost) and `data: [DONE]`,
//! or with the error chunk and `data: [DONE]`: never a silent truncation.
//!
//! # How the response is driven
//!
//! The whole exchange (parse, plan, attempts, relaying) is one future that owns the request body
//! (the parsed request borrows from it). [`respond`] polls it until it either finishes (a JSON
//! response: an error, or a non-streaming answer) or commits through its [`Sink`]; a committed
//! response's body ([`EventBody`]) keeps polling the same future while it hands out events. So
//! no task is spawned and nothing is parsed twice, and when the client disconnects, hyper drops
//! the body, which drops the exchange and with it the upstream [`ChunkStream`]: the upstream
//! call is cancelled at once.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use router_core::catalog::Pricing;
use router_core::plan::{Attempt, Plan};
use router_core::pricing::{self, Usage};
use router_core::render::{self, ChunkPrefix, Generation};
use router_core::request::ChatRequest;
use router_upstream::{ChunkStream, UpstreamError};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Interval, MissedTickBehavior};

use crate::api::X_GENERATION_ID;
use crate::app::{AppState, Target};
use crate::error::ApiError;
use crate::execute::{AttemptLog, may_fall_back};
use crate::ids::GenerationStamp;

/// Events queued between the exchange and the response body.
const EVENT_QUEUE: usize = 16;

/// How an exchange ended.
pub(crate) enum Finished {
    /// It never committed: this is the whole response.
    Respond(Response),
    /// It committed: its events went through the [`Sink`].
    Streamed,
}

/// Why a streaming run stopped early.
#[derive(Debug)]
pub(crate) enum Abort {
    /// Every attempt failed before the response committed: answer this error as JSON.
    Rejected(ApiError),
    /// The client went away.
    Disconnected,
}

/// The client is gone; stop working for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Disconnected;

/// Where an exchange writes its stream. The first event commits the response: it hands the
/// receiving end to [`respond`], which sends the `200` headers.
pub(crate) struct Sink {
    commit: Option<oneshot::Sender<mpsc::Receiver<Bytes>>>,
    events: Option<mpsc::Sender<Bytes>>,
}

/// The receiving end of a [`Sink`]'s commit.
pub(crate) type Committed = oneshot::Receiver<mpsc::Receiver<Bytes>>;

impl From<Disconnected> for Abort {
    fn from(Disconnected: Disconnected) -> Self {
        Abort::Disconnected
    }
}

// === impl Sink ===

impl Sink {
    /// A sink, and what [`respond`] watches for its commit.
    pub(crate) fn new() -> (Sink, Committed) {
        let (commit, committed) = oneshot::channel();
        let sink = Sink {
            commit: Some(commit),
            events: None,
        };
        (sink, committed)
    }

    /// Whether the `200` has been sent.
    pub(crate) fn is_committed(&self) -> bool {
        self.events.is_some()
    }

    /// Sends one or more complete SSE events, committing the response first if needed.
    pub(crate) async fn send(&mut self, event: Bytes) -> Result<(), Disconnected> {
        let events = match &self.events {
            Some(events) => events,
            None => {
                let (events, receiver) = mpsc::channel(EVENT_QUEUE);
                let commit = self.commit.take().ok_or(Disconnected)?;
                commit.send(receiver).map_err(|_| Disconnected)?;
                self.events.insert(events)
            }
        };
        events.send(event).await.map_err(|_| Disconnected)
    }
}

/// Drives `exchange` until it finishes or commits, and answers accordingly (see the module
/// docs). `generation_id` is the `X-Generation-Id` of a streamed response.
pub(crate) async fn respond<F>(
    exchange: F,
    committed: Committed,
    generation_id: HeaderValue,
) -> Response
where
    F: Future<Output = Finished> + Send + 'static,
{
    enum Head<F> {
        Finished(Finished),
        Committed(Pin<Box<F>>, mpsc::Receiver<Bytes>),
    }
    let mut exchange = Some(Box::pin(exchange));
    let mut committed = Some(committed);
    let head = poll_fn(|cx| {
        if let Some(running) = exchange.as_mut()
            && let Poll::Ready(finished) = running.as_mut().poll(cx)
        {
            exchange = None;
            return Poll::Ready(Head::Finished(finished));
        }
        if let Some(receiver) = committed.as_mut() {
            match Pin::new(receiver).poll(cx) {
                Poll::Ready(Ok(events)) => {
                    if let Some(running) = exchange.take() {
                        return Poll::Ready(Head::Committed(running, events));
                    }
                }
                // The sink is gone without committing: the exchange is about to finish.
                Poll::Ready(Err(_)) => committed = None,
                Poll::Pending => {}
            }
        }
        Poll::Pending
    })
    .await;
    match head {
        Head::Finished(Finished::Respond(response)) => response,
        Head::Committed(running, events) => event_stream(
            EventBody {
                exchange: Some(running),
                events,
            },
            generation_id,
        ),
        // It committed and finished within one poll: the events are all queued.
        Head::Finished(Finished::Streamed) => {
            match committed.and_then(|mut it| it.try_recv().ok()) {
                Some(events) => event_stream(
                    EventBody::<F> {
                        exchange: None,
                        events,
                    },
                    generation_id,
                ),
                None => ApiError::Internal.into_response(),
            }
        }
    }
}

/// Runs `plan` as a stream (see the module docs). Returns `Err(Abort::Rejected)` only when the
/// response has not committed.
pub(crate) async fn run(
    app: &AppState,
    request: &ChatRequest<'_>,
    plan: &Plan,
    stamp: &GenerationStamp,
    sink: &mut Sink,
) -> Result<(), Abort> {
    let period = app.config().server.keepalive_interval;
    let mut keepalive = tokio::time::interval_at((Instant::now() + period).into(), period);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut log = AttemptLog::with_capacity(plan.attempts.len());
    let mut last_failure = None;
    for attempt in &plan.attempts {
        let target = app.target(attempt);
        let started = Instant::now();
        let generation = generation(stamp, &target);
        let opened = wait_for(
            target
                .provider
                .client
                .stream(&target.endpoint.upstream_model, request),
            &mut keepalive,
            sink,
        )
        .await?;
        let first = match opened {
            Ok(mut upstream) => {
                let prefix = ChunkPrefix::new(&generation);
                first_output(&mut upstream, &prefix, &mut keepalive, sink)
                    .await?
                    .map(|held| (upstream, prefix, held))
            }
            Err(err) => Err(err),
        };
        match first {
            Ok((upstream, prefix, held)) => {
                log.answered(*attempt, started);
                let relay = Relay {
                    app,
                    generation,
                    prefix,
                    pricing: &target.endpoint.pricing,
                    log,
                    attempt: *attempt,
                };
                return Ok(relay.run(upstream, held, sink).await?);
            }
            Err(err) => {
                log.failed(*attempt, &err, started);
                let fall_back = may_fall_back(&err);
                last_failure = Some((*attempt, err));
                if !fall_back {
                    break;
                }
            }
        }
    }
    let last_attempt = last_failure.as_ref().map(|(attempt, _)| *attempt);
    let err = log.into_error(app, last_failure);
    match last_attempt {
        Some(attempt) if sink.is_committed() => {
            let target = app.target(&attempt);
            let mut event = err.to_sse_chunk(&generation(stamp, &target));
            event.extend_from_slice(render::DONE);
            Ok(sink.send(event.into()).await?)
        }
        _ => Err(Abort::Rejected(err)),
    }
}

/// The chunks of an attempt up to and including its first output, rendered, and the usage seen.
struct Held {
    events: Vec<u8>,
    usage: Option<Usage>,
    /// Whether the upstream stream ended (cleanly) before any output.
    ended: bool,
}

/// Reads `upstream` until its first output, holding back what comes before. Keep-alives go out
/// while waiting. `Ok(Err(_))` is the attempt failing before output.
async fn first_output(
    upstream: &mut ChunkStream,
    prefix: &ChunkPrefix,
    keepalive: &mut Interval,
    sink: &mut Sink,
) -> Result<Result<Held, UpstreamError>, Disconnected> {
    let mut held = Held {
        events: Vec::new(),
        usage: None,
        ended: false,
    };
    loop {
        match wait_for(upstream.next(), keepalive, sink).await? {
            Some(Ok(chunk)) => {
                if chunk.usage.is_some() {
                    held.usage = chunk.usage;
                }
                if !is_empty_array(&chunk.choices) {
                    prefix.chunk(&mut held.events, &chunk.choices);
                }
                if chunk.has_output {
                    return Ok(Ok(held));
                }
            }
            Some(Err(err)) => return Ok(Err(err)),
            None => {
                held.ended = true;
                return Ok(Ok(held));
            }
        }
    }
}

/// The committed part of a stream: one attempt's chunks relayed to the client.
struct Relay<'a> {
    app: &'a AppState,
    generation: Generation<'a>,
    prefix: ChunkPrefix,
    pricing: &'a Pricing,
    log: AttemptLog,
    attempt: Attempt,
}

impl Relay<'_> {
    /// Sends `held`, then every further chunk, then the usage chunk or the error chunk, and
    /// `[DONE]`.
    async fn run(
        self,
        mut upstream: ChunkStream,
        held: Held,
        sink: &mut Sink,
    ) -> Result<(), Disconnected> {
        let mut usage = held.usage;
        if held.ended {
            return sink.send(self.finish(held.events, usage).into()).await;
        }
        sink.send(held.events.into()).await?;
        loop {
            match upstream.next().await {
                Some(Ok(chunk)) => {
                    if chunk.usage.is_some() {
                        usage = chunk.usage;
                    }
                    if is_empty_array(&chunk.choices) {
                        continue;
                    }
                    let mut event = Vec::with_capacity(256 + chunk.choices.get().len());
                    self.prefix.chunk(&mut event, &chunk.choices);
                    sink.send(event.into()).await?;
                }
                Some(Err(err)) => {
                    let err = self.log.into_error(self.app, Some((self.attempt, err)));
                    let mut event = err.to_sse_chunk(&self.generation);
                    event.extend_from_slice(render::DONE);
                    return sink.send(event.into()).await;
                }
                None => return sink.send(self.finish(Vec::new(), usage).into()).await,
            }
        }
    }

    /// `events`, then the usage chunk with its cost, then `[DONE]`.
    fn finish(&self, mut events: Vec<u8>, usage: Option<Usage>) -> Vec<u8> {
        let usage = usage.unwrap_or_default();
        let cost = pricing::cost(self.pricing, &usage);
        self.prefix.usage_chunk(&mut events, &usage, &cost);
        events.extend_from_slice(render::DONE);
        events
    }
}

/// Awaits `future`, sending a keep-alive comment each time `keepalive` ticks meanwhile.
async fn wait_for<F: Future>(
    future: F,
    keepalive: &mut Interval,
    sink: &mut Sink,
) -> Result<F::Output, Disconnected> {
    let mut future = std::pin::pin!(future);
    loop {
        tokio::select! {
            biased;
            output = &mut future => return Ok(output),
            _ = keepalive.tick() => sink.send(Bytes::from_static(render::KEEPALIVE)).await?,
        }
    }
}

/// The fields a target contributes to every chunk.
fn generation<'a>(stamp: &'a GenerationStamp, target: &Target<'a>) -> Generation<'a> {
    Generation {
        id: &stamp.id,
        created: stamp.created,
        model: &target.model.id,
        provider: &target.provider.display_name,
    }
}

/// Whether `raw` is `[]` (a usage-only chunk's choices), allowing whitespace.
fn is_empty_array(raw: &RawValue) -> bool {
    raw.get()
        .trim()
        .strip_prefix('[')
        .is_some_and(|rest| rest.trim_start() == "]")
}

/// A `200` `text/event-stream` response over `body`.
fn event_stream<F>(body: EventBody<F>, generation_id: HeaderValue) -> Response
where
    F: Future<Output = Finished> + Send + 'static,
{
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_GENERATION_ID, generation_id);
    response
}

/// The body of a committed response: hands out the queued events and keeps driving the
/// exchange that produces them. Dropping it drops the exchange.
struct EventBody<F> {
    exchange: Option<Pin<Box<F>>>,
    events: mpsc::Receiver<Bytes>,
}

impl<F: Future<Output = Finished>> Stream for EventBody<F> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(event) = this.events.poll_recv(cx) {
            return Poll::Ready(event.map(Ok));
        }
        let Some(exchange) = this.exchange.as_mut() else {
            return Poll::Pending;
        };
        if exchange.as_mut().poll(cx).is_ready() {
            // Finishing dropped the sender: the queue now drains and then ends.
            this.exchange = None;
        }
        this.events.poll_recv(cx).map(|event| event.map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_empty_choices() {
        for (json, empty) in [
            ("[]", true),
            ("[ ]", true),
            (" [\n] ", true),
            ("[{}]", false),
        ] {
            let raw = RawValue::from_string(json.to_owned()).unwrap();
            assert_eq!(is_empty_array(&raw), empty, "{json:?}");
        }
    }
}
