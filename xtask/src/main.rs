//! Turnout's developer automation, run as `cargo xtask <command>` (the alias lives in
//! `.cargo/config.toml`).
//!
//! The xtask drives `cargo` and a few system tools as subprocesses; it links none of the server's
//! stack, so it builds in seconds. Every command runs from the repository root, whatever the
//! current directory.
//!
//! # Layout
//!
//! - [`cmd`]: running subprocesses with a printed command line, and killing them on drop.
//! - [`serve`]: `cargo xtask serve`, the demo or a config file.
//! - [`test`](mod@test): `cargo xtask test`, exactly what CI runs.
//! - [`fuzz`]: `cargo xtask fuzz`, each cargo-fuzz target for a bounded time.
//! - [`bench`](mod@bench): `cargo xtask bench`, the criterion benches and the loopback load test.
//! - [`offline`]: `cargo xtask calibrate` and `cargo xtask eval-router`, the Auto Router's
//!   offline tools (`crates/router-calibrate`) in a release build.
//! - [`distill`]: `cargo xtask distill`, the Auto Router's static token embeddings from a
//!   sentence encoder.
//! - [`train_tasks`]: `cargo xtask train-tasks`, the Auto Router's task classifier from labelled
//!   prompts.
//! - `tidy` (tests only): the dependency rule and module docs, checked by `cargo test`.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a developer tool: its output is the point"
)]

mod bench;
mod cmd;
mod distill;
mod fuzz;
mod offline;
mod serve;
mod test;
#[cfg(test)]
mod tidy;
mod train_tasks;

use clap::{Parser, Subcommand};

/// Turnout's developer automation.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the router: a config file, or the demo (mock providers behind the demo catalog).
    Serve(serve::ServeArgs),
    /// Run every check CI runs, in CI's order, stopping at the first failure.
    Test(test::TestArgs),
    /// Run each cargo-fuzz target for a bounded time (installs cargo-fuzz when missing).
    Fuzz(fuzz::FuzzArgs),
    /// Run the criterion benches and the loopback load test against router and mock.
    Bench(bench::BenchArgs),
    /// Fit an Auto Router quality profile from labelled traffic (`router-calibrate calibrate`).
    Calibrate(offline::ToolArgs),
    /// Evaluate the Auto Router offline against labelled traffic (`router-calibrate eval-router`).
    EvalRouter(offline::ToolArgs),
    /// Rebuild the Auto Router's static token embeddings from a sentence encoder (Python venv).
    Distill(distill::DistillArgs),
    /// Fit the Auto Router's task classifier on labelled prompts; report cross-validation.
    TrainTasks(train_tasks::TrainArgs),
    /// Write the static embedding of every prompt of a file (offline analysis).
    Embed(train_tasks::EmbedArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Fuzz(args) => fuzz::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Calibrate(args) => offline::run("calibrate", &args),
        Command::EvalRouter(args) => offline::run("eval-router", &args),
        Command::Distill(args) => distill::run(&args),
        Command::TrainTasks(args) => train_tasks::run(&args),
        Command::Embed(args) => train_tasks::embed(&args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
