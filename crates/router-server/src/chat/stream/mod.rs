//! Streaming responses (`stream: true`) and the commit rule they follow.
//!
//! A streaming request stays invisible to the client until it **commits**: before that, a
//! failing attempt falls back to the next one (another provider of the model, or the next model
//! of `models`) silently, as the fallback policy allows, and if every attempt fails the client
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
//! Every response ends with the usage chunk (`choices: []`, usage with cost, and the
//! `_metadata` routing block) and `data: [DONE]`, or with the error chunk and `data: [DONE]`:
//! never a silent truncation. The route receipt headers go out with the `200`, as they stand at
//! commit time: the attempts so far and, when output committed it, the model that answered.
//!
//! # Timeouts
//!
//! Each phase of an attempt has its own limit, from the provider's settings: opening the
//! connection (`connect_timeout`), the response headers (`first_byte_timeout`), the first output
//! token (`first_token_timeout`, enforced here, counted from sending the request, so it also
//! covers a provider that sends its headers and then stalls), the gap between two chunks
//! (`idle_timeout`) and the whole call (`total_timeout`). A timeout before the first token is an
//! attempt failure of class `timeout` and falls back; after it, it ends the stream with the
//! error chunk. A client that stops reading stops these timers too (nothing polls the exchange
//! once the connection's buffers are full), so the [`Sink`] also hands the total timeout of the
//! attempt it streams to the connection ([`StreamDeadline`]), whose socket drops the client
//! then at the latest.
//!
//! # How the response is driven
//!
//! The whole exchange (parse, plan, attempts, relaying) is one future that owns the request body
//! (the parsed request borrows from it). [`respond`] polls it until it either finishes (a JSON
//! response: an error, or a non-streaming answer) or commits through its [`Sink`]; a committed
//! response's body ([`EventBody`]) keeps polling the same future while it hands out events. So
//! no task is spawned and nothing is parsed twice, and when the client disconnects, the
//! connection (hyper, in [`crate::serve`]) drops the body, which drops the exchange and with it the upstream [`ChunkStream`]: the upstream
//! call is cancelled at once.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use router_core::json::RawJson;
use router_core::plan::{Attempt, Step};
use router_core::pricing::Usage;
use router_core::render::{self, ChunkPrefix, Generation, ModelRouting};
use router_core::request::ChatRequest;
use router_core::response::FinishReason;
use router_upstream::{ChunkStream, ErrorKind, UpstreamError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Interval, MissedTickBehavior};

use crate::api::X_GENERATION_ID;
use crate::app::{AppState, Target};
use crate::chat::receipt::{self, Receipt};
use crate::chat::route::Route;
use crate::error::{ApiError, AttemptsFailed, LastFailure};
use crate::ids::GenerationStamp;
use crate::serve::deadline::StreamDeadline;

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
/// receiving end and the headers set so far to [`respond`], which sends the `200` headers.
pub(crate) struct Sink {
    commit: Option<oneshot::Sender<Commit>>,
    events: Option<mpsc::Sender<Bytes>>,
    /// Headers to send with the `200` (the route receipt as it stands).
    headers: HeaderMap,
    /// The connection's stream deadline (HTTP/1.1 only), and what it is once committed.
    deadline: Option<(StreamDeadline, Option<tokio::time::Instant>)>,
}

/// What a commit hands to [`respond`]: the extra headers and the events.
pub(crate) type Commit = (HeaderMap, mpsc::Receiver<Bytes>);

/// The receiving end of a [`Sink`]'s commit.
pub(crate) type Committed = oneshot::Receiver<Commit>;

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
            headers: HeaderMap::new(),
            deadline: StreamDeadline::current().map(|it| (it, None)),
        };
        (sink, committed)
    }

    /// Whether the `200` has been sent.
    pub(crate) fn is_committed(&self) -> bool {
        self.events.is_some()
    }

    /// The stream must be over by `until` (the total timeout of the attempt being streamed):
    /// once committed, a client that stops reading is dropped then at the latest.
    fn bound(&mut self, until: Instant) {
        let committed = self.is_committed();
        if let Some((deadline, bound)) = &mut self.deadline {
            let until = tokio::time::Instant::from_std(until);
            *bound = Some(until);
            if committed {
                deadline.set(until);
            }
        }
    }

    /// Sets the headers of the `200` from `receipt`, unless it was sent already.
    fn update_headers(&mut self, receipt: &Receipt) {
        if !self.is_committed() {
            self.headers.clear();
            receipt.write_headers(&mut self.headers);
        }
    }

    /// Sends one or more complete SSE events, committing the response first if needed.
    pub(crate) async fn send(&mut self, event: Bytes) -> Result<(), Disconnected> {
        let events = match &self.events {
            Some(events) => events,
            None => {
                let (events, receiver) = mpsc::channel(EVENT_QUEUE);
                let commit = self.commit.take().ok_or(Disconnected)?;
                if let Some((deadline, Some(until))) = &self.deadline {
                    deadline.set(*until);
                }
                let headers = std::mem::take(&mut self.headers);
                commit.send((headers, receiver)).map_err(|_| Disconnected)?;
                self.events.insert(events)
            }
        };
        events.send(event).await.map_err(|_| Disconnected)
    }
}

/// Drives `exchange` until it finishes or commits, and answers accordingly (see the module
/// docs). `generation_id` is the `X-Generation-Id` of a streamed response.
///
/// The exchange comes boxed: its future is several kilobytes, and every future that held it by
/// value would copy all of it each time it moved (into this one, then into the handler's box).
pub(crate) async fn respond<F>(
    exchange: Pin<Box<F>>,
    committed: Committed,
    generation_id: HeaderValue,
) -> Response
where
    F: Future<Output = Finished> + Send + 'static,
{
    enum Head<F> {
        Finished(Finished),
        Committed(Pin<Box<F>>, Commit),
    }
    let mut exchange = Some(exchange);
    let mut committed = Some(committed);
    let head = poll_fn(|cx| {
        if let Some(running) = exchange.as_mut()
            && let Poll::Ready(finished) = running.as_mut().poll(cx)
        {
            exchange = None;
            return Poll::Ready(Head::Finished(finished));
        }
        // A commit happens only while the exchange is polled (the exchange owns the sink), so
        // a look after each poll sees it, without a waker in the channel: one there would be
        // woken when a non-streaming exchange drops its sink, and poll this task again for
        // nothing.
        if let Some(receiver) = committed.as_mut() {
            match receiver.try_recv() {
                Ok(commit) => {
                    if let Some(running) = exchange.take() {
                        return Poll::Ready(Head::Committed(running, commit));
                    }
                }
                // The sink is gone without committing: the exchange is about to finish.
                Err(oneshot::error::TryRecvError::Closed) => committed = None,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
        Poll::Pending
    })
    .await;
    match head {
        Head::Finished(Finished::Respond(response)) => response,
        Head::Committed(running, (headers, events)) => event_stream(
            EventBody::new(Some(running), events),
            generation_id,
            headers,
        ),
        // It committed and finished within one poll: the events are all queued.
        Head::Finished(Finished::Streamed) => {
            match committed.and_then(|mut it| it.try_recv().ok()) {
                Some((headers, events)) => {
                    event_stream(EventBody::<F>::new(None, events), generation_id, headers)
                }
                None => ApiError::Internal.into_response(),
            }
        }
    }
}

/// Runs `route` as a stream (see the module docs), logging attempts and usage in `receipt`.
/// Returns `Err(Abort::Rejected)` only when the response has not committed.
pub(crate) async fn run(
    app: &AppState,
    request: &ChatRequest<'_>,
    route: &Route,
    stamp: &GenerationStamp,
    sink: &mut Sink,
    receipt: &mut Receipt,
) -> Result<(), Abort> {
    let mut cutoff = std::pin::pin!(app.stopping().cutoff());
    let period = app.config().server.keepalive_interval;
    let mut keepalive = tokio::time::interval_at((Instant::now() + period).into(), period);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for step in route.plan.steps() {
        let attempt = match step {
            Step::Skip(skipped) => {
                let class = receipt.attempts.skipped(skipped);
                if !route.policy.should_fall_back(class) {
                    break;
                }
                continue;
            }
            Step::Call(attempt) => attempt,
        };
        let target = app.target(attempt);
        sink.update_headers(receipt);
        let started = Instant::now();
        sink.bound(started + target.provider.total_timeout);
        let generation = generation(stamp, &target);
        let prefix = ChunkPrefix::new(&generation);
        let deadline = started + target.provider.first_token_timeout;
        let opened = tokio::time::timeout_at(
            deadline.into(),
            open(&target, request, &prefix, &mut keepalive, sink),
        );
        let first = tokio::select! {
            biased;
            first = opened => first.unwrap_or_else(|_elapsed| Ok(Err(first_token_timeout(&target))))?,
            () = &mut cutoff => return cut_off(app, stamp, receipt, sink).await,
        };
        match first {
            Ok((upstream, held)) => {
                receipt.attempts.answered(*attempt, started);
                receipt.answered(*attempt);
                sink.update_headers(receipt);
                let relay = Relay {
                    app,
                    generation,
                    prefix,
                    attempt: *attempt,
                    time_to_first_token: started.elapsed(),
                    first_output: Instant::now(),
                };
                return Ok(relay.run(upstream, held, sink, receipt).await?);
            }
            Err(err) => {
                app.health().failed(attempt.model, attempt.endpoint, &err);
                let class = receipt.attempts.failed(*attempt, err, started);
                if !route.policy.should_fall_back(class) {
                    break;
                }
            }
        }
    }
    let err = receipt.attempts.take_error(app);
    match receipt.attempts.last_call() {
        Some(attempt) if sink.is_committed() => {
            let target = app.target(&attempt);
            let mut event = err.to_sse_chunk(&generation(stamp, &target), None);
            event.extend_from_slice(render::DONE);
            Ok(sink.send(event.into()).await?)
        }
        _ => Err(Abort::Rejected(err)),
    }
}

/// The server stopped and its grace period is over before this stream had output: the error
/// chunk and `[DONE]` if the `200` went out already (keep-alive comments), else a 503.
async fn cut_off(
    app: &AppState,
    stamp: &GenerationStamp,
    receipt: &mut Receipt,
    sink: &mut Sink,
) -> Result<(), Abort> {
    let err = ApiError::ShuttingDown;
    match receipt.attempts.last_call() {
        Some(attempt) if sink.is_committed() => {
            let target = app.target(&attempt);
            let mut event = err.to_sse_chunk(&generation(stamp, &target), None);
            event.extend_from_slice(render::DONE);
            Ok(sink.send(event.into()).await?)
        }
        _ => Err(Abort::Rejected(err)),
    }
}

/// Opens `target`'s stream and reads it up to its first output. `Ok(Err(_))` is the attempt
/// failing before output.
async fn open(
    target: &Target<'_>,
    request: &ChatRequest<'_>,
    prefix: &ChunkPrefix,
    keepalive: &mut Interval,
    sink: &mut Sink,
) -> Result<Result<(ChunkStream, Held), UpstreamError>, Disconnected> {
    let opened = wait_for(
        target.provider.client.stream(target.endpoint, request),
        keepalive,
        sink,
    )
    .await?;
    let mut upstream = match opened {
        Ok(upstream) => upstream,
        Err(err) => return Ok(Err(err)),
    };
    match first_output(&mut upstream, prefix, keepalive, sink).await? {
        Ok(held) => Ok(Ok((upstream, held))),
        Err(mut err) => {
            // The provider answered `200` before the stream failed.
            err.status.get_or_insert(200);
            Ok(Err(err))
        }
    }
}

/// The error of an attempt that produced no output within its provider's first-token timeout.
fn first_token_timeout(target: &Target<'_>) -> UpstreamError {
    UpstreamError::new(
        target.provider.client.name(),
        ErrorKind::Timeout,
        format!(
            "no output token within the first-token timeout of {:?}",
            target.provider.first_token_timeout
        ),
    )
}

/// The chunks of an attempt up to and including its first output, rendered, and what they said.
struct Held {
    events: Vec<u8>,
    usage: Option<Usage>,
    finish_reason: Option<FinishReason>,
    /// Whether a held chunk had output (the stream may also end cleanly without any).
    has_output: bool,
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
        finish_reason: None,
        has_output: false,
        ended: false,
    };
    loop {
        match wait_for(upstream.next(), keepalive, sink).await? {
            Some(Ok(chunk)) => {
                if chunk.usage.is_some() {
                    held.usage = chunk.usage;
                }
                if chunk.finish_reason.is_some() {
                    held.finish_reason = chunk.finish_reason;
                }
                if !is_empty_array(&chunk.choices) {
                    prefix.chunk(&mut held.events, &chunk.choices);
                }
                if chunk.has_output {
                    held.has_output = true;
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
    /// The attempt whose stream this is, for its endpoint's health.
    attempt: Attempt,
    /// From sending the request to the first output.
    time_to_first_token: Duration,
    /// When the first output came: the start of the throughput measurement.
    first_output: Instant,
}

/// How a relayed stream ended (the client read it to its end).
enum Relayed {
    /// The provider finished it: the usage chunk and `[DONE]` went out.
    Finished,
    /// The provider failed after the first output (its health has been told): the error chunk
    /// and `[DONE]` went out.
    Failed,
    /// The server's grace period ended it: the error chunk and `[DONE]` went out.
    CutOff,
}

impl Relay<'_> {
    /// Sends `held`, then every further chunk, then the usage chunk or the error chunk, and
    /// `[DONE]`. The endpoint's health learns how the stream went when it ends: its time to
    /// first token and, when it finished with usage, its output tokens per second; a failure
    /// after the first output counts as the endpoint's failure.
    async fn run(
        self,
        upstream: ChunkStream,
        held: Held,
        sink: &mut Sink,
        receipt: &mut Receipt,
    ) -> Result<(), Disconnected> {
        let mut completion_tokens = None;
        let relayed = self
            .relay(upstream, held, sink, receipt, &mut completion_tokens)
            .await;
        let health = self.app.health();
        let (model, endpoint) = (self.attempt.model, self.attempt.endpoint);
        match &relayed {
            Ok(Relayed::Failed) => {}
            Ok(Relayed::Finished) | Ok(Relayed::CutOff) | Err(Disconnected) => {
                let seconds = self.first_output.elapsed().as_secs_f64().max(1e-3);
                let throughput = completion_tokens
                    .filter(|tokens| *tokens > 0 && matches!(relayed, Ok(Relayed::Finished)))
                    .map(|tokens| tokens as f64 / seconds);
                health.answered(model, endpoint, self.time_to_first_token, throughput);
            }
        }
        relayed.map(|_| ())
    }

    /// [`Relay::run`]'s relaying; `completion_tokens` is the last usage's count.
    async fn relay(
        &self,
        mut upstream: ChunkStream,
        held: Held,
        sink: &mut Sink,
        receipt: &mut Receipt,
        completion_tokens: &mut Option<u64>,
    ) -> Result<Relayed, Disconnected> {
        if held.has_output {
            receipt.saw_output();
        }
        if let Some(usage) = held.usage {
            *completion_tokens = Some(usage.completion_tokens);
            receipt.saw_usage(usage);
        }
        if let Some(reason) = held.finish_reason {
            receipt.saw_finish(reason);
        }
        if held.ended {
            sink.send(self.finish(held.events, receipt).into()).await?;
            return Ok(Relayed::Finished);
        }
        sink.send(held.events.into()).await?;
        let mut cutoff = std::pin::pin!(self.app.stopping().cutoff());
        loop {
            let next = tokio::select! {
                biased;
                next = upstream.next() => next,
                () = &mut cutoff => {
                    // The server stopped and the grace period is over: end with the error chunk.
                    drop(upstream);
                    receipt.saw_finish(FinishReason::Error);
                    receipt.bill();
                    let requested = receipt::model_ids(self.app, receipt.requested());
                    let routing = ModelRouting {
                        requested: &requested,
                        actual: self.generation.model,
                    };
                    let mut event = ApiError::ShuttingDown.to_sse_chunk(&self.generation, Some(routing));
                    event.extend_from_slice(render::DONE);
                    sink.send(event.into()).await?;
                    return Ok(Relayed::CutOff);
                }
            };
            match next {
                Some(Ok(chunk)) => {
                    if let Some(usage) = chunk.usage {
                        *completion_tokens = Some(usage.completion_tokens);
                        receipt.saw_usage(usage);
                    }
                    if let Some(reason) = chunk.finish_reason {
                        receipt.saw_finish(reason);
                    }
                    if chunk.has_output {
                        receipt.saw_output();
                    }
                    if is_empty_array(&chunk.choices) {
                        continue;
                    }
                    let mut event = Vec::with_capacity(256 + chunk.choices.get().len());
                    self.prefix.chunk(&mut event, &chunk.choices);
                    sink.send(event.into()).await?;
                }
                Some(Err(err)) => {
                    receipt.attempts.interrupted(&err);
                    receipt.saw_finish(FinishReason::Error);
                    receipt.bill();
                    // The endpoint failed after its first output.
                    self.app
                        .health()
                        .failed(self.attempt.model, self.attempt.endpoint, &err);
                    let err = ApiError::from(Box::new(AttemptsFailed {
                        last: LastFailure::Upstream(err),
                        provider_name: Some(self.generation.provider.to_owned()),
                        attempts: Vec::new(),
                        retry_after: None,
                    }));
                    let requested = receipt::model_ids(self.app, receipt.requested());
                    let routing = ModelRouting {
                        requested: &requested,
                        actual: self.generation.model,
                    };
                    let mut event = err.to_sse_chunk(&self.generation, Some(routing));
                    event.extend_from_slice(render::DONE);
                    sink.send(event.into()).await?;
                    return Ok(Relayed::Failed);
                }
                None => {
                    sink.send(self.finish(Vec::new(), receipt).into()).await?;
                    return Ok(Relayed::Finished);
                }
            }
        }
    }

    /// `events`, then the usage chunk with its billed cost and the routing metadata, then
    /// `[DONE]`.
    fn finish(&self, mut events: Vec<u8>, receipt: &mut Receipt) -> Vec<u8> {
        let (usage, cost) = receipt.bill();
        let requested = receipt::model_ids(self.app, receipt.requested());
        let routing = ModelRouting {
            requested: &requested,
            actual: self.generation.model,
        };
        self.prefix
            .routed_usage_chunk(&mut events, &usage, &cost, &routing);
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
fn is_empty_array(raw: &RawJson) -> bool {
    raw.get()
        .trim()
        .strip_prefix('[')
        .is_some_and(|rest| rest.trim_start() == "]")
}

/// A `200` `text/event-stream` response over `body`, with `extra` headers.
fn event_stream<F>(body: EventBody<F>, generation_id: HeaderValue, extra: HeaderMap) -> Response
where
    F: Future<Output = Finished> + Send + 'static,
{
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.extend(extra);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_GENERATION_ID, generation_id);
    response
}

/// The most events gathered into one write.
const MAX_GATHERED: usize = 64;
/// How many scheduler passes in a row may bring nothing before the gathered events go out.
const MAX_IDLE_PASSES: u8 = 2;

/// The body of a committed response: hands out the queued events and keeps driving the
/// exchange that produces them. Dropping it drops the exchange.
///
/// Events are gathered before they are handed out, so that a burst becomes one write: the
/// connection writes what it has whenever the body is pending, and the upstream connection decodes one
/// chunk of the provider's body per poll, so handing events out as they come would cost a
/// `writev` (and a wake-up of the client) per event. After a poll that brought new events,
/// the body yields once to the scheduler, which runs the upstream connection first; when a
/// poll brings nothing new, everything gathered goes out back to back, in one write. An event
/// that arrives alone is delayed by a few passes of the scheduler, not by a timer, and the
/// first event is never held: it goes out at once, with the response head, so gathering
/// costs nothing in time to first token.
struct EventBody<F> {
    exchange: Option<Pin<Box<F>>>,
    events: mpsc::Receiver<Bytes>,
    /// Events gathered and not yet handed out.
    ready: VecDeque<Bytes>,
    /// Whether `ready` is being handed out (rather than gathered).
    handing_out: bool,
    /// Whether the event queue has ended (the exchange finished and everything was taken).
    closed: bool,
    /// Passes yielded in a row that brought no event.
    idle_passes: u8,
    /// Whether an event has been handed out yet.
    started: bool,
}

impl<F: Future<Output = Finished>> EventBody<F> {
    fn new(exchange: Option<Pin<Box<F>>>, events: mpsc::Receiver<Bytes>) -> Self {
        Self {
            exchange,
            events,
            ready: VecDeque::new(),
            handing_out: false,
            closed: false,
            idle_passes: 0,
            started: false,
        }
    }

    /// Takes the queued events, lets the exchange run, and takes what it queued; returns
    /// whether any event was gathered.
    fn gather(&mut self, cx: &mut Context<'_>) -> bool {
        let before = self.ready.len();
        self.take_queued(cx);
        if let Some(exchange) = self.exchange.as_mut()
            && exchange.as_mut().poll(cx).is_ready()
        {
            // Finishing dropped the sender: the queue now drains and then ends.
            self.exchange = None;
        }
        self.take_queued(cx);
        self.ready.len() > before
    }

    fn take_queued(&mut self, cx: &mut Context<'_>) {
        while !self.closed {
            match self.events.poll_recv(cx) {
                Poll::Ready(Some(event)) => self.ready.push_back(event),
                Poll::Ready(None) => self.closed = true,
                Poll::Pending => break,
            }
        }
    }

    /// Whether to yield once more before handing out what was gathered: something was
    /// gathered, the exchange is still running, and a recent pass brought events.
    fn keep_gathering(&mut self, gathered: bool) -> bool {
        if gathered {
            self.idle_passes = 0;
        } else {
            self.idle_passes += 1;
        }
        let keep = self.started
            && !self.ready.is_empty()
            && self.exchange.is_some()
            && !self.closed
            && self.ready.len() < MAX_GATHERED
            && self.idle_passes <= MAX_IDLE_PASSES;
        if !keep {
            self.idle_passes = 0;
        }
        keep
    }
}

impl<F: Future<Output = Finished>> Stream for EventBody<F> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // At most two rounds: hand out what is left, then gather once more (which also
        // registers the wake-ups) when everything went out.
        let mut gathered_now = false;
        loop {
            if !this.handing_out {
                let gathered = this.gather(cx);
                if this.keep_gathering(gathered) {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                this.handing_out = true;
                gathered_now = true;
            }
            if let Some(event) = this.ready.pop_front() {
                this.started = true;
                return Poll::Ready(Some(Ok(event)));
            }
            this.handing_out = false;
            if this.closed {
                return Poll::Ready(None);
            }
            if gathered_now {
                return Poll::Pending;
            }
        }
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
            let raw = RawJson::parse(json).unwrap();
            assert_eq!(is_empty_array(&raw), empty, "{json:?}");
        }
    }

    /// Pending once (asking to be polled again), then ready: one pass of the scheduler.
    struct Pass(bool);

    impl Future for Pass {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    /// Polls `body` as an executor would, `polls` times or until it ends: each poll's
    /// outcome, `Some(event)` or `None` for pending.
    fn drive<F: Future<Output = Finished>>(
        body: &mut EventBody<F>,
        polls: usize,
    ) -> Vec<Option<Bytes>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut outcomes = Vec::new();
        for _ in 0..polls {
            match Pin::new(&mut *body).poll_next(&mut cx) {
                Poll::Ready(Some(Ok(event))) => outcomes.push(Some(event)),
                Poll::Ready(None) => break,
                Poll::Pending => outcomes.push(None),
            }
        }
        outcomes
    }

    #[test]
    fn a_burst_of_events_is_handed_out_back_to_back() {
        let (sender, events) = mpsc::channel(EVENT_QUEUE);
        // Like an upstream connection that decodes one event per two scheduler passes.
        let exchange = async move {
            for idx in 0..5 {
                let _ = sender.send(Bytes::from(format!("event {idx}\n"))).await;
                Pass(false).await;
                Pass(false).await;
            }
            Finished::Streamed
        };
        let mut body = EventBody::new(Some(Box::pin(exchange)), events);
        let outcomes = drive(&mut body, 100);
        let expected: Vec<_> = (0..5)
            .map(|idx| Bytes::from(format!("event {idx}\n")))
            .collect();
        // The first event at once, with nothing before it: no delay to the first token.
        assert_eq!(outcomes[0], Some(expected[0].clone()), "{outcomes:?}");
        // Every later event in one uninterrupted run: the connection writes them in one go.
        let rest = outcomes[1..].iter().position(Option::is_some).unwrap() + 1;
        let handed: Vec<_> = outcomes[rest..].iter().map_while(Clone::clone).collect();
        assert_eq!(handed, expected[1..], "{outcomes:?}");
        assert_eq!(
            outcomes.len(),
            rest + 4,
            "the body ends right after: {outcomes:?}"
        );
    }

    #[test]
    fn a_lone_event_goes_out_after_a_few_passes_not_a_timer() {
        let (sender, events) = mpsc::channel(EVENT_QUEUE);
        let exchange = async move {
            let _ = sender.send(Bytes::from_static(b"first\n")).await;
            Pass(false).await;
            Pass(false).await;
            let _ = sender.send(Bytes::from_static(b"alone\n")).await;
            // The provider is slow: nothing more for a long time.
            std::future::pending::<()>().await;
            drop(sender);
            Finished::Streamed
        };
        let mut body = EventBody::new(Some(Box::pin(exchange)), events);
        // Two passes to the second event, then at most MAX_IDLE_PASSES + 1 more before it goes.
        let outcomes = drive(&mut body, usize::from(MAX_IDLE_PASSES) + 8);
        // The first event is never held.
        assert_eq!(
            outcomes[0],
            Some(Bytes::from_static(b"first\n")),
            "{outcomes:?}"
        );
        assert_eq!(
            outcomes[1..].iter().flatten().collect::<Vec<_>>(),
            [&Bytes::from_static(b"alone\n")],
            "{outcomes:?}"
        );
        assert_eq!(outcomes.last(), Some(&None), "then it waits: {outcomes:?}");
    }
}
