//! Per-model linear models of quality on the prompts' static embedding (ridge regression), and
//! the weight that blends them into the cluster estimate, fitted on held-out estimates.

use super::*;
use folds::Estimates;

/// Fits `q[m] = bias[m] + (x - center) . w[m]` for every model by ridge regression on the rows'
/// embeddings (as routing computes them), with an L2 strength of `l2 * rows`.
pub(super) fn fit_embedding_models(
    rows: &[Row],
    models: &[String],
    ids: &[String],
    l2: f64,
) -> anyhow::Result<EmbeddingModelData> {
    let embeddings: Vec<Vec<f32>> = rows
        .iter()
        .map(|row| analysis::task_input(&Conversation::user(&row.prompt), 12).embedding)
        .collect();
    let dim = embeddings.first().map_or(0, Vec::len);
    let n = rows.len();
    anyhow::ensure!(dim > 0 && n > 0, "no embedding to fit on");
    let mut center = vec![0.0f64; dim];
    for embedding in &embeddings {
        for (sum, x) in center.iter_mut().zip(embedding) {
            *sum += f64::from(*x);
        }
    }
    center.iter_mut().for_each(|it| *it /= n as f64);
    let centered: Vec<Vec<f64>> = embeddings
        .iter()
        .map(|it| {
            it.iter()
                .zip(&center)
                .map(|(x, c)| f64::from(*x) - c)
                .collect()
        })
        .collect();
    // The Gram matrix plus the ridge, and its Cholesky factor.
    let mut gram = vec![0.0f64; dim * dim];
    for x in &centered {
        for i in 0..dim {
            let xi = x[i];
            if xi == 0.0 {
                continue;
            }
            let row = &mut gram[i * dim..(i + 1) * dim];
            for (cell, xj) in row.iter_mut().zip(x) {
                *cell += xi * xj;
            }
        }
    }
    let ridge = (l2 * n as f64).max(1e-9);
    for i in 0..dim {
        gram[i * dim + i] += ridge;
    }
    let factor = cholesky(&gram, dim).context("the ridge system is not positive definite")?;
    let mut bias = Vec::with_capacity(models.len());
    let mut weights = Vec::with_capacity(models.len());
    for model in models {
        let mean = rows.iter().map(|it| it.quality[model]).sum::<f64>() / n as f64;
        let mut rhs = vec![0.0f64; dim];
        for (x, row) in centered.iter().zip(rows) {
            let y = row.quality[model] - mean;
            for (cell, xi) in rhs.iter_mut().zip(x) {
                *cell += xi * y;
            }
        }
        let solution = solve_cholesky(&factor, dim, rhs);
        bias.push(round6(mean as f32));
        weights.push(solution.into_iter().map(|it| round6(it as f32)).collect());
    }
    Ok(EmbeddingModelData {
        models: ids.to_vec(),
        center: center.into_iter().map(|it| round6(it as f32)).collect(),
        bias,
        weights,
    })
}

/// The lower-triangular `L` with `L L^T = a` (`a` symmetric positive definite, row-major).
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - dot;
                if d <= 0.0 {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - dot) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves `L L^T x = b` by forward and back substitution.
fn solve_cholesky(l: &[f64], n: usize, mut b: Vec<f64>) -> Vec<f64> {
    for i in 0..n {
        let dot: f64 = (0..i).map(|k| l[i * n + k] * b[k]).sum();
        b[i] = (b[i] - dot) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let dot: f64 = (i + 1..n).map(|k| l[k * n + i] * b[k]).sum();
        b[i] = (b[i] - dot) / l[i * n + i];
    }
    b
}

/// The embedding weight `w` in `e + w * (q - e)`, where `e` is a prompt's estimate without the
/// embedding models and `q` theirs: the least-squares fit of the held-out rows' quality (from 0
/// to 1), kept only when routing the held-out rows with it gains at least 2% of the gap between
/// the cheapest and the strongest model over not using the embedding models (else 0). A squared
/// error can improve where routing does not (the models' ranking on a prompt is what counts).
pub(super) fn choose_embedding_weight(
    parts: &mut [Estimates],
    catalog: &Catalog,
    rows: &[Row],
    models: &[String],
    ids: &[String],
) -> anyhow::Result<f64> {
    let estimates = |parts: &[Estimates]| -> Vec<f64> {
        let mut out = Vec::new();
        for part in parts {
            for analysis in &part.analyses {
                let estimator = part.profile.estimator(analysis);
                out.extend(
                    ids.iter()
                        .map(|id| estimator.quality(id).unwrap_or(f64::NAN)),
                );
            }
        }
        out
    };
    Estimates::set(parts, |it| it.embedding_weight = Some(0.0))?;
    let without = estimates(parts);
    Estimates::set(parts, |it| it.embedding_weight = Some(1.0))?;
    let with = estimates(parts);
    let truth = parts.iter().flat_map(|part| {
        part.rows
            .iter()
            .flat_map(|idx| models.iter().map(move |m| rows[*idx].quality[m]))
    });
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for ((q, e), y) in with.iter().zip(&without).zip(truth) {
        if q.is_nan() || e.is_nan() {
            continue;
        }
        num += (y - e) * (q - e);
        den += (q - e) * (q - e);
    }
    let fitted = if den > 0.0 {
        round4((num / den).clamp(0.0, 1.0))
    } else {
        0.0
    };
    let by_id: BTreeMap<String, &String> = ids.iter().cloned().zip(models).collect();
    let scoring = Scoring::new(rows, models);
    let margin =
        0.02 * (scoring.single[scoring.strongest].1 - scoring.single[scoring.cheapest].1).abs();
    Estimates::set(parts, |it| it.embedding_weight = Some(0.0))?;
    let base = folds::curve_area(parts, catalog, rows, &by_id, &scoring)?;
    Estimates::set(parts, |it| it.embedding_weight = Some(fitted))?;
    let blended = folds::curve_area(parts, catalog, rows, &by_id, &scoring)?;
    let weight = if fitted > 0.0 && blended > base + margin {
        fitted
    } else {
        0.0
    };
    Estimates::set(parts, |it| it.embedding_weight = Some(weight))?;
    Ok(weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let l = cholesky(&a, 2).unwrap();
        let x = solve_cholesky(&l, 2, vec![2.0, 1.0]);
        // 4x + 2y = 2, 2x + 3y = 1 -> x = 0.5, y = 0.
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        assert!(cholesky(&[0.0], 1).is_none());
    }

    #[test]
    fn ridge_models_learn_which_model_suits_which_kind_of_prompt() {
        let rows = crate::rows::two_kinds(40);
        let models: Vec<String> = rows[0].quality.keys().cloned().collect();
        let ids: Vec<String> = models.iter().map(|it| catalog_id(it)).collect();
        let data = fit_embedding_models(&rows, &models, &ids, 0.01).unwrap();
        assert_eq!(data.models, ids);
        let estimate = |prompt: &str, model: usize| {
            let x = analysis::task_input(&Conversation::user(prompt), 12).embedding;
            let dot: f32 = x
                .iter()
                .zip(&data.center)
                .zip(&data.weights[model])
                .map(|((x, c), w)| (x - c) * w)
                .sum();
            data.bias[model] + dot
        };
        let coder = models.iter().position(|it| it == "strong coder").unwrap();
        let code = "Fix the bug in this python function: def g(y): return y[0]";
        let chat = "hello friend, how are you this morning?";
        assert!(estimate(code, coder) > estimate(chat, coder) + 0.3);
    }
}
