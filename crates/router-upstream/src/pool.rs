//! The connection pool of a plain-http provider: HTTP/1.1 connections made with hyper's
//! `client::conn::http1`, each driven by its own task, and kept idle for reuse once an answer's
//! body was read to its end.
//!
//! It does what `hyper_util`'s pooled client did for one origin, without what one origin does
//! not need: no pool key hashed per request, no connection-info extension on every response, no
//! checkout future. Measured with `cargo xtask bench --nginx` (see docs/performance.md).
//!
//! - The idle list is last in, first out (the warmest connection first), at most [`MAX_IDLE`]
//!   long; a connection idle longer than [`IDLE_TIMEOUT`] is closed when the list is next
//!   touched, and one the provider closed is dropped when its turn comes (its task ended).
//! - A request is sent again only when hyper gives it back unsent (a pooled connection that
//!   closed before any of it was written), and then only on another connection; one that was
//!   written is never sent twice.
//! - A connection goes back to the list when its exchange's lease drops, after the answer's
//!   body: hyper keeps a connection whose answer it read to the end (a stream's last chunk may
//!   come in the same read as its `[DONE]`, before the reader asks for the end), and closes one
//!   whose body was dropped before its end, so the provider sees the request cancelled; such a
//!   connection fails its readiness check and is dropped when its turn comes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::transport::{IDLE_TIMEOUT, MAX_IDLE, TCP_KEEPALIVE};

/// The request sender of one connection.
type Sender = SendRequest<Full<Bytes>>;

/// A pool of connections to one `host:port`; clones share it.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where connections go, as `host:port`.
    authority: String,
    connect_timeout: Duration,
    /// Idle connections, oldest first.
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// A connection lent to one exchange, given back to the pool when it drops (after the
/// answer's body).
pub(crate) struct Lease {
    pool: Arc<Inner>,
    sender: Option<Sender>,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PoolError {
    /// The connection could not be opened (the connect timeout is an I/O `TimedOut`).
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    /// The exchange failed before the response head (I/O, a malformed response).
    #[error(transparent)]
    Request(hyper::Error),
}

// === impl Pool ===

impl Pool {
    /// A pool for connections to `authority` (`host:port`).
    pub(crate) fn new(authority: String, connect_timeout: Duration) -> Self {
        Pool {
            inner: Arc::new(Inner {
                authority,
                connect_timeout,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sends `request` on an idle connection or a new one, and resolves with the response head
    /// and the lease of its connection.
    pub(crate) async fn send(
        &self,
        mut request: http::Request<Full<Bytes>>,
    ) -> Result<(http::Response<Incoming>, Lease), PoolError> {
        loop {
            let (mut sender, pooled) = match self.inner.checkout() {
                Some(sender) => (sender, true),
                None => (self.inner.connect().await?, false),
            };
            // A connection just given back may need its task to finish the last exchange.
            if let Err(err) = sender.ready().await {
                if pooled {
                    continue;
                }
                return Err(PoolError::Request(err));
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let lease = Lease {
                        pool: Arc::clone(&self.inner),
                        sender: Some(sender),
                    };
                    return Ok((response, lease));
                }
                Err(mut err) => match err.take_message() {
                    // Not a byte of it was written: another connection may take it.
                    Some(unsent) if pooled => request = unsent,
                    _ => return Err(PoolError::Request(err.into_error())),
                },
            }
        }
    }

    /// How many connections are idle.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.inner.lock().len()
    }
}

// === impl Inner ===

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The warmest idle connection still open, if any.
    fn checkout(&self) -> Option<Sender> {
        let mut idle = self.lock();
        expire(&mut idle, Instant::now());
        while let Some(it) = idle.pop() {
            if !it.sender.is_closed() {
                return Some(it.sender);
            }
        }
        None
    }

    /// Opens a connection (`TCP_NODELAY`, TCP keep-alive) and starts its task.
    async fn connect(&self) -> Result<Sender, PoolError> {
        let stream = tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect(self.authority.as_str()),
        )
        .await
        .map_err(|_| {
            PoolError::Connect(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("connect timed out after {:?}", self.connect_timeout),
            ))
        })?
        .map_err(PoolError::Connect)?;
        stream.set_nodelay(true).map_err(PoolError::Connect)?;
        let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
        socket2::SockRef::from(&stream)
            .set_tcp_keepalive(&keepalive)
            .map_err(PoolError::Connect)?;
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(PoolError::Request)?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "provider connection ended");
            }
        });
        Ok(sender)
    }
}

/// Closes the connections idle for longer than [`IDLE_TIMEOUT`] at `now` (the oldest are
/// first).
fn expire(idle: &mut Vec<Idle>, now: Instant) {
    let fresh = idle
        .iter()
        .position(|it| now.saturating_duration_since(it.since) < IDLE_TIMEOUT)
        .unwrap_or(idle.len());
    idle.drain(..fresh);
}

// === impl Lease ===

impl Drop for Lease {
    /// Gives the connection back: whether it can serve again is checked when it is next taken.
    fn drop(&mut self) {
        let Some(sender) = self.sender.take() else {
            return;
        };
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.pool.lock();
        expire(&mut idle, now);
        if idle.len() < MAX_IDLE {
            idle.push(Idle { sender, since: now });
        }
    }
}

// === impl PoolError ===

impl PoolError {
    /// The connection could not be opened.
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, PoolError::Connect(_))
    }

    /// The connect timeout ran out, or an I/O timeout under the exchange.
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            PoolError::Connect(err) => err.kind() == std::io::ErrorKind::TimedOut,
            PoolError::Request(err) => err.is_timeout() || crate::transport::caused_by_timeout(err),
        }
    }
}
