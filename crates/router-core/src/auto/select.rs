//! Selection: from the catalog, the analysis, the profile and the dial to ranked picks.
//!
//! 1. Candidates are the catalog's models that the patterns permit and that have an endpoint able
//!    to take the request (tools, images, structured outputs, context and output length). A model
//!    that cannot take the request is never chosen.
//! 2. Each candidate gets an expected quality from the profile (a model the profile does not
//!    know: the mean of the profiled candidates in its price tier, [`super::prior`]) and an expected cost at its
//!    cheapest capable endpoint: `prompt tokens * prompt price + expected completion tokens *
//!    completion price + request price`.
//! 3. Costs are normalized over the candidates (`cost / max`, or log-scaled) and each candidate
//!    scores `quality - lambda(dial) * normalized cost`. The top `k` by score are the picks,
//!    primary first; ties go to the cheaper model, then to catalog order. At dial 10 (infinite
//!    lambda) the cheapest wins, ties to the higher quality.
//!
//! Since the score is linear in lambda, raising the dial never picks a more expensive model.

use crate::analysis::Analysis;
use crate::catalog::{Catalog, Endpoint, ModelIdx};
use crate::patterns::{FilterVerdict, ModelFilter};

use super::explain::{
    AnalysisSummary, CandidateReport, CandidateStatus, Explanation, QualitySource, Reason,
};
use super::prior::TierTable;
use super::profile::{CostScale, Profile};

/// The default number of picks (primary plus two fallbacks).
pub const DEFAULT_TOP_K: usize = 3;

/// What the caller decides about a selection.
#[derive(Debug, Clone, Copy)]
pub struct SelectParams<'a> {
    /// Allowed and excluded patterns.
    pub filter: &'a ModelFilter,
    /// The dial, `0..=10`.
    pub tradeoff: u8,
    /// How many picks to return (at least 1).
    pub top_k: usize,
}

/// The ranked picks and why.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    /// Chosen models, primary first, then fallbacks.
    pub picks: Vec<ModelIdx>,
    /// The analysis and every candidate.
    pub explanation: Explanation<'a>,
}

/// Why nothing could be chosen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SelectError<'a> {
    /// The patterns leave no model (the server answers 404).
    #[error("No models match your request and model restrictions")]
    NoModelsMatch(Box<Explanation<'a>>),
    /// Models match, but none can take the request (tools, images, context...).
    #[error("No allowed model can take this request (it needs {needs})")]
    NoCapableModel {
        /// What the request needs, in words.
        needs: String,
        /// Every candidate and why it was dropped.
        explanation: Box<Explanation<'a>>,
    },
}

impl<'a> SelectError<'a> {
    /// The explanation, for `POST /api/v1/route`.
    pub fn explanation(&self) -> &Explanation<'a> {
        match self {
            SelectError::NoModelsMatch(explanation) => explanation,
            SelectError::NoCapableModel { explanation, .. } => explanation,
        }
    }
}

struct Scored {
    model: ModelIdx,
    quality: f64,
    cost: f64,
    /// The cost of the reference request at the same endpoint.
    reference_cost: f64,
    score: f64,
}

/// Selects models for an analysed request.
pub fn select<'a>(
    catalog: &'a Catalog,
    profile: &Profile,
    analysis: &Analysis,
    params: &SelectParams<'_>,
) -> Result<Selection<'a>, SelectError<'a>> {
    let needs = analysis.needs;
    let completion_tokens = profile.completion_tokens(analysis);
    let lambda = profile.selection().lambda(params.tradeoff);
    let estimator = profile.estimator(analysis);

    let mut reports = Vec::with_capacity(catalog.len());
    let mut kept: Vec<Scored> = Vec::new();
    let mut any_permitted = false;
    // Positions in `kept` of models the profile does not know.
    let mut unknown: Vec<usize> = Vec::new();
    for (idx, model) in catalog.iter() {
        let drop = |reason| CandidateReport {
            model: &model.id,
            status: CandidateStatus::Dropped,
            reason,
            expected_quality: None,
            quality_source: None,
            expected_cost: None,
            score: None,
            rank: None,
        };
        match params.filter.verdict(&model.id) {
            FilterVerdict::Permitted => any_permitted = true,
            FilterVerdict::NotAllowed => {
                reports.push(drop(Reason::NotAllowed));
                continue;
            }
            FilterVerdict::Excluded => {
                reports.push(drop(Reason::Excluded));
                continue;
            }
        }
        let mut cheapest: Option<(f64, f64)> = None;
        let reference_tokens = f64::from(profile.selection().reference_prompt_tokens);
        let mut first_problem = None;
        for endpoint in &model.endpoints {
            match endpoint_problem(endpoint, analysis) {
                Some(problem) => {
                    first_problem.get_or_insert(problem);
                }
                None => {
                    let pricing = &endpoint.pricing;
                    let completion = completion_tokens * pricing.completion + pricing.request;
                    let cost = finite(f64::from(needs.prompt_tokens) * pricing.prompt + completion);
                    let reference = finite(reference_tokens * pricing.prompt + completion);
                    if cheapest.is_none_or(|it| cost < it.0) {
                        cheapest = Some((cost, reference));
                    }
                }
            }
        }
        let Some((cost, reference_cost)) = cheapest else {
            reports.push(drop(first_problem.unwrap_or(Reason::NoTools)));
            continue;
        };
        let (quality, source) = match estimator.quality(&model.id) {
            Some(quality) => (quality, QualitySource::Profile),
            None => {
                // Filled in below, from the profiled candidates' prices.
                unknown.push(kept.len());
                (f64::NAN, QualitySource::PriceTier)
            }
        };
        reports.push(CandidateReport {
            model: &model.id,
            status: CandidateStatus::Kept,
            reason: Reason::RankedBelowPicks,
            expected_quality: Some(quality),
            quality_source: Some(source),
            expected_cost: Some(cost),
            score: None,
            rank: None,
        });
        kept.push(Scored {
            model: idx,
            quality,
            cost,
            reference_cost,
            score: 0.0,
        });
    }

    if !unknown.is_empty() {
        price_tier_priors(&mut kept, &unknown, &mut reports, profile);
    }

    let summary = AnalysisSummary::from(analysis);
    let explanation = |reports, picks| Explanation {
        analysis: summary.clone(),
        cost_quality_tradeoff: params.tradeoff,
        lambda: lambda.is_finite().then_some(lambda),
        expected_completion_tokens: completion_tokens,
        candidates: reports,
        picks,
    };
    if kept.is_empty() {
        let explanation = Box::new(explanation(reports, Vec::new()));
        return Err(if any_permitted {
            SelectError::NoCapableModel {
                needs: describe_needs(analysis),
                explanation,
            }
        } else {
            SelectError::NoModelsMatch(explanation)
        });
    }

    rank(&mut kept, lambda, profile.selection().cost_scale);
    let top_k = params.top_k.max(1);
    let mut picks = Vec::with_capacity(top_k);
    let mut pick_ids = Vec::with_capacity(top_k);
    for (rank, scored) in kept.iter().enumerate() {
        let report = &mut reports[scored.model.0];
        report.rank = Some(rank + 1);
        report.score = lambda.is_finite().then_some(scored.score);
        if rank < top_k {
            report.reason = Reason::Picked(rank);
            picks.push(scored.model);
            pick_ids.push(report.model);
        }
    }
    Ok(Selection {
        picks,
        explanation: explanation(reports, pick_ids),
    })
}

/// Gives each candidate the profile does not know (at `unknown` in `kept`) the mean expected
/// quality of the profiled candidates in its price tier (see [`super::prior`]); when no profiled
/// model is a candidate, the profile's average quality over all its models and tasks.
fn price_tier_priors(
    kept: &mut [Scored],
    unknown: &[usize],
    reports: &mut [CandidateReport<'_>],
    profile: &Profile,
) {
    let table = TierTable::new(
        kept.iter()
            .filter(|it| !it.quality.is_nan())
            .map(|it| (it.reference_cost, it.quality))
            .collect(),
    );
    let fallback = profile
        .overall_quality()
        .unwrap_or(profile.selection().unknown_model_quality);
    for &position in unknown {
        let scored = &mut kept[position];
        let report = &mut reports[scored.model.0];
        match table.prior(scored.reference_cost) {
            Some(prior) => scored.quality = prior.quality,
            None => {
                scored.quality = fallback;
                report.quality_source = Some(QualitySource::Default);
            }
        }
        report.expected_quality = Some(scored.quality);
    }
}

/// Scores and sorts candidates best first (every tie is broken, so the unstable sort is
/// deterministic).
fn rank(kept: &mut [Scored], lambda: f64, scale: CostScale) {
    let max_cost = kept.iter().map(|it| it.cost).fold(0.0, f64::max);
    let min_cost = kept.iter().map(|it| it.cost).fold(f64::INFINITY, f64::min);
    let reference = kept.iter().map(|it| it.reference_cost).fold(0.0, f64::max);
    for scored in kept.iter_mut() {
        let normalized = match scale {
            CostScale::Linear if max_cost > 0.0 => scored.cost / max_cost,
            CostScale::Log if min_cost > 0.0 && max_cost > min_cost => {
                (scored.cost / min_cost).ln() / (max_cost / min_cost).ln()
            }
            CostScale::Reference if reference > 0.0 => scored.cost / reference,
            // Every cost equal (or free): the cost cannot tell candidates apart.
            _ => 0.0,
        };
        scored.score = if lambda.is_finite() {
            scored.quality - lambda * normalized
        } else {
            -normalized
        };
    }
    // Integer keys in `f64::total_cmp`'s order compare faster than the floats.
    if lambda.is_finite() {
        kept.sort_unstable_by_key(|it| (!ordered(it.score), ordered(it.cost), it.model));
    } else {
        kept.sort_unstable_by_key(|it| (ordered(it.cost), !ordered(it.quality), it.model));
    }
}

/// A key whose unsigned order is `f64::total_cmp`'s order.
fn ordered(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// A cost that sorts: NaN and infinities become the largest finite value.
fn finite(cost: f64) -> f64 {
    if cost.is_finite() {
        cost.max(0.0)
    } else {
        f64::MAX
    }
}

/// Why `endpoint` cannot take the request, if it cannot.
fn endpoint_problem(endpoint: &Endpoint, analysis: &Analysis) -> Option<Reason> {
    let needs = analysis.needs;
    let capabilities = endpoint.capabilities;
    if needs.tools && !capabilities.tools {
        return Some(Reason::NoTools);
    }
    if needs.images && !capabilities.vision {
        return Some(Reason::NoImages);
    }
    if needs.structured_output && !capabilities.structured_output {
        return Some(Reason::NoStructuredOutput);
    }
    let output = needs.max_output_tokens.unwrap_or(0);
    if let (Some(max_output), Some(requested)) = (endpoint.max_output, needs.max_output_tokens)
        && requested > max_output
    {
        return Some(Reason::OutputTooLong { max_output });
    }
    let needed = needs.prompt_tokens.saturating_add(output);
    if needed > endpoint.context_length {
        return Some(Reason::ContextTooSmall {
            context_length: endpoint.context_length,
            needed,
        });
    }
    None
}

fn describe_needs(analysis: &Analysis) -> String {
    let needs = analysis.needs;
    let mut parts = Vec::new();
    if needs.tools {
        parts.push("tools".to_owned());
    }
    if needs.images {
        parts.push("image input".to_owned());
    }
    if needs.structured_output {
        parts.push("structured outputs".to_owned());
    }
    let tokens = needs
        .prompt_tokens
        .saturating_add(needs.max_output_tokens.unwrap_or(0));
    parts.push(format!("a context of at least {tokens} tokens"));
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::ordered;

    #[test]
    fn ordered_keys_sort_as_total_cmp() {
        let values = [
            f64::NEG_INFINITY,
            -3.5,
            -0.0,
            0.0,
            1e-300,
            0.25,
            7.0,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        for a in values {
            for b in values {
                assert_eq!(ordered(a).cmp(&ordered(b)), a.total_cmp(&b), "{a} {b}");
            }
        }
    }
}
