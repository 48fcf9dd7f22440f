//! Labelled routing rows (`{"id", "prompt", "quality": {model: 0..1}, "cost": {model: usd}}`,
//! optionally `task`, `split` and `contaminated`) and the selection `calibrate` and
//! `eval-router` apply to them, with the same rules as `shared/eval/score.py`: a split, rows
//! flagged `contaminated` left out unless asked for, and a restricted model pool.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

/// One labelled prompt.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) prompt: String,
    pub(crate) quality: BTreeMap<String, f64>,
    pub(crate) cost: BTreeMap<String, f64>,
    /// The benchmark or task the prompt comes from, for per-task reports.
    #[serde(default)]
    pub(crate) task: Option<String>,
    /// `train` or `test`; a row without one counts as `test`, as in score.py.
    #[serde(default)]
    pub(crate) split: Option<String>,
    /// The prompt overlaps some router's training data (RouteLLM's flag).
    #[serde(default)]
    pub(crate) contaminated: bool,
}

impl Row {
    /// The row's task, `all` when it names none (score.py's grouping).
    pub(crate) fn task(&self) -> &str {
        self.task.as_deref().unwrap_or("all")
    }
}

/// Which rows of a file to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Split {
    /// Every row, whatever its split.
    All,
    /// Rows whose `split` is `train`.
    Train,
    /// Rows whose `split` is `test`, or that have none.
    Test,
}

impl Split {
    fn keeps(self, row: &Row) -> bool {
        match self {
            Self::All => true,
            Self::Train => row.split.as_deref() == Some("train"),
            Self::Test => row.split.as_deref().unwrap_or("test") == "test",
        }
    }
}

/// The row selection shared by `calibrate` and `eval-router`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RowSelection {
    /// Use only the rows of this split (a row without `split` counts as `test`).
    #[arg(long, value_enum, default_value_t = Split::All)]
    pub(crate) split: Split,
    /// Keep rows flagged `"contaminated": true` (left out by default, as score.py does).
    #[arg(long)]
    pub(crate) include_contaminated: bool,
    /// Restrict the pool to these models (comma-separated data names), as score.py's `--models`.
    #[arg(long, value_delimiter = ',')]
    pub(crate) models: Vec<String>,
}

impl Default for RowSelection {
    fn default() -> Self {
        Self {
            split: Split::All,
            include_contaminated: false,
            models: Vec::new(),
        }
    }
}

impl RowSelection {
    /// Keeps the selected rows, each scoring and pricing exactly the selected models.
    pub(crate) fn apply(&self, rows: Vec<Row>, source: &str) -> anyhow::Result<Vec<Row>> {
        let mut kept = Vec::with_capacity(rows.len());
        for mut row in rows {
            if !self.split.keeps(&row) || (row.contaminated && !self.include_contaminated) {
                continue;
            }
            if !self.models.is_empty() {
                let mut quality = BTreeMap::new();
                let mut cost = BTreeMap::new();
                for model in &self.models {
                    let (Some(q), Some(c)) = (row.quality.get(model), row.cost.get(model)) else {
                        bail!(
                            "{source}: row `{}` has no score or cost for `{model}`",
                            row.id
                        );
                    };
                    quality.insert(model.clone(), *q);
                    cost.insert(model.clone(), *c);
                }
                row.quality = quality;
                row.cost = cost;
            }
            kept.push(row);
        }
        let Some(first) = kept.first() else {
            bail!("{source}: no rows left for split {:?}", self.split);
        };
        let models: Vec<&String> = first.quality.keys().collect();
        if models.len() < 2 {
            bail!("{source}: a pool needs at least two models, found {models:?}");
        }
        for row in &kept {
            if !row.quality.keys().eq(models.iter().copied()) {
                bail!(
                    "{source}: row `{}` scores other models than the first row",
                    row.id
                );
            }
            if !row.quality.keys().all(|it| row.cost.contains_key(it)) {
                bail!(
                    "{source}: row `{}` scores a model it has no cost for",
                    row.id
                );
            }
            let bad = |value: &f64| !value.is_finite() || *value < 0.0;
            if row.quality.values().any(bad) || row.cost.values().any(bad) {
                bail!(
                    "{source}: row `{}` has a negative or non-finite score or cost",
                    row.id
                );
            }
        }
        Ok(kept)
    }
}

/// Reads JSON lines and applies a selection.
pub(crate) fn read_rows(path: &Path, selection: &RowSelection) -> anyhow::Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a labelled row", path.display(), line_no + 1))?;
        rows.push(row);
    }
    if rows.is_empty() {
        bail!("{}: no rows", path.display());
    }
    selection.apply(rows, &path.display().to_string())
}

/// Test rows of two kinds, each answered well by a different model: even rows ask to fix Python
/// code (task `code`, "strong coder" is right), odd rows chat (task `chat`, "vendor/chatty").
#[cfg(test)]
pub(crate) fn two_kinds(n: usize) -> Vec<Row> {
    (0..n)
        .map(|idx| {
            let code = idx % 2 == 0;
            let prompt = if code {
                format!(
                    "Fix the bug in this python function number {idx}: def f(x): return x[{idx}]"
                )
            } else {
                format!("hello friend, how are you today? tell me about your weekend {idx}")
            };
            Row {
                id: format!("row-{idx}"),
                prompt,
                quality: BTreeMap::from([
                    ("strong coder".to_owned(), if code { 1.0 } else { 0.2 }),
                    ("vendor/chatty".to_owned(), if code { 0.1 } else { 1.0 }),
                ]),
                cost: BTreeMap::from([
                    ("strong coder".to_owned(), 0.01),
                    ("vendor/chatty".to_owned(), 0.001),
                ]),
                task: Some(if code { "code" } else { "chat" }.to_owned()),
                ..Row::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, split: Option<&str>, contaminated: bool) -> Row {
        Row {
            id: id.to_owned(),
            prompt: format!("prompt {id}"),
            quality: BTreeMap::from([
                ("a".to_owned(), 1.0),
                ("b".to_owned(), 0.0),
                ("c".to_owned(), 0.5),
            ]),
            cost: BTreeMap::from([
                ("a".to_owned(), 0.01),
                ("b".to_owned(), 0.001),
                ("c".to_owned(), 0.002),
            ]),
            task: None,
            split: split.map(str::to_owned),
            contaminated,
        }
    }

    fn ids(rows: &[Row]) -> Vec<&str> {
        rows.iter().map(|it| it.id.as_str()).collect()
    }

    #[test]
    fn selection_follows_score_py() {
        let rows = vec![
            row("train", Some("train"), false),
            row("test", Some("test"), false),
            row("none", None, false),
            row("dirty", Some("test"), true),
        ];
        let all = RowSelection::default().apply(rows.clone(), "x").unwrap();
        assert_eq!(ids(&all), ["train", "test", "none"]);
        let test = RowSelection {
            split: Split::Test,
            ..RowSelection::default()
        };
        assert_eq!(
            ids(&test.apply(rows.clone(), "x").unwrap()),
            ["test", "none"]
        );
        let train = RowSelection {
            split: Split::Train,
            include_contaminated: true,
            ..RowSelection::default()
        };
        assert_eq!(ids(&train.apply(rows.clone(), "x").unwrap()), ["train"]);
        let dirty = RowSelection {
            include_contaminated: true,
            ..RowSelection::default()
        };
        assert_eq!(dirty.apply(rows, "x").unwrap().len(), 4);
    }

    #[test]
    fn a_pool_restricts_every_row_and_must_exist() {
        let rows = vec![row("1", None, false), row("2", None, false)];
        let pool = RowSelection {
            models: vec!["c".to_owned(), "a".to_owned()],
            ..RowSelection::default()
        };
        let kept = pool.apply(rows.clone(), "x").unwrap();
        assert!(
            kept.iter().all(|it| it.quality.keys().eq(["a", "c"].iter())
                && it.cost.keys().eq(["a", "c"].iter()))
        );
        let unknown = RowSelection {
            models: vec!["a".to_owned(), "zz".to_owned()],
            ..RowSelection::default()
        };
        let err = unknown.apply(rows.clone(), "x").unwrap_err().to_string();
        assert!(err.contains("`zz`"), "{err}");
        let single = RowSelection {
            models: vec!["a".to_owned()],
            ..RowSelection::default()
        };
        assert!(single.apply(rows, "x").is_err());
    }

    #[test]
    fn rows_must_agree_on_models_and_have_sane_numbers() {
        let mut odd = row("2", None, false);
        odd.quality.remove("c");
        let err = RowSelection::default()
            .apply(vec![row("1", None, false), odd], "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("other models"), "{err}");
        let mut negative = row("3", None, false);
        negative.cost.insert("a".to_owned(), -1.0);
        assert!(RowSelection::default().apply(vec![negative], "x").is_err());
        let none = RowSelection {
            split: Split::Train,
            ..RowSelection::default()
        };
        assert!(none.apply(vec![row("4", None, false)], "x").is_err());
    }
}
