//! The routing plan: the ordered attempts (a model and one of its endpoints) to make for a
//! request, each with the reason it is in the plan, and the models skipped before any call.
//!
//! Plans are built by pure functions from the catalog and the request ([`build_with`] on the
//! request path; [`build`] and [`for_model`] without a request's provider selection); the server
//! runs them in order ([`Plan::steps`]), moving to the next step when one fails and the
//! fallback policy ([`crate::fallback::FallbackPolicy`]) allows it.
//!
//! # Model fallbacks
//!
//! [`build`] follows OpenRouter's `models` contract: `model` is tried first, then each entry of
//! `models` in order (`models` alone also works, its first entry being the primary). A model
//! named twice is tried once, at its first position. Each model contributes one attempt per
//! endpoint, in the configured order (provider fallback inside a model), before the next model.
//!
//! Before any call, a model that cannot take the request is skipped: its endpoints that lack a
//! capability the request needs, whose context length is below the estimated prompt tokens plus
//! the requested output, or whose output limit is below `max_tokens`, are left out, and a model
//! left with no endpoint becomes a [`Skipped`] step. The executor counts a skipped step as a failed attempt with the matching
//! error ([`SkipReason::failure_class`], [`SkipReason::status`], [`SkipReason::error_type`] and
//! its `Display` message) without a network call.
//!
//! # Provider selection
//!
//! [`build_with`] also applies a request's `provider` preferences ([`Selection`]):
//!
//! 1. **Filters**: `:free`, `only`, `ignore`, `quantizations`, `data_collection`, `zdr` and
//!    `max_price` remove endpoints ([`Preference`]); with `require_parameters`, so does every
//!    endpoint that does not list a parameter of the request. Each removed endpoint is an
//!    [`Excluded`] entry of the plan. When nothing is left of any model, the plan is
//!    [`PlanError::NoEndpointsMatch`], whose message says which preference removed which
//!    endpoints.
//! 2. **Order** within each model: `order` (the named providers first, in that order, then the
//!    others by price), else `sort` (`price` ascending, `throughput` descending, `latency`
//!    ascending; measured values first, configured ones before there are measurements), else
//!    **load balancing**: among the endpoints without a recent outage, one drawn at random with
//!    weight 1/price² (a typical request's price, [`crate::provider::typical_price`]), then the
//!    other stable ones by price, then the unstable ones by price. Endpoints that miss
//!    `preferred_min_throughput` or `preferred_max_latency` follow the ones that meet them (with
//!    `sort` and load balancing), and endpoints in cool-down ([`crate::health`]) always come last.
//!    `sort: {partition: "none"}` sorts the endpoints of every model together.
//! 3. `allow_fallbacks: false` keeps only the ordered providers, or the first endpoint.
//!
//! Model variants (`author/slug:variant`): `:nitro` sorts by throughput and `:floor` by price
//! (unless the request sorts), `:free` keeps only endpoints that cost nothing; other variants are
//! [`PlanError::UnsupportedVariant`]. The randomness of load balancing is [`Selection::seed`], so
//! equal inputs give equal plans.

use std::borrow::Cow;
use std::fmt;

use crate::catalog::{Catalog, Endpoint, EndpointIdx, ModelIdx};
use crate::fallback::FailureClass;
use crate::health::Observed;
use crate::json::Json;
use crate::provider::{Partition, Preferences, SortBy};
use crate::request::RequestFeatures;

mod request;
mod select;

use request::model_skip_reason;

use select::{
    Candidate, Mode, SplitMix, candidate, keep_allowed, mode, no_endpoints_message, order,
    parameter_rejection, preference_rejection,
};

/// OpenRouter's limit on the `models` array (observed: more than 3 entries is a 400).
pub const DEFAULT_MAX_MODELS: usize = 3;

/// Output tokens assumed for the context-length pre-check when the request names no
/// `max_tokens`: the least room an answer needs.
pub const DEFAULT_OUTPUT_TOKENS: u32 = 1;

/// Why an attempt is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptReason {
    /// The model the client named in `model` (or the first of `models`).
    Requested,
    /// A fallback model from `models`, at this position of the client's model list (0-based,
    /// after duplicates are removed; the primary is position 0).
    FallbackModel {
        /// Position in the client's model list.
        position: usize,
    },
    /// Another endpoint (provider) of the same model, after its preferred usable one.
    FallbackProvider,
}

/// One call of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The model to call.
    pub model: ModelIdx,
    /// Which of the model's endpoints.
    pub endpoint: EndpointIdx,
    /// Why it is here.
    pub reason: AttemptReason,
}

/// A capability a request can need and an endpoint can lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Function calling (`tools`).
    Tools,
    /// Image inputs.
    Vision,
    /// `response_format` with `json_schema`.
    StructuredOutput,
}

/// Why a model was skipped without a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Every endpoint that has the needed capabilities has a context window smaller than the
    /// estimated prompt tokens plus the requested output.
    ContextLength {
        /// Estimated prompt tokens plus `max_tokens` (or [`PlanOptions::default_output_tokens`]).
        needed: u64,
        /// The largest context length among the model's endpoints that have the capabilities.
        limit: u32,
    },
    /// No endpoint of the model has every capability the request needs; this is the first
    /// needed capability (in the order tools, vision, structured output) that the model's
    /// preferred endpoint lacks.
    MissingCapability(Capability),
    /// `max_tokens` (or `max_completion_tokens`) is more than the endpoint can produce.
    MaxOutput {
        /// The requested output tokens.
        requested: u32,
        /// The endpoint's output limit.
        limit: u32,
    },
    /// With `provider.require_parameters`, the endpoint does not list this parameter of the
    /// request.
    UnsupportedParameter(&'static str),
}

/// A model of the client's list that the plan skips without a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// The model.
    pub model: ModelIdx,
    /// Its position in the client's (deduplicated) model list; 0 is the primary.
    pub position: usize,
    /// Why it cannot take the request.
    pub reason: SkipReason,
    /// Where it sits in the order of the plan: the number of [`Plan::attempts`] before it.
    pub before_attempt: usize,
}

/// What to try for one request, in order.
///
/// `attempts` are the network calls, in the order they are made; `skipped` are the models the
/// pre-checks ruled out, each placed between attempts by [`Skipped::before_attempt`].
/// [`Plan::steps`] walks both in plan order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The calls, first to last.
    pub attempts: Vec<Attempt>,
    /// The models skipped before any call, in plan order.
    pub skipped: Vec<Skipped>,
    /// The models the client asked for, deduplicated, in order (for the route receipt).
    pub requested: Vec<ModelIdx>,
    /// Endpoints left out before any call (by a provider preference, or because they cannot
    /// take the request while the model has others that can), in catalog order.
    pub excluded: Vec<Excluded>,
}

/// An endpoint the plan leaves out, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Excluded {
    /// The model.
    pub model: ModelIdx,
    /// The endpoint.
    pub endpoint: EndpointIdx,
    /// Why.
    pub reason: ExcludeReason,
}

/// Why an endpoint is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExcludeReason {
    /// A provider preference (or the `:free` variant) removes it.
    Preference(Preference),
    /// It cannot take the request.
    Request(SkipReason),
}

/// The provider preference that removed an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// `provider.only` does not name it.
    Only,
    /// `provider.ignore` names it.
    Ignore,
    /// Its quantization is not in `provider.quantizations`.
    Quantizations,
    /// `provider.data_collection: "deny"` and the provider may keep data.
    DataCollection,
    /// `provider.zdr: true` and it is not zero-data-retention.
    Zdr,
    /// A price above `provider.max_price`.
    MaxPrice,
    /// The `:free` variant, and it is not free.
    Free,
    /// `provider.allow_fallbacks: false`, and it is neither ordered nor first.
    AllowFallbacks,
}

/// What an endpoint's health looks like to the planner, per endpoint of the catalog.
///
/// The server implements it over its live health records ([`crate::health::EndpointHealth`]);
/// [`AllHealthy`] is a catalog with no history.
pub trait HealthView {
    /// The endpoint's status and measurements now.
    fn observe(&self, model: ModelIdx, endpoint: EndpointIdx) -> Observed;
}

/// Every endpoint healthy, nothing measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllHealthy;

/// What [`build_with`] adds to a [`PlanRequest`]: the provider preferences, the request's
/// parameters (for `require_parameters`), endpoint health and the load balancer's randomness.
#[derive(Clone, Copy)]
pub struct Selection<'a> {
    /// The `provider` preferences, key defaults merged in.
    pub preferences: &'a Preferences,
    /// The request's forwarded fields, whose names `require_parameters` checks.
    pub parameters: &'a [(Cow<'a, str>, Json<'a>)],
    /// Endpoint health.
    pub health: &'a dyn HealthView,
    /// Seed of the load balancer's draw.
    pub seed: u64,
    /// `false`: without `order` or `sort`, endpoints keep their configured order instead of
    /// being load-balanced ([`build`]).
    pub load_balance: bool,
}

/// One step of a plan, as [`Plan::steps`] yields them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'p> {
    /// Call this endpoint.
    Call(&'p Attempt),
    /// Count this model as failed with its skip reason, without a call.
    Skip(&'p Skipped),
}

/// Knobs of [`build`], from the server's routing configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    /// The most entries the `models` array may have ([`DEFAULT_MAX_MODELS`]).
    pub max_models: usize,
    /// Output tokens assumed by the context-length pre-check when the request has no
    /// `max_tokens` ([`DEFAULT_OUTPUT_TOKENS`]).
    pub default_output_tokens: u32,
}

/// What [`build`] needs from a request.
#[derive(Debug, Clone, Copy)]
pub struct PlanRequest<'a> {
    /// `model`, when given. It is tried first.
    pub model: Option<&'a str>,
    /// `models`, as the client wrote it (duplicates included).
    pub models: &'a [Cow<'a, str>],
    /// What the request needs from an endpoint.
    pub features: RequestFeatures,
    /// Limits and defaults.
    pub options: PlanOptions,
}

/// Why no plan could be built. Every variant is the client's error (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Neither `model` nor `models` was given.
    #[error("`model` is required (or a non-empty `models` list)")]
    NoModel,
    /// A named model is not in the catalog.
    #[error("model `{0}` is not a valid model id")]
    UnknownModel(String),
    /// The `models` array has more entries than allowed. OpenRouter's wording.
    #[error("'models' array must have {max} items or fewer.")]
    TooManyModels {
        /// The configured limit.
        max: usize,
        /// Entries in the client's `models` array, duplicates included.
        given: usize,
    },
    /// A model id with a variant suffix Turnout does not serve (`:online`, `:thinking`, …).
    #[error(
        "model `{model}`: the variant `:{variant}` is not supported (supported: `:free`, `:nitro`, `:floor`)"
    )]
    UnsupportedVariant {
        /// The id as written.
        model: String,
        /// The suffix after `:`.
        variant: String,
    },
    /// The provider preferences leave no endpoint of any requested model (HTTP 404, unlike the
    /// other variants); the message says which preference removed which endpoints.
    #[error("{0}")]
    NoEndpointsMatch(String),
}

// === impl Plan ===

impl Plan {
    /// Every step in plan order: calls and skips interleaved as the client's model order puts
    /// them.
    pub fn steps(&self) -> impl Iterator<Item = Step<'_>> + '_ {
        let mut attempt_idx = 0;
        let mut skip_idx = 0;
        std::iter::from_fn(move || {
            if let Some(skipped) = self.skipped.get(skip_idx)
                && skipped.before_attempt <= attempt_idx
            {
                skip_idx += 1;
                return Some(Step::Skip(skipped));
            }
            let attempt = self.attempts.get(attempt_idx)?;
            attempt_idx += 1;
            Some(Step::Call(attempt))
        })
    }

    /// Number of steps (calls plus skips).
    pub fn len(&self) -> usize {
        self.attempts.len() + self.skipped.len()
    }

    /// Whether the plan has no step at all.
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty() && self.skipped.is_empty()
    }
}

// === impl SkipReason ===

impl SkipReason {
    /// The failure this skip counts as, for the fallback policy.
    pub fn failure_class(&self) -> FailureClass {
        match self {
            SkipReason::ContextLength { .. } | SkipReason::MaxOutput { .. } => {
                FailureClass::ContextLength
            }
            SkipReason::MissingCapability(_) | SkipReason::UnsupportedParameter(_) => {
                FailureClass::Unsupported
            }
        }
    }

    /// The HTTP status if this is the request's final error: 400 for context length (as a
    /// provider would answer), 404 when no endpoint supports the request (OpenRouter's "No
    /// endpoints found that support …").
    pub fn status(&self) -> u16 {
        match self {
            SkipReason::ContextLength { .. } | SkipReason::MaxOutput { .. } => 400,
            SkipReason::MissingCapability(_) | SkipReason::UnsupportedParameter(_) => 404,
        }
    }

    /// OpenRouter's typed `error_type` for it.
    pub fn error_type(&self) -> &'static str {
        match self {
            SkipReason::ContextLength { .. } => "context_length_exceeded",
            SkipReason::MaxOutput { .. } => "max_tokens_exceeded",
            SkipReason::MissingCapability(_) | SkipReason::UnsupportedParameter(_) => "not_found",
        }
    }
}

impl fmt::Display for SkipReason {
    /// A message safe to show the client.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::ContextLength { needed, limit } => write!(
                f,
                "This model's maximum context length is {limit} tokens, but the request needs \
                 about {needed} tokens (estimated prompt plus requested output)."
            ),
            SkipReason::MissingCapability(capability) => {
                write!(f, "No endpoints found that support {capability}.")
            }
            SkipReason::MaxOutput { requested, limit } => write!(
                f,
                "This endpoint's maximum output is {limit} tokens, but the request asks for \
                 {requested} (`max_tokens`)."
            ),
            SkipReason::UnsupportedParameter(parameter) => write!(
                f,
                "No endpoints found that can handle the requested parameters (`{parameter}`, \
                 with `provider.require_parameters`)."
            ),
        }
    }
}

impl fmt::Display for Preference {
    /// The preference as the client wrote it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preference::Only => "`provider.only`",
            Preference::Ignore => "`provider.ignore`",
            Preference::Quantizations => "`provider.quantizations`",
            Preference::DataCollection => "`provider.data_collection: \"deny\"`",
            Preference::Zdr => "`provider.zdr: true`",
            Preference::MaxPrice => "`provider.max_price`",
            Preference::Free => "the `:free` variant",
            Preference::AllowFallbacks => "`provider.allow_fallbacks: false`",
        })
    }
}

impl fmt::Display for ExcludeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExcludeReason::Preference(preference) => write!(f, "removed by {preference}"),
            ExcludeReason::Request(reason) => reason.fmt(f),
        }
    }
}

impl ExcludeReason {
    /// A short code for receipts and `error.metadata.attempts`: the preference's member
    /// (`only`, `max_price`, `free`, …) or the request's problem (`context_length`,
    /// `max_tokens`, `tools`, `vision`, `structured_outputs`, `require_parameters`).
    pub fn code(&self) -> &'static str {
        match self {
            ExcludeReason::Preference(preference) => match preference {
                Preference::Only => "only",
                Preference::Ignore => "ignore",
                Preference::Quantizations => "quantizations",
                Preference::DataCollection => "data_collection",
                Preference::Zdr => "zdr",
                Preference::MaxPrice => "max_price",
                Preference::Free => "free",
                Preference::AllowFallbacks => "allow_fallbacks",
            },
            ExcludeReason::Request(reason) => match reason {
                SkipReason::ContextLength { .. } => "context_length",
                SkipReason::MaxOutput { .. } => "max_tokens",
                SkipReason::MissingCapability(Capability::Tools) => "tools",
                SkipReason::MissingCapability(Capability::Vision) => "vision",
                SkipReason::MissingCapability(Capability::StructuredOutput) => "structured_outputs",
                SkipReason::UnsupportedParameter(_) => "require_parameters",
            },
        }
    }
}

impl HealthView for AllHealthy {
    fn observe(&self, _model: ModelIdx, _endpoint: EndpointIdx) -> Observed {
        Observed::default()
    }
}

impl fmt::Debug for Selection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selection")
            .field("preferences", self.preferences)
            .field("seed", &self.seed)
            .field("load_balance", &self.load_balance)
            .finish_non_exhaustive()
    }
}

/// No preferences at all.
static NO_PREFERENCES: Preferences = Preferences {
    order: None,
    allow_fallbacks: None,
    only: None,
    ignore: None,
    sort: None,
    max_price: None,
    require_parameters: None,
    data_collection: None,
    zdr: None,
    quantizations: None,
    preferred_min_throughput: None,
    preferred_max_latency: None,
    enforce_distillable_text: None,
};

impl Selection<'static> {
    /// No preferences, every endpoint healthy, configured order ([`build`]'s selection).
    pub fn configured() -> Self {
        Self {
            preferences: &NO_PREFERENCES,
            parameters: &[],
            health: &AllHealthy,
            seed: 0,
            load_balance: false,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::Tools => "tool use",
            Capability::Vision => "image input",
            Capability::StructuredOutput => "structured outputs",
        })
    }
}

// === impl PlanOptions, PlanRequest ===

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            max_models: DEFAULT_MAX_MODELS,
            default_output_tokens: DEFAULT_OUTPUT_TOKENS,
        }
    }
}

/// A model variant this router serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Nitro,
    Floor,
    Free,
}

/// Builds the plan for a request that names its models (`model`, `models` or both), with no
/// provider preferences and every endpoint in configured order: [`build_with`] and
/// [`Selection::configured`].
///
/// - Order: `model`, then `models` in order; a model named again is dropped (first occurrence
///   wins).
/// - Limit: `models` may have at most `options.max_models` entries, counted as the client wrote
///   them (duplicates included, `model` not counted), exactly OpenRouter's check: `model` plus
///   three `models` is accepted, four `models` is [`PlanError::TooManyModels`].
/// - Each named model must be in the catalog ([`PlanError::UnknownModel`], checked in order).
/// - Each model contributes its usable endpoints in configured order; a model with no usable
///   endpoint is a [`Skipped`] step instead (see [`PlanRequest::endpoint_rejection`]).
///
/// Pure and deterministic: equal inputs give equal plans.
pub fn build(catalog: &Catalog, request: &PlanRequest<'_>) -> Result<Plan, PlanError> {
    build_with(catalog, request, &Selection::configured())
}

/// Builds the plan with provider selection: [`build`]'s rules, then the `provider` preferences,
/// model variants, endpoint health and load balancing of [`Selection`] (see the module docs).
///
/// Pure and deterministic: equal inputs (the seed included) give equal plans.
pub fn build_with(
    catalog: &Catalog,
    request: &PlanRequest<'_>,
    selection: &Selection<'_>,
) -> Result<Plan, PlanError> {
    if request.models.len() > request.options.max_models {
        return Err(PlanError::TooManyModels {
            max: request.options.max_models,
            given: request.models.len(),
        });
    }
    let named = request
        .model
        .into_iter()
        .chain(request.models.iter().map(|it| it.as_ref()));
    let mut requested: Vec<(ModelIdx, Option<Variant>)> =
        Vec::with_capacity(request.models.len() + 1);
    for model_id in named {
        let (model_idx, variant) = resolve(catalog, model_id)?;
        if !requested.iter().any(|(it, _)| *it == model_idx) {
            requested.push((model_idx, variant));
        }
    }
    if requested.is_empty() {
        return Err(PlanError::NoModel);
    }

    let prefs = selection.preferences;
    let partition_none = prefs
        .sort
        .is_some_and(|sort| sort.partition == Partition::None)
        && prefs.order.is_none();
    let mut rng = SplitMix(selection.seed);
    let mut plan = Plan {
        attempts: Vec::with_capacity(requested.len() * 2),
        skipped: Vec::new(),
        requested: Vec::with_capacity(requested.len()),
        excluded: Vec::new(),
    };
    let mut pooled: Vec<Candidate> = Vec::new();
    let mut group: Vec<Candidate> = Vec::new();
    let mut rejected: Vec<Excluded> = Vec::new();
    for (position, &(model_idx, variant)) in requested.iter().enumerate() {
        let model = catalog.model(model_idx);
        group.clear();
        rejected.clear();
        let mut allowed_any = false;
        for (idx, endpoint) in model.endpoints.iter().enumerate() {
            let endpoint_idx = EndpointIdx(idx);
            if let Some(preference) = preference_rejection(prefs, variant, endpoint) {
                plan.excluded.push(Excluded {
                    model: model_idx,
                    endpoint: endpoint_idx,
                    reason: ExcludeReason::Preference(preference),
                });
                continue;
            }
            allowed_any = true;
            let rejection = request
                .endpoint_rejection(endpoint)
                .or_else(|| parameter_rejection(prefs, selection.parameters, endpoint));
            if let Some(reason) = rejection {
                rejected.push(Excluded {
                    model: model_idx,
                    endpoint: endpoint_idx,
                    reason: ExcludeReason::Request(reason),
                });
                continue;
            }
            group.push(candidate(
                selection,
                model_idx,
                endpoint_idx,
                endpoint,
                position,
            ));
        }
        if !allowed_any {
            continue;
        }
        if group.is_empty() {
            // The model is one skip; its endpoints' own reasons are not listed apart.
            let endpoints: Vec<&Endpoint> = rejected
                .iter()
                .map(|it| model.endpoint(it.endpoint))
                .collect();
            let reason = model_skip_reason(request, selection, &endpoints);
            plan.skipped.push(Skipped {
                model: model_idx,
                position,
                reason,
                before_attempt: if partition_none {
                    0
                } else {
                    plan.attempts.len()
                },
            });
            continue;
        }
        plan.excluded.extend_from_slice(&rejected);
        if partition_none {
            pooled.extend_from_slice(&group);
            continue;
        }
        let mode = mode(prefs, variant, selection.load_balance);
        order(&mut group, mode, &mut rng);
        keep_allowed(&mut group, prefs, mode, &mut plan.excluded);
        push_attempts(&mut plan.attempts, &group, &requested);
    }
    if partition_none {
        let by = prefs.sort.map_or(SortBy::Price, |sort| sort.by);
        order(&mut pooled, Mode::Sorted(by), &mut rng);
        keep_allowed(&mut pooled, prefs, Mode::Sorted(by), &mut plan.excluded);
        push_attempts(&mut plan.attempts, &pooled, &requested);
        let n_attempts = plan.attempts.len();
        for skipped in &mut plan.skipped {
            skipped.before_attempt = n_attempts;
        }
    }
    plan.requested = requested.iter().map(|(model, _)| *model).collect();
    if plan.attempts.is_empty() && plan.skipped.is_empty() {
        return Err(PlanError::NoEndpointsMatch(no_endpoints_message(
            catalog, &plan,
        )));
    }
    Ok(plan)
}

/// The model an id names, and its variant: the id itself when the catalog has it, else the
/// part before the last `:` with the suffix as a variant.
fn resolve(catalog: &Catalog, model_id: &str) -> Result<(ModelIdx, Option<Variant>), PlanError> {
    if let Some(idx) = catalog.find(model_id) {
        return Ok((idx, None));
    }
    if let Some((base, suffix)) = model_id.rsplit_once(':')
        && let Some(idx) = catalog.find(base)
    {
        let variant = match suffix {
            "nitro" => Variant::Nitro,
            "floor" => Variant::Floor,
            "free" => Variant::Free,
            _ => {
                return Err(PlanError::UnsupportedVariant {
                    model: model_id.to_owned(),
                    variant: suffix.to_owned(),
                });
            }
        };
        return Ok((idx, Some(variant)));
    }
    Err(PlanError::UnknownModel(model_id.to_owned()))
}

/// Appends the group's attempts with their reasons.
fn push_attempts(
    attempts: &mut Vec<Attempt>,
    group: &[Candidate],
    requested: &[(ModelIdx, Option<Variant>)],
) {
    for candidate in group {
        let seen = attempts.iter().any(|it| it.model == candidate.model);
        let reason = match (seen, candidate.position) {
            (true, _) => AttemptReason::FallbackProvider,
            (false, 0) => AttemptReason::Requested,
            (false, position) => AttemptReason::FallbackModel { position },
        };
        debug_assert!(requested[candidate.position].0 == candidate.model);
        attempts.push(Attempt {
            model: candidate.model,
            endpoint: candidate.endpoint,
            reason,
        });
    }
}

/// The plan for one explicit model: each of its endpoints in configured order, with no
/// pre-checks.
pub fn for_model(catalog: &Catalog, model_id: &str) -> Result<Plan, PlanError> {
    let model_idx = catalog
        .find(model_id)
        .ok_or_else(|| PlanError::UnknownModel(model_id.to_owned()))?;
    let n_endpoints = catalog.model(model_idx).endpoints.len();
    let attempts = (0..n_endpoints)
        .map(|endpoint| Attempt {
            model: model_idx,
            endpoint: EndpointIdx(endpoint),
            reason: if endpoint == 0 {
                AttemptReason::Requested
            } else {
                AttemptReason::FallbackProvider
            },
        })
        .collect();
    Ok(Plan {
        attempts,
        skipped: Vec::new(),
        requested: vec![model_idx],
        excluded: Vec::new(),
    })
}

#[cfg(test)]
mod selection_tests;
#[cfg(test)]
mod tests;
