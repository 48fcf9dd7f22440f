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
//! scored on them (`(sum w_i y_i + prior * q) / (sum w_i + prior)`); when it has per-model
//! linear models on the prompt's static embedding ([`EmbeddingModelData`]), their estimate `q`
//! moves it by `selection.embedding_weight` `v` (`e + v * (q - e)`). Last, when the profile has
//! `selection.estimate_weight` `w` and the model a `mean` `m`, the estimate `e` becomes
//! `m + w * (e - m)`.
//!
//! Optional fields a calibrated profile may add: `selection.dial_lambdas` (lambda per dial value
//! 1 to 9), `selection.estimate_weight`, `selection.embedding_weight`, each model's `mean`,
//! `examples`, `predictors` and `embedding`. The demo profile has none of them.
//!
//! The layout: `format.rs` (the stored document, field for field), `compile.rs` (checking a
//! document and building the dense tables routing reads) and `estimate.rs` (a model's expected
//! quality and completion length for an analysed prompt); this file holds the compiled
//! [`Profile`] and its accessors.

mod compile;
mod estimate;
mod format;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::analysis::classifier::Classifier;
use crate::analysis::{self, Analysis, Conversation};
use crate::request::RequestFeatures;

use compile::{EmbeddingModel, IdHasher, Predictors};
pub use estimate::{QualityEstimator, logit, sigmoid};
pub use format::*;

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
    /// The embedding models, if the profile has them.
    embedding: Option<EmbeddingModel>,
    /// `selection.embedding_weight`, 1 when absent.
    embedding_weight: f32,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::task::TaskType;
    use std::collections::BTreeMap;

    /// A profile of two models and two clusters (code, chat), for the tests of each part.
    pub(super) fn two_model_profile(examples: Option<ExamplesData>) -> Profile {
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
                embedding_weight: None,
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
            embedding: None,
        })
        .unwrap()
    }
}
