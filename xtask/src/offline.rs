//! `cargo xtask calibrate` and `cargo xtask eval-router`: thin wrappers that run the offline
//! Auto Router tools of `crates/router-calibrate` in a release build (their numeric work is
//! slow unoptimised), from the current directory, with the arguments as given. Operators run
//! the same commands on the shipped binary: `router-server calibrate`, `router-server
//! eval-router`.

use std::ffi::OsString;
use std::process::Command;

use crate::cmd;

/// The arguments of a wrapped tool, passed on untouched (`--help` included).
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct ToolArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

/// Runs `router-calibrate <tool> <args>` in a release build.
pub(crate) fn run(tool: &str, args: &ToolArgs) -> anyhow::Result<()> {
    cmd::run(tool, &mut command(tool, args))
}

/// The `cargo run` command line for `tool`, run from the current directory so that relative
/// paths in the arguments mean what they meant to the caller.
fn command(tool: &str, args: &ToolArgs) -> Command {
    let mut command = cmd::cargo();
    if let Ok(here) = std::env::current_dir() {
        command.current_dir(here);
    }
    command
        .args(["run", "--quiet", "--release", "--locked", "--manifest-path"])
        .arg(cmd::repo_root().join("Cargo.toml"))
        .args([
            "--package",
            "router-calibrate",
            "--bin",
            "router-calibrate",
            "--",
            tool,
        ])
        .args(&args.args);
    command
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ToolArgs,
    }

    #[test]
    fn every_argument_is_passed_on_after_the_tool() {
        let cli = Cli::try_parse_from(["x", "--data", "a b.jsonl", "--help", "-k", "3"]).unwrap();
        let line = cmd::display(&command("eval-router", &cli.args));
        assert!(
            line.ends_with("--bin router-calibrate -- eval-router --data 'a b.jsonl' --help -k 3"),
            "{line}"
        );
        assert!(line.contains("--release"), "{line}");
    }
}
