//! Per-model L2-regularised logistic regressions with offsets (`--predictors`, step 5).

use super::*;

/// Fits the per-model logistic regressions: each row's features as routing computes them, the
/// profile's cluster estimate (without neighbours) as the offset, the L2 strength chosen from
/// `options.l2_grid` by 3-fold cross-validation on the rows (mean log-loss).
pub(super) fn fit_predictors(
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
pub(super) struct Problem<'a> {
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

pub(super) fn round4f(value: f32) -> f32 {
    (value * 1e4).round() / 1e4
}
