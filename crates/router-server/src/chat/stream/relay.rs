//! After the commit: the answering attempt's chunks relayed to the client as they come, then
//! the usage chunk with its cost and the routing metadata, or the error chunk if the provider
//! fails or the server's grace period ends, and `[DONE]`. The endpoint's health learns how the
//! stream went.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use router_core::json::RawJson;
use router_core::plan::Attempt;
use router_core::render::{self, ChunkPrefix, Generation, ModelRouting};
use router_core::response::FinishReason;
use router_upstream::ChunkStream;

use super::commit::Held;
use super::sink::{Disconnected, Sink};
use crate::app::AppState;
use crate::chat::attempt_log::{AttemptsFailed, LastFailure};
use crate::chat::receipt::{self, Receipt};
use crate::error::ApiError;

/// The committed part of a stream: one attempt's chunks relayed to the client.
pub(super) struct Relay<'a> {
    pub(super) app: &'a AppState,
    pub(super) generation: Generation<'a>,
    pub(super) prefix: ChunkPrefix,
    /// The attempt whose stream this is, for its endpoint's health.
    pub(super) attempt: Attempt,
    /// From sending the request to the first output.
    pub(super) time_to_first_token: Duration,
    /// When the first output came: the start of the throughput measurement.
    pub(super) first_output: Instant,
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
    pub(super) async fn run(
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
                    self.end_with(ApiError::ShuttingDown, receipt, sink).await?;
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
                    self.end_with(err, receipt, sink).await?;
                    return Ok(Relayed::Failed);
                }
                None => {
                    sink.send(self.finish(Vec::new(), receipt).into()).await?;
                    return Ok(Relayed::Finished);
                }
            }
        }
    }

    /// Ends the stream with `err`: the finish reason `error`, the bill for what was relayed, and
    /// the error chunk with the routing metadata, then `[DONE]`.
    async fn end_with(
        &self,
        err: ApiError,
        receipt: &mut Receipt,
        sink: &mut Sink,
    ) -> Result<(), Disconnected> {
        receipt.saw_finish(FinishReason::Error);
        receipt.bill();
        let requested = receipt::model_ids(self.app, receipt.requested());
        let routing = ModelRouting {
            requested: &requested,
            actual: self.generation.model,
        };
        let mut event = err.to_sse_chunk(&self.generation, Some(routing));
        event.extend_from_slice(render::DONE);
        sink.send(event.into()).await
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

/// Whether `raw` is `[]` (a usage-only chunk's choices), allowing whitespace.
pub(super) fn is_empty_array(raw: &RawJson) -> bool {
    raw.get()
        .trim()
        .strip_prefix('[')
        .is_some_and(|rest| rest.trim_start() == "]")
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
}
