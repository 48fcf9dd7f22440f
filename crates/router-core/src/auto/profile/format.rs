//! The stored form of a quality profile: the versioned JSON document ([`ProfileData`]), field for
//! field, with the defaults of its optional fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::task::TaskType;

/// The `format` every profile carries.
pub const FORMAT: &str = "turnout.quality-profile";

/// The profile format version this build reads and writes.
pub const VERSION: u32 = 1;

/// The demo profile's JSON, compiled in.
pub const DEMO_JSON: &str = include_str!("../../../data/demo-profile.json");

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
    /// Per-model linear models on the prompt's static embedding, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingModelData>,
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
    /// How far the embedding models' estimate ([`EmbeddingModelData`]) moves a prompt's estimate,
    /// from 0 (not at all) to 1 (absent: 1). Calibration fits it on held-out estimates, so where
    /// the embedding tells the models apart no better than the clusters it stays near 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_weight: Option<f64>,
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
            (None, t) => crate::auto::dial::lambda(t, self.lambda_scale),
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
/// ([`crate::analysis::Analysis::features`]). The cluster estimate is the offset, so a model the weights know
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

/// Per-model linear models of the expected quality on the prompt's static embedding
/// ([`crate::analysis::Analysis::embedding`]), fitted by ridge regression on labelled outcomes:
/// `q[m] = bias[m] + (x - center) . weights[m]`, clamped to 0..1. A prompt's estimate `e` (from
/// clusters, predictors and examples) becomes `e + embedding_weight * (q - e)`, before the
/// shrink toward the model's mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingModelData {
    /// The models, in the order of `bias` and `weights`.
    pub models: Vec<String>,
    /// The mean embedding of the training prompts (one value per dimension).
    pub center: Vec<f32>,
    /// Each model's mean quality on the training prompts.
    pub bias: Vec<f32>,
    /// Per model, one weight per dimension.
    pub weights: Vec<Vec<f32>>,
}
