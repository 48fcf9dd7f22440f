//! Serving the API: the accept loop (one task per connection, served by hyper in
//! `connection`), the connection cap, graceful shutdown, and [`RunningServer`], the handle
//! `main` and the integration tests hold.
//!
//! - `connection`: hyper's HTTP/1.1 and HTTP/2 connections (and TLS) with our settings.
//! - `socket`: the client socket's write timeout, first-byte timeout and lingering close.
//! - [`deadline`]: the stream deadline an HTTP/1.1 connection's socket enforces (a stream's
//!   total timeout, whatever its client does).
//! - `tls`: the rustls acceptor for `server.tls`.
//!
//! # Stopping
//!
//! [`RunningServer::shutdown`] stops accepting, lets every connection finish the requests it is
//! serving (idle ones close at once; HTTP/2 ones get a `GOAWAY`) for up to the grace period,
//! then cuts the streams still running off: each ends with the error chunk (503,
//! `server_shutting_down`) and `data: [DONE]`, never silently. Last, the generation records are
//! flushed to their store.

mod connection;
pub(crate) mod deadline;
mod socket;
mod tls;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::StatusCode;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinHandle;

use crate::app::{AppState, StartError};
use crate::config::Config;
use crate::dispatch::Dispatch;
use crate::reload::{Live, ReloadError, Reloaded};
use crate::sticky::{Clock, SystemClock};
use connection::Edge;

/// How long to back off after `accept` fails (out of file descriptors, ...).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long streams get to send their last chunk after they were cut off.
const CUTOFF_FLUSH: Duration = Duration::from_secs(2);

/// File descriptors kept for everything but client connections (listener, records store,
/// logs, provider connections of requests in flight are counted per connection below).
const RESERVED_FDS: u64 = 64;

/// A request whose head cannot be served as it stands, answered in the API's error shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProtocolError {
    /// The head breaks a rule of HTTP or of this API (two `Authorization` headers, no `Host`);
    /// says which.
    #[error("malformed HTTP request: {0}")]
    Malformed(&'static str),
    /// The router refused the request's path, query or body before any handler ran (a path
    /// segment that is not UTF-8 once decoded, ...); says why.
    #[error("{message}")]
    Rejected {
        /// The status the router chose.
        status: StatusCode,
        /// Its explanation.
        message: String,
    },
}

impl ProtocolError {
    /// The status it is answered with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ProtocolError::Malformed(_) => StatusCode::BAD_REQUEST,
            ProtocolError::Rejected { status, .. } => *status,
        }
    }
}

/// Whether the server is stopping, shared by every request (through the app state).
#[derive(Debug)]
pub(crate) struct Stopping {
    /// Set when the server stops accepting: answers to HTTP/1.1 requests then close their
    /// connection.
    draining: AtomicBool,
    /// Turns true when the grace period is over: streams still running end now.
    cutoff: watch::Sender<bool>,
}

impl Default for Stopping {
    fn default() -> Self {
        Self {
            draining: AtomicBool::new(false),
            cutoff: watch::channel(false).0,
        }
    }
}

impl Stopping {
    /// Whether the server has stopped accepting connections.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Resolves when streams must end (the grace period is over).
    pub(crate) fn cutoff(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut cutoff = self.cutoff.subscribe();
        async move {
            // An error means the state is gone, and with it every stream.
            let _ = cutoff.wait_for(|cut| *cut).await;
        }
    }

    fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    fn cut_off(&self) {
        self.cutoff.send_replace(true);
    }
}

/// A server running on the current tokio runtime. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    /// The state new requests use (swapped by a reload).
    live: Live,
    /// The config watcher, if any.
    watcher: Option<JoinHandle<()>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// Starts serving `config` on `listener` (bind it to port 0 for tests) and returns at once.
///
/// Fails when a provider's settings are unusable, `server.tls` names unusable files, or the
/// listener has no local address.
pub async fn spawn(config: Config, listener: TcpListener) -> Result<RunningServer, StartError> {
    spawn_with_clock(config, listener, Arc::new(SystemClock)).await
}

/// [`spawn`], with sticky sessions timed by `clock` (tests pass a [`crate::ManualClock`]
/// to let a pin's TTL pass at once).
pub async fn spawn_with_clock(
    config: Config,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, StartError> {
    let tls = config
        .server
        .edge
        .tls
        .as_ref()
        .map(tls::acceptor)
        .transpose()?;
    let max_connections = config
        .server
        .edge
        .max_connections
        .unwrap_or_else(default_max_connections);
    let state = AppState::with_clock(config, clock)?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let live = Live::new(state);
    let edge = Edge::new(Dispatch::new(live.clone()), tls);
    let task = tokio::spawn(accept_loop(listener, edge, max_connections, stopped));
    Ok(RunningServer {
        addr,
        live,
        watcher: None,
        stop: Some(stop),
        task: Some(task),
    })
}

/// The default `server.max_connections`: half of the file descriptors the process may open
/// less a reserve (each client connection may hold a provider connection too); at least 16.
fn default_max_connections() -> usize {
    let soft = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _hard)) => soft,
        Err(_) => 1024,
    };
    let usable = soft.saturating_sub(RESERVED_FDS) / 2;
    usize::try_from(usable).unwrap_or(usize::MAX).max(16)
}

/// Accepts connections until `stopped` resolves (a stop request or the handle being dropped),
/// then asks every connection to finish its request in flight and close, and waits for them.
///
/// Past `max_connections` open connections a new one is accepted and closed at once, so that
/// the client learns right away rather than waiting in the listen queue.
async fn accept_loop(
    listener: TcpListener,
    edge: Arc<Edge>,
    max_connections: usize,
    stopped: oneshot::Receiver<()>,
) -> io::Result<()> {
    // Connections watch `shutdown`; each holds a clone of `open`, so `closed()` resolves once
    // every connection task has ended.
    let (shutdown, _) = watch::channel(false);
    let (open, all_closed) = watch::channel(());
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut stopped = pin!(stopped);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut stopped => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    tracing::debug!(max_connections, "connection refused: at the connection cap");
                    drop(stream);
                    continue;
                };
                let connection = connection::serve(stream, Arc::clone(&edge), shutdown.subscribe());
                let open = all_closed.clone();
                tokio::spawn(async move {
                    connection.await;
                    drop(slot);
                    drop(open);
                });
            }
            Err(err) => {
                // Per-connection errors (reset before accept) and resource exhaustion alike:
                // the listener itself stays usable, so wait a moment and go on.
                tracing::debug!(error = %err, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    let _ = shutdown.send(true);
    drop(all_closed);
    open.closed().await;
    Ok(())
}

// === impl RunningServer ===

impl RunningServer {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`; the OpenAI-style base URL is this plus `/api/v1`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Loads the config file at `path` and, if it is valid, serves it to new requests (see
    /// the `reload` module); otherwise logs every problem and keeps the current config.
    pub fn reload_from(&self, path: &Path) -> Result<Reloaded, ReloadError> {
        self.live.reload(path)
    }

    /// Reloads `path` on SIGHUP and whenever the file changes, until the server stops.
    pub fn watch_config(&mut self, path: PathBuf) {
        if let Some(old) = self.watcher.replace(self.live.watch(path)) {
            old.abort();
        }
    }

    /// Stops accepting connections and waits up to `grace` for requests in flight (streams
    /// included) to finish. Streams still running then end with the error chunk and
    /// `data: [DONE]`; whatever still runs after that is dropped. Last, the generation records
    /// are flushed to their store.
    pub async fn shutdown(mut self, grace: Duration) -> io::Result<()> {
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
        // Every config's state shares one `Stopping` and one record store.
        let current = self.live.load();
        let stopping = current.state.stopping();
        stopping.drain();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let mut result = Ok(());
        if let Some(mut task) = self.task.take() {
            let finished = match tokio::time::timeout(grace, &mut task).await {
                Ok(finished) => Some(finished),
                Err(_elapsed) => {
                    stopping.cut_off();
                    tokio::time::timeout(CUTOFF_FLUSH, &mut task).await.ok()
                }
            };
            result = match finished {
                Some(Ok(result)) => result,
                Some(Err(join_error)) => Err(io::Error::other(join_error)),
                None => {
                    task.abort();
                    Ok(())
                }
            };
        }
        let records = current.state.records().clone();
        match tokio::task::spawn_blocking(move || records.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "could not flush generation records"),
            Err(err) => tracing::error!(error = %err, "could not flush generation records"),
        }
        result
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
