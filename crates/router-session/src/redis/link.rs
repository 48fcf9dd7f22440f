//! [`RedisLink`]: one multiplexed connection to Redis and the circuit that guards it, shared by
//! everything a replica keeps in Redis (sticky pins, and whatever else several replicas share).
//!
//! Every operation is bounded by `timeout` (a few milliseconds: Redis is expected on a near
//! network). An operation that fails or times out drops the connection and opens the circuit:
//! for `retry_after`, every operation answers `None` at once, so an unreachable Redis costs at
//! most one `timeout` per `retry_after`, never a failed request. Then one operation tries to
//! connect again (the others still answer at once). [`RedisLink::unavailable`] counts the
//! operations that found it unreachable, and each opening of the circuit logs one warning.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

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

/// Why a link to Redis could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct RedisUrlError(String);

/// The connection and the circuit (see the module docs).
pub struct RedisLink {
    client: redis::Client,
    options: RedisOptions,
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

impl RedisLink {
    /// A link for `options`. Does not connect: the first operation does.
    pub fn new(options: RedisOptions) -> Result<Self, RedisUrlError> {
        let client = redis::Client::open(options.url.as_str())
            .map_err(|err| RedisUrlError(err.to_string()))?;
        Ok(Self {
            client,
            options,
            state: Mutex::new(State::default()),
            unavailable: AtomicU64::new(0),
        })
    }

    /// Runs `op` on the connection within the timeout: its answer, or `None` (counted, and the
    /// circuit opened) when Redis is unreachable, the circuit is open, or the operation fails
    /// or times out.
    pub async fn run<T, Fut>(&self, op: impl FnOnce(MultiplexedConnection) -> Fut) -> Option<T>
    where
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let Some(connection) = self.connection().await else {
            self.unavailable.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let failure = match tokio::time::timeout(self.options.timeout, op(connection)).await {
            Ok(Ok(answer)) => return Some(answer),
            Ok(Err(err)) => err.to_string(),
            Err(_elapsed) => "timed out".to_owned(),
        };
        self.trip(&failure);
        self.unavailable.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// How many operations found Redis unreachable.
    pub fn unavailable(&self) -> u64 {
        self.unavailable.load(Ordering::Relaxed)
    }

    /// Whether the circuit is open now (Redis was found unreachable within `retry_after`).
    pub fn is_open(&self) -> bool {
        self.lock()
            .closed_until
            .is_some_and(|it| Instant::now() < it)
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
                tracing::info!("connected to Redis");
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
                "Redis is unreachable: routing without what replicas share there"
            );
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Clears `connecting` however the connection attempt ends (even when its request is dropped).
struct Connecting<'a>(&'a RedisLink);

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.0.lock().connecting = false;
    }
}
