//! The price-tier prior: the expected quality of a model the quality profile does not know.
//!
//! A model missing from the profile is neither worthless nor excellent: it is assumed as good as
//! the profiled models that cost about as much. The profiled models are ranked by price and cut
//! into [`TIERS`] tiers of equal count (cheapest first); an unknown model joins the tier of the
//! profiled model nearest to it in log price, and gets the mean quality of that tier. Selection
//! uses each tier member's estimate for the prompt at hand (so the prior follows the task and
//! difficulty); the start-up warning ([`super::coverage`]) uses each member's average over every
//! task and difficulty.

/// How many price tiers the profiled models are cut into.
pub const TIERS: usize = 4;

/// Profiled models as `(price, quality)`, sorted by price, for tier priors.
#[derive(Debug, Clone, Default)]
pub struct TierTable {
    /// `(price, quality)`, price ascending (ties by quality, so the order is deterministic).
    known: Vec<(f64, f64)>,
}

/// One unknown model's prior.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierPrior {
    /// The tier, `0` (cheapest) to `TIERS - 1`.
    pub tier: usize,
    /// The mean quality of the profiled models in it.
    pub quality: f64,
}

impl TierTable {
    /// A table of profiled models' `(price, quality)` pairs, in any order. Prices that are not
    /// finite numbers are left out.
    pub fn new(mut known: Vec<(f64, f64)>) -> Self {
        known.retain(|it| it.0.is_finite() && it.1.is_finite());
        known.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        Self { known }
    }

    /// Whether no profiled model is in the table.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// The tier of the `rank`-th cheapest profiled model.
    fn tier_of_rank(&self, rank: usize) -> usize {
        (rank * TIERS / self.known.len()).min(TIERS - 1)
    }

    /// The prior of a model priced `price`, or `None` when the table is empty.
    pub fn prior(&self, price: f64) -> Option<TierPrior> {
        let n = self.known.len();
        if n == 0 {
            return None;
        }
        let above = self.known.partition_point(|it| it.0 < price);
        let nearest = if above == 0 {
            0
        } else if above == n {
            n - 1
        } else {
            let gap = |other: f64| log_gap(price, other);
            if gap(self.known[above - 1].0) <= gap(self.known[above].0) {
                above - 1
            } else {
                above
            }
        };
        let tier = self.tier_of_rank(nearest);
        let (mut sum, mut count) = (0.0, 0usize);
        for (rank, (_, quality)) in self.known.iter().enumerate() {
            if self.tier_of_rank(rank) == tier {
                sum += quality;
                count += 1;
            }
        }
        Some(TierPrior {
            tier,
            quality: sum / count.max(1) as f64,
        })
    }
}

/// How far apart two prices are on a log scale (free prices count as a hundredth of a micro
/// dollar, so they still compare).
fn log_gap(a: f64, b: f64) -> f64 {
    const FLOOR: f64 = 1e-8;
    (a.max(FLOOR).ln() - b.max(FLOOR).ln()).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_model_gets_the_mean_of_its_price_tier() {
        // Eight profiled models: two per tier, pricier ones better.
        let table = TierTable::new(vec![
            (8.0, 0.9),
            (1.0, 0.3),
            (2.0, 0.5),
            (0.5, 0.2),
            (4.0, 0.7),
            (3.0, 0.6),
            (6.0, 0.8),
            (0.1, 0.1),
        ]);
        let prior = |price| table.prior(price).unwrap();
        assert_eq!(prior(0.01).tier, 0);
        assert!((prior(0.01).quality - 0.15).abs() < 1e-12);
        assert_eq!(prior(2.2).tier, 1);
        assert!((prior(2.2).quality - 0.4).abs() < 1e-12);
        assert_eq!(prior(100.0).tier, 3);
        assert!((prior(100.0).quality - 0.85).abs() < 1e-12);
        // Between tiers: the nearer in log price wins (2.9 is nearer 3.0 than 2.0).
        assert_eq!(prior(2.9).tier, 2);
        // Free models compare too, and nothing is ever 0 when the tier's models are not.
        assert!(prior(0.0).quality > 0.0);
        assert_eq!(TierTable::new(Vec::new()).prior(1.0), None);
        // One profiled model: everything takes its quality.
        let one = TierTable::new(vec![(1.0, 0.7)]);
        assert_eq!(one.prior(50.0).map(|it| it.quality), Some(0.7));
    }
}
