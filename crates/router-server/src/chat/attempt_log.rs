//! The attempt log: what each step of a plan did, in order, shared by the non-streaming run
//! ([`super::complete`]), the streaming one ([`super::stream`]) and, through the one chat
//! exchange, the other request formats.
//!
//! A step is a call ([`Step::Call`](router_core::plan::Step::Call)) or a model the plan skipped
//! before any call ([`Step::Skip`](router_core::plan::Step::Skip): its context is too small, or
//! it lacks a capability the request needs). A skip counts as a failed attempt with its own
//! status and `error_type`, without a network call. A failed call's [`UpstreamError`] carries
//! its [`FailureClass`], and the request's
//! [`FallbackPolicy`](router_core::fallback::FallbackPolicy) says whether the next step is tried;
//! messages are never matched.
//!
//! When every step fails, the **last** one's error is answered, with the whole history in
//! `error.metadata.attempts` ([`AttemptLog::take_error`], [`AttemptsFailed`]). The log also
//! feeds the receipt's `X-Turnout-Attempts` header, the generation record's attempts and the
//! metrics.

use std::time::{Duration, Instant};

use router_core::catalog::{EndpointIdx, ModelIdx};
use router_core::fallback::FailureClass;
use router_core::plan::{Attempt, Excluded, SkipReason, Skipped};
use router_upstream::UpstreamError;
use serde::Serialize;

use crate::app::AppState;
use crate::error::ApiError;

/// What happened to one step of a plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptRecord {
    /// The model.
    pub(crate) model: ModelIdx,
    /// The endpoint called; `None` when the plan skipped the model without a call.
    pub(crate) endpoint: Option<EndpointIdx>,
    /// How it failed; `None` when it answered.
    pub(crate) failure: Option<AttemptFailure>,
    /// From sending the request to the answer (non-streaming), the first output (streaming), or
    /// the failure. Zero for a skip.
    pub(crate) elapsed: Duration,
}

/// How a step failed, without the error's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttemptFailure {
    /// The kind of failure, in the fallback policy's terms.
    pub(crate) class: FailureClass,
    /// The provider's HTTP status, when it answered; for a skip, the status it counts as.
    pub(crate) status: Option<u16>,
    /// OpenRouter's typed error for it.
    pub(crate) error_type: &'static str,
    /// How long the provider asked us to wait, if it said.
    pub(crate) retry_after: Option<Duration>,
}

/// The steps of one request, in the order they ran, and the last failure.
#[derive(Debug, Default)]
pub(crate) struct AttemptLog {
    records: Vec<AttemptRecord>,
    /// The last failure, kept whole for the final error.
    last_failure: Option<LastFailure>,
    /// The last step that made a call.
    last_call: Option<Attempt>,
    /// The endpoints the plan left out before any call (listed after the steps).
    excluded: Vec<Excluded>,
}

/// The failure of a plan whose every attempt failed: the last attempt's error, reported with
/// the whole history.
#[derive(Debug, thiserror::Error)]
#[error("every attempt failed, the last with: {last}")]
pub(crate) struct AttemptsFailed {
    /// The last attempt's error.
    #[source]
    pub(crate) last: LastFailure,
    /// Display name of the last attempt's provider; `None` when the last step was a skip.
    pub(crate) provider_name: Option<String>,
    /// Every attempt, in order.
    pub(crate) attempts: Vec<AttemptReport>,
    /// The `Retry-After` to send: on a 429 or 503, the smallest one when every provider called
    /// gave one (see [`crate::error`]).
    pub(crate) retry_after: Option<Duration>,
}

/// How the last attempt of a plan failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LastFailure {
    /// The provider call failed.
    #[error(transparent)]
    Upstream(UpstreamError),
    /// The plan skipped the model without a call.
    #[error("skipped: {0}")]
    Skipped(SkipReason),
}

/// One attempt as reported in `error.metadata.attempts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AttemptReport {
    /// The public model id.
    pub(crate) model: String,
    /// The provider's slug; `None` when the plan skipped the model without a call.
    pub(crate) provider: Option<String>,
    /// The provider's HTTP status (for a skip, the status it counts as); `None` when there was
    /// none (connection failure, timeout before the headers).
    pub(crate) status: Option<u16>,
    /// The failure class (`rate_limited`, `context_length`, …, as in `fallback_policy`), or
    /// `none` for an attempt that answered.
    pub(crate) error: &'static str,
    /// OpenRouter's typed error for it; `None` for an attempt that answered.
    pub(crate) error_type: Option<&'static str>,
    /// How long the attempt took (0 for a skip).
    pub(crate) elapsed_ms: u64,
    /// For an endpoint the plan left out before any call (`error` is `excluded`): why, as in
    /// `X-Turnout-Excluded` (`max_tokens`, `only`, …). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) excluded: Option<&'static str>,
}

// === impl LastFailure ===

impl LastFailure {
    /// The HTTP status of the final answer.
    pub(crate) fn status(&self) -> u16 {
        match self {
            LastFailure::Upstream(err) => err.client_status(),
            LastFailure::Skipped(reason) => reason.status(),
        }
    }

    /// OpenRouter's typed error.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            LastFailure::Upstream(err) => err.error_type(),
            LastFailure::Skipped(reason) => reason.error_type(),
        }
    }

    /// A message safe to show the client.
    pub(crate) fn client_message(&self) -> String {
        match self {
            LastFailure::Upstream(err) => err.client_message(),
            LastFailure::Skipped(reason) => reason.to_string(),
        }
    }
}

// === impl AttemptLog ===

impl AttemptLog {
    /// A log for a plan that left out `excluded`.
    pub(crate) fn with_excluded(excluded: Vec<Excluded>) -> Self {
        Self {
            excluded,
            ..Self::default()
        }
    }

    /// The endpoints the plan left out.
    pub(crate) fn excluded(&self) -> &[Excluded] {
        &self.excluded
    }

    /// Records that `attempt` answered after `elapsed`.
    pub(crate) fn answered(&mut self, attempt: Attempt, elapsed: Duration) {
        self.last_call = Some(attempt);
        self.records.push(AttemptRecord {
            model: attempt.model,
            endpoint: Some(attempt.endpoint),
            failure: None,
            elapsed,
        });
    }

    /// Records that `attempt`, started at `started`, failed with `err`; returns its class.
    pub(crate) fn failed(
        &mut self,
        attempt: Attempt,
        err: UpstreamError,
        started: Instant,
    ) -> FailureClass {
        let class = err.class;
        tracing::debug!(
            provider = %err.provider,
            class = %err.class,
            error = %err,
            "attempt failed"
        );
        self.last_call = Some(attempt);
        self.records.push(AttemptRecord {
            model: attempt.model,
            endpoint: Some(attempt.endpoint),
            failure: Some(AttemptFailure {
                class,
                status: err.status,
                error_type: err.error_type(),
                retry_after: err.retry_after,
            }),
            elapsed: started.elapsed(),
        });
        self.last_failure = Some(LastFailure::Upstream(err));
        class
    }

    /// Records that the plan skipped a model; returns the class the skip counts as.
    pub(crate) fn skipped(&mut self, skipped: &Skipped) -> FailureClass {
        let class = skipped.reason.failure_class();
        self.records.push(AttemptRecord {
            model: skipped.model,
            endpoint: None,
            failure: Some(AttemptFailure {
                class,
                status: Some(skipped.reason.status()),
                error_type: skipped.reason.error_type(),
                retry_after: None,
            }),
            elapsed: Duration::ZERO,
        });
        self.last_failure = Some(LastFailure::Skipped(skipped.reason));
        class
    }

    /// Records that the attempt that answered (the last one) then failed mid-stream with `err`.
    /// Its HTTP status stays the `200` it answered with.
    pub(crate) fn interrupted(&mut self, err: &UpstreamError) {
        if let Some(record) = self.records.last_mut() {
            record.failure = Some(AttemptFailure {
                class: err.class,
                status: Some(200),
                error_type: err.error_type(),
                retry_after: None,
            });
        }
    }

    /// The records, in order.
    pub(crate) fn records(&self) -> &[AttemptRecord] {
        &self.records
    }

    /// The last step that made a call.
    pub(crate) fn last_call(&self) -> Option<Attempt> {
        self.last_call
    }

    /// The error for a plan that produced no answer: the last failure with every attempt, or
    /// [`ApiError::NoEndpoints`] when nothing was tried. Takes the last failure out of the log
    /// (the records stay).
    pub(crate) fn take_error(&mut self, app: &AppState) -> ApiError {
        let Some(last) = self.last_failure.take() else {
            return ApiError::NoEndpoints;
        };
        let provider_name = match (&last, self.last_call) {
            (LastFailure::Upstream(_), Some(attempt)) => {
                Some(app.target(&attempt).provider.display_name.to_string())
            }
            _ => None,
        };
        let retry_after = match last.status() {
            429 | 503 => self.common_retry_after(),
            _ => None,
        };
        ApiError::from(Box::new(AttemptsFailed {
            last,
            provider_name,
            attempts: self.reports(app),
            retry_after,
        }))
    }

    /// Every step as reported in `error.metadata.attempts`.
    pub(crate) fn reports(&self, app: &AppState) -> Vec<AttemptReport> {
        self.records
            .iter()
            .map(|record| {
                let model = app.catalog().model(record.model);
                let provider = record
                    .endpoint
                    .map(|endpoint| model.endpoint(endpoint).provider.clone());
                let (status, error, error_type) = match record.failure {
                    Some(failure) => (
                        failure.status,
                        failure.class.as_str(),
                        Some(failure.error_type),
                    ),
                    None => (Some(200), "none", None),
                };
                AttemptReport {
                    model: model.id.to_string(),
                    provider,
                    status,
                    error,
                    error_type,
                    elapsed_ms: millis(record.elapsed),
                    excluded: None,
                }
            })
            .chain(self.excluded.iter().map(|excluded| {
                let model = app.catalog().model(excluded.model);
                AttemptReport {
                    model: model.id.to_string(),
                    provider: Some(model.endpoint(excluded.endpoint).provider.clone()),
                    status: None,
                    error: "excluded",
                    error_type: None,
                    elapsed_ms: 0,
                    excluded: Some(excluded.reason.code()),
                }
            }))
            .collect()
    }

    /// The smallest `Retry-After` of the calls, when every call gave one (skips made no call).
    fn common_retry_after(&self) -> Option<Duration> {
        let mut calls = self
            .records
            .iter()
            .filter(|record| record.endpoint.is_some())
            .peekable();
        calls.peek()?;
        calls
            .map(|record| record.failure.and_then(|failure| failure.retry_after))
            .try_fold(Duration::MAX, |min, wait| Some(min.min(wait?)))
    }
}

/// Whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use router_core::plan::AttemptReason;

    use super::*;

    fn attempt(model: usize) -> Attempt {
        Attempt {
            model: ModelIdx(model),
            endpoint: EndpointIdx(0),
            reason: AttemptReason::Requested,
        }
    }

    fn rate_limited(retry_after: Option<u64>) -> UpstreamError {
        let mut err = UpstreamError::new("p", FailureClass::RateLimited, "slow down");
        err.status = Some(429);
        err.retry_after = retry_after.map(Duration::from_secs);
        err
    }

    #[test]
    fn retry_after_is_the_minimum_only_when_every_call_gave_one() {
        let started = Instant::now();
        let mut log = AttemptLog::default();
        log.failed(attempt(0), rate_limited(Some(7)), started);
        log.failed(attempt(1), rate_limited(Some(3)), started);
        assert_eq!(log.common_retry_after(), Some(Duration::from_secs(3)));
        log.failed(attempt(2), rate_limited(None), started);
        assert_eq!(log.common_retry_after(), None);
        assert_eq!(AttemptLog::default().common_retry_after(), None);
    }
}
