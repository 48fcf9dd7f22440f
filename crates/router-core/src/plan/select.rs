//! Provider selection for one plan: the endpoints a request's `provider` preferences (and the
//! `:free` variant) remove, the order of each model's endpoints (`order`, `sort`, load balancing,
//! health tiers), `allow_fallbacks: false`, and the 404's message when nothing is left.

use std::borrow::Cow;

use super::{ExcludeReason, Excluded, Plan, Preference, Selection, SkipReason, Variant};
use crate::catalog::{Catalog, DataCollection, Endpoint, EndpointIdx, ModelIdx};
use crate::health::Status;
use crate::json::Json;
use crate::provider::{self, Preferences, SortBy};

/// OpenRouter's `supported_parameters` vocabulary: the request fields `require_parameters`
/// checks against an endpoint's list.
pub(super) const PARAMETERS: &[&str] = &[
    "frequency_penalty",
    "include_reasoning",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "min_p",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "reasoning",
    "reasoning_effort",
    "repetition_penalty",
    "response_format",
    "seed",
    "stop",
    "structured_outputs",
    "temperature",
    "tool_choice",
    "tools",
    "top_a",
    "top_k",
    "top_logprobs",
    "top_p",
    "verbosity",
    "web_search_options",
];

/// One endpoint being ordered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    pub(super) model: ModelIdx,
    pub(super) endpoint: EndpointIdx,
    /// Position of its model among the requested ones.
    pub(super) position: usize,
    /// Lower goes first: 4 in cool-down, 2 unstable (load balancing only), 1 misses a soft
    /// performance preference.
    pub(super) tier: u8,
    /// Time to first token (p50, seconds; infinite when unknown).
    pub(super) latency: f64,
    /// Output tokens per second (p50; zero when unknown).
    pub(super) throughput: f64,
    /// A typical request's price.
    pub(super) price: f64,
    /// Position in `provider.order` of the first name that matches it.
    pub(super) ordered: Option<usize>,
}

/// How one group of candidates is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Ordered,
    Sorted(SortBy),
    Balanced,
    Configured,
}

/// The first preference (or the `:free` variant) that removes `endpoint`.
pub(super) fn preference_rejection(
    prefs: &Preferences,
    variant: Option<Variant>,
    endpoint: &Endpoint,
) -> Option<Preference> {
    let pricing = &endpoint.pricing;
    if variant == Some(Variant::Free)
        && (pricing.prompt > 0.0 || pricing.completion > 0.0 || pricing.request > 0.0)
    {
        return Some(Preference::Free);
    }
    if let Some(only) = &prefs.only
        && !only
            .iter()
            .any(|name| provider::names_endpoint(name, endpoint))
    {
        return Some(Preference::Only);
    }
    if let Some(ignore) = &prefs.ignore
        && ignore
            .iter()
            .any(|name| provider::names_endpoint(name, endpoint))
    {
        return Some(Preference::Ignore);
    }
    if let Some(quantizations) = &prefs.quantizations {
        let quantization = endpoint.traits.quantization.as_deref().unwrap_or("unknown");
        if !quantizations
            .iter()
            .any(|it| it.eq_ignore_ascii_case(quantization))
        {
            return Some(Preference::Quantizations);
        }
    }
    if prefs.data_collection == Some(DataCollection::Deny)
        && endpoint.traits.data_collection != DataCollection::Deny
    {
        return Some(Preference::DataCollection);
    }
    if prefs.zdr == Some(true) && !endpoint.traits.zdr {
        return Some(Preference::Zdr);
    }
    if let Some(max) = &prefs.max_price {
        let above =
            |price: f64, max: Option<f64>| max.is_some_and(|max| price > max * (1.0 + 1e-9));
        if above(pricing.prompt, max.prompt)
            || above(pricing.completion, max.completion)
            || above(pricing.request, max.request)
        {
            return Some(Preference::MaxPrice);
        }
    }
    None
}

/// With `require_parameters`, the first parameter of the request the endpoint does not list.
pub(super) fn parameter_rejection(
    prefs: &Preferences,
    parameters: &[(Cow<'_, str>, Json<'_>)],
    endpoint: &Endpoint,
) -> Option<SkipReason> {
    if prefs.require_parameters != Some(true) {
        return None;
    }
    parameters.iter().find_map(|(key, _)| {
        let known = PARAMETERS.iter().find(|it| **it == key.as_ref())?;
        (!endpoint.supported_parameters.iter().any(|it| it == known))
            .then_some(SkipReason::UnsupportedParameter(known))
    })
}

/// How a model's endpoints are ordered.
pub(super) fn mode(prefs: &Preferences, variant: Option<Variant>, load_balance: bool) -> Mode {
    if prefs.order.is_some() {
        return Mode::Ordered;
    }
    let variant_sort = match variant {
        Some(Variant::Nitro) => Some(SortBy::Throughput),
        Some(Variant::Floor) => Some(SortBy::Price),
        _ => None,
    };
    match prefs.sort.map(|sort| sort.by).or(variant_sort) {
        Some(by) => Mode::Sorted(by),
        None if load_balance => Mode::Balanced,
        None => Mode::Configured,
    }
}

pub(super) fn candidate(
    selection: &Selection<'_>,
    model: ModelIdx,
    endpoint_idx: EndpointIdx,
    endpoint: &Endpoint,
    position: usize,
) -> Candidate {
    let prefs = selection.preferences;
    let observed = selection.health.observe(model, endpoint_idx);
    let configured = |value: Option<f64>| value.map(|it| [it; 4]);
    let latency = observed.latency.or(configured(endpoint.traits.latency));
    let throughput = observed
        .throughput
        .or(configured(endpoint.traits.throughput));
    let preferred = prefs
        .preferred_min_throughput
        .is_none_or(|cutoffs| cutoffs.met_by(throughput, true))
        && prefs
            .preferred_max_latency
            .is_none_or(|cutoffs| cutoffs.met_by(latency, false));
    let mut tier = u8::from(!preferred);
    match observed.status {
        Status::CoolingDown => tier += 4,
        Status::Unstable => tier += 2,
        Status::Healthy | Status::Probe => {}
    }
    Candidate {
        model,
        endpoint: endpoint_idx,
        position,
        tier,
        latency: latency.map_or(f64::INFINITY, |it| it[0]),
        throughput: throughput.map_or(0.0, |it| it[0]),
        price: provider::typical_price(endpoint),
        ordered: prefs.order.as_ref().and_then(|order| {
            order
                .iter()
                .position(|name| provider::names_endpoint(name, endpoint))
        }),
    }
}

/// Orders one group (see the module docs). Sorting is stable: ties keep the model order, then
/// the configured order.
pub(super) fn order(group: &mut [Candidate], mode: Mode, rng: &mut SplitMix) {
    match mode {
        Mode::Configured => group.sort_by_key(|it| it.tier >= 4),
        Mode::Ordered => group.sort_by(|a, b| {
            (a.tier >= 4)
                .cmp(&(b.tier >= 4))
                .then(
                    a.ordered
                        .unwrap_or(usize::MAX)
                        .cmp(&b.ordered.unwrap_or(usize::MAX)),
                )
                .then(a.price.total_cmp(&b.price))
        }),
        Mode::Sorted(by) => {
            let key = |it: &Candidate| match by {
                SortBy::Price => it.price,
                SortBy::Throughput => -it.throughput,
                SortBy::Latency => it.latency,
            };
            group.sort_by(|a, b| {
                (a.tier & !2)
                    .cmp(&(b.tier & !2))
                    .then(key(a).total_cmp(&key(b)))
            });
        }
        Mode::Balanced => {
            group.sort_by(|a, b| a.tier.cmp(&b.tier).then(a.price.total_cmp(&b.price)));
            let Some(first) = group.first() else {
                return;
            };
            let leading = group.iter().take_while(|it| it.tier == first.tier).count();
            let chosen = draw(&group[..leading], rng);
            group[..=chosen].rotate_right(1);
        }
    }
}

/// The index of one candidate drawn with weight 1/price² (uniformly among the free ones, when
/// there are any).
pub(super) fn draw(candidates: &[Candidate], rng: &mut SplitMix) -> usize {
    let free = candidates.iter().filter(|it| it.price <= 0.0).count();
    if free > 0 {
        let nth = (rng.next_f64() * free as f64) as usize;
        return candidates
            .iter()
            .enumerate()
            .filter(|(_, it)| it.price <= 0.0)
            .nth(nth.min(free - 1))
            .map_or(0, |(idx, _)| idx);
    }
    let weight = |it: &Candidate| 1.0 / (it.price * it.price);
    let total: f64 = candidates.iter().map(weight).sum();
    let mut point = rng.next_f64() * total;
    for (idx, candidate) in candidates.iter().enumerate() {
        point -= weight(candidate);
        if point < 0.0 {
            return idx;
        }
    }
    candidates.len().saturating_sub(1)
}

/// Applies `allow_fallbacks: false`: only the ordered providers (with `order`), else only the
/// first; the rest are excluded.
pub(super) fn keep_allowed(
    group: &mut Vec<Candidate>,
    prefs: &Preferences,
    mode: Mode,
    excluded: &mut Vec<Excluded>,
) {
    if prefs.allow_fallbacks != Some(false) {
        return;
    }
    let mut kept = 0;
    group.retain(|it| {
        let keep = if mode == Mode::Ordered {
            it.ordered.is_some()
        } else {
            kept == 0
        };
        if keep {
            kept += 1;
        } else {
            excluded.push(Excluded {
                model: it.model,
                endpoint: it.endpoint,
                reason: ExcludeReason::Preference(Preference::AllowFallbacks),
            });
        }
        keep
    });
}

/// The 404's message: which preference removed which endpoints.
pub(super) fn no_endpoints_message(catalog: &Catalog, plan: &Plan) -> String {
    let mut message = String::from("No endpoints found that match your provider preferences for ");
    for (idx, model) in plan.requested.iter().enumerate() {
        if idx > 0 {
            message.push_str(", ");
        }
        message.push_str(&catalog.model(*model).id);
    }
    message.push(':');
    let mut reasons: Vec<ExcludeReason> = Vec::new();
    for excluded in &plan.excluded {
        if !reasons.contains(&excluded.reason) {
            reasons.push(excluded.reason);
        }
    }
    for (idx, reason) in reasons.iter().enumerate() {
        message.push_str(if idx == 0 { " " } else { "; " });
        match reason {
            ExcludeReason::Preference(preference) => {
                message.push_str(&preference.to_string());
                message.push_str(" removed ");
            }
            ExcludeReason::Request(reason) => {
                message.push_str(&reason.to_string());
                message.push_str(" Removed: ");
            }
        }
        let mut first = true;
        for excluded in plan.excluded.iter().filter(|it| it.reason == *reason) {
            if !first {
                message.push_str(", ");
            }
            first = false;
            let model = catalog.model(excluded.model);
            message.push_str(&model.endpoint(excluded.endpoint).provider);
            if plan.requested.len() > 1 {
                message.push_str(" (");
                message.push_str(&model.id);
                message.push(')');
            }
        }
    }
    message.push('.');
    message
}

/// A tiny deterministic generator (SplitMix64) for the load balancer's draws.
#[derive(Debug, Clone, Copy)]
pub(super) struct SplitMix(pub(super) u64);

impl SplitMix {
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(super) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
