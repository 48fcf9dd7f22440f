//! Compiling a stored profile: every field checked (an impossible value names its field), then
//! the dense tables routing reads (quality per model, cluster and bucket; the examples' observed
//! quality; the predictors' slot-major weights; the model-id index).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::analysis::classifier::{Classifier, ClassifierSettings};
use crate::analysis::features::{self, SparseVector};
use crate::analysis::{self, Conversation};

use super::{
    EmbeddingModelData, FORMAT, PredictorsData, Profile, ProfileData, ProfileError, SelectionData,
    VERSION,
};

/// Compiled [`PredictorsData`]: a dense slot index into slot-major weight rows.
#[derive(Debug, Clone, Default)]
pub(super) struct Predictors {
    /// Per profile model: its column, if the predictors know it.
    pub(super) columns: Vec<Option<usize>>,
    pub(super) n_columns: usize,
    pub(super) prior_weight: f32,
    pub(super) bias: Vec<f32>,
    /// Per slot: its row in `weights`, or `u32::MAX`.
    pub(super) rows: Vec<u32>,
    /// `[row][column]`, flattened.
    pub(super) weights: Vec<f32>,
}

impl Predictors {
    pub(super) fn compile(
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
}

impl Profile {
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
        let (estimate_weight, embedding_weight) = check_selection(&data.selection)?;
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
        let embedding = data
            .embedding
            .as_ref()
            .map(|it| EmbeddingModel::compile(it, &model_index, n_models))
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
            embedding,
            embedding_weight,
        })
    }

    /// Replaces the selection tunables (the dial, the estimate weight) of a compiled profile,
    /// checking them as [`Profile::from_data`] does. Calibration tries many of them on one
    /// profile.
    pub fn set_selection(&mut self, selection: SelectionData) -> Result<(), ProfileError> {
        (self.estimate_weight, self.embedding_weight) = check_selection(&selection)?;
        self.data.selection = selection;
        Ok(())
    }
}

/// Checks the selection tunables; the estimate weight and the embedding weight they give (each 1
/// when absent).
fn check_selection(selection: &SelectionData) -> Result<(f32, f32), ProfileError> {
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
    let embedding_weight = selection.embedding_weight.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&embedding_weight) {
        return Err(invalid("selection.embedding_weight", "must be from 0 to 1"));
    }
    Ok((estimate_weight as f32, embedding_weight as f32))
}

/// Compiled [`EmbeddingModelData`]: per profile model its column, and the weights row-major.
#[derive(Debug, Clone)]
pub(super) struct EmbeddingModel {
    /// Per profile model: its column, if the embedding models know it.
    pub(super) columns: Vec<Option<usize>>,
    pub(super) center: Vec<f32>,
    pub(super) bias: Vec<f32>,
    /// `[column][dimension]`, flattened.
    pub(super) weights: Vec<f32>,
}

impl EmbeddingModel {
    /// Checks the data against the embedding's dimension and indexes it by profile model.
    pub(super) fn compile(
        data: &EmbeddingModelData,
        model_index: &HashMap<String, usize, BuildHasherDefault<IdHasher>>,
        n_models: usize,
    ) -> Result<Self, ProfileError> {
        let invalid = |field: &str, message: String| ProfileError::Invalid {
            field: format!("embedding.{field}"),
            message,
        };
        let dim = crate::analysis::embed::embedder().dim();
        if data.center.len() != dim {
            return Err(invalid(
                "center",
                format!("needs one value per dimension of the embedding ({dim})"),
            ));
        }
        let n_columns = data.models.len();
        if data.bias.len() != n_columns || data.weights.len() != n_columns {
            return Err(invalid(
                "bias",
                "`bias` and `weights` need one entry per model of `embedding.models`".to_owned(),
            ));
        }
        let mut weights = Vec::with_capacity(n_columns * dim);
        for (idx, row) in data.weights.iter().enumerate() {
            if row.len() != dim {
                return Err(invalid(
                    &format!("weights[{idx}]"),
                    format!("needs one value per dimension of the embedding ({dim})"),
                ));
            }
            weights.extend_from_slice(row);
        }
        let finite = |values: &[f32]| values.iter().all(|it| it.is_finite());
        if !(finite(&data.center) && finite(&data.bias) && finite(&weights)) {
            return Err(invalid("weights", "values must be finite".to_owned()));
        }
        let mut columns = vec![None; n_models];
        for (column, model) in data.models.iter().enumerate() {
            if let Some(&idx) = model_index.get(model) {
                columns[idx] = Some(column);
            }
        }
        Ok(Self {
            columns,
            center: data.center.clone(),
            bias: data.bias.clone(),
            weights,
        })
    }
}

/// An FxHash-style hasher for the model-id map: ids are short and trusted (they come from the
/// profile), so eight bytes a step beats SipHash's flooding resistance here.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct IdHasher(u64);

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

#[cfg(test)]
mod tests {
    use super::super::tests::two_model_profile;
    use super::super::*;

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
        let mut bad = good.clone();
        bad.selection.embedding_weight = Some(-0.5);
        check(bad, "selection.embedding_weight");
        let dim = crate::analysis::embed::embedder().dim();
        let embedding = EmbeddingModelData {
            models: vec!["a/coder".to_owned()],
            center: vec![0.0; dim],
            bias: vec![0.5],
            weights: vec![vec![0.0; dim]],
        };
        let mut bad = good.clone();
        bad.embedding = Some(EmbeddingModelData {
            center: vec![0.0; dim + 1],
            ..embedding.clone()
        });
        check(bad, "embedding.center");
        let mut bad = good.clone();
        bad.embedding = Some(EmbeddingModelData {
            weights: vec![vec![0.0; 3]],
            ..embedding.clone()
        });
        check(bad, "embedding.weights[0]");
        let mut bad = good.clone();
        bad.embedding = Some(EmbeddingModelData {
            bias: vec![f32::NAN],
            ..embedding.clone()
        });
        check(bad, "embedding.weights");
        let mut ok = good.clone();
        ok.embedding = Some(embedding);
        assert!(Profile::from_data(ok).is_ok());
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
}
