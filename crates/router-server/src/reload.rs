//! Config hot reload: on SIGHUP and when the config file changes, the file is loaded and
//! validated completely, and a new [`AppState`] is swapped in atomically for new requests.
//!
//! [`Live`] holds the current state behind an [`ArcSwap`]; each request loads it once, so a
//! request in flight (a stream included) finishes on the state it started with, which lives
//! until its last request ends. A file with problems is refused: every problem is logged with
//! its key path, and the last good config keeps serving. What a reload keeps (the metrics, the
//! generation records, the saved settings and sessions) is carried over ([`crate::app::Lasting`]).
//!
//! Some settings take effect only at a restart: `server.listen`, `server.records_path`,
//! `server.settings_path` and `telemetry.otlp_endpoint`. A reload that changes them applies the rest and logs each of them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use tokio::sync::mpsc;

use crate::app::{self, AppState};
use crate::config::{self, Config, ConfigError, ConfigProblem};

/// How long to wait after a file event for the rest of a save (editors write in several steps).
const SETTLE: Duration = Duration::from_millis(100);

/// The state new requests use; cheap to clone, every clone sees the same swaps.
#[derive(Clone)]
pub(crate) struct Live {
    current: Arc<ArcSwap<Current>>,
}

/// One config's state and its router.
pub(crate) struct Current {
    /// The state.
    pub(crate) state: AppState,
    /// The axum router over it.
    pub(crate) router: Router,
}

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file could not be read or is not a valid config; the old config keeps serving.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The config is valid but the state could not be built (a provider's settings, the
    /// quality profile); the old config keeps serving.
    #[error(transparent)]
    Start(#[from] crate::StartError),
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// The models of the new catalog.
    pub models: usize,
    /// Settings that changed but take effect only at a restart (key paths).
    pub need_restart: Vec<&'static str>,
}

// === impl Live ===

impl Live {
    /// Serves `state`.
    pub(crate) fn new(state: AppState) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(Current::new(state))),
        }
    }

    /// The current state (one atomic load and reference count).
    pub(crate) fn load(&self) -> Arc<Current> {
        self.current.load_full()
    }

    /// Loads `path`, and if it is valid, serves it to new requests.
    pub(crate) fn reload(&self, path: &Path) -> Result<Reloaded, ReloadError> {
        let old = self.load();
        let result = config::load_file(path)
            .map_err(ReloadError::from)
            .and_then(|config| self.swap(&old.state, config));
        let telemetry = old.state.metrics().telemetry();
        match &result {
            Ok(reloaded) => {
                telemetry.reloaded(true);
                for key in &reloaded.need_restart {
                    tracing::warn!(
                        key = *key,
                        "config reloaded, but this setting takes effect only at a restart"
                    );
                }
                tracing::info!(
                    path = %path.display(),
                    models = reloaded.models,
                    "config reloaded"
                );
            }
            Err(err) => {
                telemetry.reloaded(false);
                log_refusal(path, err);
            }
        }
        result
    }

    /// Builds the state of `config` keeping what `old` holds, and swaps it in.
    fn swap(&self, old: &AppState, config: Config) -> Result<Reloaded, ReloadError> {
        let need_restart = needs_restart(old.config(), &config);
        let models = config.catalog.len();
        let mut config = config;
        // The listener stays where it is: the running address is the truth.
        config.server.listen = old.config().server.listen;
        let mut lasting = old.lasting();
        if !same_routes(old.config(), &config) {
            // Pins in memory name routes by catalog index: they cannot outlive the catalog.
            lasting.sticky = None;
        }
        let clock = lasting.clock.clone();
        let state = AppState::build(config, Some(lasting), clock)?;
        self.current.store(Arc::new(Current::new(state)));
        Ok(Reloaded {
            models,
            need_restart,
        })
    }

    /// Reloads `path` on SIGHUP and whenever the file changes, until the returned task is
    /// aborted. Failing to watch the file is logged; SIGHUP still works.
    pub(crate) fn watch(&self, path: PathBuf) -> tokio::task::JoinHandle<()> {
        let live = self.clone();
        let (events, mut changed) = mpsc::channel::<()>(1);
        let watcher = file_watcher(&path, events);
        tokio::spawn(async move {
            // Kept alive as long as the task runs.
            let _watcher = watcher;
            let mut hangup = hangup_signal();
            loop {
                tokio::select! {
                    Some(()) = changed.recv() => {
                        tokio::time::sleep(SETTLE).await;
                        // Events of the same save, coalesced.
                        while changed.try_recv().is_ok() {}
                    }
                    Some(()) = recv_hangup(&mut hangup) => {
                        tracing::info!("SIGHUP: reloading the config");
                    }
                    else => break,
                }
                let live = live.clone();
                let path = path.clone();
                // Reading and validating the file and opening nothing new: short, but blocking.
                let _ = tokio::task::spawn_blocking(move || live.reload(&path)).await;
            }
        })
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").finish_non_exhaustive()
    }
}

impl Current {
    fn new(state: AppState) -> Self {
        Self {
            router: app::router(state.clone()),
            state,
        }
    }
}

/// The settings that changed between `old` and `new` and take effect only at a restart.
fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut keys = Vec::new();
    if old.server.listen != new.server.listen {
        keys.push("server.listen");
    }
    if old.server.records_path != new.server.records_path {
        keys.push("server.records_path");
    }
    if old.server.settings_path != new.server.settings_path {
        keys.push("server.settings_path");
    }
    if old.telemetry.otlp_endpoint != new.telemetry.otlp_endpoint {
        keys.push("telemetry.otlp_endpoint");
    }
    keys
}

/// Logs why a reload was refused: every problem with its key path.
fn log_refusal(path: &Path, err: &ReloadError) {
    match err {
        ReloadError::Config(ConfigError::Invalid(problems)) => {
            for ConfigProblem { path: key, message } in problems {
                tracing::error!(
                    file = %path.display(),
                    key = %key,
                    problem = %message,
                    "config reload refused; the last good config keeps serving"
                );
            }
        }
        other => tracing::error!(
            file = %path.display(),
            error = %other,
            "config reload refused; the last good config keeps serving"
        ),
    }
}

/// A watcher of `path`'s directory that sends on `events` when `path` changes (editors often
/// replace the file, so the directory is watched, not the file).
fn file_watcher(path: &Path, events: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let name = path.file_name()?.to_owned();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        if event.paths.iter().any(|it| it.file_name() == Some(&name)) {
            // Full: a reload is already due.
            let _ = events.try_send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(err) => {
            tracing::warn!(error = %err, "cannot watch the config file; SIGHUP still reloads it");
            return None;
        }
    };
    if let Err(err) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
        tracing::warn!(error = %err, dir = %dir.display(), "cannot watch the config file's directory; SIGHUP still reloads it");
        return None;
    }
    Some(watcher)
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {
    None
}

#[cfg(unix)]
async fn recv_hangup(hangup: &mut Hangup) -> Option<()> {
    match hangup {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn recv_hangup(_: &mut Hangup) -> Option<()> {
    std::future::pending().await
}

/// Whether `old` and `new` have the same routes (models and their endpoints, in order) and the
/// same `[sessions]`, so that the sticky pins of `old` mean the same under `new`.
fn same_routes(old: &Config, new: &Config) -> bool {
    routes(old) == routes(new) && format!("{:?}", old.sessions) == format!("{:?}", new.sessions)
}

/// A route by name: model id, provider, upstream model.
type Route<'a> = (&'a str, &'a str, &'a str);

/// Each endpoint's route, in catalog order.
fn routes(config: &Config) -> Vec<Box<[Route<'_>]>> {
    config.catalog.per_endpoint(|model, endpoint| {
        (
            &*model.id,
            endpoint.provider.as_str(),
            endpoint.upstream_model.as_str(),
        )
    })
}
