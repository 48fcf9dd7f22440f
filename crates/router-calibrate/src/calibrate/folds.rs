//! Held-out and in-sample estimates of the training rows, and the estimate weight chosen on
//! them (step 6 of the fit).

use super::*;

/// A profile and its analyses of some rows: rows it did not see (held out), or its own training
/// rows, each without itself as a neighbour (in sample).
pub(super) struct Estimates {
    pub(super) profile: Profile,
    pub(super) rows: Vec<usize>,
    pub(super) analyses: Vec<Analysis>,
}

impl Estimates {
    /// Sets one selection tunable on every part's profile.
    pub(super) fn set(
        parts: &mut [Estimates],
        change: impl Fn(&mut SelectionData),
    ) -> anyhow::Result<()> {
        for part in parts {
            let mut selection = part.profile.selection().clone();
            change(&mut selection);
            part.profile.set_selection(selection)?;
        }
        Ok(())
    }

    /// Mean (cost, quality) of the top pick of every row of the parts at dial `tradeoff`.
    pub(super) fn point(
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
                let pick = by_id[&*catalog.model(selection.picks[0]).id];
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
pub(super) fn in_sample_estimates(
    rows: &[Row],
    data: &ProfileData,
) -> anyhow::Result<Vec<Estimates>> {
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
pub(super) fn held_out_estimates(
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
pub(super) fn choose_estimate_weight(
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
        areas.push((weight, curve_area(parts, catalog, rows, &by_id, &scoring)?));
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

/// The area under the held-out rows' quality/cost curve over a sweep of lambda (score.py's
/// APGR before its normalization), on the parts' profiles as they are set.
pub(super) fn curve_area(
    parts: &mut [Estimates],
    catalog: &Catalog,
    rows: &[Row],
    by_id: &BTreeMap<String, &String>,
    scoring: &Scoring<'_>,
) -> anyhow::Result<f64> {
    let cheapest = scoring.single[scoring.cheapest];
    let strongest = scoring.single[scoring.strongest];
    let mut points = vec![cheapest];
    for step in 0..=24 {
        let lambda = 10f64.powf(-3.0 + f64::from(step) / 4.0);
        Estimates::set(parts, |it| it.dial_lambdas = Some(vec![lambda; 9]))?;
        points.push(Estimates::point(parts, catalog, rows, by_id, 5)?);
    }
    Estimates::set(parts, |it| it.dial_lambdas = Some(vec![0.0; 9]))?;
    points.push(Estimates::point(parts, catalog, rows, by_id, 5)?);
    Estimates::set(parts, |it| it.dial_lambdas = None)?;
    let hull = upper_hull(&points);
    Ok(if strongest.0 > cheapest.0 {
        hull_integral(&hull, cheapest.0, strongest.0) / (strongest.0 - cheapest.0)
    } else {
        hull.last().map_or(0.0, |it| it.1)
    })
}

/// The weight `w` in `mean + w * (estimate - mean)` that best predicts the held-out rows'
/// quality (least squares over rows and models), from 0 to 1.
pub(super) fn least_squares_weight(
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
