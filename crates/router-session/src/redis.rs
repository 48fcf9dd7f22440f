//! [`RedisStore`]: pins in Redis, shared by every replica that names the same server.
//!
//! Same semantics as the in-process store: a lookup never renews; a put stores the pin with
//! its expiry on the caller's clock (checked on every lookup) and `SET … PX ttl`, so Redis
//! drops it after the TTL of real time too. A pin names its model, provider and upstream model
//! by name (`turnout:pin:<scope hex>` → `<expires_at_ms>\n<model id>\n<provider>\n<upstream
//! model>`), so replicas whose catalogs list them in another order still agree; a pin to
//! something the catalog no longer has is a miss.
//!
//! # Degraded mode
//!
//! Every operation is bounded by `timeout` (a few milliseconds: Redis is expected on a near
//! network). An operation that fails or times out drops the connection and opens a circuit:
//! for `retry_after`, every operation answers at once without stickiness
//! ([`Lookup::Unavailable`]), so an unreachable Redis costs at most one `timeout` per
//! `retry_after`, never a failed request. Then one operation tries to connect again (the
//! others still answer at once). [`PinStore::unavailable`] counts the operations that found it
//! unreachable, and each opening of the circuit logs one warning.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use router_core::catalog::{Catalog, EndpointIdx, ModelIdx};

use crate::scope::Scope;
use crate::store::{Lookup, PinStore, PinnedRoute, StoreFuture};

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://host:port/db`.
    pub url: String,
    /// The longest one operation (or a connection attempt) may take.
    pub timeout: Duration,
    /// How long an unreachable Redis is left alone.
    pub retry_after: Duration,
}

/// Why the Redis store could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct RedisUrlError(String);

/// The Redis pin store (see the module docs).
pub struct RedisStore {
    client: redis::Client,
    options: RedisOptions,
    codec: Codec,
    state: Mutex<State>,
    unavailable: AtomicU64,
}

/// The connection and the circuit.
#[derive(Default)]
struct State {
    connection: Option<MultiplexedConnection>,
    /// Until when operations answer without trying.
    closed_until: Option<Instant>,
    /// An operation is connecting; the others do not wait for it.
    connecting: bool,
}

/// Pins by name, from and to indices of this replica's catalog.
struct Codec {
    /// By model index: the id, and each endpoint's provider and upstream model.
    models: Vec<(String, Vec<(String, String)>)>,
    by_id: HashMap<String, usize>,
}

impl RedisStore {
    /// A store for `options`, naming routes of `catalog`. Does not connect: the first
    /// operation does.
    pub fn new(options: RedisOptions, catalog: &Catalog) -> Result<Self, RedisUrlError> {
        let client = redis::Client::open(options.url.as_str())
            .map_err(|err| RedisUrlError(err.to_string()))?;
        let models = catalog
            .models()
            .iter()
            .map(|model| {
                let endpoints = model
                    .endpoints
                    .iter()
                    .map(|it| (it.provider.clone(), it.upstream_model.clone()))
                    .collect();
                (model.id.clone(), endpoints)
            })
            .collect::<Vec<_>>();
        let by_id = models
            .iter()
            .enumerate()
            .map(|(idx, (id, _))| (id.clone(), idx))
            .collect();
        Ok(Self {
            client,
            options,
            codec: Codec { models, by_id },
            state: Mutex::new(State::default()),
            unavailable: AtomicU64::new(0),
        })
    }

    async fn get_pin(&self, scope: &Scope, now_ms: u64) -> Lookup {
        let Some(mut connection) = self.connection().await else {
            return self.unreachable();
        };
        let command = redis::cmd("GET").arg(key(scope)).clone();
        let reply = tokio::time::timeout(
            self.options.timeout,
            command.query_async::<Option<String>>(&mut connection),
        )
        .await;
        match reply {
            Ok(Ok(Some(value))) => match self.codec.decode(&value) {
                Some((pin, expires_at_ms)) if now_ms < expires_at_ms => Lookup::Hit(pin),
                _ => Lookup::Miss,
            },
            Ok(Ok(None)) => Lookup::Miss,
            Ok(Err(err)) => {
                self.trip(&err.to_string());
                self.unreachable()
            }
            Err(_elapsed) => {
                self.trip("timed out");
                self.unreachable()
            }
        }
    }

    async fn put_pin(&self, scope: &Scope, pin: PinnedRoute, ttl: Duration, now_ms: u64) -> bool {
        let Some(value) = self.codec.encode(pin, now_ms, ttl) else {
            return false;
        };
        let Some(mut connection) = self.connection().await else {
            self.unavailable.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let command = redis::cmd("SET")
            .arg(key(scope))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms)
            .clone();
        let reply = tokio::time::timeout(
            self.options.timeout,
            command.query_async::<()>(&mut connection),
        )
        .await;
        let failure = match reply {
            Ok(Ok(())) => return true,
            Ok(Err(err)) => err.to_string(),
            Err(_elapsed) => "timed out".to_owned(),
        };
        self.trip(&failure);
        self.unavailable.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// A connection, unless the circuit is open or another operation is connecting.
    async fn connection(&self) -> Option<MultiplexedConnection> {
        {
            let mut state = self.lock();
            if let Some(connection) = &state.connection {
                return Some(connection.clone());
            }
            if state.connecting || state.closed_until.is_some_and(|it| Instant::now() < it) {
                return None;
            }
            state.connecting = true;
        }
        let connecting = Connecting(self);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.options.timeout))
            .set_response_timeout(Some(self.options.timeout));
        let connected = tokio::time::timeout(
            self.options.timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        drop(connecting);
        match connected {
            Ok(Ok(connection)) => {
                let mut state = self.lock();
                state.connection = Some(connection.clone());
                state.closed_until = None;
                tracing::info!("connected to the Redis session store");
                Some(connection)
            }
            Ok(Err(err)) => {
                self.trip(&err.to_string());
                None
            }
            Err(_elapsed) => {
                self.trip("connecting timed out");
                None
            }
        }
    }

    /// Drops the connection and opens the circuit for `retry_after`.
    fn trip(&self, why: &str) {
        let mut state = self.lock();
        // Set only while unreachable: a failed retry does not log again.
        let first = state.closed_until.is_none();
        state.connection = None;
        state.closed_until = Some(Instant::now() + self.options.retry_after);
        if first {
            tracing::warn!(
                error = why,
                retry_after_ms = self.options.retry_after.as_millis() as u64,
                "the Redis session store is unreachable: routing without stickiness"
            );
        }
    }

    fn unreachable(&self) -> Lookup {
        self.unavailable.fetch_add(1, Ordering::Relaxed);
        Lookup::Unavailable
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Clears `connecting` however the connection attempt ends (even when its request is dropped).
struct Connecting<'a>(&'a RedisStore);

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.0.lock().connecting = false;
    }
}

impl PinStore for RedisStore {
    fn get<'a>(&'a self, scope: &'a Scope, now_ms: u64) -> StoreFuture<'a, Lookup> {
        Box::pin(self.get_pin(scope, now_ms))
    }

    fn put<'a>(
        &'a self,
        scope: &'a Scope,
        pin: PinnedRoute,
        ttl: Duration,
        now_ms: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(self.put_pin(scope, pin, ttl, now_ms))
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    fn unavailable(&self) -> u64 {
        self.unavailable.load(Ordering::Relaxed)
    }
}

/// The Redis key of `scope`.
fn key(scope: &Scope) -> String {
    format!("turnout:pin:{}", scope.to_hex())
}

impl Codec {
    /// `<expires_at_ms>\n<model id>\n<provider>\n<upstream model>`.
    fn encode(&self, pin: PinnedRoute, now_ms: u64, ttl: Duration) -> Option<String> {
        let (id, endpoints) = self.models.get(pin.model.0)?;
        let (provider, upstream) = endpoints.get(pin.endpoint.0)?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let expires_at_ms = now_ms.saturating_add(ttl_ms);
        Some(format!("{expires_at_ms}\n{id}\n{provider}\n{upstream}"))
    }

    /// The pin and its expiry; `None` when the value is not ours or names a route this catalog
    /// does not have.
    fn decode(&self, value: &str) -> Option<(PinnedRoute, u64)> {
        let mut fields = value.split('\n');
        let expires_at_ms = fields.next()?.parse().ok()?;
        let model = *self.by_id.get(fields.next()?)?;
        let (provider, upstream) = (fields.next()?, fields.next()?);
        let endpoint = self.models[model]
            .1
            .iter()
            .position(|(p, u)| p == provider && u == upstream)?;
        let pin = PinnedRoute {
            model: ModelIdx(model),
            endpoint: EndpointIdx(endpoint),
        };
        Some((pin, expires_at_ms))
    }
}
