//! The command line of the offline tools, shared by the binaries that offer them
//! (`router-server calibrate|eval-router`, and `router-calibrate` for a quick developer build).

use crate::{calibrate, eval_router};

/// The offline Auto Router tools.
#[derive(Debug, clap::Subcommand)]
pub enum Tool {
    /// Fit an Auto Router quality profile from labelled traffic (JSON lines).
    Calibrate(calibrate::CalibrateArgs),
    /// Evaluate the Auto Router offline against labelled traffic (cross-validated).
    EvalRouter(eval_router::EvalArgs),
}

impl Tool {
    /// Runs the tool to its end.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            Tool::Calibrate(args) => calibrate::run(args),
            Tool::EvalRouter(args) => eval_router::run(args),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Tool;

    /// A command line of the tools alone.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        tool: Tool,
    }

    #[test]
    fn the_command_line_is_consistent_and_reads_both_tools() {
        Cli::command().debug_assert();
        let cli =
            Cli::try_parse_from(["t", "calibrate", "--data", "rows.jsonl", "--out", "p.json"])
                .unwrap();
        assert!(matches!(cli.tool, Tool::Calibrate(_)), "{cli:?}");
        let cli = Cli::try_parse_from(["t", "eval-router", "--data", "rows.jsonl"]).unwrap();
        assert!(matches!(cli.tool, Tool::EvalRouter(_)), "{cli:?}");
        assert!(Cli::try_parse_from(["t", "calibrate"]).is_err());
    }
}
