//! Keep-alive HTTP/1.1 connections to one plain-http origin, reused across requests.
//!
//! A connection is leased for one exchange and comes back to the pool when the lease is
//! dropped, which happens with the response body. Whether it can carry another request is
//! hyper's call, and the next checkout waits for it ([`SendRequest::ready`]): a body read to its
//! end, or whose rest had already arrived (the chunked terminator after an SSE `[DONE]`), leaves
//! the connection ready; a body abandoned mid-way (the client went away mid-stream, an error)
//! makes hyper close the connection, so the provider sees the request cancelled, and the
//! checkout drops it. Idle connections are reused newest first (the warmest socket), are kept
//! at most [`IDLE_TIMEOUT`] and at most [`MAX_IDLE`] of them; a task started with the first
//! connection closes the expired ones.
//!
//! A request that an idle connection hands back unsent (the provider closed it while it was
//! idle) is sent again, once per idle connection, and finally on a fresh one: it never reached
//! the provider, so trying again is always safe.
//!
//! This is the part of hyper-util's pooled client that a single origin needs: no per-request
//! key hashing, no connect future built (and raced) for every request, and no task spawned per
//! response to wait for the connection to become free again.

use std::io;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long an idle connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The most idle connections kept.
pub(crate) const MAX_IDLE: usize = 1024;
/// TCP keep-alive probes start after this long without traffic.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// How often expired idle connections are closed.
const REAP_INTERVAL: Duration = Duration::from_secs(30);

/// The request type sent through the pool.
pub(crate) type Request = http::Request<Full<Bytes>>;

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
    sender: SendRequest<Full<Bytes>>,
    since: Instant,
}

/// Why an exchange failed before the response headers.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PoolError {
    /// No connection could be opened (refused, DNS, or the connect timeout, as
    /// `io::ErrorKind::TimedOut`).
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    /// The HTTP/1.1 exchange failed (handshake, write, a malformed or missing response).
    #[error(transparent)]
    Http(hyper::Error),
}

/// A connection in use for one exchange; dropping it gives the connection back (see the
/// module docs).
pub(crate) struct Lease {
    sender: Option<SendRequest<Full<Bytes>>>,
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

    /// Sends `request` on an idle connection, or a new one, and resolves with the response
    /// headers and the lease to give back once the body is read.
    pub(crate) async fn send(
        self: &Arc<Self>,
        mut request: Request,
    ) -> Result<(http::Response<Incoming>, Lease), PoolError> {
        while let Some(mut sender) = self.take_idle() {
            // The previous exchange has ended, but the connection's task may not have seen it
            // yet; a connection that is closing (its last body was abandoned) says so here.
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, self.lease(sender))),
                Err(mut err) => match err.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(PoolError::Http(err.into_error())),
                },
            }
        }
        let mut sender = self.connect().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(PoolError::Http)?;
        Ok((response, self.lease(sender)))
    }

    /// How many idle connections the pool holds.
    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.lock().connections.len()
    }

    fn lease(self: &Arc<Self>, sender: SendRequest<Full<Bytes>>) -> Lease {
        Lease {
            sender: Some(sender),
            pool: Arc::downgrade(self),
        }
    }

    /// The newest idle connection still open and not expired; older unusable ones are dropped.
    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.lock();
        while let Some(connection) = idle.connections.pop() {
            if !connection.sender.is_closed() && connection.since.elapsed() < IDLE_TIMEOUT {
                return Some(connection.sender);
            }
        }
        None
    }

    fn put(&self, sender: SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.connections.len() < MAX_IDLE {
            idle.connections.push(IdleConnection {
                sender,
                since: Instant::now(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        // The guarded state stays consistent whatever panicked while holding it.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a connection: TCP within the connect timeout, `TCP_NODELAY`, keep-alive, and
    /// the HTTP/1.1 handshake, with the connection's own task spawned.
    async fn connect(self: &Arc<Self>) -> Result<SendRequest<Full<Bytes>>, PoolError> {
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
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(PoolError::Http)?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::trace!(error = %err, "upstream connection ended with an error");
            }
        });
        Ok(sender)
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
                pool.lock().connections.retain(|connection| {
                    !connection.sender.is_closed() && connection.since.elapsed() < IDLE_TIMEOUT
                });
            }
        });
    }
}

// === impl Lease ===

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take()
            && let Some(pool) = self.pool.upgrade()
        {
            pool.put(sender);
        }
    }
}

// === impl PoolError ===

impl PoolError {
    /// The connect timeout ran out, hyper's own timer did, or the socket reported one (an
    /// `io::ErrorKind::TimedOut` among the error's causes).
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            PoolError::Connect(err) => err.kind() == io::ErrorKind::TimedOut,
            PoolError::Http(err) => {
                let mut cause = std::error::Error::source(err);
                while let Some(err) = cause {
                    if err
                        .downcast_ref::<io::Error>()
                        .is_some_and(|it| it.kind() == io::ErrorKind::TimedOut)
                    {
                        return true;
                    }
                    cause = err.source();
                }
                err.is_timeout()
            }
        }
    }

    /// No connection could be opened.
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, PoolError::Connect(_))
    }
}

#[cfg(test)]
mod tests;
