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
//! attempt it streams to the connection
//! ([`StreamDeadline`](crate::serve::deadline::StreamDeadline)), whose socket drops the client
//! then at the latest.
//!
//! # Layout
//!
//! - [`run`] (here): the attempts in plan order, each opened and read up to its first output
//!   (`commit`), falling back while nothing committed; then one attempt relayed (`relay`).
//! - `sink`: [`Sink`], where the exchange writes events; its first event commits the response.
//! - `commit`: opening an attempt's stream and reading it up to its first output, holding back
//!   what comes before and sending keep-alive comments meanwhile.
//! - `relay`: the committed attempt's chunks relayed to the client, then the usage chunk (or
//!   the error chunk) and `[DONE]`.
//! - `batch`: [`EventBody`](batch::EventBody), the committed response's body, which gathers
//!   bursts of events into one write.

mod batch;
mod commit;
mod relay;
mod sink;

use std::time::Instant;

use router_core::plan::Step;
use router_core::render::{self, ChunkPrefix, Generation};
use router_core::request::ChatRequest;
use tokio::time::MissedTickBehavior;

use crate::app::{AppState, Target};
use crate::chat::receipt::Receipt;
use crate::chat::route::Route;
use crate::error::ApiError;
use crate::ids::GenerationStamp;

pub(crate) use batch::EventBody;
pub(crate) use sink::{Commit, Committed, Sink};

/// Why a streaming run stopped early.
#[derive(Debug)]
pub(crate) enum Abort {
    /// Every attempt failed before the response committed: answer this error as JSON.
    Rejected(ApiError),
    /// The client went away.
    Disconnected,
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
            commit::open(&target, request, &prefix, &mut keepalive, sink),
        );
        let first = tokio::select! {
            biased;
            first = opened => first.unwrap_or_else(|_elapsed| Ok(Err(commit::first_token_timeout(&target))))?,
            () = &mut cutoff => return cut_off(app, stamp, receipt, sink).await,
        };
        match first {
            Ok((upstream, held)) => {
                let first_output = Instant::now();
                let time_to_first_token = first_output - started;
                receipt.attempts.answered(*attempt, time_to_first_token);
                receipt.answered(*attempt);
                sink.update_headers(receipt);
                let relay = relay::Relay {
                    app,
                    generation,
                    prefix,
                    attempt: *attempt,
                    time_to_first_token,
                    first_output,
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
    end_with(err, app, stamp, receipt, sink).await
}

/// The server stopped and its grace period is over before this stream had output: the error
/// chunk and `[DONE]` if the `200` went out already (keep-alive comments), else a 503.
async fn cut_off(
    app: &AppState,
    stamp: &GenerationStamp,
    receipt: &mut Receipt,
    sink: &mut Sink,
) -> Result<(), Abort> {
    end_with(ApiError::ShuttingDown, app, stamp, receipt, sink).await
}

/// Ends a stream that has no output with `err`: as its error chunk and `[DONE]` once the `200`
/// went out (keep-alive comments), else as the error response.
async fn end_with(
    err: ApiError,
    app: &AppState,
    stamp: &GenerationStamp,
    receipt: &mut Receipt,
    sink: &mut Sink,
) -> Result<(), Abort> {
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

/// The fields a target contributes to every chunk.
fn generation<'a>(stamp: &'a GenerationStamp, target: &Target<'a>) -> Generation<'a> {
    Generation {
        id: &stamp.id,
        created: stamp.created,
        model: &target.model.id,
        provider: &target.provider.display_name,
    }
}
