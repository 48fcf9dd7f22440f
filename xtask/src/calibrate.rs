//! `cargo xtask calibrate --data FILE.jsonl --out PROFILE.json`: fits an Auto Router quality
//! profile from labelled traffic.
//!
//! Each input line is `{"id", "prompt", "quality": {model: 0..1}, "cost": {model: usd}}`;
//! `--split`, `--include-contaminated` and `--models` choose rows and models as
//! [`crate::rows`] describes. The fit, all deterministic:
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
//! 6. Choose how far a prompt's own estimate is trusted over the model's mean over all rows
//!    (`selection.estimate_weight`, each model's `mean`): fit profiles on four fifths of the
//!    rows, route the other fifth with them over a sweep of lambda, and keep the weight (0, 0.25,
//!    0.5, 0.75, 1 or the least-squares fit of the held-out quality) whose curve has the largest
//!    area, when it beats weight 1 by at least 2% of the gap between the cheapest and the
//!    strongest model. On a few hundred rows the estimates are noisy, and leaning on each
//!    model's mean keeps the router from doing worse than a fixed mix of models.
//! 7. Fit the dial's lambda scale so that the default dial (7) keeps about 95% of the quality of
//!    the quality-only choice, then a lambda per dial value so the operating points spread in
//!    cost instead of bunching: dials 1 to 6 geometrically between the quality-only cost and the
//!    default's, dial 9 at the scale curve's `9 * scale` (the knee where the cheap strong models
//!    take over), dial 8 halfway (geometrically) between the default's cost and dial 9's. All on
//!    the training rows, each routed without itself as a neighbour.
//!
//! Model names are kept as given: the profile is keyed by the data's model names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use router_core::analysis::features::{SparseVector, fnv1a};
use router_core::analysis::task::TaskType;
use router_core::analysis::{self, Analysis, Conversation};
use router_core::auto::profile::{
    ClassifierData, CostScale, ExampleRow, ExamplesData, FORMAT, FeatureData, IdfData, ModelData,
    PredictorsData, Profile, ProfileData, SelectionData, TaskData, VERSION, logit, sigmoid,
};
use router_core::auto::select::{self, SelectParams};
use router_core::catalog::{Capabilities, Catalog, Endpoint, Model, Pricing, is_model_id};
use router_core::patterns::ModelFilter;
use router_core::request::{RequestFeatures, estimate_tokens};

use crate::eval_router::{Scoring, hull_integral, upper_hull};
use crate::rows::{Row, RowSelection, read_rows};

/// Arguments of `cargo xtask calibrate`.
#[derive(Debug, clap::Args)]
pub(crate) struct CalibrateArgs {
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
    #[command(flatten)]
    pub(crate) rows: RowSelection,
}

/// Runs `cargo xtask calibrate`.
pub(crate) fn run(args: CalibrateArgs) -> anyhow::Result<()> {
    let rows = read_rows(&args.data, &args.rows)?;
    let options = FitOptions {
        clusters: args.clusters,
        predictors: args.predictors,
        ..FitOptions::default()
    };
    let fitted = fit(&rows, &options)?;
    let mut data = fitted.data;
    // Key the profile by the data's own model names.
    rename_models(&mut data, |id| {
        fitted
            .names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_owned())
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
    println!(
        "calibrated on {} rows, {} models, {} clusters; estimate weight {:.2}; lambda scale {:.4}; \
         wrote {}",
        rows.len(),
        fitted.models.len(),
        profile.data().tasks.len(),
        profile.selection().estimate_weight.unwrap_or(1.0),
        profile.selection().lambda_scale,
        args.out.display()
    );
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
}

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

/// Estimated prompt tokens of a row's prompt sent as one user message.
pub(crate) fn prompt_tokens(prompt: &str) -> u32 {
    estimate_tokens(prompt.len() + 40)
}

/// The request features routing sees for a prompt sent as one user message.
pub(crate) fn request_features(prompt: &str) -> RequestFeatures {
    RequestFeatures {
        prompt_tokens_estimate: prompt_tokens(prompt),
        ..RequestFeatures::default()
    }
}

/// Fits a profile on `rows`.
pub(crate) fn fit(rows: &[Row], options: &FitOptions) -> anyhow::Result<Fitted> {
    let models: Vec<String> = rows[0].quality.keys().cloned().collect();
    let ids: Vec<String> = models.iter().map(|it| catalog_id(it)).collect();
    let names: BTreeMap<String, String> = ids.iter().cloned().zip(models.iter().cloned()).collect();
    let catalog = synthetic_catalog(rows, &models)?;
    let mut data = fit_estimates(rows, &models, &ids, &catalog, options)?;

    // 7. The estimate weight, chosen on held-out estimates of the training rows, which see the
    //    noise that routing unseen prompts will.
    let mut held_out = held_out_estimates(rows, &models, &ids, &catalog, &data, options)?;
    let weight = choose_estimate_weight(&mut held_out, &catalog, rows, &models, &ids)?;
    data.selection.estimate_weight = Some(weight);

    // 8. Lambda scale and the dial table, on the full profile's estimates of its own rows (each
    //    without itself as a neighbour).
    let mut in_sample = in_sample_estimates(rows, &data)?;
    let (scale, table) = fit_dial(&mut in_sample, &catalog, rows, &models, options)?;
    data.selection.lambda_scale = scale;
    data.selection.dial_lambdas = table;
    Ok(Fitted {
        data,
        models,
        names,
        catalog,
    })
}

/// A profile and its analyses of some rows: rows it did not see (held out), or its own training
/// rows, each without itself as a neighbour (in sample).
struct Estimates {
    profile: Profile,
    rows: Vec<usize>,
    analyses: Vec<Analysis>,
}

impl Estimates {
    /// Sets one selection tunable on every part's profile.
    fn set(parts: &mut [Estimates], change: impl Fn(&mut SelectionData)) -> anyhow::Result<()> {
        for part in parts {
            let mut selection = part.profile.selection().clone();
            change(&mut selection);
            part.profile.set_selection(selection)?;
        }
        Ok(())
    }

    /// Mean (cost, quality) of the top pick of every row of the parts at dial `tradeoff`.
    fn point(
        parts: &[Estimates],
        catalog: &Catalog,
        rows: &[Row],
        by_id: &BTreeMap<String, &String>,
        tradeoff: u8,
    ) -> anyhow::Result<(f64, f64)> {
        let filter = ModelFilter::permit_all();
        let params = SelectParams {
            filter: &filter,
            tradeoff,
            top_k: 1,
        };
        let (mut cost, mut quality, mut n) = (0.0, 0.0, 0usize);
        for part in parts {
            for (idx, analysis) in part.rows.iter().zip(&part.analyses) {
                let selection = select::select(catalog, &part.profile, analysis, &params)
                    .map_err(|err| anyhow::anyhow!("{err}"))?;
                let pick = by_id[&catalog.model(selection.picks[0]).id];
                cost += rows[*idx].cost[pick];
                quality += rows[*idx].quality[pick];
                n += 1;
            }
        }
        let n = n.max(1) as f64;
        Ok((cost / n, quality / n))
    }
}

/// The profile's analyses of its own training rows, each without itself as a neighbour.
fn in_sample_estimates(rows: &[Row], data: &ProfileData) -> anyhow::Result<Vec<Estimates>> {
    let profile =
        Profile::from_data(data.clone()).context("the fitted profile does not validate")?;
    let analyses = rows
        .iter()
        .enumerate()
        .map(|(idx, row)| {
            let mut analysis = profile.analyze(
                &Conversation::user(&row.prompt),
                &request_features(&row.prompt),
            );
            analysis.neighbours.retain(|it| it.example as usize != idx);
            analysis
        })
        .collect();
    Ok(vec![Estimates {
        profile,
        rows: (0..rows.len()).collect(),
        analyses,
    }])
}

/// Fits profiles on all but one inner fold of the rows and analyses the fold's rows with them
/// (with too few rows for that, the in-sample estimates).
fn held_out_estimates(
    rows: &[Row],
    models: &[String],
    ids: &[String],
    catalog: &Catalog,
    full: &ProfileData,
    options: &FitOptions,
) -> anyhow::Result<Vec<Estimates>> {
    let folds = options.inner_folds;
    if folds < 2 || rows.len() < 4 * folds {
        return in_sample_estimates(rows, full);
    }
    let fold = |row: &Row| fold_of(&format!("{}#inner", row.id), folds);
    let mut parts = Vec::with_capacity(folds);
    for f in 0..folds {
        let (inside, outside): (Vec<usize>, Vec<usize>) =
            (0..rows.len()).partition(|idx| fold(&rows[*idx]) != f);
        if inside.is_empty() || outside.is_empty() {
            continue;
        }
        let train: Vec<Row> = inside.iter().map(|idx| rows[*idx].clone()).collect();
        let mut inner = options.clone();
        inner.predictors = false;
        let data = fit_estimates(&train, models, ids, catalog, &inner)?;
        let profile = Profile::from_data(data).context("an inner profile does not validate")?;
        let analyses = outside
            .iter()
            .map(|idx| {
                let prompt = &rows[*idx].prompt;
                profile.analyze(&Conversation::user(prompt), &request_features(prompt))
            })
            .collect();
        parts.push(Estimates {
            profile,
            rows: outside,
            analyses,
        });
    }
    Ok(parts)
}

/// The estimate weight (see `SelectionData::estimate_weight`) under which routing the held-out
/// rows does best: the largest area under their quality/cost curve over a sweep of lambda
/// (score.py's APGR), among 0 to 1 in steps of 0.25 and the least-squares fit of the held-out
/// quality.
fn choose_estimate_weight(
    parts: &mut [Estimates],
    catalog: &Catalog,
    rows: &[Row],
    models: &[String],
    ids: &[String],
) -> anyhow::Result<f64> {
    let by_id: BTreeMap<String, &String> = ids.iter().cloned().zip(models).collect();
    // The cheapest and the strongest model on these rows bound the cost axis.
    let scoring = Scoring::new(rows, models);
    let cheapest = scoring.single[scoring.cheapest];
    let strongest = scoring.single[scoring.strongest];
    let mut candidates = vec![0.0, 0.25, 0.5, 0.75, 1.0];
    candidates.push(least_squares_weight(parts, rows, models, ids));
    let mut areas = Vec::with_capacity(candidates.len());
    for weight in candidates {
        let weight = round4(weight);
        Estimates::set(parts, |it| it.estimate_weight = Some(weight))?;
        let mut points = vec![cheapest];
        for step in 0..=24 {
            let lambda = 10f64.powf(-3.0 + f64::from(step) / 4.0);
            Estimates::set(parts, |it| it.dial_lambdas = Some(vec![lambda; 9]))?;
            points.push(Estimates::point(parts, catalog, rows, &by_id, 5)?);
        }
        Estimates::set(parts, |it| it.dial_lambdas = Some(vec![0.0; 9]))?;
        points.push(Estimates::point(parts, catalog, rows, &by_id, 5)?);
        let hull = upper_hull(&points);
        let area = if strongest.0 > cheapest.0 {
            hull_integral(&hull, cheapest.0, strongest.0) / (strongest.0 - cheapest.0)
        } else {
            hull.last().map_or(0.0, |it| it.1)
        };
        areas.push((weight, area));
    }
    // Trusting every prompt's own estimate (weight 1) stays unless a smaller weight gains at
    // least 2% of the gap between the cheapest and the strongest model: the areas of the
    // candidates differ by little more than noise otherwise.
    let margin = 0.02 * (strongest.1 - cheapest.1).abs();
    let full = areas
        .iter()
        .find(|it| it.0 == 1.0)
        .map_or(f64::NEG_INFINITY, |it| it.1);
    let mut best = (full, 1.0);
    for &(weight, area) in &areas {
        if area > best.0 && area > full + margin {
            best = (area, weight);
        }
    }
    Ok(best.1)
}

/// The weight `w` in `mean + w * (estimate - mean)` that best predicts the held-out rows'
/// quality (least squares over rows and models), from 0 to 1.
fn least_squares_weight(
    parts: &[Estimates],
    rows: &[Row],
    models: &[String],
    ids: &[String],
) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for part in parts {
        let mut profile = part.profile.clone();
        let mut selection = profile.selection().clone();
        selection.estimate_weight = None;
        if profile.set_selection(selection).is_err() {
            continue;
        }
        for (idx, analysis) in part.rows.iter().zip(&part.analyses) {
            let estimator = profile.estimator(analysis);
            for (name, id) in models.iter().zip(ids) {
                let (Some(estimate), Some(mean)) = (
                    estimator.quality(id),
                    profile.data().models.get(id).and_then(|it| it.mean),
                ) else {
                    continue;
                };
                let spread = estimate - mean;
                num += (rows[*idx].quality[name] - mean) * spread;
                den += spread * spread;
            }
        }
    }
    if den > 0.0 {
        (num / den).clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// The fit's estimates: features, clusters, completion lengths, quality, examples and
/// predictors (everything but the estimate weight and the dial).
fn fit_estimates(
    rows: &[Row],
    models: &[String],
    ids: &[String],
    catalog: &Catalog,
    options: &FitOptions,
) -> anyhow::Result<ProfileData> {
    let n = rows.len();

    // 1. Features, IDF.
    let raw: Vec<SparseVector> = rows
        .iter()
        .map(|row| analysis::raw_features(&Conversation::user(&row.prompt), options.bits))
        .collect();
    let n_slots = 1usize << options.bits;
    let mut df = vec![0u32; n_slots];
    for vector in &raw {
        for &(slot, _) in vector.entries() {
            df[slot as usize] += 1;
        }
    }
    let idf_of = |df: u32| ((1.0 + n as f32) / (1.0 + df as f32)).ln() + 1.0;
    let default_idf = idf_of(1);
    let idf_slots: Vec<(u32, f32)> = df
        .iter()
        .enumerate()
        .filter(|it| *it.1 >= 2)
        .map(|(slot, df)| (slot as u32, idf_of(*df)))
        .collect();
    let mut dense_idf = vec![default_idf; n_slots];
    for &(slot, weight) in &idf_slots {
        dense_idf[slot as usize] = weight;
    }
    let vectors: Vec<SparseVector> = raw
        .into_iter()
        .map(|mut vector| {
            vector.reweight(|slot| dense_idf[slot as usize]);
            vector.normalize();
            vector
        })
        .collect();

    // 2. Clusters.
    let k = match options.clusters {
        0 => ((n as f64 / 4.0).sqrt().round() as usize).clamp(2, 48),
        k => k,
    }
    .min(n);
    let (assignment, centroids) = kmeans(&vectors, k, options.bits, 20);

    // 3. Expected completion length per cluster: what the rows cost beyond their prompt, in
    //    units of the synthetic completion price.
    let prices: Vec<(f64, f64)> = ids
        .iter()
        .map(|id| {
            let pricing = catalog
                .find(id)
                .map(|idx| catalog.model(idx).endpoints[0].pricing)
                .unwrap_or_default();
            (pricing.prompt, pricing.completion)
        })
        .collect();
    let mut extra_cost = vec![0.0f64; k];
    let mut completion_price = vec![0.0f64; k];
    for (idx, row) in rows.iter().enumerate() {
        let tokens = f64::from(prompt_tokens(&row.prompt));
        for (m, name) in models.iter().enumerate() {
            let (prompt_price, output_price) = prices[m];
            extra_cost[assignment[idx]] += (row.cost[name] - tokens * prompt_price).max(0.0);
            completion_price[assignment[idx]] += output_price;
        }
    }
    let completion_tokens: Vec<u32> = (0..k)
        .map(|c| {
            if completion_price[c] > 0.0 {
                (extra_cost[c] / completion_price[c])
                    .clamp(8.0, 16_384.0)
                    .round() as u32
            } else {
                COMPLETION_TOKENS
            }
        })
        .collect();
    let mut sorted_tokens: Vec<u32> = rows.iter().map(|row| prompt_tokens(&row.prompt)).collect();
    sorted_tokens.sort_unstable();
    let reference_prompt_tokens = sorted_tokens[sorted_tokens.len() / 2].max(1);

    // 4. Quality per model, cluster and difficulty bucket.
    let rules: Vec<(usize, f32)> = rows
        .iter()
        .map(|row| {
            let (prior, difficulty) = analysis::rule_view(&Conversation::user(&row.prompt));
            let task = (0..prior.len())
                .max_by(|a, b| prior[*a].total_cmp(&prior[*b]).then(b.cmp(a)))
                .unwrap_or(0);
            (task, difficulty)
        })
        .collect();
    let n_buckets = 3usize;
    let bucket_of = |difficulty: f32| ((difficulty * n_buckets as f32) as usize).min(n_buckets - 1);
    let n_models = models.len();
    let global: Vec<f64> = models
        .iter()
        .map(|m| rows.iter().map(|row| row.quality[m]).sum::<f64>() / n as f64)
        .collect();
    let mut cluster_sum = vec![vec![0.0f64; n_models]; k];
    let mut cluster_n = vec![0.0f64; k];
    let mut bucket_sum = vec![vec![vec![0.0f64; n_models]; n_buckets]; k];
    let mut bucket_n = vec![vec![0.0f64; n_buckets]; k];
    let mut task_votes = vec![[0u32; 9]; k];
    for (idx, row) in rows.iter().enumerate() {
        let cluster = assignment[idx];
        let bucket = bucket_of(rules[idx].1);
        cluster_n[cluster] += 1.0;
        bucket_n[cluster][bucket] += 1.0;
        task_votes[cluster][rules[idx].0] += 1;
        for (m, name) in models.iter().enumerate() {
            cluster_sum[cluster][m] += row.quality[name];
            bucket_sum[cluster][bucket][m] += row.quality[name];
        }
    }
    let mut tasks = Vec::with_capacity(k);
    let mut model_quality: Vec<BTreeMap<String, Vec<f64>>> = vec![BTreeMap::new(); n_models];
    for cluster in 0..k {
        let id = format!("cluster-{cluster:02}");
        let votes = task_votes[cluster];
        let label = (0..9)
            .max_by(|a, b| votes[*a].cmp(&votes[*b]).then(b.cmp(a)))
            .map(|it| TaskType::ALL[it]);
        tasks.push(TaskData {
            id: id.clone(),
            task: label,
            completion_tokens: completion_tokens[cluster],
            count: cluster_n[cluster] as u32,
            centroid: centroids[cluster].entries().to_vec(),
            exemplars: Vec::new(),
        });
        for m in 0..n_models {
            let cluster_mean = (cluster_sum[cluster][m] + options.cluster_prior * global[m])
                / (cluster_n[cluster] + options.cluster_prior);
            let buckets = (0..n_buckets)
                .map(|b| {
                    let value = (bucket_sum[cluster][b][m] + options.bucket_prior * cluster_mean)
                        / (bucket_n[cluster][b] + options.bucket_prior);
                    round4(value.clamp(0.0, 1.0))
                })
                .collect();
            model_quality[m].insert(id.clone(), buckets);
        }
    }
    let models_data: BTreeMap<String, ModelData> = ids
        .iter()
        .zip(model_quality)
        .enumerate()
        .map(|(m_idx, (id, quality))| {
            (
                id.clone(),
                ModelData {
                    quality,
                    sources: BTreeMap::from([(
                        "*".to_owned(),
                        format!("fitted by `cargo xtask calibrate` on {n} labelled rows"),
                    )]),
                    notes: String::new(),
                    mean: Some(round4(global[m_idx])),
                },
            )
        })
        .collect();

    // 5. Labelled examples.
    let examples = (options.neighbours > 0).then(|| ExamplesData {
        models: ids.to_vec(),
        rows: rows
            .iter()
            .zip(&vectors)
            .map(|(row, vector)| {
                let mut vector = vector.clone();
                vector.prune(options.example_slots);
                vector.normalize();
                ExampleRow {
                    vector: vector
                        .entries()
                        .iter()
                        .map(|&(s, w)| (s, round6(w)))
                        .collect(),
                    quality: models.iter().map(|m| Some(row.quality[m] as f32)).collect(),
                }
            })
            .collect(),
    });

    let mut data = ProfileData {
        format: FORMAT.to_owned(),
        version: VERSION,
        name: "calibrated".to_owned(),
        notes: vec![format!(
            "Fitted by `cargo xtask calibrate` on {n} rows and {n_models} models: {k} k-means \
             clusters over IDF-weighted hashed n-grams, quality per cluster and difficulty \
             bucket shrunk toward each model's mean, {} nearest labelled examples.",
            options.neighbours
        )],
        features: FeatureData { bits: options.bits },
        classifier: ClassifierData {
            temperature: 0.05,
            rule_weight: 0.0,
            neighbours: options.neighbours,
            neighbour_prior: options.neighbour_prior,
            idf: Some(IdfData {
                default: round6(default_idf),
                slots: idf_slots.into_iter().map(|(s, w)| (s, round6(w))).collect(),
            }),
        },
        selection: SelectionData {
            lambda_scale: 1.0,
            cost_scale: options.cost_scale,
            unknown_model_quality: 0.0,
            reference_prompt_tokens,
            dial_lambdas: None,
            estimate_weight: None,
        },
        difficulty_buckets: n_buckets,
        tasks,
        models: models_data,
        examples,
        predictors: None,
    };

    // 6. Per-model logistic regressions, the cluster estimate as their offset.
    if options.predictors {
        data.predictors = Some(fit_predictors(&data, rows, models, ids, options)?);
    }

    Ok(data)
}

/// Fits the per-model logistic regressions: each row's features as routing computes them, the
/// profile's cluster estimate (without neighbours) as the offset, the L2 strength chosen from
/// `options.l2_grid` by 3-fold cross-validation on the rows (mean log-loss).
fn fit_predictors(
    data: &ProfileData,
    rows: &[Row],
    models: &[String],
    ids: &[String],
    options: &FitOptions,
) -> anyhow::Result<PredictorsData> {
    let mut base = data.clone();
    base.classifier.neighbours = 0;
    let profile = Profile::from_data(base).context("the fitted profile does not validate")?;
    let mut xs = Vec::with_capacity(rows.len());
    let mut offsets = Vec::with_capacity(rows.len() * ids.len());
    let mut labels = Vec::with_capacity(rows.len() * ids.len());
    for row in rows {
        let analysis = profile.analyze(
            &Conversation::user(&row.prompt),
            &request_features(&row.prompt),
        );
        let estimator = profile.estimator(&analysis);
        for (id, name) in ids.iter().zip(models) {
            let prior = estimator.quality(id).unwrap_or(0.5) as f32;
            offsets.push(logit(prior));
            labels.push(row.quality[name] as f32);
        }
        xs.push(analysis.features);
    }
    let problem = Problem {
        xs: &xs,
        offsets: &offsets,
        labels: &labels,
        n_models: ids.len(),
        n_slots: 1usize << data.features.bits,
    };
    let n = rows.len() as f32;
    let mut best = (
        f64::INFINITY,
        options.l2_grid.first().copied().unwrap_or(1.0),
    );
    if options.l2_grid.len() > 1 {
        const INNER: usize = 3;
        for &l2 in &options.l2_grid {
            let mut loss = 0.0;
            for fold in 0..INNER {
                let train: Vec<usize> = (0..rows.len()).filter(|i| i % INNER != fold).collect();
                let test: Vec<usize> = (0..rows.len()).filter(|i| i % INNER == fold).collect();
                let (bias, weights) = problem.sgd(&train, l2 / train.len() as f32, options.epochs);
                loss += problem.log_loss(&test, &bias, &weights);
            }
            if loss < best.0 {
                best = (loss, l2);
            }
        }
    }
    let all: Vec<usize> = (0..rows.len()).collect();
    let (bias, weights) = problem.sgd(&all, best.1 / n, options.epochs);
    let m = ids.len();
    let weights = weights
        .chunks_exact(m)
        .enumerate()
        .filter(|(_, values)| values.iter().any(|w| w.abs() >= 1e-4))
        .map(|(slot, values)| (slot as u32, values.iter().map(|w| round4f(*w)).collect()))
        .collect();
    Ok(PredictorsData {
        models: ids.to_vec(),
        prior_weight: 1.0,
        bias: bias.iter().map(|it| round4f(*it)).collect(),
        weights,
    })
}

/// Logistic regressions with offsets, one per model, sharing the rows' features.
struct Problem<'a> {
    xs: &'a [SparseVector],
    /// `[row][model]`.
    offsets: &'a [f32],
    /// `[row][model]`, `0..=1`.
    labels: &'a [f32],
    n_models: usize,
    n_slots: usize,
}

impl Problem<'_> {
    /// SGD on `rows` (Bottou's schedule, L2 through a shared scale). Returns the biases and the
    /// slot-major weights.
    fn sgd(&self, rows: &[usize], l2: f32, epochs: usize) -> (Vec<f32>, Vec<f32>) {
        let m = self.n_models;
        let mut weights = vec![0.0f32; self.n_slots * m];
        let mut bias = vec![0.0f32; m];
        let mut scale = 1.0f64;
        let lr0 = 1.0f64;
        let mut t = 0.0f64;
        let mut order = rows.to_vec();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut z = vec![0.0f32; m];
        for _ in 0..epochs {
            for i in (1..order.len()).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            for &row in &order {
                let lr = lr0 / (1.0 + lr0 * f64::from(l2) * t);
                t += 1.0;
                let offsets = &self.offsets[row * m..(row + 1) * m];
                for ((z, o), b) in z.iter_mut().zip(offsets).zip(&bias) {
                    *z = o + b;
                }
                let s = scale as f32;
                for &(slot, x) in self.xs[row].entries() {
                    let w = &weights[slot as usize * m..(slot as usize + 1) * m];
                    for (z, w) in z.iter_mut().zip(w) {
                        *z += s * w * x;
                    }
                }
                let labels = &self.labels[row * m..(row + 1) * m];
                for (z, y) in z.iter_mut().zip(labels) {
                    *z = sigmoid(*z) - y;
                }
                scale *= 1.0 - lr * f64::from(l2);
                if scale < 1e-6 {
                    weights.iter_mut().for_each(|w| *w *= scale as f32);
                    scale = 1.0;
                }
                let step = (lr / scale) as f32;
                for &(slot, x) in self.xs[row].entries() {
                    let w = &mut weights[slot as usize * m..(slot as usize + 1) * m];
                    for (w, g) in w.iter_mut().zip(&z) {
                        *w -= step * g * x;
                    }
                }
                for (b, g) in bias.iter_mut().zip(&z) {
                    *b -= (lr * 0.1) as f32 * g;
                }
            }
        }
        weights.iter_mut().for_each(|w| *w *= scale as f32);
        (bias, weights)
    }

    /// Mean log-loss on `rows`.
    fn log_loss(&self, rows: &[usize], bias: &[f32], weights: &[f32]) -> f64 {
        let m = self.n_models;
        let mut total = 0.0f64;
        for &row in rows {
            for model in 0..m {
                let mut z = self.offsets[row * m + model] + bias[model];
                for &(slot, x) in self.xs[row].entries() {
                    z += x * weights[slot as usize * m + model];
                }
                let p = f64::from(sigmoid(z)).clamp(1e-6, 1.0 - 1e-6);
                let y = f64::from(self.labels[row * m + model]);
                total -= y * p.ln() + (1.0 - y) * (1.0 - p).ln();
            }
        }
        total / (rows.len() * m).max(1) as f64
    }
}

fn round4f(value: f32) -> f32 {
    (value * 1e4).round() / 1e4
}

/// A catalog of the data's models, each priced from its observed costs: a least-squares line
/// `cost = a * prompt tokens + b` gives the prompt price `a` and, spread over the assumed
/// completion length, the completion price.
pub(crate) fn synthetic_catalog(rows: &[Row], models: &[String]) -> anyhow::Result<Catalog> {
    let tokens: Vec<f64> = rows
        .iter()
        .map(|row| f64::from(prompt_tokens(&row.prompt)))
        .collect();
    let n = rows.len() as f64;
    let mean_t = tokens.iter().sum::<f64>() / n;
    let var_t = tokens.iter().map(|t| (t - mean_t).powi(2)).sum::<f64>();
    let catalog_models = models
        .iter()
        .map(|name| {
            let costs: Vec<f64> = rows.iter().map(|row| row.cost[name]).collect();
            let mean_c = costs.iter().sum::<f64>() / n;
            let cov = tokens
                .iter()
                .zip(&costs)
                .map(|(t, c)| (t - mean_t) * (c - mean_c))
                .sum::<f64>();
            let mut slope = if var_t > 0.0 {
                (cov / var_t).max(0.0)
            } else {
                0.0
            };
            let mut intercept = mean_c - slope * mean_t;
            if intercept < 0.0 {
                // Through the origin instead.
                let tt = tokens.iter().map(|t| t * t).sum::<f64>();
                let tc = tokens.iter().zip(&costs).map(|(t, c)| t * c).sum::<f64>();
                slope = if tt > 0.0 { tc / tt } else { 0.0 };
                intercept = 0.0;
            }
            Model {
                id: catalog_id(name),
                name: name.clone(),
                created: 0,
                description: String::new(),
                endpoints: vec![Endpoint {
                    provider: "data".to_owned(),
                    upstream_model: name.clone(),
                    pricing: Pricing {
                        prompt: slope,
                        completion: intercept / f64::from(COMPLETION_TOKENS),
                        ..Pricing::default()
                    },
                    context_length: u32::MAX,
                    max_output: None,
                    supported_parameters: Vec::new(),
                    capabilities: Capabilities {
                        tools: true,
                        vision: true,
                        structured_output: true,
                    },
                    traits: Default::default(),
                }],
            }
        })
        .collect();
    Catalog::new(catalog_models).context("building the synthetic catalog")
}

/// The dial's calibration: the lambda scale at which the default dial keeps `target_share` of
/// the quality the quality-only dial gets, and, with `options.spread_dial`, a lambda per dial
/// value so the operating points spread in cost (see the module documentation, step 6). All on
/// the training rows, each routed without itself as a neighbour.
fn fit_dial(
    parts: &mut [Estimates],
    catalog: &Catalog,
    rows: &[Row],
    models: &[String],
    options: &FitOptions,
) -> anyhow::Result<(f64, Option<Vec<f64>>)> {
    let by_id: BTreeMap<String, &String> =
        models.iter().map(|name| (catalog_id(name), name)).collect();
    // Mean (cost, quality) of the picks at a fixed lambda (`None`: infinite).
    let mut point = |lambda: Option<f64>| -> anyhow::Result<(f64, f64)> {
        match lambda {
            Some(lambda) => {
                Estimates::set(parts, |it| it.dial_lambdas = Some(vec![lambda; 9]))?;
                Estimates::point(parts, catalog, rows, &by_id, 5)
            }
            None => Estimates::point(parts, catalog, rows, &by_id, 10),
        }
    };
    let (best_cost, best) = point(Some(0.0))?;
    let target = options.target_share * best;
    // The largest scale (on a log grid) that still keeps the target at the default dial.
    let mut scale = 1e-3;
    for step in 0..=48 {
        let candidate = 10f64.powf(-3.0 + f64::from(step) / 12.0);
        if point(Some(candidate * 7.0 / 3.0))?.1 >= target {
            scale = candidate;
        } else {
            break;
        }
    }
    if !options.spread_dial {
        return Ok((scale, None));
    }
    let default_lambda = scale * 7.0 / 3.0;
    let default_cost = point(Some(default_lambda))?.0;
    let knee_lambda = scale * 9.0;
    let knee_cost = point(Some(knee_lambda))?.0;
    let grid: Vec<f64> = (0..=96)
        .map(|step| 10f64.powf(-3.0 + f64::from(step) / 16.0))
        .collect();
    let mut points = Vec::with_capacity(grid.len());
    for &lambda in &grid {
        points.push((lambda, point(Some(lambda))?.0));
    }
    // The smallest lambda on the grid (at least `floor`) whose mean cost is at most `target`.
    let lambda_for = |target: f64, floor: f64| -> f64 {
        points
            .iter()
            .filter(|it| it.0 >= floor)
            .find(|it| it.1 <= target)
            .map_or_else(|| grid[grid.len() - 1].max(floor), |it| it.0)
    };
    let geometric = |from: f64, to: f64, share: f64| {
        from.max(1e-12).powf(1.0 - share) * to.max(1e-12).powf(share)
    };
    let mut table = Vec::with_capacity(9);
    let mut floor = 0.0;
    for t in 1..=9u8 {
        let lambda = match t {
            1..=6 => lambda_for(
                geometric(best_cost, default_cost, f64::from(t) / 7.0),
                floor,
            )
            .min(default_lambda),
            7 => default_lambda,
            8 => lambda_for(geometric(default_cost, knee_cost, 0.5), floor).min(knee_lambda),
            _ => knee_lambda,
        };
        let lambda = lambda.max(floor);
        table.push(lambda);
        floor = lambda;
    }
    Ok((scale, Some(table)))
}

/// Spherical k-means with k-means++ seeding from a fixed seed. Returns each vector's cluster and
/// the unit centroids (pruned to their 512 largest slots).
fn kmeans(
    vectors: &[SparseVector],
    k: usize,
    bits: u8,
    rounds: usize,
) -> (Vec<usize>, Vec<SparseVector>) {
    let n = vectors.len();
    let n_slots = 1usize << bits;
    let dense_dot = |v: &SparseVector, dense: &[f32]| -> f32 {
        v.entries()
            .iter()
            .map(|&(slot, w)| w * dense[slot as usize])
            .sum()
    };
    let to_dense = |v: &SparseVector| {
        let mut dense = vec![0.0f32; n_slots];
        for &(slot, w) in v.entries() {
            dense[slot as usize] = w;
        }
        dense
    };
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut centroids: Vec<Vec<f32>> = Vec::with_capacity(k);
    centroids.push(to_dense(&vectors[(rng.next() % n as u64) as usize]));
    let mut distance: Vec<f64> = vectors
        .iter()
        .map(|v| f64::from((1.0 - dense_dot(v, &centroids[0])).max(0.0)))
        .collect();
    while centroids.len() < k {
        let total: f64 = distance.iter().sum();
        let pick = if total <= 0.0 {
            (rng.next() % n as u64) as usize
        } else {
            let mut target = rng.unit() * total;
            let mut chosen = n - 1;
            for (idx, d) in distance.iter().enumerate() {
                target -= d;
                if target <= 0.0 {
                    chosen = idx;
                    break;
                }
            }
            chosen
        };
        let centroid = to_dense(&vectors[pick]);
        for (d, v) in distance.iter_mut().zip(vectors) {
            *d = d.min(f64::from((1.0 - dense_dot(v, &centroid)).max(0.0)));
        }
        centroids.push(centroid);
    }
    let mut assignment = vec![usize::MAX; n];
    // Slot-major copy of the centroids, so each feature of a vector reads its `k` weights from
    // one cache line or a few, instead of one line per centroid.
    let mut by_slot = vec![0.0f32; n_slots * k];
    let mut similarities = vec![0.0f32; k];
    for _ in 0..rounds {
        for (c, centroid) in centroids.iter().enumerate() {
            for (slot, w) in centroid.iter().enumerate() {
                by_slot[slot * k + c] = *w;
            }
        }
        let mut changed = false;
        for (idx, v) in vectors.iter().enumerate() {
            similarities.fill(0.0);
            for &(slot, w) in v.entries() {
                let row = &by_slot[slot as usize * k..(slot as usize + 1) * k];
                for (sum, c) in similarities.iter_mut().zip(row) {
                    *sum += w * c;
                }
            }
            let best = (0..k)
                .max_by(|a, b| similarities[*a].total_cmp(&similarities[*b]).then(b.cmp(a)))
                .unwrap_or(0);
            if assignment[idx] != best {
                assignment[idx] = best;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let mut counts = vec![0usize; k];
        let mut sums = vec![vec![0.0f32; n_slots]; k];
        for (idx, v) in vectors.iter().enumerate() {
            counts[assignment[idx]] += 1;
            for &(slot, w) in v.entries() {
                sums[assignment[idx]][slot as usize] += w;
            }
        }
        for (cluster, mut sum) in sums.into_iter().enumerate() {
            if counts[cluster] == 0 {
                continue;
            }
            let norm = sum.iter().map(|w| w * w).sum::<f32>().sqrt();
            if norm > 0.0 {
                sum.iter_mut().for_each(|w| *w /= norm);
            }
            centroids[cluster] = sum;
        }
    }
    let centroids = centroids
        .into_iter()
        .map(|dense| {
            let pairs = dense
                .iter()
                .enumerate()
                .filter(|it| *it.1 != 0.0)
                .map(|(slot, w)| (slot as u32, *w))
                .collect();
            let mut centroid = SparseVector::from_pairs(pairs);
            centroid.prune(512);
            centroid.normalize();
            let rounded = centroid
                .entries()
                .iter()
                .map(|&(s, w)| (s, round6(w)))
                .collect();
            SparseVector::from_pairs(rounded)
        })
        .collect();
    (assignment, centroids)
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

/// A tiny deterministic generator for k-means++ seeding.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(pick(code, 0), "data/strong_coder");
        assert_eq!(pick(chat, 0), "vendor/chatty");
        assert_eq!(pick(code, 10), "vendor/chatty");
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
