//! `cargo xtask serve`: runs `router-server` through `cargo run`, so it is always built from the
//! current sources. With `--config FILE` it serves that file and with `--demo` the demo (mock
//! providers on loopback behind the demo catalog); with neither, the server decides (see
//! `router_server::launch`: `turnout.toml`, else provider keys in the environment, else the demo).
//! The server prints a banner with the mode, the URL, the client key and a curl line once it
//! listens; the first build before it takes a few minutes, which this says up front.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::cmd;

/// Options of `cargo xtask serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A Turnout config file (TOML; see docs/config.md).
    #[arg(long, value_name = "FILE", conflicts_with = "demo")]
    config: Option<PathBuf>,
    /// Serve the demo even when `turnout.toml` or provider keys are present.
    #[arg(long)]
    demo: bool,
    /// The address to listen on, overriding the config (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Build with optimisations (as for a benchmark or a real deployment).
    #[arg(long)]
    release: bool,
}

/// Runs the server in the foreground until it exits or is interrupted.
pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let mut command = cmd::cargo();
    command.args(server_args(args)?);
    eprintln!(
        "==> building and starting router-server (the first build takes a few minutes; \
         the banner with the URL and the client key follows)"
    );
    cmd::run("router-server", &mut command)
}

/// The `cargo` arguments that run the server with these options.
fn server_args(args: &ServeArgs) -> anyhow::Result<Vec<String>> {
    let mut words: Vec<String> = [
        "run",
        "--package",
        "router-server",
        "--bin",
        "router-server",
    ]
    .map(str::to_owned)
    .into();
    if args.release {
        words.push("--release".to_owned());
    }
    words.push("--".to_owned());
    if let Some(config) = &args.config {
        // `cargo run` starts from the repository root; the path was typed relative to here.
        let config = std::env::current_dir()
            .context("current directory")?
            .join(config);
        words.push("--config".to_owned());
        words.push(config.display().to_string());
    }
    if args.demo {
        words.push("--demo".to_owned());
    }
    if let Some(listen) = &args.listen {
        words.push("--listen".to_owned());
        words.push(listen.clone());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_options_to_the_server_with_an_absolute_config_path() {
        let plain = server_args(&ServeArgs {
            config: None,
            demo: false,
            listen: None,
            release: false,
        })
        .unwrap();
        assert_eq!(
            plain,
            [
                "run",
                "--package",
                "router-server",
                "--bin",
                "router-server",
                "--"
            ]
        );
        let configured = server_args(&ServeArgs {
            config: Some("turnout.toml".into()),
            demo: false,
            listen: Some("0.0.0.0:9000".to_owned()),
            release: true,
        })
        .unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            configured[5..],
            [
                "--release".to_owned(),
                "--".to_owned(),
                "--config".to_owned(),
                cwd.join("turnout.toml").display().to_string(),
                "--listen".to_owned(),
                "0.0.0.0:9000".to_owned(),
            ]
        );
        let demo = server_args(&ServeArgs {
            config: None,
            demo: true,
            listen: None,
            release: false,
        })
        .unwrap();
        assert_eq!(demo.last().unwrap(), "--demo");
    }
}
