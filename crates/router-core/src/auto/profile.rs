//! Quality profiles: what each model is expected to score per task cluster and difficulty, the
//! expected completion length per cluster, the dial's lambda scale and the classifier's weights.
//!
//! A profile is data, not code: a versioned JSON document ([`ProfileData`]) read with
//! [`Profile::from_json`] and written with [`Profile::to_json`]. The demo profile for the demo
//! catalog ships in `crates/router-core/data/demo-profile.json` ([`Profile::demo`]), with the
//! public source of every number beside it; `cargo xtask calibrate` writes profiles for any model
//! set from labelled traffic. Models are keyed by string (the calibration data's names), so a
//! profile can describe models that are not `author/slug`.
//!
//! Format (version 1), abridged:
//!
//! ```json
//! {
//!   "format": "turnout.quality-profile", "version": 1, "name": "demo",
//!   "features": {"bits": 15},
//!   "classifier": {"temperature": 0.1, "rule_weight": 1.0, "neighbours": 0,
//!                  "neighbour_prior": 4.0, "idf": null},
//!   "selection": {"lambda_scale": 0.25, "cost_scale": "linear", "unknown_model_quality": 0.4},
//!   "difficulty_buckets": 3,
//!   "tasks": [{"id": "code", "task": "code", "completion_tokens": 700,
//!              "exemplars": ["Fix this Python function ..."], "centroid": []}],
//!   "models": {"openai/gpt-5.1": {"quality": {"code": [0.9, 0.86, 0.8]},
//!                                 "sources": {"code": "SWE-bench Verified ..."}}},
//!   "examples": null
//! }
//! ```
//!
//! Quality of a model for a prompt: the cluster posterior of the prompt weights each cluster's
//! quality, read at the prompt's difficulty (linear between bucket centres); when the profile has
//! per-model predictors ([`PredictorsData`], optional), a logistic regression on the prompt's
//! features corrects that estimate (`sigmoid(logit(q_cluster) + bias + x . w)`); when it has
//! labelled examples, the nearest ones then pull the estimate toward what the model actually
//! scored on them (`(sum w_i y_i + prior * q) / (sum w_i + prior)`). Last, when the profile has
//! `selection.estimate_weight` `w` and the model a `mean` `m`, the estimate `e` becomes
//! `m + w * (e - m)`.
//!
//! Optional fields a calibrated profile may add: `selection.dial_lambdas` (lambda per dial value
//! 1 to 9), `selection.estimate_weight`, each model's `mean`, `examples` and `predictors`. The
//! demo profile has none of them.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::analysis::classifier::{Classifier, ClassifierSettings};
use crate::analysis::features::{self, SparseVector};
use crate::analysis::task::TaskType;
use crate::analysis::{self, Analysis, Conversation};
use crate::request::RequestFeatures;

/// The `format` every profile carries.
pub const FORMAT: &str = "turnout.quality-profile";

/// The profile format version this build reads and writes.
pub const VERSION: u32 = 1;

/// The demo profile's JSON, compiled in.
pub const DEMO_JSON: &str = include_str!("../../data/demo-profile.json");

/// A profile as stored: the JSON document, field for field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileData {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// A short name (`demo`, `routerbench-5fold-1`).
    #[serde(default)]
    pub name: String,
    /// What the profile is for and how it was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Feature hashing.
    pub features: FeatureData,
    /// The classifier's tunables and weights.
    pub classifier: ClassifierData,
    /// Selection tunables.
    pub selection: SelectionData,
    /// How many difficulty buckets each quality list has (1 to 5).
    #[serde(default = "default_buckets")]
    pub difficulty_buckets: usize,
    /// The task clusters, in order.
    pub tasks: Vec<TaskData>,
    /// Quality per model, keyed by model id.
    pub models: BTreeMap<String, ModelData>,
    /// Labelled example prompts (nearest-neighbour refinement), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<ExamplesData>,
    /// Per-model logistic regressions on the prompt's features, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predictors: Option<PredictorsData>,
}

fn default_buckets() -> usize {
    3
}

/// Feature hashing settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureData {
    /// Slots as a power of two (10 to 20).
    pub bits: u8,
}

/// The classifier's tunables and weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierData {
    /// Softmax temperature over centroid similarities.
    pub temperature: f32,
    /// Weight of the keyword rules in the cluster posterior (for clusters with a task type).
    pub rule_weight: f32,
    /// Nearest examples to use (0: none).
    #[serde(default)]
    pub neighbours: usize,
    /// Strength of the cluster estimate against the neighbours' evidence, in examples.
    #[serde(default = "default_prior")]
    pub neighbour_prior: f32,
    /// Inverse document frequency per slot, if the profile was fitted on data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idf: Option<IdfData>,
}

fn default_prior() -> f32 {
    4.0
}

/// Sparse inverse document frequencies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdfData {
    /// The weight of slots not listed.
    pub default: f32,
    /// `[slot, weight]` pairs.
    pub slots: Vec<(u32, f32)>,
}

/// How costs are normalized over the candidates before lambda weighs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostScale {
    /// `cost / max cost`.
    #[default]
    Linear,
    /// `ln(cost / min cost) / ln(max cost / min cost)`.
    Log,
    /// `cost / reference cost`: the reference is the most expensive candidate's cost for a
    /// request of `reference_prompt_tokens` (and the expected completion). Unlike `linear`, a
    /// short prompt's absolute saving counts for less than a long prompt's, which is what
    /// minimizing the expected bill needs.
    Reference,
}

/// Selection tunables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionData {
    /// Lambda's scale (see `crate::auto::dial`).
    pub lambda_scale: f64,
    /// How costs are normalized.
    #[serde(default)]
    pub cost_scale: CostScale,
    /// Expected quality of a model the profile does not know, used only when the profile lists
    /// no model at all: otherwise an unknown model gets the price-tier prior
    /// (`crate::auto::prior`).
    #[serde(default = "default_unknown_quality")]
    pub unknown_model_quality: f64,
    /// The prompt size of the reference request (`cost_scale: reference`).
    #[serde(default = "default_reference_tokens")]
    pub reference_prompt_tokens: u32,
    /// Lambda of each dial value 1 to 9 (nine non-decreasing values), when calibration fitted
    /// them one by one; else lambda follows `lambda_scale` (see `crate::auto::dial`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dial_lambdas: Option<Vec<f64>>,
    /// How far a prompt's own estimate is trusted over the model's `mean`, from 0 (every prompt
    /// gets the model's mean) to 1 (absent: 1). Calibration fits it on held-out estimates, so a
    /// profile fitted on few rows leans on each model's mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_weight: Option<f64>,
}

impl SelectionData {
    /// Lambda at dial value `tradeoff`: 0 at 0, infinite at 10, `dial_lambdas` or the
    /// `lambda_scale` curve between.
    pub fn lambda(&self, tradeoff: u8) -> f64 {
        match (&self.dial_lambdas, tradeoff) {
            (_, 0) => 0.0,
            (_, t) if t >= 10 => f64::INFINITY,
            (Some(table), t) => table
                .get(usize::from(t) - 1)
                .copied()
                .unwrap_or(f64::INFINITY),
            (None, t) => super::dial::lambda(t, self.lambda_scale),
        }
    }
}

fn default_reference_tokens() -> u32 {
    1000
}

fn default_unknown_quality() -> f64 {
    0.4
}

/// One task cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskData {
    /// The key of this cluster in every model's `quality`.
    pub id: String,
    /// The task type it stands for, if any (keyword rules then inform the posterior).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskType>,
    /// Expected completion tokens of an answer.
    pub completion_tokens: u32,
    /// Training prompts in the cluster (informative only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: u32,
    /// The centroid, `[slot, weight]` pairs (already IDF-weighted, unit length).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub centroid: Vec<(u32, f32)>,
    /// Example prompts, hashed at load time; their mean is added to the centroid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the profile knows about one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelData {
    /// Expected quality `0..=1` per cluster id, one value per difficulty bucket (easy first).
    pub quality: BTreeMap<String, Vec<f64>>,
    /// Where the numbers come from, per cluster id (or `*` for all).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    /// Free-text notes (e.g. which numbers are estimates).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// The model's mean quality over all prompts, which `selection.estimate_weight` shrinks a
    /// prompt's estimate toward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
}

/// Labelled example prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExamplesData {
    /// The models each row's `quality` lists, in order.
    pub models: Vec<String>,
    /// The examples.
    pub rows: Vec<ExampleRow>,
}

/// One labelled example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExampleRow {
    /// Its feature vector, `[slot, weight]` pairs (IDF-weighted, unit length, pruned).
    pub vector: Vec<(u32, f32)>,
    /// Each model's observed quality (`null`: not observed).
    pub quality: Vec<Option<f32>>,
}

/// Per-model L2-regularised logistic regressions that correct the cluster estimate for the
/// prompt at hand: `P(good answer) = sigmoid(prior_weight * logit(cluster estimate) + bias[m] +
/// sum_s x_s * w[s][m])`, where `x` is the prompt's weighted feature vector
/// ([`Analysis::features`]). The cluster estimate is the offset, so a model the weights know
/// nothing about keeps it; the nearest examples, when present, then refine the corrected value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictorsData {
    /// The models, in the order of `bias` and of every weight list.
    pub models: Vec<String>,
    /// The weight of the cluster estimate's logit (1: an offset).
    #[serde(default = "default_prior_weight")]
    pub prior_weight: f32,
    /// Intercept per model.
    pub bias: Vec<f32>,
    /// `[slot, [weight per model]]` for every slot with a weight.
    pub weights: Vec<(u32, Vec<f32>)>,
}

fn default_prior_weight() -> f32 {
    1.0
}

/// Compiled [`PredictorsData`]: a dense slot index into slot-major weight rows.
#[derive(Debug, Clone, Default)]
struct Predictors {
    /// Per profile model: its column, if the predictors know it.
    columns: Vec<Option<usize>>,
    n_columns: usize,
    prior_weight: f32,
    bias: Vec<f32>,
    /// Per slot: its row in `weights`, or `u32::MAX`.
    rows: Vec<u32>,
    /// `[row][column]`, flattened.
    weights: Vec<f32>,
}

impl Predictors {
    fn compile(
        data: &PredictorsData,
        model_index: &HashMap<String, usize, BuildHasherDefault<IdHasher>>,
        n_models: usize,
        n_slots: usize,
    ) -> Result<Self, ProfileError> {
        let invalid = |field: &str, message: &str| ProfileError::Invalid {
            field: format!("predictors.{field}"),
            message: message.to_owned(),
        };
        let n_columns = data.models.len();
        if data.bias.len() != n_columns {
            return Err(invalid(
                "bias",
                "needs one value per model of `predictors.models`",
            ));
        }
        if !data.prior_weight.is_finite() || data.bias.iter().any(|it| !it.is_finite()) {
            return Err(invalid("bias", "values must be finite"));
        }
        let mut columns = vec![None; n_models];
        for (column, model) in data.models.iter().enumerate() {
            if let Some(&idx) = model_index.get(model) {
                columns[idx] = Some(column);
            }
        }
        let mut rows = vec![u32::MAX; n_slots];
        let mut weights = Vec::with_capacity(data.weights.len() * n_columns);
        for (idx, (slot, values)) in data.weights.iter().enumerate() {
            let field = format!("weights[{idx}]");
            let Some(row) = rows.get_mut(*slot as usize) else {
                return Err(invalid(&field, "slot out of range"));
            };
            if *row != u32::MAX {
                return Err(invalid(&field, "slot listed twice"));
            }
            if values.len() != n_columns || values.iter().any(|it| !it.is_finite()) {
                return Err(invalid(
                    &field,
                    "needs one finite value per model of `predictors.models`",
                ));
            }
            *row = idx as u32;
            weights.extend_from_slice(values);
        }
        Ok(Self {
            columns,
            n_columns,
            prior_weight: data.prior_weight,
            bias: data.bias.clone(),
            rows,
            weights,
        })
    }

    /// `bias + x . w` per column.
    fn logits(&self, features: &SparseVector) -> Vec<f32> {
        let mut logits = self.bias.clone();
        let n = self.n_columns;
        for &(slot, value) in features.entries() {
            let Some(&row) = self.rows.get(slot as usize) else {
                continue;
            };
            if row == u32::MAX {
                continue;
            }
            let start = row as usize * n;
            for (logit, weight) in logits.iter_mut().zip(&self.weights[start..start + n]) {
                *logit += value * weight;
            }
        }
        logits
    }
}

/// The logistic function.
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// The log-odds of a probability, clamped away from 0 and 1.
pub fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-3, 1.0 - 1e-3);
    (p / (1.0 - p)).ln()
}

/// Why a profile could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// Not JSON, or not of the profile's shape.
    #[error("quality profile is not valid: {0}")]
    Json(String),
    /// Another format or version.
    #[error(
        "quality profile has format `{format}` version {version}; expected `{FORMAT}` version {VERSION}"
    )]
    Version {
        /// The format found.
        format: String,
        /// The version found.
        version: u32,
    },
    /// A field has an impossible value.
    #[error("quality profile `{field}`: {message}")]
    Invalid {
        /// The field's path.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// A compiled profile, ready to route with.
#[derive(Debug, Clone)]
pub struct Profile {
    data: ProfileData,
    classifier: Classifier,
    model_index: HashMap<String, usize, BuildHasherDefault<IdHasher>>,
    /// `[model][task][bucket]`, flattened.
    quality: Vec<f32>,
    completion_tokens: Vec<f32>,
    /// `[example][profile model]`, 0 where not observed.
    example_quality: Vec<f32>,
    /// `[example][profile model]`: 1 where observed, else 0 (so summing the evidence needs no
    /// branch and vectorizes).
    example_observed: Vec<f32>,
    n_models: usize,
    predictors: Option<Predictors>,
    /// Per model: its `mean`, NaN when the profile has none.
    means: Vec<f32>,
    /// `selection.estimate_weight`, 1 when absent.
    estimate_weight: f32,
}

impl Profile {
    /// Reads a profile from its JSON text.
    pub fn from_json(json: &str) -> Result<Profile, ProfileError> {
        let data: ProfileData =
            serde_json::from_str(json).map_err(|err| ProfileError::Json(err.to_string()))?;
        Profile::from_data(data)
    }

    /// The demo profile for the demo catalog's twelve models.
    pub fn demo() -> Result<Profile, ProfileError> {
        Profile::from_json(DEMO_JSON)
    }

    /// Writes the profile as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.data).unwrap_or_default()
    }

    /// Writes the profile as compact JSON (profiles with thousands of examples).
    pub fn to_json_compact(&self) -> String {
        serde_json::to_string(&self.data).unwrap_or_default()
    }

    /// The stored form.
    pub fn data(&self) -> &ProfileData {
        &self.data
    }

    /// Compiles a stored profile, checking it.
    pub fn from_data(data: ProfileData) -> Result<Profile, ProfileError> {
        let invalid = |field: &str, message: &str| ProfileError::Invalid {
            field: field.to_owned(),
            message: message.to_owned(),
        };
        if data.format != FORMAT || data.version != VERSION {
            return Err(ProfileError::Version {
                format: data.format.clone(),
                version: data.version,
            });
        }
        let bits = data.features.bits;
        if !features::BITS_RANGE.contains(&bits) {
            return Err(invalid("features.bits", "must be from 10 to 20"));
        }
        let n_buckets = data.difficulty_buckets;
        if !(1..=5).contains(&n_buckets) {
            return Err(invalid("difficulty_buckets", "must be from 1 to 5"));
        }
        if data.tasks.is_empty() {
            return Err(invalid("tasks", "must list at least one task cluster"));
        }
        let estimate_weight = check_selection(&data.selection)?;
        let classifier_data = &data.classifier;
        if !(classifier_data.temperature > 0.0 && classifier_data.temperature.is_finite()) {
            return Err(invalid("classifier.temperature", "must be > 0"));
        }
        let n_slots = 1usize << bits;
        let idf = match &classifier_data.idf {
            None => Vec::new(),
            Some(idf) => {
                let mut dense = vec![idf.default; n_slots];
                for &(slot, weight) in &idf.slots {
                    let cell = dense
                        .get_mut(slot as usize)
                        .ok_or_else(|| invalid("classifier.idf.slots", "slot out of range"))?;
                    *cell = weight;
                }
                dense
            }
        };
        let weigh = |vector: &mut SparseVector| {
            if !idf.is_empty() {
                vector.reweight(|slot| idf[slot as usize]);
            }
            vector.normalize();
        };

        let mut task_index = HashMap::with_capacity(data.tasks.len());
        let mut clusters = Vec::with_capacity(data.tasks.len());
        for (idx, task) in data.tasks.iter().enumerate() {
            if task_index.insert(task.id.as_str(), idx).is_some() {
                return Err(invalid(&format!("tasks[{idx}].id"), "is defined twice"));
            }
            if task.centroid.iter().any(|it| it.0 as usize >= n_slots) {
                return Err(invalid(
                    &format!("tasks[{idx}].centroid"),
                    "slot out of range",
                ));
            }
            let mut centroid = SparseVector::from_pairs(task.centroid.clone());
            if !task.exemplars.is_empty() {
                let mut pairs = centroid.entries().to_vec();
                for text in &task.exemplars {
                    let mut vector = analysis::raw_features(&Conversation::user(text), bits);
                    weigh(&mut vector);
                    pairs.extend_from_slice(vector.entries());
                }
                centroid = SparseVector::from_pairs(pairs);
            }
            centroid.normalize();
            clusters.push((task.task, centroid));
        }

        let n_tasks = data.tasks.len();
        let n_models = data.models.len();
        let mut model_index =
            HashMap::with_capacity_and_hasher(n_models, BuildHasherDefault::default());
        let mut quality = Vec::with_capacity(n_models * n_tasks * n_buckets);
        let mut means = Vec::with_capacity(n_models);
        for (model_idx, (id, model)) in data.models.iter().enumerate() {
            model_index.insert(id.clone(), model_idx);
            match model.mean {
                Some(mean) if !(0.0..=1.0).contains(&mean) => {
                    return Err(invalid(&format!("models.{id}.mean"), "must be from 0 to 1"));
                }
                Some(mean) => means.push(mean as f32),
                None => means.push(f32::NAN),
            }
            let mut sum = vec![0.0f64; n_buckets];
            for (task_id, values) in &model.quality {
                let field = format!("models.{id}.quality.{task_id}");
                if !task_index.contains_key(task_id.as_str()) {
                    return Err(invalid(&field, "names no task cluster"));
                }
                if values.len() != n_buckets {
                    return Err(invalid(&field, "needs one value per difficulty bucket"));
                }
                if values.iter().any(|it| !(0.0..=1.0).contains(it)) {
                    return Err(invalid(&field, "values must be from 0 to 1"));
                }
                for (total, value) in sum.iter_mut().zip(values) {
                    *total += value;
                }
            }
            if model.quality.is_empty() {
                return Err(invalid(&format!("models.{id}.quality"), "is empty"));
            }
            // A cluster a model has no number for gets the model's mean over the others.
            let known = model.quality.len() as f64;
            for task in &data.tasks {
                match model.quality.get(&task.id) {
                    Some(values) => quality.extend(values.iter().map(|it| *it as f32)),
                    None => quality.extend(sum.iter().map(|it| (*it / known) as f32)),
                }
            }
        }

        let mut example_vectors = Vec::new();
        let mut example_quality = Vec::new();
        let mut example_observed = Vec::new();
        if let Some(examples) = &data.examples {
            let columns: Vec<Option<usize>> = examples
                .models
                .iter()
                .map(|it| model_index.get(it).copied())
                .collect();
            for (idx, row) in examples.rows.iter().enumerate() {
                if row.quality.len() != examples.models.len() {
                    return Err(invalid(
                        &format!("examples.rows[{idx}].quality"),
                        "needs one value per model of `examples.models`",
                    ));
                }
                if row.vector.iter().any(|it| it.0 as usize >= n_slots) {
                    return Err(invalid(
                        &format!("examples.rows[{idx}].vector"),
                        "slot out of range",
                    ));
                }
                let mut values = vec![0.0f32; n_models];
                let mut observed = vec![0.0f32; n_models];
                for (column, value) in columns.iter().zip(&row.quality) {
                    if let (Some(model), Some(value)) = (column, value)
                        && value.is_finite()
                    {
                        values[*model] = *value;
                        observed[*model] = 1.0;
                    }
                }
                example_quality.extend(values);
                example_observed.extend(observed);
                let mut vector = SparseVector::from_pairs(row.vector.clone());
                vector.normalize();
                example_vectors.push(vector);
            }
        }

        let settings = ClassifierSettings {
            temperature: classifier_data.temperature,
            rule_weight: classifier_data.rule_weight.max(0.0),
            neighbours: if example_vectors.is_empty() {
                0
            } else {
                classifier_data.neighbours
            },
        };
        let predictors = data
            .predictors
            .as_ref()
            .map(|it| Predictors::compile(it, &model_index, n_models, n_slots))
            .transpose()?;
        let classifier = Classifier::new(bits, idf, clusters, &example_vectors, settings);
        let completion_tokens = data
            .tasks
            .iter()
            .map(|it| it.completion_tokens as f32)
            .collect();
        Ok(Profile {
            data,
            classifier,
            model_index,
            quality,
            completion_tokens,
            example_quality,
            example_observed,
            n_models,
            predictors,
            means,
            estimate_weight,
        })
    }

    /// Replaces the selection tunables (the dial, the estimate weight) of a compiled profile,
    /// checking them as [`Profile::from_data`] does. Calibration tries many of them on one
    /// profile.
    pub fn set_selection(&mut self, selection: SelectionData) -> Result<(), ProfileError> {
        self.estimate_weight = check_selection(&selection)?;
        self.data.selection = selection;
        Ok(())
    }

    /// The classifier (feature weights, centroids, examples).
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// Analyses a conversation with this profile's classifier.
    pub fn analyze(&self, conversation: &Conversation<'_>, request: &RequestFeatures) -> Analysis {
        analysis::analyze(conversation, request, &self.classifier)
    }

    /// The selection tunables.
    pub fn selection(&self) -> &SelectionData {
        &self.data.selection
    }

    /// Whether the profile knows `model`.
    pub fn knows(&self, model: &str) -> bool {
        self.model_index.contains_key(model)
    }

    /// The average of `model`'s quality over every task cluster and difficulty bucket (its task
    /// averages), or `None` when the profile does not know it.
    pub fn average_quality(&self, model: &str) -> Option<f64> {
        let model = *self.model_index.get(model)?;
        let width = self.completion_tokens.len() * self.data.difficulty_buckets;
        let row = self.quality.get(model * width..(model + 1) * width)?;
        Some(row.iter().map(|it| f64::from(*it)).sum::<f64>() / width.max(1) as f64)
    }

    /// The average quality over every model of the profile and every task, or `None` when the
    /// profile lists no model.
    pub fn overall_quality(&self) -> Option<f64> {
        (!self.quality.is_empty()).then(|| {
            self.quality.iter().map(|it| f64::from(*it)).sum::<f64>() / self.quality.len() as f64
        })
    }

    /// Expected completion tokens for the analysed prompt (the posterior-weighted mean over
    /// clusters), capped by the client's `max_tokens`.
    pub fn completion_tokens(&self, analysis: &Analysis) -> f64 {
        let expected: f32 = if analysis.clusters.len() == self.completion_tokens.len() {
            analysis
                .clusters
                .iter()
                .zip(&self.completion_tokens)
                .map(|(p, tokens)| p * tokens)
                .sum()
        } else {
            self.completion_tokens.iter().sum::<f32>() / self.completion_tokens.len() as f32
        };
        let expected = f64::from(expected);
        match analysis.needs.max_output_tokens {
            Some(max) => expected.min(f64::from(max)),
            None => expected,
        }
    }

    /// Expected quality of `model` for the analysed prompt, or `None` when the profile does not
    /// know the model. To estimate many models for one prompt, use [`Profile::estimator`].
    pub fn quality(&self, model: &str, analysis: &Analysis) -> Option<f64> {
        self.estimator(analysis).quality(model)
    }

    /// Prepares quality estimates for one analysed prompt: the neighbours' evidence is summed for
    /// every model in one pass over the examples.
    pub fn estimator<'p>(&'p self, analysis: &'p Analysis) -> QualityEstimator<'p> {
        let mut evidence = Evidence::default();
        if !analysis.neighbours.is_empty() && !self.example_quality.is_empty() {
            evidence.sums = vec![0.0f32; self.n_models];
            evidence.weights = vec![0.0f32; self.n_models];
            for neighbour in &analysis.neighbours {
                let start = neighbour.example as usize * self.n_models;
                let range = start..start + self.n_models;
                let (Some(values), Some(observed)) = (
                    self.example_quality.get(range.clone()),
                    self.example_observed.get(range),
                ) else {
                    continue;
                };
                let w = neighbour.similarity.max(0.0);
                for (sum, value) in evidence.sums.iter_mut().zip(values) {
                    *sum += w * value;
                }
                for (weight, seen) in evidence.weights.iter_mut().zip(observed) {
                    *weight += w * seen;
                }
            }
        }
        let logits = self
            .predictors
            .as_ref()
            .map(|it| it.logits(&analysis.features))
            .unwrap_or_default();
        QualityEstimator {
            profile: self,
            analysis,
            bucket: bucket_position(analysis.difficulty, self.data.difficulty_buckets),
            evidence,
            logits,
        }
    }
}

/// Per profile model, the neighbours' similarity-weighted quality sum and the weight of the
/// neighbours that observed the model.
#[derive(Debug, Default)]
struct Evidence {
    sums: Vec<f32>,
    weights: Vec<f32>,
}

/// Quality estimates for one analysed prompt (see [`Profile::estimator`]).
#[derive(Debug)]
pub struct QualityEstimator<'p> {
    profile: &'p Profile,
    analysis: &'p Analysis,
    bucket: (usize, usize, f32),
    /// The neighbours' evidence (empty: none).
    evidence: Evidence,
    /// Per predictor column: `bias + x . w` (empty: no predictors).
    logits: Vec<f32>,
}

impl QualityEstimator<'_> {
    /// Expected quality of `model`, or `None` when the profile does not know it.
    pub fn quality(&self, model: &str) -> Option<f64> {
        let profile = self.profile;
        let model = *profile.model_index.get(model)?;
        let n_tasks = profile.completion_tokens.len();
        let n_buckets = profile.data.difficulty_buckets;
        let (low, high, frac) = self.bucket;
        let row = &profile.quality[model * n_tasks * n_buckets..(model + 1) * n_tasks * n_buckets];
        let mut prior = 0.0f32;
        for (task, p) in self.analysis.clusters.iter().enumerate().take(n_tasks) {
            let values = &row[task * n_buckets..(task + 1) * n_buckets];
            prior += p * (values[low] * (1.0 - frac) + values[high] * frac);
        }
        if let Some(predictors) = &profile.predictors
            && let Some(Some(column)) = predictors.columns.get(model)
            && let Some(&z) = self.logits.get(*column)
        {
            prior = sigmoid(predictors.prior_weight * logit(prior) + z);
        }
        let estimate = match (
            self.evidence.sums.get(model),
            self.evidence.weights.get(model),
        ) {
            (Some(&sum), Some(&weight)) => {
                let strength = profile.data.classifier.neighbour_prior.max(0.0);
                let total = strength + weight;
                if total > 0.0 {
                    (strength * prior + sum) / total
                } else {
                    prior
                }
            }
            _ => prior,
        };
        let mean = profile.means[model];
        let shrunk = if mean.is_nan() {
            estimate
        } else {
            mean + profile.estimate_weight * (estimate - mean)
        };
        Some(f64::from(shrunk))
    }
}

/// Checks the selection tunables; the estimate weight they give (1 when absent).
fn check_selection(selection: &SelectionData) -> Result<f32, ProfileError> {
    let invalid = |field: &str, message: &str| ProfileError::Invalid {
        field: field.to_owned(),
        message: message.to_owned(),
    };
    if !(selection.lambda_scale.is_finite() && selection.lambda_scale >= 0.0) {
        return Err(invalid(
            "selection.lambda_scale",
            "must be a finite number >= 0",
        ));
    }
    if let Some(table) = &selection.dial_lambdas {
        let ordered = table.windows(2).all(|it| it[0] <= it[1]);
        if table.len() != 9 || !ordered || table.iter().any(|it| !(it.is_finite() && *it >= 0.0)) {
            return Err(invalid(
                "selection.dial_lambdas",
                "needs nine finite, non-decreasing values >= 0 (dials 1 to 9)",
            ));
        }
    }
    let estimate_weight = selection.estimate_weight.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&estimate_weight) {
        return Err(invalid("selection.estimate_weight", "must be from 0 to 1"));
    }
    Ok(estimate_weight as f32)
}

/// An FxHash-style hasher for the model-id map: ids are short and trusted (they come from the
/// profile), so eight bytes a step beats SipHash's flooding resistance here.
#[derive(Debug, Clone, Copy, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        let mut word = [0u8; 8];
        let rest = chunks.remainder();
        word[..rest.len()].copy_from_slice(rest);
        self.0 =
            (self.0.rotate_left(5) ^ u64::from_le_bytes(word) ^ rest.len() as u64).wrapping_mul(K);
    }
}

/// The two buckets whose centres surround `difficulty`, and how far it lies toward the second.
fn bucket_position(difficulty: f32, n_buckets: usize) -> (usize, usize, f32) {
    if n_buckets <= 1 {
        return (0, 0, 0.0);
    }
    let position =
        (difficulty.clamp(0.0, 1.0) * n_buckets as f32 - 0.5).clamp(0.0, (n_buckets - 1) as f32);
    let low = position.floor() as usize;
    let high = (low + 1).min(n_buckets - 1);
    (low, high, position - low as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_model_profile(examples: Option<ExamplesData>) -> Profile {
        let quality = |code: f64, chat: f64| ModelData {
            quality: BTreeMap::from([
                ("code".to_owned(), vec![code; 3]),
                ("chat".to_owned(), vec![chat; 3]),
            ]),
            sources: BTreeMap::new(),
            notes: String::new(),
            mean: None,
        };
        let task = |id: &str, task, exemplar: &str| TaskData {
            id: id.to_owned(),
            task: Some(task),
            completion_tokens: 100,
            count: 0,
            centroid: Vec::new(),
            exemplars: vec![exemplar.to_owned()],
        };
        Profile::from_data(ProfileData {
            format: FORMAT.to_owned(),
            version: VERSION,
            name: "test".to_owned(),
            notes: Vec::new(),
            features: FeatureData { bits: 12 },
            classifier: ClassifierData {
                temperature: 0.1,
                rule_weight: 1.0,
                neighbours: 2,
                neighbour_prior: 1.0,
                idf: None,
            },
            selection: SelectionData {
                lambda_scale: 0.1,
                cost_scale: CostScale::Linear,
                unknown_model_quality: 0.5,
                reference_prompt_tokens: 1000,
                dial_lambdas: None,
                estimate_weight: None,
            },
            difficulty_buckets: 3,
            tasks: vec![
                task(
                    "code",
                    TaskType::Code,
                    "fix the bug in this python function",
                ),
                task("chat", TaskType::ChitChat, "hello how are you"),
            ],
            models: BTreeMap::from([
                ("a/coder".to_owned(), quality(0.9, 0.5)),
                ("a/talker".to_owned(), quality(0.4, 0.95)),
            ]),
            examples,
            predictors: None,
        })
        .unwrap()
    }

    #[test]
    fn clusters_and_neighbours_drive_quality() {
        let profile = two_model_profile(None);
        let analysis = profile.analyze(
            &Conversation::user("please fix the bug in my python function"),
            &RequestFeatures::default(),
        );
        let coder = profile.quality("a/coder", &analysis).unwrap();
        let talker = profile.quality("a/talker", &analysis).unwrap();
        assert!(coder > 0.8 && talker < 0.5, "{coder} {talker}");
        assert_eq!(profile.quality("b/unknown", &analysis), None);

        // A labelled example just like the prompt, on which the coder failed, pulls it down.
        let mut vector = analysis::raw_features(
            &Conversation::user("please fix the bug in my python function"),
            12,
        );
        vector.normalize();
        let examples = ExamplesData {
            models: vec![
                "a/coder".to_owned(),
                "a/talker".to_owned(),
                "x/absent".to_owned(),
            ],
            rows: vec![ExampleRow {
                vector: vector.entries().to_vec(),
                quality: vec![Some(0.0), None, Some(1.0)],
            }],
        };
        let profile = two_model_profile(Some(examples));
        let analysis = profile.analyze(
            &Conversation::user("please fix the bug in my python function"),
            &RequestFeatures::default(),
        );
        assert_eq!(analysis.neighbours.len(), 1);
        let pulled = profile.quality("a/coder", &analysis).unwrap();
        assert!(pulled < coder - 0.3, "{pulled}");
        // Not observed on the example: unchanged.
        assert!((profile.quality("a/talker", &analysis).unwrap() - talker).abs() < 1e-6);
    }

    #[test]
    fn rejects_bad_profiles_naming_the_field() {
        let good = two_model_profile(None).data().clone();
        let check = |data: ProfileData, field: &str| match Profile::from_data(data) {
            Err(ProfileError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        };
        let mut bad = good.clone();
        bad.models
            .get_mut("a/coder")
            .unwrap()
            .quality
            .insert("code".to_owned(), vec![1.5; 3]);
        check(bad, "models.a/coder.quality.code");
        let mut bad = good.clone();
        bad.models
            .get_mut("a/coder")
            .unwrap()
            .quality
            .insert("nope".to_owned(), vec![0.5; 3]);
        check(bad, "models.a/coder.quality.nope");
        let mut bad = good.clone();
        bad.features.bits = 40;
        check(bad, "features.bits");
        let mut bad = good.clone();
        bad.selection.lambda_scale = -1.0;
        check(bad, "selection.lambda_scale");
        let mut bad = good.clone();
        bad.selection.estimate_weight = Some(1.5);
        check(bad, "selection.estimate_weight");
        let mut bad = good.clone();
        bad.models.get_mut("a/coder").unwrap().mean = Some(-0.1);
        check(bad, "models.a/coder.mean");
        let mut bad = good;
        bad.version = 2;
        assert!(matches!(
            Profile::from_data(bad),
            Err(ProfileError::Version { version: 2, .. })
        ));
        assert!(matches!(
            Profile::from_json("{"),
            Err(ProfileError::Json(_))
        ));
    }

    #[test]
    fn the_estimate_weight_shrinks_toward_each_models_mean() {
        let base = two_model_profile(None);
        let prompt = "please fix the bug in my python function";
        let analysis = base.analyze(&Conversation::user(prompt), &RequestFeatures::default());
        let coder = base.quality("a/coder", &analysis).unwrap();
        let shrunk = |weight: f64| {
            let mut data = base.data().clone();
            data.selection.estimate_weight = Some(weight);
            data.models.get_mut("a/coder").unwrap().mean = Some(0.3);
            let profile = Profile::from_data(data).unwrap();
            let analysis =
                profile.analyze(&Conversation::user(prompt), &RequestFeatures::default());
            (
                profile.quality("a/coder", &analysis).unwrap(),
                // No mean: unchanged whatever the weight.
                profile.quality("a/talker", &analysis).unwrap(),
            )
        };
        let talker = base.quality("a/talker", &analysis).unwrap();
        assert!((shrunk(1.0).0 - coder).abs() < 1e-6);
        assert!((shrunk(0.0).0 - 0.3).abs() < 1e-6);
        let half = shrunk(0.5);
        assert!(
            (half.0 - (0.3 + 0.5 * (coder - 0.3))).abs() < 1e-6,
            "{half:?}"
        );
        assert!((half.1 - talker).abs() < 1e-6);
    }

    #[test]
    fn predictors_correct_the_cluster_estimate_per_prompt() {
        let base = two_model_profile(None);
        let prompt = "please fix the bug in my python function";
        let analysis = base.analyze(&Conversation::user(prompt), &RequestFeatures::default());
        let coder = base.quality("a/coder", &analysis).unwrap();
        let talker = base.quality("a/talker", &analysis).unwrap();
        // A negative weight on one of the prompt's slots, for the coder only.
        let &(slot, value) = analysis
            .features
            .entries()
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let mut data = base.data().clone();
        data.predictors = Some(PredictorsData {
            models: vec!["a/coder".to_owned(), "x/absent".to_owned()],
            prior_weight: 1.0,
            bias: vec![0.0, 5.0],
            weights: vec![(slot, vec![-3.0 / value, 9.0])],
        });
        let profile = Profile::from_json(&Profile::from_data(data).unwrap().to_json()).unwrap();
        let analysis = profile.analyze(&Conversation::user(prompt), &RequestFeatures::default());
        let corrected = profile.quality("a/coder", &analysis).unwrap();
        let expected = f64::from(sigmoid(logit(coder as f32) - 3.0));
        assert!(
            (corrected - expected).abs() < 1e-4,
            "{corrected} {expected}"
        );
        // Not in the predictors: unchanged.
        assert!((profile.quality("a/talker", &analysis).unwrap() - talker).abs() < 1e-6);
        // A prompt without that slot keeps the cluster estimate (bias 0).
        let other = profile.analyze(&Conversation::user("zzz"), &RequestFeatures::default());
        let plain = base.analyze(&Conversation::user("zzz"), &RequestFeatures::default());
        if !other.features.entries().iter().any(|it| it.0 == slot) {
            let a = profile.quality("a/coder", &other).unwrap();
            let b = base.quality("a/coder", &plain).unwrap();
            assert!((a - b).abs() < 1e-4, "{a} {b}");
        }
    }

    #[test]
    fn rejects_bad_predictors_and_dial_tables() {
        let good = two_model_profile(None).data().clone();
        let check = |data: ProfileData, field: &str| match Profile::from_data(data) {
            Err(ProfileError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        };
        let predictors = PredictorsData {
            models: vec!["a/coder".to_owned()],
            prior_weight: 1.0,
            bias: vec![0.0],
            weights: vec![(1, vec![0.5])],
        };
        let mut bad = good.clone();
        bad.predictors = Some(PredictorsData {
            bias: vec![0.0, 1.0],
            ..predictors.clone()
        });
        check(bad, "predictors.bias");
        let mut bad = good.clone();
        bad.predictors = Some(PredictorsData {
            weights: vec![(1 << 12, vec![0.5])],
            ..predictors.clone()
        });
        check(bad, "predictors.weights[0]");
        let mut bad = good.clone();
        bad.predictors = Some(PredictorsData {
            weights: vec![(1, vec![0.5]), (1, vec![0.1])],
            ..predictors.clone()
        });
        check(bad, "predictors.weights[1]");
        let mut ok = good.clone();
        ok.predictors = Some(predictors);
        assert!(Profile::from_data(ok).is_ok());

        let mut bad = good.clone();
        bad.selection.dial_lambdas = Some(vec![0.1; 8]);
        check(bad, "selection.dial_lambdas");
        let mut bad = good.clone();
        bad.selection.dial_lambdas = Some(vec![0.3, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
        check(bad, "selection.dial_lambdas");
        let mut table = good;
        let values = vec![0.01, 0.02, 0.02, 0.05, 0.1, 0.2, 0.3, 1.0, 4.0];
        table.selection.dial_lambdas = Some(values.clone());
        let profile = Profile::from_data(table).unwrap();
        let selection = profile.selection();
        assert_eq!(selection.lambda(0), 0.0);
        assert!(selection.lambda(10).is_infinite());
        for (t, value) in (1..=9u8).zip(values) {
            assert_eq!(selection.lambda(t), value);
        }
        // Without a table, the scale's curve.
        let plain = two_model_profile(None);
        assert!((plain.selection().lambda(5) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn buckets_interpolate_between_centres() {
        assert_eq!(bucket_position(0.0, 3), (0, 1, 0.0));
        assert_eq!(bucket_position(1.0, 3), (2, 2, 0.0));
        let (low, high, frac) = bucket_position(0.5, 3);
        assert_eq!((low, high), (1, 2));
        assert!(frac.abs() < 1e-6);
        assert_eq!(bucket_position(0.7, 1), (0, 0, 0.0));
    }
}
