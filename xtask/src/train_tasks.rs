//! `cargo xtask train-tasks`: fits the Auto Router's task classifier
//! (`router_core::analysis::task_model`) on labelled prompts and writes its weights.
//!
//! Input: JSON lines `{"prompt", "task", "id"?, "source"?, "lang"?}` with `task` one of the nine
//! task types. The default inputs are the shared development set (`task-dev.jsonl`: code, math,
//! creative writing) and `crates/router-core/data/task-model/examples.jsonl` (the other six types
//! and non-English prompts, written for this project; see the README beside it).
//!
//! Every prompt is read through `router_core::analysis::task_input`, exactly as routing reads it.
//! The model is a multinomial logistic regression with class-balanced weights and an L2 penalty,
//! fitted by full-batch Adam. Before the final fit it reports stratified 5-fold cross-validated
//! accuracy by source and a confusion table (markdown), with a progress bar over the folds.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use router_calibrate::labelled::{Labelled, report};
use router_core::analysis::task::TaskType;
use router_core::analysis::task_model::{TaskInput, TaskModel, row_len};
use router_core::analysis::{Conversation, task_input};
use serde::Deserialize;

use crate::cmd;

/// Options of `cargo xtask train-tasks`.
#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// Labelled prompts (JSON lines); repeat for several files.
    #[arg(long, default_value = "../shared/eval/task-dev.jsonl")]
    data: Vec<PathBuf>,
    /// More labelled prompts, always used (the other task types and languages).
    #[arg(
        long,
        default_value = "crates/router-core/data/task-model/examples.jsonl"
    )]
    examples: Vec<PathBuf>,
    /// Where to write the weights.
    #[arg(
        long,
        default_value = "crates/router-core/data/task-model/task-model.bin"
    )]
    out: PathBuf,
    /// N-gram slots of the model, as a power of two.
    #[arg(long, default_value_t = 14)]
    bits: u8,
    /// L2 penalty per weight.
    #[arg(long, default_value_t = 3e-5)]
    l2: f32,
    /// Class balance: each class weighs `(mean count / its count)^balance` (1: balanced, 0: as
    /// the data has them).
    #[arg(long, default_value_t = 0.5)]
    balance: f32,
    /// Full-batch optimisation steps.
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Cross-validation folds (0 or 1: none).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Only report cross-validation; do not write the weights.
    #[arg(long)]
    dry_run: bool,
    /// Write the prompts cross-validation got wrong here (JSON lines: source, task, predicted,
    /// prompt), to read what the classifier confuses.
    #[arg(long)]
    errors: Option<PathBuf>,
}

/// One featurized, labelled prompt.
pub(crate) struct Example {
    pub(crate) source: String,
    pub(crate) key: u64,
    pub(crate) task: usize,
    pub(crate) input: TaskInput,
}

/// Reads labelled prompts and featurizes them as routing does.
pub(crate) fn load(paths: &[PathBuf], bits: u8) -> anyhow::Result<Vec<Example>> {
    Ok(read_labelled(paths)?
        .into_iter()
        .map(|it| Example {
            key: router_core::analysis::features::fnv1a(it.id.as_bytes()),
            task: it.task,
            input: task_input(&Conversation::user(&it.prompt), bits),
            source: it.source,
        })
        .collect())
}

/// Reads labelled prompts, relative paths from the repository's root.
pub(crate) fn read_labelled(paths: &[PathBuf]) -> anyhow::Result<Vec<Labelled>> {
    let root = cmd::repo_root();
    let paths: Vec<PathBuf> = paths.iter().map(|path| root.join(path)).collect();
    router_calibrate::labelled::read_labelled(&paths)
}

/// Fits a model on `train` (indices into `examples`).
pub(crate) fn fit(
    examples: &[Example],
    train: &[usize],
    bits: u8,
    l2: f32,
    balance: f32,
    steps: usize,
) -> anyhow::Result<TaskModel> {
    let dim = examples.first().map_or(0, |it| it.input.embedding.len());
    let row = row_len(dim, bits);
    let mut weights = vec![0.0f32; 9 * row];
    let mut counts = [0usize; 9];
    for &idx in train {
        counts[examples[idx].task] += 1;
    }
    let present = counts.iter().filter(|it| **it > 0).count().max(1);
    let class_weight: Vec<f32> = counts
        .iter()
        .map(|&n| {
            if n == 0 {
                0.0
            } else {
                (train.len() as f32 / (present as f32 * n as f32)).powf(balance)
            }
        })
        .collect();
    let (mut m, mut v) = (vec![0.0f32; weights.len()], vec![0.0f32; weights.len()]);
    let (lr, beta1, beta2) = (0.05f32, 0.9f32, 0.999f32);
    let scale = 1.0 / train.len().max(1) as f32;
    let mut grad = vec![0.0f32; weights.len()];
    for step in 1..=steps {
        grad.iter_mut().for_each(|it| *it = 0.0);
        let model = TaskModel::new(dim, bits, weights.clone())?;
        for &idx in train {
            let example = &examples[idx];
            let p = model.probabilities(&example.input);
            let w = class_weight[example.task] * scale;
            for (class, p) in p.iter().enumerate() {
                let g = w * (p - if class == example.task { 1.0 } else { 0.0 });
                if g == 0.0 {
                    continue;
                }
                let base = class * row;
                grad[base] += g;
                for (slot, x) in example.input.embedding.iter().enumerate() {
                    grad[base + 1 + slot] += g * x;
                }
                for (slot, x) in example.input.rules.iter().enumerate() {
                    grad[base + 1 + dim + slot] += g * x;
                }
                for &(slot, x) in example.input.ngrams.entries() {
                    grad[base + 1 + dim + 9 + slot as usize] += g * x;
                }
            }
        }
        let (c1, c2) = (1.0 - beta1.powi(step as i32), 1.0 - beta2.powi(step as i32));
        for (idx, weight) in weights.iter_mut().enumerate() {
            let is_bias = idx % row == 0;
            let g = grad[idx] + if is_bias { 0.0 } else { l2 * *weight };
            m[idx] = beta1 * m[idx] + (1.0 - beta1) * g;
            v[idx] = beta2 * v[idx] + (1.0 - beta2) * g * g;
            *weight -= lr * (m[idx] / c1) / ((v[idx] / c2).sqrt() + 1e-8);
        }
    }
    Ok(TaskModel::new(dim, bits, weights)?)
}

/// The predicted task of an example.
pub(crate) fn predict(model: &TaskModel, input: &TaskInput) -> usize {
    let p = model.probabilities(input);
    (0..9)
        .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
        .unwrap_or(7)
}

/// Stratified fold of each example: within each (source, task) group, sorted by the id's hash,
/// round-robin.
pub(crate) fn folds(examples: &[Example], k: usize) -> Vec<usize> {
    let mut groups: BTreeMap<(&str, usize), Vec<usize>> = BTreeMap::new();
    for (idx, example) in examples.iter().enumerate() {
        groups
            .entry((&example.source, example.task))
            .or_default()
            .push(idx);
    }
    let mut fold = vec![0; examples.len()];
    let mut next = 0usize;
    for members in groups.values_mut() {
        members.sort_by_key(|&idx| (examples[idx].key, idx));
        for &idx in members.iter() {
            fold[idx] = next % k;
            next += 1;
        }
    }
    fold
}

/// Runs the command.
pub(crate) fn run(args: &TrainArgs) -> anyhow::Result<()> {
    if !(10..=16).contains(&args.bits) {
        bail!("--bits must be 10 to 16");
    }
    let paths: Vec<PathBuf> = args.data.iter().chain(&args.examples).cloned().collect();
    let examples = load(&paths, args.bits)?;
    if examples.is_empty() {
        bail!("no labelled prompts");
    }
    eprintln!("{} labelled prompts", examples.len());
    if args.folds > 1 {
        let fold = folds(&examples, args.folds);
        let bar = ProgressBar::new(args.folds as u64 + 1).with_style(
            ProgressStyle::with_template(
                "  fitting {bar:30} {pos}/{len} fits, {elapsed} (~{eta} left)",
            )
            .context("progress template")?,
        );
        let mut predicted = vec![0usize; examples.len()];
        for k in 0..args.folds {
            let train: Vec<usize> = (0..examples.len()).filter(|&i| fold[i] != k).collect();
            let model = fit(
                &examples,
                &train,
                args.bits,
                args.l2,
                args.balance,
                args.steps,
            )?;
            for idx in (0..examples.len()).filter(|&i| fold[i] == k) {
                predicted[idx] = predict(&model, &examples[idx].input);
            }
            bar.inc(1);
        }
        bar.abandon();
        let labels: Vec<(&str, usize)> = examples
            .iter()
            .map(|it| (it.source.as_str(), it.task))
            .collect();
        println!("{}", report(&labels, &predicted));
        if let Some(path) = &args.errors {
            let prompts = read_labelled(&paths)?;
            let mut out = String::new();
            for ((example, prompt), &guess) in examples.iter().zip(&prompts).zip(&predicted) {
                if guess != example.task {
                    let line = serde_json::json!({
                        "source": example.source,
                        "task": TaskType::ALL[example.task].as_str(),
                        "predicted": TaskType::ALL[guess].as_str(),
                        "prompt": prompt.prompt,
                    });
                    out += &format!("{line}\n");
                }
            }
            std::fs::write(path, out).with_context(|| format!("write {}", path.display()))?;
        }
    }
    if !args.dry_run {
        let all: Vec<usize> = (0..examples.len()).collect();
        let model = fit(
            &examples,
            &all,
            args.bits,
            args.l2,
            args.balance,
            args.steps,
        )?;
        let out = cmd::repo_root().join(&args.out);
        std::fs::write(&out, model.to_bytes())
            .with_context(|| format!("write {}", out.display()))?;
        println!("wrote {} ({} bytes)", out.display(), model.to_bytes().len());
    }
    Ok(())
}

/// Options of `cargo xtask embed`.
#[derive(Debug, Args)]
pub(crate) struct EmbedArgs {
    /// Prompts (JSON lines with `id` and `prompt`).
    #[arg(long)]
    data: PathBuf,
    /// Where to write `{"id", "embedding"}` lines.
    #[arg(long)]
    out: PathBuf,
}

/// Writes the static embedding of every prompt of a file, as routing computes it (for offline
/// analysis of the representation).
pub(crate) fn embed(args: &EmbedArgs) -> anyhow::Result<()> {
    #[derive(Deserialize)]
    struct Prompt {
        id: String,
        prompt: String,
    }
    let text = std::fs::read_to_string(&args.data)
        .with_context(|| format!("read {}", args.data.display()))?;
    let mut out = String::new();
    for line in text.lines().filter(|it| !it.trim().is_empty()) {
        let prompt: Prompt = serde_json::from_str(line).context("a line without id and prompt")?;
        let input = task_input(&Conversation::user(&prompt.prompt), 12);
        out += &serde_json::json!({"id": prompt.id, "embedding": input.embedding}).to_string();
        out.push('\n');
    }
    std::fs::write(&args.out, out).with_context(|| format!("write {}", args.out.display()))?;
    Ok(())
}
