//! Serving the API: the accept loop (one task per connection, served by [`http1`]), graceful
//! shutdown, and [`RunningServer`], the handle `main` and the integration tests hold.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::app::{AppState, StartError};
use crate::config::Config;
use crate::dispatch::Dispatch;
use crate::http1;
use crate::reload::{Live, ReloadError, Reloaded};

/// How long to back off after `accept` fails (out of file descriptors, ...).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A server running on the current tokio runtime. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    live: Live,
    /// The config watcher, if any.
    watcher: Option<JoinHandle<()>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// Starts serving `config` on `listener` (bind it to port 0 for tests) and returns at once.
///
/// Fails when a provider's settings are unusable or the listener has no local address.
pub async fn spawn(config: Config, listener: TcpListener) -> Result<RunningServer, StartError> {
    let state = AppState::new(config)?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let live = Live::new(state);
    let task = tokio::spawn(accept_loop(listener, Dispatch::new(live.clone()), stopped));
    Ok(RunningServer {
        addr,
        live,
        watcher: None,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Accepts connections until `stopped` resolves (a stop request or the handle being dropped),
/// then asks every connection to finish its request in flight and close, and waits for them.
async fn accept_loop(
    listener: TcpListener,
    dispatch: Dispatch,
    stopped: oneshot::Receiver<()>,
) -> io::Result<()> {
    // Connections watch `shutdown`; each holds a clone of `open`, so `closed()` resolves once
    // every connection task has ended.
    let (shutdown, _) = watch::channel(false);
    let (open, all_closed) = watch::channel(());
    let mut stopped = pin!(stopped);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut stopped => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                let connection =
                    http1::serve_connection(stream, dispatch.clone(), shutdown.subscribe());
                let open = all_closed.clone();
                tokio::spawn(async move {
                    connection.await;
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
    /// included) to finish; those still running then are cut off.
    pub async fn shutdown(mut self, grace: Duration) -> io::Result<()> {
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(grace, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(io::Error::other(join_error)),
            Err(_elapsed) => {
                task.abort();
                Ok(())
            }
        }
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
