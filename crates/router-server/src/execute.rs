//! Running a plan: try its attempts in order, record what each did, and move to the next attempt
//! while the failure allows it ([`UpstreamError::retryable`]; messages are never matched).
//!
//! When every attempt fails, the **last** attempt's error is answered, with the whole history in
//! `error.metadata.attempts` ([`AttemptLog::into_error`]). The non-streaming run is
//! [`complete`]; the streaming one, which also has to decide when the response is committed, is
//! in [`crate::stream`] and shares [`AttemptLog`] and [`may_fall_back`].

use std::time::{Duration, Instant};

use router_core::plan::{Attempt, Plan};
use router_core::request::ChatRequest;
use router_core::response::ChatResponse;
use router_upstream::{ErrorKind, UpstreamError};

use crate::app::AppState;
use crate::error::{ApiError, AttemptReport, UpstreamFailure};

/// What happened to one attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptRecord {
    /// The attempt.
    pub(crate) attempt: Attempt,
    /// How it failed; `None` when it answered.
    pub(crate) failure: Option<AttemptFailure>,
    /// From sending the request to the answer (non-streaming), the first output (streaming), or
    /// the failure.
    pub(crate) elapsed: Duration,
}

/// How an attempt failed, without the error's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttemptFailure {
    /// The kind of failure.
    pub(crate) kind: ErrorKind,
    /// The provider's HTTP status, when it answered.
    pub(crate) status: Option<u16>,
    /// OpenRouter's typed error for it.
    pub(crate) error_type: &'static str,
}

/// The attempts of one request, in the order they ran.
#[derive(Debug, Default)]
pub(crate) struct AttemptLog {
    records: Vec<AttemptRecord>,
}

/// A plan that produced a complete response.
#[derive(Debug)]
pub(crate) struct Completed {
    /// The attempt that answered.
    pub(crate) attempt: Attempt,
    /// Its response.
    pub(crate) response: ChatResponse,
    /// Every attempt, the answering one last.
    pub(crate) log: AttemptLog,
}

/// Runs `plan` without streaming: the first attempt that answers wins.
pub(crate) async fn complete(
    app: &AppState,
    request: &ChatRequest<'_>,
    plan: &Plan,
) -> Result<Completed, ApiError> {
    let mut log = AttemptLog::with_capacity(plan.attempts.len());
    let mut last_failure = None;
    for attempt in &plan.attempts {
        let target = app.target(attempt);
        let started = Instant::now();
        let result = target
            .provider
            .client
            .complete(&target.endpoint.upstream_model, request)
            .await;
        match result {
            Ok(response) => {
                log.answered(*attempt, started);
                return Ok(Completed {
                    attempt: *attempt,
                    response,
                    log,
                });
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
    Err(log.into_error(app, last_failure))
}

/// Whether the plan may move on to its next attempt after `err` (before any output reached the
/// client; after that nothing may).
pub(crate) fn may_fall_back(err: &UpstreamError) -> bool {
    err.retryable()
}

// === impl AttemptLog ===

impl AttemptLog {
    /// An empty log for a plan of `n_attempts`.
    pub(crate) fn with_capacity(n_attempts: usize) -> Self {
        Self {
            records: Vec::with_capacity(n_attempts),
        }
    }

    /// Records that `attempt`, started at `started`, answered.
    pub(crate) fn answered(&mut self, attempt: Attempt, started: Instant) {
        self.records.push(AttemptRecord {
            attempt,
            failure: None,
            elapsed: started.elapsed(),
        });
    }

    /// Records that `attempt`, started at `started`, failed with `err`.
    pub(crate) fn failed(&mut self, attempt: Attempt, err: &UpstreamError, started: Instant) {
        tracing::debug!(
            provider = %err.provider,
            kind = %err.kind,
            error = %err,
            "attempt failed"
        );
        self.records.push(AttemptRecord {
            attempt,
            failure: Some(AttemptFailure {
                kind: err.kind,
                status: err.status,
                error_type: err.error_type(),
            }),
            elapsed: started.elapsed(),
        });
    }

    /// The records, in order.
    pub(crate) fn records(&self) -> &[AttemptRecord] {
        &self.records
    }

    /// The error for a plan that produced no answer: the last failure with every attempt, or
    /// [`ApiError::NoEndpoints`] when nothing was tried.
    pub(crate) fn into_error(
        self,
        app: &AppState,
        last_failure: Option<(Attempt, UpstreamError)>,
    ) -> ApiError {
        let Some((last_attempt, error)) = last_failure else {
            return ApiError::NoEndpoints;
        };
        let attempts = self
            .records
            .iter()
            .map(|record| {
                let target = app.target(&record.attempt);
                let (status, error, error_type) = match record.failure {
                    Some(failure) => (failure.status, failure.kind.as_str(), failure.error_type),
                    None => (Some(200), "none", "none"),
                };
                AttemptReport {
                    model: target.model.id.clone(),
                    provider: target.endpoint.provider.clone(),
                    status,
                    error,
                    error_type,
                    elapsed_ms: u64::try_from(record.elapsed.as_millis()).unwrap_or(u64::MAX),
                }
            })
            .collect();
        let provider_name = app.target(&last_attempt).provider.display_name.clone();
        ApiError::from(Box::new(UpstreamFailure {
            error,
            provider_name,
            attempts,
        }))
    }
}
