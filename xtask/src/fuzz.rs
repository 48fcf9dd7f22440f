//! `cargo xtask fuzz`: runs each cargo-fuzz target (the `[[bin]]`s of `fuzz/Cargo.toml`) for a
//! bounded time, installing cargo-fuzz first when it is missing.
//!
//! cargo-fuzz needs nightly compiler flags (`-Zsanitizer`); as rustls's CI does, we get them on
//! the stable toolchain with `RUSTC_BOOTSTRAP=1`, for these commands only.

use anyhow::{Context, bail};
use clap::Args;

use crate::cmd;

/// Options of `cargo xtask fuzz`.
#[derive(Debug, Args)]
pub(crate) struct FuzzArgs {
    /// How long to run each target.
    #[arg(long, default_value_t = 30)]
    seconds: u32,
    /// Run only this target (default: every target in `fuzz/Cargo.toml`).
    target: Option<String>,
}

/// Runs the chosen targets one after another; stops at the first crash.
pub(crate) fn run(args: &FuzzArgs) -> anyhow::Result<()> {
    let all = targets()?;
    let chosen: Vec<String> = match &args.target {
        Some(target) if all.contains(target) => vec![target.clone()],
        Some(target) => bail!("no fuzz target `{target}`; targets: {}", all.join(", ")),
        None => all,
    };
    if !cmd::succeeds(cmd::cargo().args(["fuzz", "--version"])) {
        cmd::run(
            "install cargo-fuzz",
            cmd::cargo().args(["install", "cargo-fuzz", "--locked"]),
        )?;
    }
    for target in &chosen {
        eprintln!("\n==> fuzzing {target} for {} s", args.seconds);
        cmd::run(
            &format!("fuzz target {target}"),
            cmd::cargo()
                .env("RUSTC_BOOTSTRAP", "1")
                .args(["fuzz", "run", target, "--"])
                .arg(format!("-max_total_time={}", args.seconds)),
        )?;
    }
    eprintln!("\n{} fuzz target(s) ran without a crash", chosen.len());
    Ok(())
}

/// The names of the fuzz crate's binaries, as cargo reads them.
fn targets() -> anyhow::Result<Vec<String>> {
    let manifest = cmd::repo_root().join("fuzz/Cargo.toml");
    if !manifest.is_file() {
        bail!("{} does not exist", manifest.display());
    }
    let metadata = cmd::output(
        cmd::cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(&manifest),
    )?;
    let targets = bin_targets(&metadata)?;
    if targets.is_empty() {
        bail!("{} declares no [[bin]] fuzz targets", manifest.display());
    }
    Ok(targets)
}

/// The `bin` targets in `cargo metadata` output, in declaration order.
fn bin_targets(metadata: &str) -> anyhow::Result<Vec<String>> {
    let metadata: serde_json::Value =
        serde_json::from_str(metadata).context("`cargo metadata` printed invalid JSON")?;
    let targets = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|package| package["targets"].as_array().into_iter().flatten())
        .filter(|target| {
            target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
        })
        .filter_map(|target| target["name"].as_str().map(str::to_owned))
        .collect();
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_bin_targets_only() {
        let metadata = r#"{"packages":[{"name":"turnout-fuzz","targets":[
            {"name":"request_json","kind":["bin"]},
            {"name":"helpers","kind":["lib"]},
            {"name":"sse_chunk","kind":["bin"]}]}]}"#;
        assert_eq!(
            bin_targets(metadata).unwrap(),
            ["request_json", "sse_chunk"]
        );
        assert!(bin_targets("not json").is_err());
    }
}
