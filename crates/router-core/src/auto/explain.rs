//! Why the Auto Router chose what it chose: the analysis and every candidate with its expected
//! quality, expected cost, score and the reason it was kept or dropped. Serializable, so
//! `POST /api/v1/route` can return it as is.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::analysis::task::TaskType;
use crate::analysis::{Analysis, NeededCapabilities};

/// The explanation of one selection.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation<'a> {
    /// What the prompt looks like.
    pub analysis: AnalysisSummary,
    /// The dial used, `0..=10`.
    pub cost_quality_tradeoff: u8,
    /// Lambda at that dial (`null`: infinite, the cheapest capable model wins).
    pub lambda: Option<f64>,
    /// Completion tokens assumed for the cost estimate.
    pub expected_completion_tokens: f64,
    /// Every catalog model, in catalog order.
    pub candidates: Vec<CandidateReport<'a>>,
    /// The chosen models, primary first.
    pub picks: Vec<&'a str>,
}

/// The analysis, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct AnalysisSummary {
    /// The most likely task type.
    pub task_type: TaskType,
    /// The three most likely task types with their probabilities.
    pub task_scores: Vec<(TaskType, f32)>,
    /// `0..=1`.
    pub difficulty: f32,
    /// ISO 639-1 code.
    pub language: &'static str,
    /// What a model must support.
    pub needs: NeededCapabilities,
}

impl From<&Analysis> for AnalysisSummary {
    fn from(analysis: &Analysis) -> Self {
        let mut task_scores: Vec<(TaskType, f32)> = TaskType::ALL
            .into_iter()
            .map(|task| (task, analysis.task_scores[task.index()]))
            .collect();
        task_scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        task_scores.truncate(3);
        Self {
            task_type: analysis.task,
            task_scores,
            difficulty: analysis.difficulty,
            language: analysis.language.code(),
            needs: analysis.needs,
        }
    }
}

/// One candidate model.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateReport<'a> {
    /// Its catalog id.
    pub model: &'a str,
    /// Kept (a possible pick) or dropped.
    pub status: CandidateStatus,
    /// Why it was dropped, or how it ranked.
    pub reason: Reason,
    /// Expected quality `0..=1` (absent when dropped before estimation).
    pub expected_quality: Option<f64>,
    /// Whether the quality came from the profile or the default for unknown models.
    pub quality_source: Option<QualitySource>,
    /// Expected cost in USD at its cheapest capable endpoint.
    pub expected_cost: Option<f64>,
    /// `quality - lambda * normalized cost` (absent at dial 10 and for dropped models).
    pub score: Option<f64>,
    /// 1-based rank among kept candidates.
    pub rank: Option<usize>,
}

/// Kept or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateStatus {
    /// Could be chosen.
    Kept,
    /// Can never be chosen for this request.
    Dropped,
}

/// Where an expected quality came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QualitySource {
    /// The quality profile.
    Profile,
    /// The profile does not know the model: the mean quality of the profiled candidates in its
    /// price tier.
    PriceTier,
    /// The profile does not know the model and no profiled model is a candidate: the profile's
    /// average quality over all its models and tasks (its `unknown_model_quality` when it lists
    /// no model).
    Default,
}

/// Why a candidate was kept or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Chosen, at this position of the picks (0: primary).
    Picked(usize),
    /// Capable but ranked below the picks.
    RankedBelowPicks,
    /// An allow list is set and no pattern matches.
    NotAllowed,
    /// An excluded pattern matches.
    Excluded,
    /// No endpoint supports tools.
    NoTools,
    /// No endpoint takes images.
    NoImages,
    /// No endpoint supports structured outputs.
    NoStructuredOutput,
    /// No endpoint's context fits the prompt plus the completion budget.
    ContextTooSmall {
        /// The largest context of its endpoints.
        context_length: u32,
        /// Tokens the request needs.
        needed: u32,
    },
    /// No endpoint allows the requested completion length.
    OutputTooLong {
        /// The endpoints' largest `max_output`.
        max_output: u32,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Picked(0) => f.write_str("picked: primary"),
            Reason::Picked(n) => write!(f, "picked: fallback {n}"),
            Reason::RankedBelowPicks => f.write_str("capable, ranked below the picks"),
            Reason::NotAllowed => f.write_str("not matched by allowed_models"),
            Reason::Excluded => f.write_str("matched by excluded_models"),
            Reason::NoTools => f.write_str("no endpoint supports tools"),
            Reason::NoImages => f.write_str("no endpoint accepts images"),
            Reason::NoStructuredOutput => f.write_str("no endpoint supports structured outputs"),
            Reason::ContextTooSmall {
                context_length,
                needed,
            } => write!(
                f,
                "context of {context_length} tokens is below the {needed} needed"
            ),
            Reason::OutputTooLong { max_output } => {
                write!(f, "completions are limited to {max_output} tokens")
            }
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
