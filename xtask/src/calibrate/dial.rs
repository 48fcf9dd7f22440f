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
    let mut table = Vec::with_capacity(9);
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
        table.push(lambda);
        floor = lambda;
    }
    Ok((scale, Some(table)))
}
