//! The dial's calibration: the lambda scale and a lambda per dial value (step 7).

use super::*;

/// The dial's calibration: the lambda scale at which the default dial keeps `target_share` of
/// the quality the quality-only dial gets, and, with `options.spread_dial`, a lambda per dial
/// value so the operating points spread in cost (see the module documentation, step 6). All on
/// the training rows, each routed without itself as a neighbour.
pub(super) fn fit_dial(
    parts: &mut [Estimates],
    catalog: &Catalog,
    rows: &[Row],
    models: &[String],
    options: &FitOptions,
) -> anyhow::Result<(f64, Option<Vec<f64>>)> {
    let by_id: BTreeMap<String, &String> =
        models.iter().map(|name| (catalog_id(name), name)).collect();
    // Mean (cost, quality) of the picks at a fixed lambda (`None`: infinite).
    let mut point = |lambda: Option<f64>| -> anyhow::Result<(f64, f64)> {
        match lambda {
            Some(lambda) => {
                Estimates::set(parts, |it| it.dial_lambdas = Some(vec![lambda; 9]))?;
                Estimates::point(parts, catalog, rows, &by_id, 5)
            }
            None => Estimates::point(parts, catalog, rows, &by_id, 10),
        }
    };
    let (best_cost, best) = point(Some(0.0))?;
    let target = options.target_share * best;
    // The largest scale (on a log grid) that still keeps the target at the default dial.
    let mut scale = 1e-3;
    for step in 0..=48 {
        let candidate = 10f64.powf(-3.0 + f64::from(step) / 12.0);
        if point(Some(candidate * 7.0 / 3.0))?.1 >= target {
            scale = candidate;
        } else {
            break;
        }
    }
    if !options.spread_dial {
        return Ok((scale, None));
    }
    let default_lambda = scale * 7.0 / 3.0;
    let default_cost = point(Some(default_lambda))?.0;
    let knee_lambda = scale * 9.0;
    let knee_cost = point(Some(knee_lambda))?.0;
    let grid: Vec<f64> = (0..=96)
        .map(|step| 10f64.powf(-3.0 + f64::from(step) / 16.0))
        .collect();
    let mut points = Vec::with_capacity(grid.len());
    for &lambda in &grid {
        points.push((lambda, point(Some(lambda))?.0));
    }
    // The smallest lambda on the grid (at least `floor`) whose mean cost is at most `target`.
    let lambda_for = |target: f64, floor: f64| -> f64 {
        points
            .iter()
            .filter(|it| it.0 >= floor)
            .find(|it| it.1 <= target)
            .map_or_else(|| grid[grid.len() - 1].max(floor), |it| it.0)
    };
    let geometric = |from: f64, to: f64, share: f64| {
        from.max(1e-12).powf(1.0 - share) * to.max(1e-12).powf(share)
    };
    let mut wanted = Vec::with_capacity(9);
    let mut floor = 0.0;
    for t in 1..=9u8 {
        let lambda = match t {
            1..=6 => lambda_for(
                geometric(best_cost, default_cost, f64::from(t) / 7.0),
                floor,
            )
            .min(default_lambda),
            7 => default_lambda,
            8 => lambda_for(geometric(default_cost, knee_cost, 0.5), floor).min(knee_lambda),
            _ => knee_lambda,
        };
        let lambda = lambda.max(floor);
        wanted.push(lambda);
        floor = lambda;
    }
    let cheapest_cost = point(None)?.0;
    Ok((
        scale,
        Some(spread(&wanted, best_cost, &points, cheapest_cost)),
    ))
}

/// Moves the wanted dial lambdas (dials 1 to 9) onto distinct operating points where the
/// data has enough of them: `points` are `(lambda, mean cost)` along a rising lambda grid, and
/// the distinct operating points are the first lambda of each cost level strictly between the
/// quality-only cost (dial 0) and the cheapest (dial 10). Each dial keeps the level its wanted
/// lambda reaches unless the previous dial took it, or the dials after it would run out of
/// levels; then it takes the nearest free level. With fewer than nine levels some dials share
/// one, in order.
fn spread(wanted: &[f64], best_cost: f64, points: &[(f64, f64)], cheapest_cost: f64) -> Vec<f64> {
    let below = |a: f64, b: f64| a < b - 1e-9 * b.abs().max(1e-12);
    // Level 0 is dial 0's operating point; the rest lie strictly between it and dial 10's.
    let mut levels: Vec<(f64, f64)> = vec![(0.0, best_cost)];
    for &(lambda, cost) in points {
        let last = levels[levels.len() - 1].1;
        if below(cost, last) && below(cheapest_cost, cost) {
            levels.push((lambda, cost));
        }
    }
    let top = levels.len() - 1;
    let level_of = |lambda: f64| levels.iter().rposition(|it| it.0 <= lambda).unwrap_or(0);
    let n = wanted.len();
    let mut table = Vec::with_capacity(n);
    let mut previous = 0usize;
    for (idx, &lambda) in wanted.iter().enumerate() {
        let (low, high) = (previous + 1, top.saturating_sub(n - 1 - idx));
        let level = if low <= high {
            level_of(lambda).clamp(low, high)
        } else {
            level_of(lambda).clamp(previous, top.max(previous))
        };
        // Dial 9 past every level: keep its wanted lambda (the knee) when that is cheaper.
        let value = if level == 0 { lambda } else { levels[level].0 };
        table.push(value.max(table.last().copied().unwrap_or(0.0)));
        previous = level;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool of `n_models` models priced from 0.5 to about 100 thousandths of a dollar, whose
    /// chance of a good answer rises with the price (by `steepness`) and differs by prompt kind.
    fn pool(n_models: usize, steepness: f64, seed: u64) -> Vec<Row> {
        let mut rng = XorShift(seed);
        let kinds = [
            "fix the bug in this python function",
            "prove the inequality for every positive integer",
            "write a short poem about the sea",
            "what is the capital of this country",
        ];
        (0..240)
            .map(|idx| {
                let kind = idx % kinds.len();
                let mut quality = BTreeMap::new();
                let mut cost = BTreeMap::new();
                for m in 0..n_models {
                    let name = format!("vendor/model-{m:02}");
                    let rank = m as f64 / (n_models - 1) as f64;
                    let skill =
                        0.25 + 0.7 * rank.powf(steepness) + 0.05 * (kind as f64 - 1.5) * rank;
                    let good = rng.unit() < skill.clamp(0.02, 0.98);
                    quality.insert(name.clone(), f64::from(u8::from(good)));
                    cost.insert(name, 0.0005 * 1.6f64.powi(m as i32));
                }
                Row {
                    id: format!("row-{idx}"),
                    prompt: format!("{} (item {idx})", kinds[kind]),
                    quality,
                    cost,
                    ..Row::default()
                }
            })
            .collect()
    }

    #[test]
    fn adjacent_dials_spread_on_a_synthetic_pool() {
        for (n_models, steepness, seed) in [(12, 0.5, 3), (16, 0.3, 11), (12, 1.0, 29)] {
            let rows = pool(n_models, steepness, seed);
            let options = FitOptions {
                clusters: 2,
                neighbours: 0,
                bits: 12,
                ..FitOptions::default()
            };
            let fitted = fit(&rows, &options).unwrap();
            let models: Vec<String> = rows[0].quality.keys().cloned().collect();
            let by_id: BTreeMap<String, &String> =
                models.iter().map(|name| (catalog_id(name), name)).collect();
            let parts = in_sample_estimates(&rows, &fitted.data).unwrap();
            let points: Vec<(f64, f64)> = (0..=10u8)
                .map(|dial| Estimates::point(&parts, &fitted.catalog, &rows, &by_id, dial).unwrap())
                .collect();
            // Every step of the dial moves the mean cost down: each pool has at least eleven
            // operating points.
            for (dial, pair) in points.windows(2).enumerate() {
                assert!(
                    pair[1].0 < pair[0].0,
                    "pool {n_models}/{steepness}: dials {dial} and {} give {:?} and {:?}; \
                     all: {points:?}, table {:?}",
                    dial + 1,
                    pair[0],
                    pair[1],
                    fitted.data.selection.dial_lambdas
                );
            }
        }
    }
}
