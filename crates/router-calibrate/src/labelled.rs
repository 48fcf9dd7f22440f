//! Prompts labelled with their task type (`{"prompt", "task", "id"?, "source"?, "lang"?}` JSON
//! lines), and the accuracy report of a task classifier on them: by source, and a confusion
//! table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use router_core::analysis::task::TaskType;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Line {
    prompt: String,
    task: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// One labelled prompt as read from a file.
pub struct Labelled {
    /// Its `source`, or else its file's name (and language).
    pub source: String,
    /// Its `id`, or else `file:line`.
    pub id: String,
    /// The index of its task type (`TaskType::index`).
    pub task: usize,
    /// The prompt.
    pub prompt: String,
}

/// Reads labelled prompts (`{"prompt", "task", "id"?, "source"?, "lang"?}` lines); a prompt
/// without a source is named after its file (and language). Relative paths are read from the
/// current directory.
pub fn read_labelled(paths: &[PathBuf]) -> anyhow::Result<Vec<Labelled>> {
    let mut out = Vec::new();
    for path in paths {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let name = path
            .file_stem()
            .map_or_else(String::new, |it| it.to_string_lossy().into_owned());
        for (idx, line) in text
            .lines()
            .enumerate()
            .filter(|it| !it.1.trim().is_empty())
        {
            let line: Line = serde_json::from_str(line)
                .with_context(|| format!("{}:{}", path.display(), idx + 1))?;
            let Some(task) = TaskType::from_name(&line.task) else {
                bail!(
                    "{}:{}: unknown task `{}`",
                    path.display(),
                    idx + 1,
                    line.task
                );
            };
            let source = match (&line.source, &line.lang) {
                (Some(source), _) => source.clone(),
                (None, Some(lang)) => format!("{name}:{lang}"),
                (None, None) => name.clone(),
            };
            let id = line.id.clone().unwrap_or_else(|| format!("{name}:{idx}"));
            out.push(Labelled {
                source,
                id,
                task: task.index(),
                prompt: line.prompt,
            });
        }
    }
    Ok(out)
}

/// Accuracy by source and the confusion table, as markdown, from `(source, true task)` labels
/// and the predicted task indices.
pub fn report(labels: &[(&str, usize)], predicted: &[usize]) -> String {
    let mut by_source: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut confusion = [[0usize; 9]; 9];
    for (&(source, task), &guess) in labels.iter().zip(predicted) {
        let entry = by_source.entry(source).or_default();
        entry.1 += 1;
        if guess == task {
            entry.0 += 1;
        }
        confusion[task][guess] += 1;
    }
    let correct: usize = by_source.values().map(|it| it.0).sum();
    let mut out = String::from("| Source | Prompts | Accuracy |\n| --- | --- | --- |\n");
    for (source, (right, n)) in &by_source {
        out += &format!(
            "| {source} | {n} | {:.1}% |\n",
            100.0 * *right as f64 / *n as f64
        );
    }
    out += &format!(
        "| all | {} | {:.1}% |\n\n",
        labels.len(),
        100.0 * correct as f64 / labels.len().max(1) as f64
    );
    out += "| True \\ predicted |";
    for task in TaskType::ALL {
        out += &format!(" {} |", short(task));
    }
    out += "\n| --- |";
    out += &" --- |".repeat(9);
    out += "\n";
    for task in TaskType::ALL {
        out += &format!("| {} |", task.as_str());
        for count in confusion[task.index()] {
            out += &format!(" {count} |");
        }
        out += "\n";
    }
    out
}

fn short(task: TaskType) -> &'static str {
    match task {
        TaskType::Code => "code",
        TaskType::Math => "math",
        TaskType::Reasoning => "reas.",
        TaskType::CreativeWriting => "creat.",
        TaskType::Summarization => "summ.",
        TaskType::Translation => "transl.",
        TaskType::Extraction => "extr.",
        TaskType::GeneralQa => "QA",
        TaskType::ChitChat => "chat",
    }
}
