//! The `router-server` binary: reads the arguments, builds the runtime for `--workers`, sets up
//! logging, picks the config (see [`router_server::launch`]) and serves until SIGTERM or SIGINT
//! (Ctrl-C). `router-server calibrate` and `router-server eval-router` run the Auto Router's
//! offline tools instead (see `router_calibrate`): fitting a quality profile from the operator's
//! own labelled traffic, and judging it.
//!
//! On the first signal the server stops accepting and gives requests and streams in flight
//! `server.shutdown_grace_ms` to finish; streams still running then end with the error chunk
//! and `data: [DONE]`, the generation records are flushed, and the process exits 0. A second
//! signal exits at once, with status 1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use router_calibrate::cli::Tool;
use router_server::demo::{self, Demo};
use router_server::launch::{self, ConfigSource};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// The allocator: the request path makes about a hundred small, short-lived allocations per
/// request, often freed on another thread than the one that made them, which mimalloc serves
/// in a fraction of the system allocator's instructions. It is built without transparent huge
/// pages (`no_thp`): memory it returns to the OS and takes back (the records store turns over
/// continuously) would otherwise come back as 2 MiB pages the kernel zeroes on each fault, about
/// 3% of the server's CPU under steady load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long the demo's requests in flight may run after a signal.
const DEMO_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Turnout: an OpenRouter-compatible LLM router for your own providers and keys.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Args {
    /// An offline tool to run instead of serving.
    #[command(subcommand)]
    tool: Option<Tool>,
    /// Serve this config file (TOML; see docs/config.md).
    #[arg(long, value_name = "FILE", conflicts_with = "demo")]
    config: Option<PathBuf>,
    /// Serve the demo: mock providers on loopback behind the demo catalog.
    #[arg(long)]
    demo: bool,
    /// Listen on this address instead of the config's `server.listen`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Worker threads serving requests (default: one per core). With 1, tokio's current-thread
    /// scheduler runs everything on the main thread.
    #[arg(long, value_name = "N", env = "TOKIO_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if let Some(tool) = args.tool.take() {
        return tool.run();
    }
    runtime(args.workers)
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(args))
}

/// The runtime for `workers` threads. One worker gets the current-thread scheduler: there is
/// nothing to steal work from, its run queue is first-in first-out and unbounded, and it skips
/// the multi-thread scheduler's synchronisation. That scheduler's bounded local queue spills
/// into a global queue that a lone worker visits only every few dozen tasks, which let some of
/// 256 busy connections wait ten times the median.
fn runtime(workers: Option<u16>) -> tokio::runtime::Builder {
    let mut builder = match workers {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(workers) => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(usize::from(workers));
            builder
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all();
    builder
}

/// Serves until SIGTERM or SIGINT (SIGHUP reloads a config file).
async fn serve(args: Args) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    raise_file_limit();
    let env = |name: &str| std::env::var(name).ok();
    let default_file_exists = Path::new(launch::DEFAULT_CONFIG_FILE).is_file();
    let source =
        launch::choose_source(args.config.as_deref(), args.demo, default_file_exists, &env);
    let config = match &source {
        ConfigSource::Demo => {
            let demo = Demo::start(args.listen)
                .await
                .context("cannot start the demo")?;
            say(&launch::Banner::demo(&demo.server().url()).render());
            say(&demo::instructions(&demo.server().url()));
            shutdown_signal().await;
            return Ok(demo.shutdown(DEMO_SHUTDOWN_GRACE).await?);
        }
        ConfigSource::File(path) => router_server::config::load_file(path)
            .with_context(|| format!("cannot load {}", path.display()))?,
        ConfigSource::ProviderKeys => launch::provider_keys_config(&env)
            .context("cannot build a config from the provider keys in the environment")?,
    };
    let mut config = config;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let addr = config.server.listen;
    let grace = config.server.edge.shutdown_grace;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let n_models = config.catalog.len();
    let url = format!("http://{}", listener.local_addr()?);
    let banner = launch::Banner::new(&source, &config, &url);
    let mut server = router_server::spawn(config, listener)
        .await
        .context("cannot start the server")?;
    if let ConfigSource::File(path) = &source {
        // SIGHUP or a change of the file reloads it.
        server.watch_config(std::path::absolute(path).unwrap_or_else(|_| path.clone()));
    }
    tracing::info!(url = %server.url(), models = n_models, "Turnout is listening");
    say(&banner.render());
    shutdown_signal().await;
    tokio::spawn(async {
        shutdown_signal().await;
        tracing::warn!("second signal: exiting at once");
        std::process::exit(1);
    });
    server.shutdown(grace).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (or never, if neither can be watched).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
    tracing::info!("shutting down");
}

/// Raises the soft limit on open files to the hard one: each client connection takes a file
/// descriptor, and `server.max_connections` defaults to what the limit allows.
fn raise_file_limit() {
    #[cfg(unix)]
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::debug!(error = %err, "cannot raise the open-file limit");
    }
}

/// Prints `text` for the person at the terminal; a closed stdout is not an error worth dying for.
fn say(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use tokio::runtime::RuntimeFlavor;

    use super::*;

    fn flavor(workers: Option<u16>) -> RuntimeFlavor {
        runtime(workers).build().unwrap().handle().runtime_flavor()
    }

    #[test]
    fn one_worker_runs_the_current_thread_scheduler() {
        assert_eq!(flavor(Some(1)), RuntimeFlavor::CurrentThread);
        assert_eq!(flavor(Some(2)), RuntimeFlavor::MultiThread);
        assert_eq!(flavor(None), RuntimeFlavor::MultiThread);
    }

    #[test]
    fn the_offline_tools_are_subcommands_that_exclude_serving_flags() {
        let args = Args::try_parse_from([
            "router-server",
            "calibrate",
            "--data",
            "rows.jsonl",
            "--out",
            "profile.json",
        ])
        .unwrap();
        assert!(matches!(args.tool, Some(Tool::Calibrate(_))), "{args:?}");
        let args =
            Args::try_parse_from(["router-server", "eval-router", "--data", "r.jsonl"]).unwrap();
        assert!(matches!(args.tool, Some(Tool::EvalRouter(_))), "{args:?}");
        assert!(Args::try_parse_from(["router-server", "--demo", "calibrate"]).is_err());
        assert!(
            Args::try_parse_from(["router-server", "--demo"])
                .unwrap()
                .tool
                .is_none()
        );
    }

    #[test]
    fn workers_come_from_the_flag_or_tokio_s_variable_and_are_at_least_one() {
        let args = Args::try_parse_from(["router-server", "--workers", "1"]).unwrap();
        assert_eq!(args.workers, Some(1));
        assert!(Args::try_parse_from(["router-server", "--workers", "0"]).is_err());
    }
}
