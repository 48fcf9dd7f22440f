//! The live health of every endpoint: one [`EndpointHealth`] state machine per endpoint of the
//! catalog, each behind its own mutex, fed after every attempt and read by the planner.
//!
//! The state machines are pure (`router_core::health`); this module owns the clock: milliseconds
//! since the board was made. Recording an outcome locks one endpoint's mutex for a few
//! arithmetic operations and allocates nothing.
//!
//! With `[redis]`, the board also shares cool-downs with the other replicas
//! ([`crate::health_share`]): a cool-down that starts here is queued for Redis, and the planner
//! reads the others' from an atomic per endpoint (no Redis round trip per request).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use router_core::catalog::{Catalog, EndpointIdx, ModelIdx};
use router_core::fallback::FailureClass;
use router_core::health::{EndpointHealth, HealthSettings, Observed, Outcome, Stats, Status};
use router_core::plan::HealthView;
use router_session::RedisLink;
use router_upstream::{Fault, UpstreamError};

use crate::health_share::{HealthShare, Reason};

/// Every endpoint's health.
pub(crate) struct HealthBoard {
    started: Instant,
    settings: HealthSettings,
    /// By model, by endpoint.
    endpoints: Vec<Box<[Mutex<EndpointHealth>]>>,
    /// The cool-downs shared with other replicas, with `[redis]`.
    share: Option<HealthShare>,
}

impl HealthBoard {
    /// A board for every endpoint of `catalog`, all healthy.
    pub(crate) fn new(catalog: &Catalog, settings: HealthSettings) -> Self {
        Self {
            started: Instant::now(),
            settings,
            endpoints: catalog.per_endpoint(|_, _| Mutex::new(EndpointHealth::default())),
            share: None,
        }
    }

    /// Shares this board's cool-downs with the other replicas through `link`, reading theirs
    /// every `refresh` (see [`crate::health_share`]).
    pub(crate) fn share_through(
        &mut self,
        link: Arc<RedisLink>,
        catalog: &Catalog,
        refresh: Duration,
    ) {
        self.share = HealthShare::start(link, catalog, self.started, refresh);
        if self.share.is_none() {
            tracing::warn!("endpoint health is not shared: no async runtime to share it from");
        }
    }

    /// Until when another replica (or this one, through Redis) says the endpoint cools down.
    fn shared_until(&self, model: ModelIdx, endpoint: EndpointIdx) -> u64 {
        self.share
            .as_ref()
            .map_or(0, |share| share.until(model, endpoint))
    }

    /// Milliseconds since the board was made.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `f` on one endpoint's state (indices from the board's catalog). A poisoned mutex
    /// still holds plain numbers, so it is used as it is.
    fn with<T>(
        &self,
        model: ModelIdx,
        endpoint: EndpointIdx,
        f: impl FnOnce(&mut EndpointHealth) -> T,
    ) -> Option<T> {
        let cell = self.endpoints.get(model.0)?.get(endpoint.0)?;
        let mut health = cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(f(&mut health))
    }

    /// Records that a call answered after `latency` (to its first output when streaming),
    /// producing `completion_tokens` over `elapsed` when known.
    pub(crate) fn answered(
        &self,
        model: ModelIdx,
        endpoint: EndpointIdx,
        latency: Duration,
        throughput: Option<f64>,
    ) {
        let now = self.now_ms();
        let outcome = Outcome::Answered {
            latency: Some(latency.as_secs_f64()),
            throughput,
        };
        let had_cooldown = self.with(model, endpoint, |it| {
            let had = it.cooldown_until_ms().is_some();
            it.record(now, outcome, &self.settings);
            had
        });
        if let (Some(true), Some(share)) = (had_cooldown, &self.share) {
            share.clear(model, endpoint);
        }
    }

    /// Records a failed call: rate limits (with their `Retry-After`) and the provider's (or our
    /// configuration's) failures; failures the client caused say nothing about the endpoint.
    pub(crate) fn failed(&self, model: ModelIdx, endpoint: EndpointIdx, err: &UpstreamError) {
        let outcome = match (err.class, err.fault()) {
            (FailureClass::RateLimited, _) => Outcome::RateLimited {
                retry_after_ms: err
                    .retry_after
                    .map(|wait| u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
            },
            (_, Fault::Client) => return,
            (_, Fault::Upstream | Fault::Internal) => Outcome::Failed,
        };
        let now = self.now_ms();
        let started = self.with(model, endpoint, |it| {
            let before = it.cooldown_until_ms();
            it.record(now, outcome, &self.settings);
            it.cooldown_until_ms()
                .filter(|after| Some(*after) != before)
        });
        if let (Some(Some(until)), Some(share)) = (started, &self.share) {
            let reason = match outcome {
                Outcome::RateLimited { .. } => Reason::RetryAfter,
                _ => Reason::Failures,
            };
            share.cool_down(model, endpoint, reason, until.saturating_sub(now));
        }
    }

    /// Where the endpoint stands now, without claiming its probe.
    pub(crate) fn status(&self, model: ModelIdx, endpoint: EndpointIdx) -> Status {
        let now = self.now_ms();
        let shared = self.shared_until(model, endpoint);
        self.with(model, endpoint, |it| {
            it.status_shared(now, shared, &self.settings)
        })
        .unwrap_or(Status::Healthy)
    }

    /// The endpoint's statistics over the last 30 minutes.
    pub(crate) fn stats(&self, model: ModelIdx, endpoint: EndpointIdx) -> Stats {
        let now = self.now_ms();
        self.with(model, endpoint, |it| it.stats(now))
            .unwrap_or_default()
    }
}

impl HealthView for HealthBoard {
    fn observe(&self, model: ModelIdx, endpoint: EndpointIdx) -> Observed {
        let now = self.now_ms();
        let shared = self.shared_until(model, endpoint);
        self.with(model, endpoint, |it| {
            it.observe_shared(now, shared, &self.settings)
        })
        .unwrap_or_default()
    }
}
