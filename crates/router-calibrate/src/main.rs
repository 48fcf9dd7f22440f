//! `router-calibrate`: the offline Auto Router tools without the server, a quick release build
//! for development (`cargo xtask calibrate` and `cargo xtask eval-router` run it). Operators use
//! the same commands on the shipped binary: `router-server calibrate`, `router-server
//! eval-router`.

use clap::Parser;
use router_calibrate::cli::Tool;

/// Turnout's offline Auto Router tools.
#[derive(Debug, Parser)]
#[command(name = "router-calibrate", version, about)]
struct Cli {
    #[command(subcommand)]
    tool: Tool,
}

fn main() -> anyhow::Result<()> {
    Cli::parse().tool.run()
}
