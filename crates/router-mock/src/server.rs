//! Starting and stopping a mock provider: the listener, our own accept loop (TCP_NODELAY,
//! HTTP/1.1 keep-alive, one task per connection), the axum routes, and the state they share.
//!
//! The accept loop owns every connection task, so [`MockProvider::shutdown`] can close idle
//! keep-alive connections gracefully and dropping a [`MockProvider`] ends all of them at once
//! (a dropped mock must not keep answering on pooled connections).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::prompt_cache::PromptCache;
use crate::recorder::{RecordedCall, Recorder};
use crate::script::{Behavior, Script};
use crate::{anthropic, gemini, openai};

/// How long [`MockProvider::shutdown`] lets requests in flight finish before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// How to start a [`MockProvider`].
#[derive(Clone)]
pub struct MockConfig {
    /// Where to listen; default `127.0.0.1:0` (any free port).
    pub addr: SocketAddr,
    /// When set, requests must carry `Authorization: Bearer <key>`, else they get a 401 in
    /// OpenAI's error shape.
    pub api_key: Option<String>,
    /// The behaviour of models not named in `models`.
    pub default: Behavior,
    /// Behaviour per model name (the `model` of the request body).
    pub models: HashMap<String, Behavior>,
    /// Whether to keep every call for [`MockProvider::calls`] (default `true`). Turn it off for
    /// long benchmark runs, where nobody reads the calls and memory would grow with each one.
    pub record_calls: bool,
}

/// A running mock provider. Stops when dropped, or gracefully with [`MockProvider::shutdown`].
pub struct MockProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    accept_loop: Option<JoinHandle<()>>,
}

/// State shared by the handlers of one mock.
pub(crate) struct Shared {
    /// The whole expected `Authorization` value, `Bearer <key>`.
    pub(crate) expected_authorization: Option<String>,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) prompt_cache: PromptCache,
    /// Numbers the responses' ids (`chatcmpl-mock-N`).
    pub(crate) next_id: AtomicU64,
    default: RwLock<Arc<Behavior>>,
    models: RwLock<HashMap<String, Arc<Behavior>>>,
}

// === impl MockConfig ===

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: None,
            default: Behavior::default(),
            models: HashMap::new(),
            record_calls: true,
        }
    }
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockConfig")
            .field("addr", &self.addr)
            // Keys never print, not even a mock's.
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("default", &self.default)
            .field("models", &self.models)
            .field("record_calls", &self.record_calls)
            .finish()
    }
}

impl MockConfig {
    /// The default config with the behaviours of `script`.
    pub fn from_script(script: Script) -> Self {
        Self {
            default: script.default,
            models: script.models,
            ..Self::default()
        }
    }
}

// === impl MockProvider ===

impl MockProvider {
    /// Binds `config.addr` and serves on the current tokio runtime; returns once listening.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    pub async fn start(config: MockConfig) -> io::Result<MockProvider> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            expected_authorization: config.api_key.map(|key| format!("Bearer {key}")),
            recorder: Arc::new(Recorder::new(config.record_calls)),
            prompt_cache: PromptCache::default(),
            next_id: AtomicU64::new(1),
            default: RwLock::new(Arc::new(config.default)),
            models: RwLock::new(
                config
                    .models
                    .into_iter()
                    .map(|(model, behavior)| (model, Arc::new(behavior)))
                    .collect(),
            ),
        });
        let (stop, stopped) = watch::channel(false);
        let routes = routes(Arc::clone(&shared));
        let accept_loop = tokio::spawn(accept_loop(listener, routes, stopped));
        Ok(MockProvider {
            addr,
            shared,
            stop,
            accept_loop: Some(accept_loop),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI-style base URL, `http://127.0.0.1:PORT/v1`. Anthropic's Messages API is under
    /// it too (`/v1/messages`), and so is Gemini's (`/v1/models/{model}:generateContent`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The Gemini base URL, `http://127.0.0.1:PORT/v1beta`.
    pub fn gemini_base_url(&self) -> String {
        format!("http://{}/v1beta", self.addr)
    }

    /// Replaces the behaviour of `model` for requests that arrive from now on.
    pub fn set_behavior(&self, model: &str, behavior: Behavior) {
        let mut models = self
            .shared
            .models
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        models.insert(model.to_owned(), Arc::new(behavior));
    }

    /// Replaces the behaviour of models without their own, for requests from now on.
    pub fn set_default(&self, behavior: Behavior) {
        *self
            .shared
            .default
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(behavior);
    }

    /// The chat requests received so far, in arrival order (empty when `record_calls` is off).
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.recorder.calls()
    }

    /// Forgets the recorded calls; the next call has index 0.
    pub fn reset_calls(&self) {
        self.shared.recorder.reset();
    }

    /// Waits until the client of call `call_index` (as in [`MockProvider::calls`]) went away
    /// before its response was complete: `true` once it has, `false` if the call ended otherwise
    /// or `timeout` passed first.
    pub async fn wait_for_disconnect(&self, call_index: usize, timeout: Duration) -> bool {
        self.shared
            .recorder
            .wait_for_disconnect(call_index, timeout)
            .await
    }

    /// Stops accepting, closes idle connections, lets requests in flight finish for up to a
    /// second, then cuts the rest.
    pub async fn shutdown(mut self) {
        // Sending fails only when the accept loop is already gone, which is what we want.
        let _ = self.stop.send(true);
        if let Some(accept_loop) = self.accept_loop.take() {
            // A join error means the loop panicked or was cancelled: it has stopped either way.
            let _ = accept_loop.await;
        }
    }
}

impl fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockProvider")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        if let Some(accept_loop) = self.accept_loop.take() {
            // Dropping the loop drops its `JoinSet`, which aborts every connection task.
            accept_loop.abort();
        }
    }
}

// === impl Shared ===

impl Shared {
    /// The behaviour for `model`.
    pub(crate) fn behavior(&self, model: &str) -> Arc<Behavior> {
        let models = self.models.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(behavior) = models.get(model) {
            return Arc::clone(behavior);
        }
        drop(models);
        Arc::clone(&self.default.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The configured model names, sorted.
    fn model_names(&self) -> Vec<String> {
        let models = self.models.read().unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<String> = models.keys().cloned().collect();
        names.sort_unstable();
        names
    }
}

fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1beta/models/{*rest}", post(gemini::models))
        // Gemini's `v1` API has the same methods; it lets one base URL serve every format.
        .route("/v1/models/{*rest}", post(gemini::models))
        .route("/v1/models", get(list_models))
        .route("/health", get(health))
        .fallback(not_found)
        .with_state(shared)
}

async fn list_models(State(shared): State<Arc<Shared>>) -> Response {
    openai::models_body(&shared.model_names())
}

async fn health() -> &'static str {
    "ok"
}

async fn not_found(method: Method, uri: Uri) -> Response {
    let message = format!("Invalid URL ({method} {})", uri.path());
    openai::OpenAiError::invalid_request(&message)
        .with_status(StatusCode::NOT_FOUND)
        .into_response()
}

async fn accept_loop(listener: TcpListener, routes: Router, stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    // The loop waits on its own receiver; each connection gets a clone of `stopped`.
    let mut stop_signal = stopped.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, routes.clone(), stopped.clone()));
                }
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "mock provider accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            // Reaps finished connections so the set does not grow with every one.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = stop_requested(&mut stop_signal) => break,
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    // Whatever is still running after the grace period is aborted when `connections` drops.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, drain).await;
}

async fn serve_connection(stream: TcpStream, routes: Router, mut stopped: watch::Receiver<bool>) {
    // Chunks of a stream must leave as soon as they are written, not wait for Nagle.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(error = %err, "cannot set TCP_NODELAY");
    }
    let connection = http1::Builder::new()
        // No idle timeout: a mock that closed idle keep-alive connections would race the
        // clients' pools and make tests flaky.
        .header_read_timeout(None)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(routes));
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        // Connection errors (a client that resets, a scripted cut) are normal for a mock.
        _ = connection.as_mut() => return,
        () = stop_requested(&mut stopped) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Resolves once a stop was requested (or the [`MockProvider`] is gone).
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: the mock was dropped, so stop as well.
    let _ = stopped.wait_for(|stop| *stop).await;
}
