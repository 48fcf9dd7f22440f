//! `cargo xtask calibrate --data FILE.jsonl --out PROFILE.json`: fits an Auto Router quality
//! profile from labelled traffic.
//!
//! Each input line is `{"id", "prompt", "quality": {model: 0..1}, "cost": {model: usd}}`;
//! `--split`, `--include-contaminated` and `--models` choose rows and models as
//! `rows` describes. The fit, all deterministic:
//!
//! 1. Featurize every prompt exactly as routing will (`router_core::analysis::raw_features`) and
//!    weigh the hashed n-grams by inverse document frequency, so boilerplate shared by many
//!    prompts (few-shot prefixes, instructions) stops counting.
//! 2. Cluster the prompts with spherical k-means (k-means++ seeding from a fixed seed).
//! 3. Per cluster and difficulty bucket, each model's mean quality, shrunk toward the cluster's
//!    mean, which is itself shrunk toward the model's global mean (so small clusters borrow
//!    strength and never overfit a handful of rows).
//! 4. Keep every prompt as a labelled example (pruned sparse vector plus per-model quality): at
//!    routing time the nearest examples refine the cluster estimate.
//! 5. With `--predictors`, per-model L2-regularised logistic regressions on the same features,
//!    the cluster estimate as their offset (the L2 strength chosen by 3-fold cross-validation on
//!    the rows). Measured on the development set they did not beat the nearest examples, so
//!    they are off by default.
//! 6. With `--embedding-l2` above 0 (the default), per-model ridge regressions of quality on the
//!    prompts' static embeddings (`embedding.rs`), blended into each prompt's estimate with the
//!    weight that best fits the held-out rows' quality, kept only when routing the held-out rows
//!    with it gains at least 2% of the gap between the cheapest and the strongest model (else
//!    the profile carries no embedding models).
//! 7. Choose how far a prompt's own estimate is trusted over the model's mean over all rows
//!    (`selection.estimate_weight`, each model's `mean`): fit profiles on four fifths of the
//!    rows, route the other fifth with them over a sweep of lambda, and keep the weight (0, 0.25,
//!    0.5, 0.75, 1 or the least-squares fit of the held-out quality) whose curve has the largest
//!    area, when it beats weight 1 by at least 2% of the gap between the cheapest and the
//!    strongest model. On a few hundred rows the estimates are noisy, and leaning on each
//!    model's mean keeps the router from doing worse than a fixed mix of models.
//! 8. Fit the dial's lambda scale so that the default dial (7) keeps about 95% of the quality of
//!    the quality-only choice, then a lambda per dial value so the operating points spread in
//!    cost instead of bunching: dials 1 to 6 geometrically between the quality-only cost and the
//!    default's, dial 9 at the scale curve's `9 * scale` (the knee where the cheap strong models
//!    take over), dial 8 halfway (geometrically) between the default's cost and dial 9's. Then
//!    each dial moves to a distinct operating point where the rows have enough of them (a dial
//!    that would repeat the previous dial's point takes the next cheaper one, so no two adjacent
//!    dials collapse; the default gives up its 95% target only when fewer than nine points lie
//!    between the quality-only and the cheapest choice). All on the training rows, each routed
//!    without itself as a neighbour.
//!
//! The profile is keyed by catalog ids: a data model name that is not `author/slug` must be
//! mapped to one with `--map data_name=author/slug`, or calibration stops (see `names.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use router_core::analysis::features::{SparseVector, fnv1a};
use router_core::analysis::task::TaskType;
use router_core::analysis::{self, Analysis, Conversation};
use router_core::auto::profile::{
    ClassifierData, CostScale, EmbeddingModelData, ExampleRow, ExamplesData, FORMAT, FeatureData,
    IdfData, ModelData, PredictorsData, Profile, ProfileData, SelectionData, TaskData, VERSION,
    logit, sigmoid,
};
use router_core::auto::select::{self, SelectParams};
use router_core::catalog::{Capabilities, Catalog, Endpoint, Model, Pricing, is_model_id};
use router_core::patterns::ModelFilter;

use crate::eval_router::{Scoring, hull_integral, upper_hull};
use crate::rows::{Row, RowSelection, read_rows};

mod catalog;
mod dial;
mod embedding;
mod folds;
mod kmeans;
mod logistic;
mod names;
pub(crate) mod progress;
mod quality;

pub(crate) use catalog::synthetic_catalog;
use dial::fit_dial;
use folds::{Estimates, choose_estimate_weight, held_out_estimates, in_sample_estimates};
use kmeans::{XorShift, kmeans};
use logistic::fit_predictors;
use quality::fit_estimates;

/// Arguments of `cargo xtask calibrate`.
#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Labelled rows, one JSON object a line: {"id","prompt","quality":{model:0..1},"cost":{model:usd}}.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Where to write the profile (JSON).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Number of task clusters (0: about sqrt(rows / 4), from 2 to 48).
    #[arg(long, default_value_t = 0)]
    pub(crate) clusters: usize,
    /// Also fit per-model logistic regressions on the prompt features (`predictors`).
    #[arg(long)]
    pub(crate) predictors: bool,
    /// L2 strength of the per-model ridge regressions on the prompts' embeddings, in units of
    /// rows (0: none).
    #[arg(long, default_value_t = FitOptions::default().embedding_l2)]
    pub(crate) embedding_l2: f64,
    #[command(flatten)]
    pub(crate) rows: RowSelection,
    /// The catalog id of a data model whose name is not one (`data_name=author/slug`; repeat for
    /// each). Calibration refuses names that are neither catalog ids nor mapped.
    #[arg(long = "map", value_name = "DATA_NAME=AUTHOR/SLUG")]
    pub(crate) map: Vec<String>,
}

/// Runs `calibrate`: fits the profile of `args.data` and writes it to `args.out`.
pub fn run(args: CalibrateArgs) -> anyhow::Result<()> {
    let rows = read_rows(&args.data, &args.rows)?;
    let data_models: Vec<String> = rows[0].quality.keys().cloned().collect();
    let catalog_ids = names::catalog_names(&data_models, &args.map)?;
    let options = FitOptions {
        clusters: args.clusters,
        predictors: args.predictors,
        embedding_l2: args.embedding_l2,
        progress: progress::bar(FIT_STEPS),
        ..FitOptions::default()
    };
    let started = std::time::Instant::now();
    let fitted = fit(&rows, &options)?;
    options.progress.finish_and_clear();
    let mut data = fitted.data;
    // Key the profile by the models' catalog ids.
    rename_models(&mut data, |id| {
        let name = fitted.names.get(id).map_or(id, String::as_str);
        catalog_ids
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    });
    data.name = args.data.file_stem().map_or_else(
        || "calibrated".to_owned(),
        |it| it.to_string_lossy().into_owned(),
    );
    let profile = Profile::from_data(data).context("the fitted profile does not validate")?;
    // Thousands of labelled examples: compact JSON keeps the file a fraction of the size.
    let json = match profile.data().examples {
        Some(_) => profile.to_json_compact(),
        None => profile.to_json(),
    };
    std::fs::write(&args.out, json).with_context(|| format!("writing {}", args.out.display()))?;
    let selection = profile.selection();
    let dial = selection.dial_lambdas.as_ref().map_or_else(
        || "scale curve".to_owned(),
        |table| {
            table
                .iter()
                .map(|it| format!("{it:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        },
    );
    println!(
        "| Rows | Models | Clusters | Estimate weight | Lambda scale | Lambda, dials 1-9 | Seconds |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {} | {} | {} | {:.2} | {:.4} | {dial} | {:.1} |",
        rows.len(),
        fitted.models.len(),
        profile.data().tasks.len(),
        selection.estimate_weight.unwrap_or(1.0),
        selection.lambda_scale,
        started.elapsed().as_secs_f64()
    );
    println!("wrote {}", args.out.display());
    Ok(())
}

/// Tunables of the fit.
#[derive(Debug, Clone)]
pub(crate) struct FitOptions {
    /// Task clusters (0: automatic).
    pub(crate) clusters: usize,
    /// Feature slots as a power of two.
    pub(crate) bits: u8,
    /// Shrinkage of a cluster's quality toward the model's global mean, in rows.
    pub(crate) cluster_prior: f64,
    /// Shrinkage of a difficulty bucket toward its cluster, in rows.
    pub(crate) bucket_prior: f64,
    /// Nearest examples used at routing time (0: clusters only).
    pub(crate) neighbours: usize,
    /// Strength of the cluster estimate against the neighbours, in examples.
    pub(crate) neighbour_prior: f32,
    /// Slots kept per example vector.
    pub(crate) example_slots: usize,
    /// The quality the default dial should keep, as a share of the quality-only choice.
    pub(crate) target_share: f64,
    /// How costs are normalized.
    pub(crate) cost_scale: CostScale,
    /// Fit per-model logistic regressions on the prompt features.
    pub(crate) predictors: bool,
    /// Their L2 strengths to choose from by inner cross-validation, in units of `1 / rows`.
    pub(crate) l2_grid: Vec<f32>,
    /// SGD epochs.
    pub(crate) epochs: usize,
    /// Fit a lambda per dial value so the operating points spread in cost.
    pub(crate) spread_dial: bool,
    /// Inner folds for the held-out estimates the estimate weight is chosen on (below 2:
    /// in-sample estimates, each row without itself as a neighbour).
    pub(crate) inner_folds: usize,
    /// The L2 strength of the per-model ridge regressions on the prompts' embeddings, in units
    /// of rows (0: no embedding models).
    pub(crate) embedding_l2: f64,
    /// Where the fit reports its steps ([`FIT_STEPS`] of them, `progress_units` each).
    pub(crate) progress: indicatif::ProgressBar,
    /// Units the progress bar moves per step of the fit.
    pub(crate) progress_units: u64,
}

/// The steps of [`fit`] that move the progress bar.
pub(crate) const FIT_STEPS: u64 = 4;

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            predictors: false,
            l2_grid: vec![0.3, 1.0, 3.0, 10.0],
            epochs: 10,
            spread_dial: true,
            inner_folds: 5,
            clusters: 0,
            bits: 16,
            cluster_prior: 8.0,
            bucket_prior: 16.0,
            neighbours: 64,
            neighbour_prior: 2.0,
            example_slots: 64,
            target_share: 0.95,
            cost_scale: CostScale::Reference,
            embedding_l2: 0.01,
            progress: progress::hidden(),
            progress_units: 1,
        }
    }
}

/// A fitted profile keyed by catalog ids, with what it takes to route on the training models.
pub(crate) struct Fitted {
    /// The profile, keyed by catalog ids ([`catalog_id`]).
    pub(crate) data: ProfileData,
    /// The data's model names, in order.
    pub(crate) models: Vec<String>,
    /// Catalog id to data name.
    pub(crate) names: BTreeMap<String, String>,
    /// A catalog of the data's models priced from their observed costs.
    pub(crate) catalog: Catalog,
}

/// Completion tokens assumed for calibrated clusters: the synthetic prices put a row's fixed
/// cost into the completion price, so only the product matters.
const COMPLETION_TOKENS: u32 = 256;

/// The model id a data model gets in a catalog: itself when it is `author/slug`, else
/// `data/<name>`.
pub(crate) fn catalog_id(name: &str) -> String {
    if is_model_id(name) {
        name.to_owned()
    } else {
        format!("data/{}", name.replace(char::is_whitespace, "_"))
    }
}

pub(crate) use router_core::analysis::tokens::{
    user_prompt_features as request_features, user_prompt_tokens as prompt_tokens,
};

/// Fits a profile on `rows`.
pub(crate) fn fit(rows: &[Row], options: &FitOptions) -> anyhow::Result<Fitted> {
    let models: Vec<String> = rows[0].quality.keys().cloned().collect();
    let ids: Vec<String> = models.iter().map(|it| catalog_id(it)).collect();
    let names: BTreeMap<String, String> = ids.iter().cloned().zip(models.iter().cloned()).collect();
    let catalog = synthetic_catalog(rows, &models)?;
    let bar = &options.progress;
    let step = |message: &str| {
        bar.set_message(message.to_owned());
    };
    step("clusters, qualities and examples");
    let mut data = fit_estimates(rows, &models, &ids, &catalog, options)?;
    bar.inc(options.progress_units);

    // 7. The estimate weight, chosen on held-out estimates of the training rows, which see the
    //    noise that routing unseen prompts will.
    step("held-out estimates");
    let mut held_out = held_out_estimates(rows, &models, &ids, &catalog, &data, options)?;
    bar.inc(options.progress_units);
    step("the estimate weight");
    if data.embedding.is_some() {
        let weight =
            embedding::choose_embedding_weight(&mut held_out, &catalog, rows, &models, &ids)?;
        if weight > 0.0 {
            data.selection.embedding_weight = Some(weight);
        } else {
            // Not worth its bytes or its multiply-adds per decision.
            data.embedding = None;
        }
    }
    let weight = choose_estimate_weight(&mut held_out, &catalog, rows, &models, &ids)?;
    data.selection.estimate_weight = Some(weight);
    bar.inc(options.progress_units);

    // 8. Lambda scale and the dial table, on the full profile's estimates of its own rows (each
    //    without itself as a neighbour).
    step("the dial");
    let mut in_sample = in_sample_estimates(rows, &data)?;
    let (scale, table) = fit_dial(&mut in_sample, &catalog, rows, &models, options)?;
    data.selection.lambda_scale = scale;
    data.selection.dial_lambdas = table;
    bar.inc(options.progress_units);
    Ok(Fitted {
        data,
        models,
        names,
        catalog,
    })
}

/// Renames every model key of a profile.
pub(crate) fn rename_models(data: &mut ProfileData, rename: impl Fn(&str) -> String) {
    data.models = std::mem::take(&mut data.models)
        .into_iter()
        .map(|(id, model)| (rename(&id), model))
        .collect();
    if let Some(examples) = &mut data.examples {
        for model in &mut examples.models {
            *model = rename(model);
        }
    }
}

/// Which of `k` folds a row id falls in (stable across runs and platforms).
pub(crate) fn fold_of(id: &str, k: usize) -> usize {
    (fnv1a(id.as_bytes()) % k.max(1) as u64) as usize
}

fn round4(value: f64) -> f64 {
    (value * 1e4).round() / 1e4
}

fn round6(value: f32) -> f32 {
    (value * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::folds::least_squares_weight;
    use super::*;

    fn rows() -> Vec<Row> {
        crate::rows::two_kinds(40)
    }

    #[test]
    fn fits_a_profile_that_routes_by_prompt() {
        let rows = rows();
        let options = FitOptions {
            clusters: 2,
            neighbours: 8,
            bits: 12,
            ..FitOptions::default()
        };
        let fitted = fit(&rows, &options).unwrap();
        assert_eq!(fitted.names["data/strong_coder"], "strong coder");
        let profile =
            Profile::from_json(&Profile::from_data(fitted.data).unwrap().to_json()).unwrap();
        assert!(profile.selection().lambda_scale > 0.0);
        let filter = ModelFilter::permit_all();
        let pick = |prompt: &str, tradeoff: u8| {
            let analysis = profile.analyze(&Conversation::user(prompt), &request_features(prompt));
            let params = SelectParams {
                filter: &filter,
                tradeoff,
                top_k: 2,
            };
            let selection = select::select(&fitted.catalog, &profile, &analysis, &params).unwrap();
            fitted.catalog.model(selection.picks[0]).id.clone()
        };
        let code = "Fix the bug in this python function: def g(y): return y[0]";
        let chat = "hello friend, how are you this morning?";
        assert_eq!(&*pick(code, 0), "data/strong_coder");
        assert_eq!(&*pick(chat, 0), "vendor/chatty");
        assert_eq!(&*pick(code, 10), "vendor/chatty");
    }

    #[test]
    fn predictors_learn_per_prompt_quality_and_the_dial_table_rises() {
        // Within one kind of prompt, the word "tricky" decides whether the cheap model succeeds.
        let mut rows = Vec::new();
        for idx in 0..60 {
            let tricky = idx % 2 == 0;
            let word = if tricky { "tricky" } else { "plain" };
            rows.push(Row {
                id: format!("row-{idx}"),
                prompt: format!("answer this {word} question number {idx} about rivers"),
                quality: BTreeMap::from([
                    ("big/model".to_owned(), 1.0),
                    ("small/model".to_owned(), if tricky { 0.0 } else { 1.0 }),
                ]),
                cost: BTreeMap::from([
                    ("big/model".to_owned(), 0.01),
                    ("small/model".to_owned(), 0.001),
                ]),
                ..Row::default()
            });
        }
        let options = FitOptions {
            clusters: 1,
            neighbours: 0,
            bits: 12,
            predictors: true,
            ..FitOptions::default()
        };
        let fitted = fit(&rows, &options).unwrap();
        let table = fitted.data.selection.dial_lambdas.clone().unwrap();
        assert_eq!(table.len(), 9);
        assert!(table.windows(2).all(|it| it[0] <= it[1]), "{table:?}");
        let predictors = fitted.data.predictors.clone().unwrap();
        assert_eq!(predictors.models, ["big/model", "small/model"]);
        let profile =
            Profile::from_json(&Profile::from_data(fitted.data).unwrap().to_json()).unwrap();
        let small = |prompt: &str| {
            let analysis = profile.analyze(&Conversation::user(prompt), &request_features(prompt));
            profile.quality("small/model", &analysis).unwrap()
        };
        let tricky = small("answer this tricky question number 99 about rivers");
        let plain = small("answer this plain question number 99 about rivers");
        assert!(plain > tricky + 0.3, "{plain} {tricky}");
    }

    #[test]
    fn the_estimate_weight_trusts_prompts_that_tell_models_apart_and_not_noise() {
        // Informative prompts: each kind has its own best model; shrinking would lose that.
        let options = FitOptions {
            clusters: 2,
            neighbours: 8,
            bits: 12,
            ..FitOptions::default()
        };
        let fitted = fit(&rows(), &options).unwrap();
        assert_eq!(fitted.data.selection.estimate_weight, Some(1.0));
        assert!(fitted.data.models.values().all(|it| it.mean.is_some()));

        // Noise: which model is right has nothing to do with the prompt's words.
        let mut rng = XorShift(7);
        let noisy: Vec<Row> = (0..120)
            .map(|idx| {
                let topic = ["rivers", "stars", "bread", "chess"][idx % 4];
                let (strong, weak) = (rng.unit() < 0.8, rng.unit() < 0.5);
                Row {
                    id: format!("row-{idx}"),
                    prompt: format!("tell me something about {topic}, item {idx}"),
                    quality: BTreeMap::from([
                        ("big/model".to_owned(), f64::from(u8::from(strong))),
                        ("small/model".to_owned(), f64::from(u8::from(weak))),
                    ]),
                    cost: BTreeMap::from([
                        ("big/model".to_owned(), 0.01),
                        ("small/model".to_owned(), 0.001),
                    ]),
                    ..Row::default()
                }
            })
            .collect();
        let models: Vec<String> = noisy[0].quality.keys().cloned().collect();
        let ids: Vec<String> = models.iter().map(|it| catalog_id(it)).collect();
        let catalog = synthetic_catalog(&noisy, &models).unwrap();
        let data = fit_estimates(&noisy, &models, &ids, &catalog, &options).unwrap();
        let parts = held_out_estimates(&noisy, &models, &ids, &catalog, &data, &options).unwrap();
        assert_eq!(parts.len(), options.inner_folds);
        let held_out: usize = parts.iter().map(|it| it.rows.len()).sum();
        assert_eq!(held_out, noisy.len());
        let weight = least_squares_weight(&parts, &noisy, &models, &ids);
        assert!(weight < 0.5, "{weight}");
    }

    #[test]
    fn synthetic_prices_reproduce_mean_costs_and_folds_are_stable() {
        let rows = rows();
        let models: Vec<String> = rows[0].quality.keys().cloned().collect();
        let catalog = synthetic_catalog(&rows, &models).unwrap();
        let idx = catalog.find("vendor/chatty").unwrap();
        let pricing = catalog.model(idx).endpoints[0].pricing;
        let mean_tokens = rows
            .iter()
            .map(|r| f64::from(prompt_tokens(&r.prompt)))
            .sum::<f64>()
            / rows.len() as f64;
        let predicted =
            mean_tokens * pricing.prompt + f64::from(COMPLETION_TOKENS) * pricing.completion;
        assert!((predicted - 0.001).abs() < 1e-9, "{predicted}");
        assert_eq!(fold_of("rb:mbpp.dev.1", 5), fold_of("rb:mbpp.dev.1", 5));
        assert!(fold_of("x", 5) < 5);
        assert_eq!(catalog_id("gpt-4"), "data/gpt-4");
        assert_eq!(catalog_id("meta/llama"), "meta/llama");
    }
}
