//! Up to the commit: an attempt's stream opened and read up to its first output, the chunks
//! before it held back (so an attempt that fails before any output leaves no trace and the
//! next one may be tried), keep-alive comments sent while waiting.

use std::future::Future;

use bytes::Bytes;
use futures_util::StreamExt;
use router_core::fallback::FailureClass;
use router_core::pricing::Usage;
use router_core::render::{self, ChunkPrefix};
use router_core::request::ChatRequest;
use router_core::response::FinishReason;
use router_upstream::{ChunkStream, UpstreamError};
use tokio::time::Interval;

use super::relay::is_empty_array;
use super::sink::{Disconnected, Sink};
use crate::app::Target;

/// Opens `target`'s stream and reads it up to its first output. `Ok(Err(_))` is the attempt
/// failing before output.
pub(super) async fn open(
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
pub(super) fn first_token_timeout(target: &Target<'_>) -> UpstreamError {
    UpstreamError::new(
        target.provider.client.name(),
        FailureClass::Timeout,
        format!(
            "no output token within the first-token timeout of {:?}",
            target.provider.first_token_timeout
        ),
    )
}

/// The chunks of an attempt up to and including its first output, rendered, and what they said.
pub(super) struct Held {
    pub(super) events: Vec<u8>,
    pub(super) usage: Option<Usage>,
    pub(super) finish_reason: Option<FinishReason>,
    /// Whether a held chunk had output (the stream may also end cleanly without any).
    pub(super) has_output: bool,
    /// Whether the upstream stream ended (cleanly) before any output.
    pub(super) ended: bool,
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
