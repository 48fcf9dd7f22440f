//! The cost/quality dial: `cost_quality_tradeoff` `0..=10` to the price of quality, lambda.
//!
//! Selection maximises `quality - lambda * normalized_cost`. Lambda is 0 at dial 0 (quality
//! only), infinite at dial 10 (the cheapest capable model), and `scale * t / (10 - t)` between:
//! 1 at `t = 5` times the scale, 7/3 at the default 7, 9 at `t = 9`. The scale is data: calibration
//! fits it so that the default lands near 95% of the best candidate's quality, and stores it in
//! the profile. A calibrated profile may instead list lambda for each dial value 1 to 9
//! (`selection.dial_lambdas`, non-decreasing), fitted so the operating points spread in cost;
//! see `SelectionData::lambda`.

/// Lambda for a dial value; `f64::INFINITY` at 10 and above.
pub fn lambda(tradeoff: u8, scale: f64) -> f64 {
    match tradeoff {
        0 => 0.0,
        t if t >= 10 => f64::INFINITY,
        t => scale * f64::from(t) / f64::from(10 - t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_rises_from_zero_to_infinity() {
        assert_eq!(lambda(0, 0.3), 0.0);
        assert!(lambda(10, 0.3).is_infinite());
        let values: Vec<f64> = (0..=10).map(|t| lambda(t, 0.3)).collect();
        assert!(values.windows(2).all(|it| it[0] < it[1]), "{values:?}");
        assert!((lambda(5, 0.3) - 0.3).abs() < 1e-12);
    }
}
