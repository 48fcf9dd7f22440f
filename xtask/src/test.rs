//! `cargo xtask test`: exactly what CI runs, in CI's order, stopping at the first failing step.
//!
//! The order puts the fastest signal first: formatting, then lints, then the tests (which include
//! the tidy checks and the end-to-end tests with the official `openai` Python SDK), then the docs
//! and the bench and fuzz builds, which only have to compile.

use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;

use crate::cmd;

/// Options of `cargo xtask test`.
#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Skip the build of the fuzz targets (the slowest compile-only step).
    #[arg(long)]
    no_fuzz_build: bool,
}

/// Runs every step; the first failure stops the run with the step's name.
pub(crate) fn run(args: &TestArgs) -> anyhow::Result<()> {
    ensure_python_venv()?;
    let steps = steps(args);
    let n_steps = steps.len();
    for (idx, (name, mut command)) in steps.into_iter().enumerate() {
        eprintln!("\n==> [{}/{n_steps}] {name}", idx + 1);
        cmd::run(name, &mut command)?;
    }
    eprintln!("\nall {n_steps} steps passed");
    Ok(())
}

/// The steps, in order, as (name, command).
fn steps(args: &TestArgs) -> Vec<(&'static str, Command)> {
    let cargo = |words: &[&str]| {
        let mut command = cmd::cargo();
        command.args(words);
        command
    };
    let mut doc = cargo(&["doc", "--workspace", "--no-deps", "--locked"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    let mut steps = vec![
        ("format", cargo(&["fmt", "--all", "--", "--check"])),
        (
            "clippy",
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        ("tests", cargo(&["test", "--workspace", "--locked"])),
        ("docs", doc),
        (
            "bench build",
            cargo(&["bench", "-p", "benches", "--no-run", "--locked"]),
        ),
    ];
    let fuzz_manifest = cmd::repo_root().join("fuzz/Cargo.toml");
    if !args.no_fuzz_build && fuzz_manifest.is_file() {
        // The fuzz crate is outside the workspace (it needs libFuzzer, and running it needs
        // nightly flags). Type-checking its targets on stable keeps them from rotting without
        // making CI depend on nightly; `cargo xtask fuzz` runs them.
        let mut check = cargo(&["check", "--manifest-path", "fuzz/Cargo.toml", "--bins"]);
        if cmd::repo_root().join("fuzz/Cargo.lock").is_file() {
            check.arg("--locked");
        }
        steps.push(("fuzz targets build", check));
    }
    steps
}

/// The server's end-to-end tests install the official `openai` package into a virtualenv, so
/// `python3 -m venv` must work. Debian splits `ensurepip` into `python3-venv`: install it when
/// we are root and it is missing.
fn ensure_python_venv() -> anyhow::Result<()> {
    if !cmd::on_path("python3") {
        bail!(
            "python3 is required: the server's end-to-end tests drive it with the official \
             `openai` SDK (install python3 with venv and pip)"
        );
    }
    let venv_works =
        || cmd::succeeds(Command::new("python3").args(["-c", "import venv, ensurepip"]));
    if venv_works() {
        return Ok(());
    }
    cmd::apt_install("python3-venv", "`python3 -m venv` is unavailable")
        .context("the server's end-to-end tests need `python3 -m venv`")?;
    if !venv_works() {
        bail!("`python3 -m venv` still does not work after installing python3-venv");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_what_ci_runs_in_order() {
        let steps = steps(&TestArgs {
            no_fuzz_build: true,
        });
        let lines: Vec<String> = steps
            .iter()
            .map(|(name, command)| format!("{name}: {}", cmd::display(command)))
            .collect();
        assert_eq!(
            lines,
            [
                "format: cargo fmt --all -- --check",
                "clippy: cargo clippy --workspace --all-targets --locked -- -D warnings",
                "tests: cargo test --workspace --locked",
                "docs: RUSTDOCFLAGS='-D warnings' cargo doc --workspace --no-deps --locked",
                "bench build: cargo bench -p benches --no-run --locked",
            ]
        );
    }
}
