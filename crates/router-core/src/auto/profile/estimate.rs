//! Estimates for one analysed prompt: each model's expected quality (the clusters' quality at the
//! prompt's difficulty, corrected by the predictors, refined by the nearest examples, shrunk
//! toward the model's mean) and the expected completion length.

use crate::analysis::Analysis;
use crate::analysis::features::SparseVector;

use super::Profile;
use super::compile::{EmbeddingModel, Predictors};

impl Predictors {
    /// `bias + x . w` per column.
    pub(super) fn logits(&self, features: &SparseVector) -> Vec<f32> {
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

impl EmbeddingModel {
    /// Each column's `bias + (x - center) . w`, clamped to 0..1 (empty when `embedding` has
    /// another dimension).
    fn estimates(&self, embedding: &[f32]) -> Vec<f32> {
        let dim = self.center.len();
        if embedding.len() != dim || dim == 0 {
            return Vec::new();
        }
        let centered: Vec<f32> = embedding
            .iter()
            .zip(&self.center)
            .map(|(x, c)| x - c)
            .collect();
        self.bias
            .iter()
            .zip(self.weights.chunks_exact(dim))
            .map(|(bias, row)| {
                let dot: f32 = centered.iter().zip(row).map(|(x, w)| x * w).sum();
                (bias + dot).clamp(0.0, 1.0)
            })
            .collect()
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

impl Profile {
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
        let embedded = match &self.embedding {
            Some(model) if self.embedding_weight > 0.0 => model.estimates(&analysis.embedding),
            _ => Vec::new(),
        };
        QualityEstimator {
            profile: self,
            analysis,
            bucket: bucket_position(analysis.difficulty, self.data.difficulty_buckets),
            evidence,
            logits,
            embedded,
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
    /// Per embedding-model column: its estimate, 0..1 (empty: no embedding models, or weight 0).
    embedded: Vec<f32>,
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
        let estimate = match (&profile.embedding, self.embedded.is_empty()) {
            (Some(embedding), false) => match embedding.columns.get(model) {
                Some(Some(column)) => {
                    estimate + profile.embedding_weight * (self.embedded[*column] - estimate)
                }
                _ => estimate,
            },
            _ => estimate,
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
    use super::super::tests::two_model_profile;
    use super::super::*;
    use super::*;
    use crate::analysis;
    use crate::request::RequestFeatures;

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
    fn the_embedding_models_move_the_estimate_by_their_weight() {
        let base = two_model_profile(None);
        let prompt = "please fix the bug in my python function";
        let analysis = base.analyze(&Conversation::user(prompt), &RequestFeatures::default());
        let coder = base.quality("a/coder", &analysis).unwrap();
        let talker = base.quality("a/talker", &analysis).unwrap();
        let dim = analysis.embedding.len();
        // Zero weights and the prompt as the centre: the model's estimate is its bias.
        let with_weight = |weight: f64| {
            let mut data = base.data().clone();
            data.embedding = Some(EmbeddingModelData {
                models: vec!["a/coder".to_owned(), "x/absent".to_owned()],
                center: analysis.embedding.clone(),
                bias: vec![0.1, 0.9],
                weights: vec![vec![0.0; dim]; 2],
            });
            data.selection.embedding_weight = Some(weight);
            let profile = Profile::from_json(&Profile::from_data(data).unwrap().to_json()).unwrap();
            let analysis =
                profile.analyze(&Conversation::user(prompt), &RequestFeatures::default());
            (
                profile.quality("a/coder", &analysis).unwrap(),
                profile.quality("a/talker", &analysis).unwrap(),
            )
        };
        let (none, untouched) = with_weight(0.0);
        assert!((none - coder).abs() < 1e-6 && (untouched - talker).abs() < 1e-6);
        let (full, untouched) = with_weight(1.0);
        assert!((full - 0.1).abs() < 1e-4, "{full}");
        assert!((untouched - talker).abs() < 1e-6);
        let (half, _) = with_weight(0.5);
        assert!(
            (half - (coder + 0.5 * (0.1 - coder))).abs() < 1e-4,
            "{half}"
        );
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
