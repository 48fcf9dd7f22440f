//! The connection pool of a plain-http provider: HTTP/1.1 connections made with hyper's
//! `client::conn::http1`, kept idle for reuse once an answer's body was read to its end.
//!
//! Two kinds of connection, each with its own idle list ([`Drive`]):
//!
//! - For answers read whole (JSON), each connection is driven by a task of its own, which
//!   reads the answer while the exchange waits for it.
//! - For streams, a connection is driven by the reader itself: the exchange polls it while it
//!   waits for the answer's head ([`Pool::send`]) and, through its [`Lease`], while it reads
//!   the body ([`Lease::drive`]). With a task of its own, hyper hands every chunk of a body
//!   from that task to the reader's across its body channel, a wake-up of each task per event;
//!   driven inline, both run in one task, which costs a stream about 30% less CPU. (A JSON
//!   answer, one or two chunks, costs about 5% more that way: the exchange's whole task is
//!   woken where the connection's small one was.) An idle streaming connection is polled once
//!   when it is taken, so that one the provider closed while it was idle is seen closed then.
//!
//! It does what `hyper_util`'s pooled client did for one origin, without what one origin does
//! not need: no pool key hashed per request, no connection-info extension on every response, no
//! checkout future. Measured with `cargo xtask bench --nginx` (see docs/performance.md).
//!
//! - The idle list is last in, first out (the warmest connection first), at most [`MAX_IDLE`]
//!   long; a connection idle longer than [`IDLE_TIMEOUT`] is closed when the list is next
//!   touched, and one the provider closed is dropped when its turn comes (its task ended, or,
//!   driven inline, the poll when it is taken found it closed).
//! - A request is sent again only when hyper gives it back unsent (a pooled connection that
//!   closed before any of it was written), and then only on another connection; one that was
//!   written is never sent twice.
//! - A connection goes back to the list when its exchange's lease drops, after the answer's
//!   body: hyper keeps a connection whose answer it read to the end (a stream's last chunk may
//!   come in the same read as its `[DONE]`, before the reader asks for the end), and closes one
//!   whose body was dropped before its end, so the provider sees the request cancelled: its task
//!   does that, or, driven inline, the lease's last poll when it drops.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
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

/// One connection's protocol state and socket: polled to make its exchange progress.
type Connection = Pin<Box<http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

/// A pool of connections to one `host:port`; clones share it.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where connections go, as `host:port`.
    authority: String,
    connect_timeout: Duration,
    /// Idle connections driven by their own task, oldest first.
    idle: Mutex<Vec<Idle>>,
    /// Idle connections driven by their reader, oldest first.
    idle_inline: Mutex<Vec<Idle>>,
}

/// Who drives a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drive {
    /// A task of its own (for answers read whole).
    Task,
    /// Whoever holds it (for streams).
    Inline,
}

struct Idle {
    sender: Sender,
    /// The connection, when it is driven inline.
    connection: Option<Connection>,
    since: Instant,
}

/// A connection lent to one exchange, given back to the pool when it drops (after the
/// answer's body). Its holder drives an inline connection ([`Lease::drive`]) while it reads
/// the body.
pub(crate) struct Lease {
    pool: Arc<Inner>,
    drive: Drive,
    sender: Option<Sender>,
    /// An inline connection; `None` once it ended (and always for one with a task).
    connection: Option<Connection>,
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
                idle_inline: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sends `request` on an idle connection or a new one driven as `drive` says, and resolves
    /// with the response head and the lease of its connection.
    pub(crate) async fn send(
        &self,
        mut request: http::Request<Full<Bytes>>,
        drive: Drive,
    ) -> Result<(http::Response<Incoming>, Lease), PoolError> {
        loop {
            let (mut sender, connection, pooled) = match self.inner.checkout(drive) {
                Some((sender, connection)) => (sender, connection, true),
                None => {
                    let (sender, connection) = self.inner.connect(drive).await?;
                    (sender, connection, false)
                }
            };
            let mut lease = Lease {
                pool: Arc::clone(&self.inner),
                drive,
                sender: None,
                connection,
            };
            // A connection just given back may need to finish its last exchange first. It is
            // driven only then: polled now, it would wake this task again when the request is
            // queued below, for nothing.
            let ready = poll_fn(|cx| {
                if let Poll::Ready(ready) = sender.poll_ready(cx) {
                    return Poll::Ready(ready);
                }
                lease.drive(cx);
                sender.poll_ready(cx)
            })
            .await;
            if let Err(err) = ready {
                if pooled {
                    continue;
                }
                return Err(PoolError::Request(err));
            }
            let mut sent = pin!(sender.try_send_request(request));
            let sent = poll_fn(|cx| {
                // Queue the request, write it, and look again for the head.
                if let Poll::Ready(sent) = sent.as_mut().poll(cx) {
                    return Poll::Ready(sent);
                }
                lease.drive(cx);
                sent.as_mut().poll(cx)
            })
            .await;
            match sent {
                Ok(response) => {
                    lease.sender = Some(sender);
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

    /// How many connections driven as `drive` says are idle.
    #[cfg(test)]
    pub(crate) fn idle(&self, drive: Drive) -> usize {
        self.inner.lock(drive).len()
    }
}

// === impl Inner ===

impl Inner {
    /// The idle list of connections driven as `drive` says.
    fn lock(&self, drive: Drive) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        match drive {
            Drive::Task => &self.idle,
            Drive::Inline => &self.idle_inline,
        }
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
    }

    /// The warmest idle connection driven as `drive` says that is still open, if any. One
    /// driven inline is polled once first, without a waker to wake, so that one the provider
    /// closed while it was idle ends now (a connection with a task of its own has seen that).
    fn checkout(&self, drive: Drive) -> Option<(Sender, Option<Connection>)> {
        let mut idle = self.lock(drive);
        expire(&mut idle, Instant::now());
        while let Some(mut it) = idle.pop() {
            let open = match &mut it.connection {
                Some(connection) => connection
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                    .is_pending(),
                None => true,
            };
            if open && !it.sender.is_closed() {
                return Some((it.sender, it.connection));
            }
        }
        None
    }

    /// Opens a connection (`TCP_NODELAY`, TCP keep-alive), with a task to drive it unless it is
    /// to be driven inline.
    async fn connect(&self, drive: Drive) -> Result<(Sender, Option<Connection>), PoolError> {
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
        match drive {
            Drive::Inline => Ok((sender, Some(Box::pin(connection)))),
            Drive::Task => {
                tokio::spawn(async move {
                    if let Err(err) = connection.await {
                        tracing::debug!(error = %err, "provider connection ended");
                    }
                });
                Ok((sender, None))
            }
        }
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

impl Lease {
    /// Polls an inline connection: reads what the provider sent into the body and writes what
    /// is queued. Call it whenever the body has nothing ready (a no-op for a connection with a
    /// task of its own).
    pub(crate) fn drive(&mut self, cx: &mut Context<'_>) {
        if let Some(connection) = &mut self.connection
            && let Poll::Ready(ended) = connection.as_mut().poll(cx)
        {
            if let Err(err) = ended {
                tracing::debug!(error = %err, "provider connection ended");
            }
            self.connection = None;
        }
    }
}

impl Drop for Lease {
    /// Gives the connection back: whether it can serve again is checked when it is next taken.
    /// Dropped with a body not read to its end, the connection closes, so the provider sees the
    /// request cancelled.
    fn drop(&mut self) {
        let connection = match (self.drive, self.connection.take()) {
            (Drive::Task, _) => None,
            (Drive::Inline, None) => return,
            // One last poll settles the exchange: the connection closes here if its body was
            // dropped before its end, and is idle otherwise.
            (Drive::Inline, Some(mut connection)) => {
                let mut cx = Context::from_waker(Waker::noop());
                if connection.as_mut().poll(&mut cx).is_ready() {
                    return;
                }
                Some(connection)
            }
        };
        let Some(sender) = self.sender.take() else {
            return;
        };
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.pool.lock(self.drive);
        expire(&mut idle, now);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                sender,
                connection,
                since: now,
            });
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
