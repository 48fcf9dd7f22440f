//! A chat completion without streaming: the plan's steps run in order until one answers, and
//! that answer is rendered as one `chat.completion` JSON body, billed at the answering endpoint.
//!
//! Each failed step is written to the [`AttemptLog`](super::attempt_log::AttemptLog) and the
//! request's fallback policy says whether the next one is tried; when none answers, the log
//! builds the error. After each call, its outcome goes to the endpoint's health
//! ([`crate::health_board`]): the time it took, and its tokens per second.

use std::time::Instant;

use axum::response::{IntoResponse, Response};
use router_core::plan::{Attempt, Step};
use router_core::render::{self, Generation, ModelRouting};
use router_core::request::ChatRequest;
use router_core::response::ChatResponse;

use super::receipt::{self, Receipt};
use super::route::Route;
use crate::api::json_response;
use crate::app::AppState;
use crate::error::ApiError;
use crate::ids::GenerationStamp;

/// Runs `route` without streaming and answers: the `chat.completion` body of the first attempt
/// that answers, or the error of the last one. The attempts and the usage go to `receipt`.
pub(super) async fn complete(
    app: &AppState,
    request: &ChatRequest<'_>,
    route: &Route,
    stamp: &GenerationStamp,
    receipt: &mut Receipt,
) -> Response {
    match run_attempts(app, request, route, receipt).await {
        Ok(completed) => completion_response(app, stamp, completed, receipt),
        Err(err) => err.into_response(),
    }
}

/// A plan that produced a complete response.
#[derive(Debug)]
struct Completed {
    /// The attempt that answered.
    attempt: Attempt,
    /// Its response.
    response: ChatResponse,
}

/// Runs `route`'s steps in order: the first attempt that answers wins. The attempts are logged in
/// `receipt`.
async fn run_attempts(
    app: &AppState,
    request: &ChatRequest<'_>,
    route: &Route,
    receipt: &mut Receipt,
) -> Result<Completed, ApiError> {
    for step in route.plan.steps() {
        let class = match step {
            Step::Skip(skipped) => receipt.attempts.skipped(skipped),
            Step::Call(attempt) => {
                let target = app.target(attempt);
                let started = Instant::now();
                let result = target
                    .provider
                    .client
                    .complete(target.endpoint, request)
                    .await;
                match result {
                    Ok(response) => {
                        let elapsed = started.elapsed();
                        let tokens = response.usage.completion_tokens;
                        let throughput =
                            (tokens > 0).then(|| tokens as f64 / elapsed.as_secs_f64().max(1e-3));
                        app.health()
                            .answered(attempt.model, attempt.endpoint, elapsed, throughput);
                        receipt.attempts.answered(*attempt, elapsed);
                        receipt.answered(*attempt);
                        return Ok(Completed {
                            attempt: *attempt,
                            response,
                        });
                    }
                    Err(err) => {
                        app.health().failed(attempt.model, attempt.endpoint, &err);
                        receipt.attempts.failed(*attempt, err, started)
                    }
                }
            }
        };
        if !route.policy.should_fall_back(class) {
            break;
        }
    }
    Err(receipt.attempts.take_error(app))
}

/// The `chat.completion` body of a completed plan, billed at the answering endpoint.
fn completion_response(
    app: &AppState,
    stamp: &GenerationStamp,
    completed: Completed,
    receipt: &mut Receipt,
) -> Response {
    let Completed {
        attempt,
        mut response,
    } = completed;
    let target = app.target(&attempt);
    tracing::debug!(
        model = %target.model.id,
        provider = %target.endpoint.provider,
        attempts = receipt.attempts.records().len(),
        "answered"
    );
    receipt.saw_usage(response.usage);
    if let Some(reason) = response.finish_reason.clone() {
        receipt.saw_finish(reason);
    }
    receipt.saw_upstream_id(response.upstream_id.take());
    let (_, cost) = receipt.bill();
    let generation = Generation {
        id: &stamp.id,
        created: stamp.created,
        model: &target.model.id,
        provider: &target.provider.display_name,
    };
    let requested = receipt::model_ids(app, receipt.requested());
    let routing = ModelRouting {
        requested: &requested,
        actual: &target.model.id,
    };
    let mut body = Vec::with_capacity(response.choices.get().len() + 1024);
    render::routed_completion(&mut body, &generation, &response, &cost, &routing);
    json_response(body)
}
