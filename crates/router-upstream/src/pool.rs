//! Keep-alive HTTP/1.1 connections to one plain-http origin, reused across requests.
//!
//! [`Pool::send`] writes a request on an idle connection, or a new one, and reads the answer's
//! head; the [`Body`] it returns reads the rest off the same connection, in the caller's task
//! (see [`crate::h1`]). The connection goes back to the pool the moment the body has been read
//! to its end, or when the body is dropped if its rest had already arrived (the chunked
//! terminator after an SSE `[DONE]`). A body dropped mid-way closes the connection, so the
//! provider sees the request cancelled.
//!
//! Idle connections are reused newest first (the warmest socket), kept at most
//! [`IDLE_TIMEOUT`] and at most [`MAX_IDLE`] of them; one the provider closed while it was idle
//! is noticed before it is used (the socket reports the close; checking costs no system call
//! otherwise), and a task started with the first connection drops the expired ones. A request
//! whose write fails on a reused connection (the provider closed it in the meantime) is written
//! again on the next one: an incomplete request is never processed. A request that was written
//! is never sent again.

use std::io;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::h1::{BodyDecoder, Connection, Head, WireError};

/// How long an idle connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The most idle connections kept.
pub(crate) const MAX_IDLE: usize = 1024;
/// TCP keep-alive probes start after this long without traffic.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// How often expired idle connections are closed.
const REAP_INTERVAL: Duration = Duration::from_secs(30);

/// Connections to one `host:port`.
pub(crate) struct Pool {
    host: String,
    port: u16,
    connect_timeout: Duration,
    idle: Mutex<Idle>,
}

/// The idle connections, oldest first, and whether the reaper runs.
#[derive(Default)]
struct Idle {
    connections: Vec<IdleConnection>,
    reaper_started: bool,
}

struct IdleConnection {
    connection: Connection,
    since: Instant,
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PoolError {
    /// No connection could be opened (refused, DNS, or the connect timeout, as
    /// `io::ErrorKind::TimedOut`).
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    /// The exchange failed on an open connection (write, read, a malformed response).
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// A response body still on its connection.
pub(crate) struct Body {
    /// `None` once the body has ended or failed.
    connection: Option<Connection>,
    decoder: BodyDecoder,
    keep_alive: bool,
    pool: Weak<Pool>,
}

// === impl Pool ===

impl Pool {
    /// A pool for `host:port`, opening connections within `connect_timeout`.
    pub(crate) fn new(host: String, port: u16, connect_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            host,
            port,
            connect_timeout,
            idle: Mutex::new(Idle::default()),
        })
    }

    /// Writes a request, given as consecutive parts (see [`Connection::write_request`]), and
    /// reads the answer's head; the body is read from what this returns.
    pub(crate) async fn send<const N: usize>(
        self: &Arc<Self>,
        request: [&[u8]; N],
    ) -> Result<(Head, Body), PoolError> {
        while let Some(mut connection) = self.take_idle() {
            match connection.write_request(request).await {
                Ok(()) => return self.answer(connection).await,
                Err(err) => {
                    tracing::trace!(error = %err, "an idle upstream connection was closed");
                }
            }
        }
        let mut connection = self.connect().await?;
        connection
            .write_request(request)
            .await
            .map_err(|err| PoolError::Wire(err.into()))?;
        self.answer(connection).await
    }

    /// How many idle connections the pool holds.
    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.lock().connections.len()
    }

    async fn answer(
        self: &Arc<Self>,
        mut connection: Connection,
    ) -> Result<(Head, Body), PoolError> {
        let head = connection.read_head().await?;
        let body = Body {
            connection: Some(connection),
            decoder: BodyDecoder::new(head.framing),
            keep_alive: head.keep_alive,
            pool: Arc::downgrade(self),
        };
        Ok((head, body))
    }

    /// The newest idle connection still open and not expired; older unusable ones are dropped.
    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.lock();
        while let Some(idle_connection) = idle.connections.pop() {
            if idle_connection.since.elapsed() < IDLE_TIMEOUT
                && idle_connection.connection.is_reusable()
            {
                return Some(idle_connection.connection);
            }
        }
        None
    }

    /// Keeps `connection` for a later request; whether it is still usable is checked when it
    /// is taken ([`Pool::take_idle`]), the moment that counts.
    fn put(&self, connection: Connection) {
        let mut idle = self.lock();
        if idle.connections.len() < MAX_IDLE {
            idle.connections.push(IdleConnection {
                connection,
                since: Instant::now(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        // The guarded state stays consistent whatever panicked while holding it.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a connection: TCP within the connect timeout, `TCP_NODELAY` and keep-alive.
    async fn connect(self: &Arc<Self>) -> Result<Connection, PoolError> {
        self.start_reaper();
        let stream = tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| {
            PoolError::Connect(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {:?}", self.connect_timeout),
            ))
        })?
        .map_err(PoolError::Connect)?;
        if let Err(err) = stream.set_nodelay(true) {
            tracing::trace!(error = %err, "cannot set TCP_NODELAY on an upstream socket");
        }
        let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
        if let Err(err) = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
            tracing::trace!(error = %err, "cannot set TCP keep-alive on an upstream socket");
        }
        Ok(Connection::new(stream))
    }

    /// Starts the task that closes expired idle connections, once; it ends with the pool.
    fn start_reaper(self: &Arc<Self>) {
        {
            let mut idle = self.lock();
            if idle.reaper_started {
                return;
            }
            idle.reaper_started = true;
        }
        let pool = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(REAP_INTERVAL);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(pool) = pool.upgrade() else {
                    return;
                };
                pool.lock().connections.retain(|idle| {
                    idle.since.elapsed() < IDLE_TIMEOUT && idle.connection.is_reusable()
                });
            }
        });
    }
}

// === impl Body ===

impl Body {
    /// The next piece of the body, `None` at its end (when the connection goes back to the
    /// pool).
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, PoolError> {
        let Some(connection) = self.connection.as_mut() else {
            return Ok(None);
        };
        match connection.read_body(&mut self.decoder).await {
            Ok(Some(data)) => Ok(Some(data)),
            Ok(None) => {
                self.release();
                Ok(None)
            }
            Err(err) => {
                self.connection = None;
                Err(err.into())
            }
        }
    }

    /// Gives the connection back when it may carry another request.
    fn release(&mut self) {
        if let Some(connection) = self.connection.take()
            && self.keep_alive
            && let Some(pool) = self.pool.upgrade()
        {
            pool.put(connection);
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if self.keep_alive
            && let Some(connection) = self.connection.as_mut()
            && connection.finish_now(&mut self.decoder)
        {
            self.release();
        }
    }
}

// === impl PoolError ===

impl PoolError {
    /// The connect timeout ran out, or the socket reported a timeout.
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            PoolError::Connect(err) => err.kind() == io::ErrorKind::TimedOut,
            PoolError::Wire(err) => err.is_timeout(),
        }
    }

    /// No connection could be opened.
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, PoolError::Connect(_))
    }
}

#[cfg(test)]
mod tests;
