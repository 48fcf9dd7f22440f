//! Endpoint cool-downs shared by replicas through Redis (`[redis]`), so an endpoint one replica
//! saw failing (failures in a row, or a `429` with `Retry-After`) is skipped by every replica
//! until its cool-down ends.
//!
//! A cool-down is one key per endpoint, named by the model id, the provider and the upstream
//! model (never indices, which differ between catalogs): `turnout:health:<model>|<provider>|
//! <upstream model>`, written `SET key <reason> PX <ms left>` (`failures` or `retry-after`), and
//! deleted when this replica's probe finds the endpoint answering again.
//!
//! Nothing here runs on the request path. One task per board publishes what the board queues
//! ([`HealthShare::cool_down`], [`HealthShare::clear`]: a `try_send` on a bounded channel, only
//! when a cool-down starts or ends) and, every `[redis] health_refresh_ms`, reads every
//! endpoint's remaining time with one pipeline of `PTTL`s into an atomic per endpoint, which the
//! planner reads with one relaxed load ([`HealthShare::until`]). So the planner sees another
//! replica's cool-down at most one refresh late, and never waits on Redis.
//!
//! When Redis is unreachable ([`RedisLink`] answers `None`), the cool-downs already read stay
//! until they end, new ones stay on the replica that saw them, and requests are routed as usual.
//! What could not be written is kept (one entry per endpoint, the latest) and written at the
//! first refresh that reaches Redis again, with the time its cool-down has left: a Redis that
//! comes back, even empty after a restart, learns the cool-downs that started without it.
//! The task stops when its board is dropped (a reload makes a new board and a new task).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use router_core::catalog::{Catalog, EndpointIdx, ModelIdx};
use router_session::RedisLink;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

/// The most publications waiting for the task; past it one is dropped (the next failure of
/// that endpoint publishes again).
const QUEUE: usize = 256;

/// Why an endpoint cools down, stored as the key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Failed calls in a row.
    Failures,
    /// A `429` with `Retry-After`.
    RetryAfter,
}

/// A board's link to the cool-downs shared in Redis.
pub(crate) struct HealthShare {
    /// By model, by endpoint: until when (board milliseconds) Redis says it cools down; 0: not.
    until: Arc<Vec<Box<[AtomicU64]>>>,
    outbox: mpsc::Sender<Publication>,
}

/// What the task writes to Redis.
enum Publication {
    /// `SET key reason PX ttl_ms`.
    CoolDown {
        model: ModelIdx,
        endpoint: EndpointIdx,
        reason: Reason,
        ttl_ms: u64,
    },
    /// `DEL key`.
    Clear {
        model: ModelIdx,
        endpoint: EndpointIdx,
    },
}

impl HealthShare {
    /// Starts the task that shares `catalog`'s cool-downs through `link`, on the current tokio
    /// runtime; `started` is the board's clock. `None` outside a runtime (nothing is shared).
    pub(crate) fn start(
        link: Arc<RedisLink>,
        catalog: &Catalog,
        started: Instant,
        refresh: Duration,
    ) -> Option<Self> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let keys = catalog.per_endpoint(|model, endpoint| {
            key(&model.id, &endpoint.provider, &endpoint.upstream_model)
        });
        let until = Arc::new(
            keys.iter()
                .map(|endpoints| endpoints.iter().map(|_| AtomicU64::new(0)).collect())
                .collect::<Vec<Box<[AtomicU64]>>>(),
        );
        let (outbox, inbox) = mpsc::channel(QUEUE);
        let task = Task {
            link,
            keys,
            until: Arc::clone(&until),
            started,
            unwritten: HashMap::new(),
        };
        // The task ends when the board (the only sender) is dropped.
        runtime.spawn(task.run(inbox, refresh));
        Some(Self { until, outbox })
    }

    /// Until when (board milliseconds) Redis last said the endpoint cools down; 0 when not.
    pub(crate) fn until(&self, model: ModelIdx, endpoint: EndpointIdx) -> u64 {
        self.until
            .get(model.0)
            .and_then(|it| it.get(endpoint.0))
            .map_or(0, |it| it.load(Ordering::Relaxed))
    }

    /// Publishes that the endpoint cools down for `ttl_ms`.
    pub(crate) fn cool_down(
        &self,
        model: ModelIdx,
        endpoint: EndpointIdx,
        reason: Reason,
        ttl_ms: u64,
    ) {
        if ttl_ms > 0 {
            // A full queue drops this one: the endpoint's next failure publishes again.
            let _ = self.outbox.try_send(Publication::CoolDown {
                model,
                endpoint,
                reason,
                ttl_ms,
            });
        }
    }

    /// Publishes that the endpoint answers again, and forgets its shared cool-down here at once.
    pub(crate) fn clear(&self, model: ModelIdx, endpoint: EndpointIdx) {
        if let Some(cell) = self.until.get(model.0).and_then(|it| it.get(endpoint.0)) {
            cell.store(0, Ordering::Relaxed);
        }
        let _ = self.outbox.try_send(Publication::Clear { model, endpoint });
    }
}

/// The Redis key of an endpoint.
fn key(model: &str, provider: &str, upstream_model: &str) -> String {
    format!("turnout:health:{model}|{provider}|{upstream_model}")
}

/// What the task still owes Redis for one endpoint, written when Redis answers again.
#[derive(Debug, Clone, Copy)]
enum Unwritten {
    /// A cool-down until this board millisecond.
    CoolDown { reason: Reason, until: u64 },
    /// Its cool-down ended here.
    Clear,
}

/// The task: publishes, and refreshes the atomics.
struct Task {
    link: Arc<RedisLink>,
    keys: Vec<Box<[String]>>,
    until: Arc<Vec<Box<[AtomicU64]>>>,
    started: Instant,
    /// By (model, endpoint): the last publication Redis did not take.
    unwritten: HashMap<(ModelIdx, EndpointIdx), Unwritten>,
}

impl Task {
    async fn run(mut self, mut inbox: mpsc::Receiver<Publication>, refresh: Duration) {
        let mut tick = tokio::time::interval(refresh);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut read_all = redis::pipe();
        for key in self.keys.iter().flatten() {
            read_all.cmd("PTTL").arg(key);
        }
        loop {
            tokio::select! {
                publication = inbox.recv() => match publication {
                    Some(publication) => self.publish(publication).await,
                    None => break,
                },
                _ = tick.tick() => self.refresh(&read_all).await,
            }
        }
    }

    /// Board milliseconds now.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn publish(&mut self, publication: Publication) {
        let (model, endpoint, what) = match publication {
            Publication::CoolDown {
                model,
                endpoint,
                reason,
                ttl_ms,
            } => (
                model,
                endpoint,
                Unwritten::CoolDown {
                    reason,
                    until: self.now_ms().saturating_add(ttl_ms),
                },
            ),
            Publication::Clear { model, endpoint } => (model, endpoint, Unwritten::Clear),
        };
        if self.write(model, endpoint, what).await {
            self.unwritten.remove(&(model, endpoint));
        } else {
            // Unreachable: the cool-down stays this replica's own until Redis answers again.
            self.unwritten.insert((model, endpoint), what);
        }
    }

    /// Writes what Redis owes for one endpoint; false when Redis did not take it (the link
    /// counts and warns). A cool-down that has ended meanwhile needs nothing.
    async fn write(&self, model: ModelIdx, endpoint: EndpointIdx, what: Unwritten) -> bool {
        let Some(key) = self.key(model, endpoint) else {
            return true;
        };
        let command = match what {
            Unwritten::CoolDown { reason, until } => {
                let ttl_ms = until.saturating_sub(self.now_ms());
                if ttl_ms == 0 {
                    return true;
                }
                let reason = match reason {
                    Reason::Failures => "failures",
                    Reason::RetryAfter => "retry-after",
                };
                redis::cmd("SET")
                    .arg(key)
                    .arg(reason)
                    .arg("PX")
                    .arg(ttl_ms)
                    .clone()
            }
            Unwritten::Clear => redis::cmd("DEL").arg(key).clone(),
        };
        self.link
            .run(|mut connection| async move { command.query_async::<()>(&mut connection).await })
            .await
            .is_some()
    }

    /// Writes what Redis did not take before, now that it answers.
    async fn catch_up(&mut self) {
        let owed: Vec<_> = self.unwritten.drain().collect();
        for ((model, endpoint), what) in owed {
            if !self.write(model, endpoint, what).await {
                self.unwritten.insert((model, endpoint), what);
            }
        }
    }

    /// Reads every endpoint's remaining cool-down (one round trip) into the atomics.
    async fn refresh(&mut self, read_all: &redis::Pipeline) {
        let read_all = read_all.clone();
        let Some(ttls) =
            self.link
                .run(|mut connection| async move {
                    read_all.query_async::<Vec<i64>>(&mut connection).await
                })
                .await
        else {
            // Unreachable: what was read stays until it ends.
            return;
        };
        // Redis answers: what it missed goes first, and the next refresh reads it back.
        if !self.unwritten.is_empty() {
            self.catch_up().await;
        }
        let now = self.now_ms();
        for (cell, ttl) in self.until.iter().flat_map(|it| it.iter()).zip(ttls) {
            // PTTL: -2 no key, -1 no expiry (not ours), else milliseconds left.
            let until = u64::try_from(ttl).map_or(0, |ttl| now.saturating_add(ttl));
            cell.store(until, Ordering::Relaxed);
        }
    }

    fn key(&self, model: ModelIdx, endpoint: EndpointIdx) -> Option<&str> {
        self.keys
            .get(model.0)
            .and_then(|it| it.get(endpoint.0))
            .map(String::as_str)
    }
}
