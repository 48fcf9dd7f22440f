//! Driving `wrk`: a Lua script that sets the POST body and headers and prints one summary line
//! we can parse, and the parser of that line.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::cmd;

/// What one `wrk` run measured.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Summary {
    /// Responses completed (any status).
    pub(super) requests: u64,
    /// How long the run took.
    pub(super) duration_us: u64,
    /// Median latency of a whole response (a stream: up to its last byte).
    pub(super) p50_us: f64,
    /// 99th percentile latency.
    pub(super) p99_us: f64,
    /// Connect, read, write and timeout errors.
    pub(super) errors: u64,
    /// Responses with a status outside 2xx/3xx.
    pub(super) non_2xx: u64,
}

impl Summary {
    pub(super) fn requests_per_second(&self) -> f64 {
        if self.duration_us == 0 {
            return 0.0;
        }
        self.requests as f64 * 1e6 / self.duration_us as f64
    }
}

/// Marks the line our script prints at the end of a run.
const MARKER: &str = "TURNOUT-WRK";

/// A `wrk` script that POSTs `body` with a bearer key and reports a [`Summary`] line.
pub(super) fn lua_script(body: &str, key: &str) -> anyhow::Result<String> {
    // A Lua long string takes the body verbatim, as long as it does not contain the closer.
    if body.contains("]==]") || key.contains('"') || key.contains('\\') {
        bail!("the request body or key cannot be quoted for Lua");
    }
    Ok(format!(
        r#"wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("{MARKER} requests=%d duration_us=%d p50_us=%.1f p99_us=%.1f errors=%d non_2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"#
    ))
}

/// Runs `wrk` with one thread on `core` against `url` for `seconds`.
pub(super) fn run(
    core: &str,
    url: &str,
    script: &Path,
    connections: u32,
    seconds: u32,
) -> anyhow::Result<Summary> {
    let mut command = Command::new("taskset");
    command
        .args(["-c", core, "wrk", "--threads", "1"])
        .arg(format!("--connections={connections}"))
        .arg(format!("--duration={seconds}s"))
        .args(["--timeout", "10s", "--script"])
        .arg(script)
        .arg(url);
    let stdout = cmd::output(&mut command)?;
    parse_summary(&stdout)
        .with_context(|| format!("`{}` printed:\n{stdout}", cmd::display(&command)))
}

/// Finds and parses our summary line in `wrk`'s output.
fn parse_summary(stdout: &str) -> anyhow::Result<Summary> {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix(MARKER))
        .context("no summary line")?;
    let field = |name: &str| -> anyhow::Result<&str> {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .with_context(|| format!("no `{name}` in the summary line"))
    };
    let int = |name: &str| -> anyhow::Result<u64> {
        field(name)?
            .parse()
            .with_context(|| format!("`{name}` is not an integer"))
    };
    let float = |name: &str| -> anyhow::Result<f64> {
        field(name)?
            .parse()
            .with_context(|| format!("`{name}` is not a number"))
    };
    Ok(Summary {
        requests: int("requests")?,
        duration_us: int("duration_us")?,
        p50_us: float("p50_us")?,
        p99_us: float("p99_us")?,
        errors: int("errors")?,
        non_2xx: int("non_2xx")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_summary_line_among_wrk_output() {
        let stdout = "Running 2s test @ http://127.0.0.1:1/v1\n  1 threads and 32 connections\n\
            TURNOUT-WRK requests=50000 duration_us=2000000 p50_us=612.5 p99_us=1400.0 errors=1 non_2xx=2\n";
        let summary = parse_summary(stdout).unwrap();
        assert_eq!(
            summary,
            Summary {
                requests: 50_000,
                duration_us: 2_000_000,
                p50_us: 612.5,
                p99_us: 1400.0,
                errors: 1,
                non_2xx: 2,
            }
        );
        assert_eq!(summary.requests_per_second(), 25_000.0);
        assert!(parse_summary("Running 2s test\n").is_err());
        assert!(parse_summary("TURNOUT-WRK requests=x").is_err());
    }

    #[test]
    fn script_carries_body_and_key_verbatim() {
        let script = lua_script(r#"{"a":"b\"c"}"#, "sk-1").unwrap();
        assert!(
            script.contains(r#"wrk.body = [==[{"a":"b\"c"}]==]"#),
            "{script}"
        );
        assert!(script.contains(r#""Bearer sk-1""#), "{script}");
        assert!(lua_script("]==]", "k").is_err());
    }
}
