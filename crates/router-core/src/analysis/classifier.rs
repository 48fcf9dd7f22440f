//! The learned part of prompt analysis: nearest clusters and nearest labelled examples.
//!
//! Its weights are data from a quality profile (see `crate::auto::profile`): an inverse document
//! frequency per feature slot, one centroid per task cluster and, optionally, labelled example
//! prompts. Similarities are cosines over hashed n-gram features, computed through inverted
//! indices so a query touches only the slots it has.

use super::features::SparseVector;
use super::task::{TaskScores, TaskType, softmax};

/// The compiled classifier of a profile.
#[derive(Debug, Clone)]
pub struct Classifier {
    pub(crate) bits: u8,
    /// Weight per slot (empty: every slot weighs 1).
    idf: Vec<f32>,
    /// The task type each cluster stands for, if any.
    cluster_tasks: Vec<Option<TaskType>>,
    centroids: InvertedIndex,
    examples: InvertedIndex,
    n_examples: usize,
    settings: ClassifierSettings,
}

/// Tunables of a [`Classifier`], stored in the profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassifierSettings {
    /// Softmax temperature over centroid similarities (lower is sharper).
    pub temperature: f32,
    /// How much the keyword rules weigh in the cluster posterior (0: not at all).
    pub rule_weight: f32,
    /// How many nearest examples to keep.
    pub neighbours: usize,
}

/// One of the nearest labelled examples of a prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// The example's position in the profile.
    pub example: u32,
    /// Cosine similarity to the prompt.
    pub similarity: f32,
}

/// What the classifier says about one prompt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classification {
    /// Posterior probability of each profile cluster.
    pub clusters: Vec<f32>,
    /// The nearest labelled examples, most similar first.
    pub neighbours: Vec<Neighbour>,
    /// Task type probabilities after combining rules and clusters.
    pub task_scores: TaskScores,
}

/// Postings per slot, in compressed-row form.
#[derive(Debug, Clone, Default)]
struct InvertedIndex {
    offsets: Vec<u32>,
    postings: Vec<(u32, f32)>,
}

impl InvertedIndex {
    fn new(bits: u8, vectors: &[SparseVector]) -> Self {
        if vectors.iter().all(SparseVector::is_empty) {
            return Self::default();
        }
        let n_slots = 1usize << bits;
        let mut counts = vec![0u32; n_slots + 1];
        for vector in vectors {
            for &(slot, _) in vector.entries() {
                counts[slot as usize + 1] += 1;
            }
        }
        for idx in 1..counts.len() {
            counts[idx] += counts[idx - 1];
        }
        let mut fill = counts.clone();
        let mut postings = vec![(0u32, 0.0f32); counts[n_slots] as usize];
        for (row, vector) in vectors.iter().enumerate() {
            for &(slot, weight) in vector.entries() {
                let at = &mut fill[slot as usize];
                postings[*at as usize] = (row as u32, weight);
                *at += 1;
            }
        }
        Self {
            offsets: counts,
            postings,
        }
    }

    /// Adds `query · row` into `out[row]` for every row.
    fn accumulate(&self, query: &SparseVector, out: &mut [f32]) {
        if self.offsets.is_empty() {
            return;
        }
        for &(slot, value) in query.entries() {
            let slot = slot as usize;
            let (Some(&start), Some(&end)) = (self.offsets.get(slot), self.offsets.get(slot + 1))
            else {
                continue;
            };
            for &(row, weight) in &self.postings[start as usize..end as usize] {
                out[row as usize] += value * weight;
            }
        }
    }
}

impl Classifier {
    /// Builds a classifier. `idf` is empty or has `2^bits` entries; centroids and examples are
    /// unit vectors in the same space (already weighted by `idf`).
    pub fn new(
        bits: u8,
        idf: Vec<f32>,
        clusters: Vec<(Option<TaskType>, SparseVector)>,
        examples: &[SparseVector],
        settings: ClassifierSettings,
    ) -> Self {
        let (cluster_tasks, centroids): (Vec<_>, Vec<_>) = clusters.into_iter().unzip();
        Self {
            bits,
            idf,
            cluster_tasks,
            centroids: InvertedIndex::new(bits, &centroids),
            examples: InvertedIndex::new(bits, examples),
            n_examples: examples.len(),
            settings,
        }
    }

    /// Number of feature slots, as a power of two.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Weighs raw term frequencies by the inverse document frequency and normalizes.
    pub fn weigh(&self, features: &mut SparseVector) {
        if !self.idf.is_empty() {
            let idf = &self.idf;
            features.reweight(|slot| idf.get(slot as usize).copied().unwrap_or(1.0));
        }
        features.normalize();
    }

    /// Classifies a weighted, normalized feature vector given the rules' task prior.
    pub fn classify(&self, features: &SparseVector, rule_prior: &TaskScores) -> Classification {
        let n_clusters = self.cluster_tasks.len();
        let mut clusters = vec![0.0f32; n_clusters];
        self.centroids.accumulate(features, &mut clusters);
        let settings = self.settings;
        for (logit, task) in clusters.iter_mut().zip(&self.cluster_tasks) {
            *logit /= settings.temperature.max(1e-3);
            if let Some(task) = task
                && settings.rule_weight > 0.0
            {
                *logit += settings.rule_weight * (rule_prior[task.index()] + 1e-3).ln();
            }
        }
        softmax(&mut clusters, 1.0);

        let mut task_scores = *rule_prior;
        if self.cluster_tasks.iter().any(Option::is_some) {
            let mut learned = [0.0f32; 9];
            for (p, task) in clusters.iter().zip(&self.cluster_tasks) {
                if let Some(task) = task {
                    learned[task.index()] += p;
                }
            }
            let mut sum = 0.0;
            for (score, learned) in task_scores.iter_mut().zip(learned) {
                *score *= learned + 0.1;
                sum += *score;
            }
            if sum > 0.0 {
                task_scores.iter_mut().for_each(|it| *it /= sum);
            }
        }

        let neighbours = self.nearest(features);
        Classification {
            clusters,
            neighbours,
            task_scores,
        }
    }

    fn nearest(&self, features: &SparseVector) -> Vec<Neighbour> {
        let k = self.settings.neighbours;
        if self.n_examples == 0 || k == 0 {
            return Vec::new();
        }
        let mut similarities = vec![0.0f32; self.n_examples];
        self.examples.accumulate(features, &mut similarities);
        let mut neighbours: Vec<Neighbour> = similarities
            .into_iter()
            .enumerate()
            .filter(|it| it.1 > 0.0)
            .map(|(example, similarity)| Neighbour {
                example: example as u32,
                similarity,
            })
            .collect();
        let by_similarity = |a: &Neighbour, b: &Neighbour| {
            b.similarity
                .total_cmp(&a.similarity)
                .then(a.example.cmp(&b.example))
        };
        if neighbours.len() > k {
            neighbours.select_nth_unstable_by(k - 1, by_similarity);
            neighbours.truncate(k);
        }
        neighbours.sort_unstable_by(by_similarity);
        neighbours
    }
}
