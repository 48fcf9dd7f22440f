//! The `router-mock` binary: serves a mock provider until Ctrl-C.
//!
//! `router-mock --addr 127.0.0.1:0 [--script FILE.json] [--api-key KEY]` prints
//! `listening on http://ADDR/v1` on stdout once it accepts connections. The script file is a
//! [`router_mock::Script`]: `{"default": Behavior, "models": {"name": Behavior}}`, durations in
//! milliseconds (`first_token_latency_ms`). Calls are not recorded: nobody could read them, and
//! memory must not grow under a long benchmark.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use router_mock::{MockConfig, MockProvider, Script};
use tracing_subscriber::EnvFilter;

/// Mock OpenAI-compatible LLM provider with scripted latency and faults.
#[derive(Debug, Parser)]
#[command(name = "router-mock", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// JSON script: `{"default": {...}, "models": {"name": {...}}}`.
    #[arg(long)]
    script: Option<PathBuf>,
    /// Require `Authorization: Bearer <KEY>`.
    #[arg(long, env = "ROUTER_MOCK_API_KEY")]
    api_key: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("ROUTER_MOCK_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let script = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read script {}", path.display()))?;
            serde_json::from_str::<Script>(&text)
                .with_context(|| format!("invalid script {}", path.display()))?
        }
        None => Script::default(),
    };
    let config = MockConfig {
        addr: args.addr,
        api_key: args.api_key,
        record_calls: false,
        ..MockConfig::from_script(script)
    };
    let mock = MockProvider::start(config)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    announce(&mock);
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    mock.shutdown().await;
    Ok(())
}

#[expect(
    clippy::print_stdout,
    reason = "the listening line on stdout is the binary's interface: scripts read the port from it"
)]
fn announce(mock: &MockProvider) {
    println!("listening on {}", mock.base_url());
}
