//! `cargo xtask eval-router --data FILE.jsonl [--folds 5] [--choices OUT.jsonl]`: cross-validated
//! evaluation of the Auto Router on labelled traffic.
//!
//! Rows are chosen as score.py chooses them (`--split`, `--include-contaminated`, `--models`;
//! see `crate::rows`) and split into folds by hashing their id. For each fold the profile is
//! calibrated on the other folds (`calibrate::fit`), and every held-out prompt is routed at each
//! dial value 0..10 through the real analysis and selection code, over a catalog of the data's
//! models priced from the training folds' costs. With `--train FILE` the profile is calibrated on
//! that file instead and every row of `--data` is routed. Only the prompt text is an input at
//! routing time; the row's true quality and cost are used for scoring alone.
//!
//! The metrics reproduce `shared/eval/score.py` exactly (its docstring has the definitions):
//! PGR, APGR, CPT(50%), CPT(80%), AIQ and the cost at 95% of the strongest model's quality, for
//! the router's curve, the random-mix "zero router" and the oracle, and with `--by-task` for
//! each task as well. `--choices` writes `{"id","model","knob"}` lines that
//! `score.py DATA CHOICES --split all` scores the same way.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use router_core::analysis::Conversation;
use router_core::auto::profile::Profile;
use router_core::auto::select::{self, SelectParams};
use router_core::patterns::ModelFilter;

use crate::calibrate::{self, FitOptions};
use crate::rows::{self, Row, RowSelection, Split};

/// Arguments of `cargo xtask eval-router`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Labelled rows, one JSON object a line: {"id","prompt","quality":{model:0..1},"cost":{model:usd}}.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Cross-validation folds.
    #[arg(long, default_value_t = 5)]
    pub(crate) folds: usize,
    /// Calibrate on every selected row of this file instead of cross-validating, then route
    /// every row of `--data` (a check of how the router carries over to other traffic).
    #[arg(long)]
    pub(crate) train: Option<PathBuf>,
    /// With `--train`: the split of the training file to calibrate on.
    #[arg(long, value_enum, default_value_t = Split::All)]
    pub(crate) train_split: Split,
    #[command(flatten)]
    pub(crate) rows: RowSelection,
    /// Also report every metric per task (the rows' `task` field), as score.py's `--by-task`.
    #[arg(long)]
    pub(crate) by_task: bool,
    /// Also write every choice as {"id","model","knob"} lines (for score.py).
    #[arg(long)]
    pub(crate) choices: Option<PathBuf>,
    /// Number of task clusters (0: automatic).
    #[arg(long, default_value_t = 0)]
    pub(crate) clusters: usize,
    /// Nearest labelled examples used per prompt (0: clusters only).
    #[arg(long, default_value_t = FitOptions::default().neighbours)]
    pub(crate) neighbours: usize,
    /// Also fit per-model logistic regressions on the prompt features.
    #[arg(long)]
    pub(crate) predictors: bool,
    /// Also report task-classification accuracy (by source, with a confusion table) on this file
    /// of labelled prompts (`{"prompt", "task", "source"?}` lines), through the router's analysis.
    #[arg(long)]
    pub(crate) tasks: Option<PathBuf>,
    /// L2 strength of the per-model ridge regressions on the prompts' embeddings, in units of
    /// rows (0: none).
    #[arg(long, default_value_t = FitOptions::default().embedding_l2)]
    pub(crate) embedding_l2: f64,
    /// Inner folds for the held-out estimates calibration chooses the estimate weight on (below
    /// 2: in-sample estimates).
    #[arg(long, default_value_t = FitOptions::default().inner_folds)]
    pub(crate) inner_folds: usize,
}

/// Task-classification accuracy of the router's analysis (the shipped classifier, as the demo
/// profile runs it) on labelled prompts, as markdown.
fn task_report(path: &std::path::Path) -> anyhow::Result<String> {
    let labelled = crate::labelled::read_labelled(&[path.to_path_buf()])?;
    let profile = Profile::demo()?;
    let features = router_core::request::RequestFeatures::default();
    let predicted: Vec<usize> = labelled
        .iter()
        .map(|it| {
            profile
                .analyze(&Conversation::user(&it.prompt), &features)
                .task
                .index()
        })
        .collect();
    let labels: Vec<(&str, usize)> = labelled
        .iter()
        .map(|it| (it.source.as_str(), it.task))
        .collect();
    Ok(format!(
        "Task classification on {} ({} prompts):\n\n{}",
        path.display(),
        labelled.len(),
        crate::labelled::report(&labels, &predicted)
    ))
}

/// The dial values evaluated.
const KNOBS: std::ops::RangeInclusive<u8> = 0..=10;

/// Runs `eval-router`: prints the cross-validated evaluation of `args.data`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.tasks {
        println!("{}", task_report(path)?);
    }
    let rows = rows::read_rows(&args.data, &args.rows)?;
    let options = FitOptions {
        clusters: args.clusters,
        neighbours: args.neighbours,
        predictors: args.predictors,
        inner_folds: args.inner_folds,
        embedding_l2: args.embedding_l2,
        ..FitOptions::default()
    };
    let models: Vec<String> = rows[0].quality.keys().cloned().collect();
    let started = std::time::Instant::now();
    // choices[knob][row] = model name.
    let mut choices: Vec<Vec<String>> = vec![vec![String::new(); rows.len()]; KNOBS.len()];
    let protocol = match &args.train {
        Some(path) => {
            let selection = RowSelection {
                split: args.train_split,
                ..args.rows.clone()
            };
            let train_rows = rows::read_rows(path, &selection)?;
            if !train_rows[0].quality.keys().eq(models.iter()) {
                bail!(
                    "{} scores other models than {}: pass --models to choose a common pool",
                    path.display(),
                    args.data.display()
                );
            }
            let seen: HashSet<&str> = train_rows.iter().map(|it| it.prompt.as_str()).collect();
            let overlap = rows
                .iter()
                .filter(|it| seen.contains(it.prompt.as_str()))
                .count();
            let all: Vec<usize> = (0..rows.len()).collect();
            let label = path.display().to_string();
            let options = with_progress(&options, 1, train_rows.len(), rows.len());
            route_part(&train_rows, &rows, &all, &options, &mut choices, &label)?;
            options.progress.finish_and_clear();
            let mut protocol = format!(
                "calibrated on {} ({} rows)",
                path.display(),
                train_rows.len()
            );
            if overlap > 0 {
                let _ = write!(
                    protocol,
                    "; warning: {overlap} routed prompts are also training prompts"
                );
            }
            protocol
        }
        None => {
            let folds = args.folds.max(2);
            let options = with_progress(&options, folds, rows.len(), rows.len() / folds);
            for fold in 0..folds {
                let (train, test): (Vec<usize>, Vec<usize>) = (0..rows.len())
                    .partition(|idx| calibrate::fold_of(&rows[*idx].id, folds) != fold);
                if train.is_empty() || test.is_empty() {
                    continue;
                }
                let train_rows: Vec<Row> = train.iter().map(|idx| rows[*idx].clone()).collect();
                let label = format!("fold {}/{folds}", fold + 1);
                route_part(&train_rows, &rows, &test, &options, &mut choices, &label)?;
            }
            options.progress.finish_and_clear();
            format!("{folds}-fold cross-validation")
        }
    };

    if let Some(path) = &args.choices {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for knob in KNOBS {
            for (row, model) in rows.iter().zip(&choices[usize::from(knob)]) {
                let line = serde_json::json!({"id": row.id, "model": model, "knob": knob});
                writeln!(out, "{line}")?;
            }
        }
        out.flush()?;
    }

    let title = format!("{}: {protocol}", args.data.display());
    let (report, _) = Scoring::new(&rows, &models).report(&title, &choices);
    println!("{report}");
    println!(
        "routed {} rows at {} dial values in {:.1} s",
        rows.len(),
        KNOBS.len(),
        started.elapsed().as_secs_f64()
    );
    if args.by_task {
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (idx, row) in rows.iter().enumerate() {
            groups.entry(row.task()).or_default().push(idx);
        }
        let mut aiq: [Vec<f64>; 3] = Default::default();
        for (task, members) in &groups {
            let sub_rows: Vec<Row> = members.iter().map(|idx| rows[*idx].clone()).collect();
            let sub_choices: Vec<Vec<String>> = choices
                .iter()
                .map(|choice| members.iter().map(|idx| choice[*idx].clone()).collect())
                .collect();
            let (report, curves) = Scoring::new(&sub_rows, &models)
                .report(&format!("{title}, task={task}"), &sub_choices);
            println!("{report}");
            for (sum, curve) in aiq.iter_mut().zip(curves) {
                sum.push(curve.aiq);
            }
        }
        let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
        println!(
            "task-averaged AIQ: router {:.4}, zero router {:.4}, oracle curve {:.4}",
            mean(&aiq[0]),
            mean(&aiq[1]),
            mean(&aiq[2])
        );
    }
    Ok(())
}

/// `options` with a progress bar for `parts` calibrations on about `train` rows that each route
/// about `routed` rows: a calibration's steps weigh as much as routing its training rows would.
fn with_progress(options: &FitOptions, parts: usize, train: usize, routed: usize) -> FitOptions {
    let units = (train as u64 / calibrate::FIT_STEPS).max(1);
    let per_part = units * calibrate::FIT_STEPS + routed as u64;
    FitOptions {
        progress: calibrate::progress::bar(per_part * parts as u64),
        progress_units: units,
        ..options.clone()
    }
}

/// Calibrates on `train` and routes the rows `targets` of `rows` at every dial value, through
/// the real analysis and selection code.
fn route_part(
    train: &[Row],
    rows: &[Row],
    targets: &[usize],
    options: &FitOptions,
    choices: &mut [Vec<String>],
    label: &str,
) -> anyhow::Result<()> {
    let fitted = calibrate::fit(train, options)?;
    // Round-trip through the stored form, as a deployment would load it.
    let profile = Profile::from_json(&Profile::from_data(fitted.data)?.to_json())
        .context("the fitted profile does not read back")?;
    let line = format!(
        "{label}: calibrated on {} rows ({} clusters, embedding weight {:.2}, estimate weight {:.2}, lambda scale {:.4}), routing {}",
        train.len(),
        profile.data().tasks.len(),
        profile.selection().embedding_weight.unwrap_or(0.0),
        profile.selection().estimate_weight.unwrap_or(1.0),
        profile.selection().lambda_scale,
        targets.len()
    );
    options.progress.suspend(|| eprintln!("{line}"));
    let filter = ModelFilter::permit_all();
    options.progress.set_message(format!("{label}: routing"));
    for &idx in targets {
        options.progress.inc(1);
        let prompt = &rows[idx].prompt;
        let analysis = profile.analyze(
            &Conversation::user(prompt),
            &calibrate::request_features(prompt),
        );
        for knob in KNOBS {
            let params = SelectParams {
                filter: &filter,
                tradeoff: knob,
                top_k: 1,
            };
            let selection = select::select(&fitted.catalog, &profile, &analysis, &params)
                .map_err(|err| anyhow::anyhow!("{err}"))?;
            let id = &*fitted.catalog.model(selection.picks[0]).id;
            choices[usize::from(knob)][idx] = fitted.names[id].clone();
        }
    }
    Ok(())
}

/// Metrics of one curve.
#[derive(Debug, Clone, Copy)]
struct CurveMetrics {
    apgr: f64,
    cpt50: Option<f64>,
    cpt80: Option<f64>,
    aiq: f64,
    cost_at_95: Option<f64>,
}

/// score.py's `evaluate`, for one data set.
pub(crate) struct Scoring<'a> {
    rows: &'a [Row],
    models: &'a [String],
    /// Per model: (mean cost, mean quality).
    pub(crate) single: Vec<(f64, f64)>,
    pub(crate) strongest: usize,
    pub(crate) cheapest: usize,
    priciest: usize,
}

impl<'a> Scoring<'a> {
    pub(crate) fn new(rows: &'a [Row], models: &'a [String]) -> Self {
        let n = rows.len() as f64;
        let single: Vec<(f64, f64)> = models
            .iter()
            .map(|m| {
                let cost = rows.iter().map(|r| r.cost[m]).sum::<f64>() / n;
                let quality = rows.iter().map(|r| r.quality[m]).sum::<f64>() / n;
                (cost, quality)
            })
            .collect();
        // Python's max/min keep the first of equal keys.
        let first_best = |key: &dyn Fn(usize) -> (f64, f64)| {
            (0..models.len()).fold(0, |best, m| {
                if cmp2(key(m), key(best)).is_gt() {
                    m
                } else {
                    best
                }
            })
        };
        let strongest = first_best(&|m| (single[m].1, -single[m].0));
        let cheapest = first_best(&|m| (-single[m].0, single[m].1));
        let priciest = first_best(&|m| (single[m].0, 0.0));
        Self {
            rows,
            models,
            single,
            strongest,
            cheapest,
            priciest,
        }
    }

    /// Mean cost and quality of a choice per row.
    fn point(&self, choice: &[String]) -> (f64, f64) {
        let n = self.rows.len() as f64;
        let (mut cost, mut quality) = (0.0, 0.0);
        for (row, model) in self.rows.iter().zip(choice) {
            cost += row.cost[model];
            quality += row.quality[model];
        }
        (cost / n, quality / n)
    }

    fn pgr(&self, quality: f64) -> f64 {
        let (q_s, q_w) = (self.single[self.strongest].1, self.single[self.cheapest].1);
        if q_s != q_w {
            (quality - q_w) / (q_s - q_w)
        } else {
            f64::NAN
        }
    }

    /// score.py's `curve_metrics` on the cost axis (`shares`: strong-call share per point, used
    /// as the axis with a two-model pool as score.py does).
    fn curve(&self, points: &[(f64, f64)], shares: &[f64]) -> CurveMetrics {
        let (c_s, q_s) = self.single[self.strongest];
        let (c_w, q_w) = self.single[self.cheapest];
        let c_max = self.single[self.priciest].0;
        let two = self.models.len() == 2;
        // With a two-model pool the x axis is the share of strong calls (RouteLLM), else cost.
        let (hull, u_lo, u_hi) = if two {
            let mut xy: Vec<(f64, f64)> =
                shares.iter().zip(points).map(|(s, p)| (*s, p.1)).collect();
            xy.push((0.0, q_w));
            (upper_hull(&xy), 0.0, 1.0)
        } else {
            let mut xy = points.to_vec();
            xy.push((c_w, q_w));
            (upper_hull(&xy), c_w, c_s)
        };
        let to_u = |x: f64| {
            if two {
                x
            } else if c_s != c_w {
                (x - c_w) / (c_s - c_w)
            } else {
                f64::NAN
            }
        };
        let apgr = if u_hi > u_lo {
            self.pgr(hull_integral(&hull, u_lo, u_hi) / (u_hi - u_lo))
        } else {
            f64::NAN
        };
        let cpt = |p: f64| hull_first_x(&hull, q_w + p * (q_s - q_w)).map(|x| to_u(x).max(0.0));
        let mut xy = points.to_vec();
        xy.push((c_w, q_w));
        let cost_hull = upper_hull(&xy);
        let aiq = if c_max > c_w {
            hull_integral(&cost_hull, c_w, c_max) / (c_max - c_w)
        } else {
            f64::NAN
        };
        CurveMetrics {
            apgr,
            cpt50: cpt(0.5),
            cpt80: cpt(0.8),
            aiq,
            cost_at_95: hull_first_x(&cost_hull, 0.95 * q_s).map(|x| x / c_s),
        }
    }

    /// The oracle: per row the best model, ties to the cheaper (first in data order on full ties).
    fn oracle(&self, lambda: Option<f64>) -> Vec<String> {
        self.rows
            .iter()
            .map(|row| {
                let key = |m: &String| match lambda {
                    None => (row.quality[m], -row.cost[m]),
                    Some(l) => (row.quality[m] - l * row.cost[m], -row.cost[m]),
                };
                let mut best = &self.models[0];
                for m in self.models {
                    if cmp2(key(m), key(best)).is_gt() {
                        best = m;
                    }
                }
                best.clone()
            })
            .collect()
    }

    fn strong_share(&self, choice: &[String]) -> f64 {
        let strongest = &self.models[self.strongest];
        choice.iter().filter(|m| *m == strongest).count() as f64 / choice.len() as f64
    }

    /// The report of one curve (a choice of model per row at each dial value), and the
    /// router's, the zero router's and the oracle's metrics.
    fn report(&self, title: &str, choices: &[Vec<String>]) -> (String, [CurveMetrics; 3]) {
        let points: Vec<(f64, f64, BTreeMap<&str, usize>)> = choices
            .iter()
            .map(|choice| {
                let (cost, quality) = self.point(choice);
                let mut share: BTreeMap<&str, usize> = BTreeMap::new();
                for model in choice {
                    *share.entry(model.as_str()).or_default() += 1;
                }
                (cost, quality, share)
            })
            .collect();
        let n = self.rows.len();
        let (c_s, q_s) = self.single[self.strongest];
        let (c_w, q_w) = self.single[self.cheapest];
        let mut out = String::new();
        let _ = writeln!(
            out,
            "== {title}: {n} prompts, {} models; strongest={}, cheapest={}",
            self.models.len(),
            self.models[self.strongest],
            self.models[self.cheapest]
        );
        let _ = writeln!(
            out,
            "{:<44} {:>8} {:>11} {:>7} {:>15}",
            "baseline", "quality", "$/prompt", "PGR", "cost/strongest"
        );
        let _ = writeln!(
            out,
            "{:<44} {:>8.3} {:>11.3e} {:>7.3} {:>14.1}%",
            format!("always-strongest ({})", self.models[self.strongest]),
            q_s,
            c_s,
            1.0,
            100.0
        );
        let _ = writeln!(
            out,
            "{:<44} {:>8.3} {:>11.3e} {:>7.3} {:>14.1}%",
            format!("always-cheapest ({})", self.models[self.cheapest]),
            q_w,
            c_w,
            0.0,
            100.0 * c_w / c_s
        );
        let oracle = self.oracle(None);
        let (o_c, o_q) = self.point(&oracle);
        let _ = writeln!(
            out,
            "{:<44} {:>8.3} {:>11.3e} {:>7.3} {:>14.1}%",
            "oracle (best per prompt)",
            o_q,
            o_c,
            self.pgr(o_q),
            100.0 * o_c / c_s
        );

        let _ = writeln!(out, "\nrouter operating points (cost_quality_tradeoff):");
        let _ = writeln!(
            out,
            "{:>5} {:>8} {:>9} {:>11} {:>9} {:>7}  top models",
            "dial", "quality", "%strong", "$/prompt", "%cost", "PGR"
        );
        for (knob, (cost, quality, share)) in points.iter().enumerate() {
            let mut top: Vec<(&str, usize)> = share.iter().map(|(m, c)| (*m, *c)).collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let top: Vec<String> = top
                .iter()
                .take(3)
                .map(|(m, c)| format!("{m}:{:.0}%", 100.0 * *c as f64 / n as f64))
                .collect();
            let _ = writeln!(
                out,
                "{knob:>5} {quality:>8.3} {:>8.1}% {cost:>11.3e} {:>8.1}% {:>7.3}  {}",
                100.0 * quality / q_s,
                100.0 * cost / c_s,
                self.pgr(*quality),
                top.join(", ")
            );
        }

        let singles: Vec<(f64, f64)> = self.single.clone();
        let single_shares: Vec<f64> = (0..self.models.len())
            .map(|m| if m == self.strongest { 1.0 } else { 0.0 })
            .collect();
        let zero = self.curve(&singles, &single_shares);
        let mut oracle_points = Vec::new();
        let mut oracle_shares = Vec::new();
        let lambdas = std::iter::once(Some(0.0))
            .chain((-8..=32).map(|k| Some(10f64.powf(f64::from(k) / 4.0))))
            .chain(std::iter::once(None));
        for lambda in lambdas {
            let choice = match lambda {
                Some(0.0) => self.oracle(None),
                Some(l) => self.oracle(Some(l)),
                None => self
                    .rows
                    .iter()
                    .map(|row| {
                        let mut best = &self.models[0];
                        for m in self.models {
                            let key = |m: &String| (-row.cost[m], row.quality[m]);
                            if cmp2(key(m), key(best)).is_gt() {
                                best = m;
                            }
                        }
                        best.clone()
                    })
                    .collect(),
            };
            oracle_points.push(self.point(&choice));
            oracle_shares.push(self.strong_share(&choice));
        }
        let oracle_curve = self.curve(&oracle_points, &oracle_shares);
        let router_points: Vec<(f64, f64)> = points.iter().map(|(c, q, _)| (*c, *q)).collect();
        let strongest = &self.models[self.strongest];
        let router_shares: Vec<f64> = points
            .iter()
            .map(|(_, _, share)| {
                share.get(strongest.as_str()).copied().unwrap_or(0) as f64 / n as f64
            })
            .collect();
        let router = self.curve(&router_points, &router_shares);

        let _ = writeln!(out, "\ncurves (score.py definitions):");
        let _ = writeln!(
            out,
            "{:<40} {:>6} {:>9} {:>9} {:>6} {:>9}",
            "", "APGR", "CPT(50%)", "CPT(80%)", "AIQ", "cost@95%"
        );
        for (name, m) in [
            ("ROUTER", router),
            ("zero router (random mixes)", zero),
            ("oracle curve (argmax q - lambda*c)", oracle_curve),
        ] {
            let _ = writeln!(
                out,
                "{name:<40} {:>6.3} {:>9} {:>9} {:>6.3} {:>9}",
                m.apgr,
                pct(m.cpt50),
                pct(m.cpt80),
                m.aiq,
                pct(m.cost_at_95)
            );
        }
        // Above the zero router at every operating point: each router point beats the random
        // mix of single models at the same cost.
        let zero_hull = {
            let mut xy = singles;
            xy.push((c_w, q_w));
            upper_hull(&xy)
        };
        let below: Vec<usize> = router_points
            .iter()
            .enumerate()
            .filter(|(_, (c, q))| *q <= hull_at(&zero_hull, *c))
            .map(|(knob, _)| knob)
            .collect();
        let _ = writeln!(
            out,
            "router points at or below the zero router's curve: {}",
            if below.is_empty() {
                "none".to_owned()
            } else {
                format!("{below:?}")
            }
        );
        (out, [router, zero, oracle_curve])
    }
}

fn pct(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |it| format!("{:.1}%", 100.0 * it))
}

/// Python's tuple comparison for two floats.
fn cmp2(a: (f64, f64), b: (f64, f64)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1))
}

/// score.py's `upper_hull`: the non-decreasing upper concave hull of points, sorted by x.
pub(crate) fn upper_hull(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut pts = points.to_vec();
    pts.sort_by(|a, b| cmp2(*a, *b));
    pts.dedup();
    let mut hull: Vec<(f64, f64)> = Vec::new();
    for p in pts {
        while hull.len() >= 2 {
            let (x1, y1) = hull[hull.len() - 2];
            let (x2, y2) = hull[hull.len() - 1];
            if (x2 - x1) * (p.1 - y1) - (y2 - y1) * (p.0 - x1) >= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(p);
    }
    // Keep the rising part: up to the first highest point (ties to the lower x).
    let best = (0..hull.len()).fold(0, |best, i| {
        if cmp2((hull[i].1, -hull[i].0), (hull[best].1, -hull[best].0)).is_gt() {
            i
        } else {
            best
        }
    });
    hull.truncate(best + 1);
    let mut out: Vec<(f64, f64)> = Vec::new();
    for p in hull {
        match out.last_mut() {
            Some(last) if (last.0 - p.0).abs() < 1e-15 => *last = (p.0, last.1.max(p.1)),
            _ => out.push(p),
        }
    }
    out
}

fn hull_at(hull: &[(f64, f64)], x: f64) -> f64 {
    if x <= hull[0].0 {
        return hull[0].1;
    }
    for pair in hull.windows(2) {
        let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
        if x <= x2 {
            return y1 + (y2 - y1) * (x - x1) / (x2 - x1);
        }
    }
    hull[hull.len() - 1].1
}

pub(crate) fn hull_integral(hull: &[(f64, f64)], a: f64, b: f64) -> f64 {
    if b <= a {
        return 0.0;
    }
    let mut xs: Vec<f64> = vec![a, b];
    xs.extend(hull.iter().map(|p| p.0).filter(|x| a < *x && *x < b));
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    xs.windows(2)
        .map(|w| (w[1] - w[0]) * (hull_at(hull, w[0]) + hull_at(hull, w[1])) / 2.0)
        .sum()
}

fn hull_first_x(hull: &[(f64, f64)], y: f64) -> Option<f64> {
    if hull[0].1 >= y {
        return Some(hull[0].0);
    }
    for pair in hull.windows(2) {
        let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
        if y2 >= y {
            return Some(if y2 > y1 {
                x1 + (x2 - x1) * (y - y1) / (y2 - y1)
            } else {
                x1
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_from_one_file_routes_another_and_beats_random_mixes() {
        let train = crate::rows::two_kinds(40);
        let data = crate::rows::two_kinds(20);
        let options = FitOptions {
            clusters: 2,
            neighbours: 8,
            bits: 12,
            ..FitOptions::default()
        };
        let mut choices = vec![vec![String::new(); data.len()]; KNOBS.len()];
        let all: Vec<usize> = (0..data.len()).collect();
        route_part(&train, &data, &all, &options, &mut choices, "test").unwrap();
        for (row, pick) in data.iter().zip(&choices[0]) {
            let best = if row.task() == "code" {
                "strong coder"
            } else {
                "vendor/chatty"
            };
            assert_eq!(pick, best, "{}", row.prompt);
        }
        assert!(choices[10].iter().all(|it| it == "vendor/chatty"));
        let models: Vec<String> = data[0].quality.keys().cloned().collect();
        let (report, [router, zero, _]) = Scoring::new(&data, &models).report("t", &choices);
        assert!(router.apgr > zero.apgr + 0.2, "{report}");
        assert!(report.contains("2 models"), "{report}");
    }

    #[test]
    fn hull_keeps_the_rising_upper_part() {
        let hull = upper_hull(&[(0.0, 0.0), (1.0, 0.5), (2.0, 1.0), (3.0, 0.9), (1.0, 0.2)]);
        assert_eq!(hull, [(0.0, 0.0), (2.0, 1.0)]);
        assert!((hull_at(&hull, 1.0) - 0.5).abs() < 1e-12);
        assert!((hull_integral(&hull, 0.0, 2.0) - 1.0).abs() < 1e-12);
        assert_eq!(hull_first_x(&hull, 0.25), Some(0.5));
        assert_eq!(hull_first_x(&hull, 1.5), None);
    }
}
