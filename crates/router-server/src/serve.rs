//! Serving the API: the listener (`TCP_NODELAY` on every accepted socket), graceful shutdown,
//! and [`RunningServer`], the handle `main` and the integration tests hold.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::{self, AppState, StartError};
use crate::config::Config;

/// A server running on the current tokio runtime. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// Starts serving `config` on `listener` (bind it to port 0 for tests) and returns at once.
///
/// Fails when a provider's settings are unusable or the listener has no local address.
pub async fn spawn(config: Config, listener: TcpListener) -> Result<RunningServer, StartError> {
    let state = AppState::new(config)?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|socket| {
        if let Err(err) = socket.set_nodelay(true) {
            tracing::trace!(error = %err, "cannot set TCP_NODELAY on an accepted socket");
        }
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let server = axum::serve(listener, app::router(state)).with_graceful_shutdown(async {
        // Either a stop request or the handle being dropped.
        let _ = stopped.await;
    });
    let task = tokio::spawn(async move { server.await });
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
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

    /// Stops accepting connections and waits up to `grace` for requests in flight (streams
    /// included) to finish; those still running then are cut off.
    pub async fn shutdown(mut self, grace: Duration) -> io::Result<()> {
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
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
