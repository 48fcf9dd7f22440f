//! The routing plan: the ordered attempts (a model and one of its endpoints) to make for a
//! request, each with the reason it is in the plan, and the models skipped before any call.
//!
//! Plans are built by pure functions from the catalog and the request ([`build`], [`for_model`]);
//! the server runs them in order ([`Plan::steps`]), moving to the next step when one fails and the
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
//! capability the request needs, or whose context length is below the estimated prompt tokens plus
//! the requested output, are left out, and a model left with no endpoint becomes a
//! [`Skipped`] step. The executor counts a skipped step as a failed attempt with the matching
//! error ([`SkipReason::failure_class`], [`SkipReason::status`], [`SkipReason::error_type`] and
//! its `Display` message) without a network call.

use std::borrow::Cow;
use std::fmt;

use crate::catalog::{Catalog, Endpoint, EndpointIdx, ModelIdx};
use crate::fallback::FailureClass;
use crate::request::{ChatRequest, RequestFeatures};

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
            SkipReason::ContextLength { .. } => FailureClass::ContextLength,
            SkipReason::MissingCapability(_) => FailureClass::Unsupported,
        }
    }

    /// The HTTP status if this is the request's final error: 400 for context length (as a
    /// provider would answer), 404 when no endpoint supports the request (OpenRouter's "No
    /// endpoints found that support …").
    pub fn status(&self) -> u16 {
        match self {
            SkipReason::ContextLength { .. } => 400,
            SkipReason::MissingCapability(_) => 404,
        }
    }

    /// OpenRouter's typed `error_type` for it.
    pub fn error_type(&self) -> &'static str {
        match self {
            SkipReason::ContextLength { .. } => "context_length_exceeded",
            SkipReason::MissingCapability(_) => "not_found",
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

impl<'a> PlanRequest<'a> {
    /// The plan inputs of a parsed request: its `model`, `models` and features.
    pub fn from_chat(request: &'a ChatRequest<'a>, options: PlanOptions) -> Self {
        Self {
            model: request.model.as_deref(),
            models: &request.models,
            features: request.features(),
            options,
        }
    }

    /// Tokens the request needs in a context window: the prompt estimate plus `max_tokens`, or
    /// plus [`PlanOptions::default_output_tokens`] without it.
    pub fn needed_tokens(&self) -> u64 {
        let output = self
            .features
            .max_output_tokens
            .unwrap_or(self.options.default_output_tokens);
        u64::from(self.features.prompt_tokens_estimate) + u64::from(output)
    }

    /// The capabilities the request needs, in the order tools, vision, structured output.
    pub fn needed_capabilities(&self) -> impl Iterator<Item = Capability> + '_ {
        [
            (self.features.needs_tools, Capability::Tools),
            (self.features.needs_vision, Capability::Vision),
            (
                self.features.needs_structured_output,
                Capability::StructuredOutput,
            ),
        ]
        .into_iter()
        .filter_map(|(needed, capability)| needed.then_some(capability))
    }

    /// Why `endpoint` cannot take this request, or `None` if it can.
    pub fn endpoint_rejection(&self, endpoint: &Endpoint) -> Option<SkipReason> {
        if let Some(missing) = self
            .needed_capabilities()
            .find(|capability| !has_capability(endpoint, *capability))
        {
            return Some(SkipReason::MissingCapability(missing));
        }
        let needed = self.needed_tokens();
        (needed > u64::from(endpoint.context_length)).then_some(SkipReason::ContextLength {
            needed,
            limit: endpoint.context_length,
        })
    }
}

/// Builds the plan for a request that names its models (`model`, `models` or both).
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
    let mut requested: Vec<ModelIdx> = Vec::with_capacity(request.models.len() + 1);
    for model_id in named {
        let model_idx = catalog
            .find(model_id)
            .ok_or_else(|| PlanError::UnknownModel(model_id.to_owned()))?;
        if !requested.contains(&model_idx) {
            requested.push(model_idx);
        }
    }
    if requested.is_empty() {
        return Err(PlanError::NoModel);
    }

    let mut plan = Plan {
        attempts: Vec::with_capacity(requested.len() * 2),
        skipped: Vec::new(),
        requested: Vec::new(),
    };
    for (position, &model_idx) in requested.iter().enumerate() {
        let model = catalog.model(model_idx);
        let n_attempts_before = plan.attempts.len();
        for (endpoint_idx, endpoint) in model.endpoints.iter().enumerate() {
            if request.endpoint_rejection(endpoint).is_some() {
                continue;
            }
            let reason = match (plan.attempts.len() == n_attempts_before, position) {
                (false, _) => AttemptReason::FallbackProvider,
                (true, 0) => AttemptReason::Requested,
                (true, position) => AttemptReason::FallbackModel { position },
            };
            plan.attempts.push(Attempt {
                model: model_idx,
                endpoint: EndpointIdx(endpoint_idx),
                reason,
            });
        }
        if plan.attempts.len() == n_attempts_before {
            plan.skipped.push(Skipped {
                model: model_idx,
                position,
                reason: model_skip_reason(request, &model.endpoints),
                before_attempt: n_attempts_before,
            });
        }
    }
    plan.requested = requested;
    Ok(plan)
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
    })
}

/// Why a model none of whose endpoints can take the request is skipped: a context-length
/// problem if some endpoint has the capabilities, else the preferred endpoint's missing
/// capability.
fn model_skip_reason(request: &PlanRequest<'_>, endpoints: &[Endpoint]) -> SkipReason {
    let capable_limit = endpoints
        .iter()
        .filter(|endpoint| {
            request
                .needed_capabilities()
                .all(|capability| has_capability(endpoint, capability))
        })
        .map(|endpoint| endpoint.context_length)
        .max();
    if let Some(limit) = capable_limit {
        return SkipReason::ContextLength {
            needed: request.needed_tokens(),
            limit,
        };
    }
    // No endpoint is capable, so the first one lacks at least one needed capability.
    let preferred = endpoints.first();
    let missing = request
        .needed_capabilities()
        .find(|capability| preferred.is_none_or(|it| !has_capability(it, *capability)))
        .unwrap_or(Capability::Tools);
    SkipReason::MissingCapability(missing)
}

fn has_capability(endpoint: &Endpoint, capability: Capability) -> bool {
    match capability {
        Capability::Tools => endpoint.capabilities.tools,
        Capability::Vision => endpoint.capabilities.vision,
        Capability::StructuredOutput => endpoint.capabilities.structured_output,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Capabilities, Model, Pricing};

    fn endpoint(provider: &str, context_length: u32, capabilities: Capabilities) -> Endpoint {
        Endpoint {
            provider: provider.to_owned(),
            upstream_model: "m".to_owned(),
            pricing: Pricing::default(),
            context_length,
            max_output: None,
            supported_parameters: Vec::new(),
            capabilities,
        }
    }

    fn model(id: &str, endpoints: Vec<Endpoint>) -> Model {
        Model {
            id: id.to_owned(),
            name: id.to_owned(),
            created: 0,
            description: String::new(),
            endpoints,
        }
    }

    const TOOLS: Capabilities = Capabilities {
        tools: true,
        vision: false,
        structured_output: false,
    };

    fn catalog() -> Catalog {
        Catalog::new(vec![
            model(
                "a/big",
                vec![
                    endpoint("p1", 10_000, TOOLS),
                    endpoint("p2", 10_000, Capabilities::default()),
                ],
            ),
            model("a/small", vec![endpoint("p3", 100, TOOLS)]),
            model(
                "a/plain",
                vec![endpoint("p4", 10_000, Capabilities::default())],
            ),
        ])
        .unwrap()
    }

    fn request<'a>(model: Option<&'a str>, models: &'a [Cow<'a, str>]) -> PlanRequest<'a> {
        PlanRequest {
            model,
            models,
            features: RequestFeatures::default(),
            options: PlanOptions::default(),
        }
    }

    fn providers(catalog: &Catalog, plan: &Plan) -> Vec<String> {
        plan.steps()
            .map(|step| match step {
                Step::Call(it) => catalog
                    .model(it.model)
                    .endpoint(it.endpoint)
                    .provider
                    .clone(),
                Step::Skip(it) => format!("skip {}", catalog.model(it.model).id),
            })
            .collect()
    }

    #[test]
    fn one_model_tries_each_endpoint_in_order() {
        let catalog = catalog();
        let plan = for_model(&catalog, "a/big").unwrap();
        assert_eq!(providers(&catalog, &plan), ["p1", "p2"]);
        assert_eq!(
            plan.attempts.iter().map(|it| it.reason).collect::<Vec<_>>(),
            [AttemptReason::Requested, AttemptReason::FallbackProvider]
        );
        assert_eq!(
            for_model(&catalog, "a/c"),
            Err(PlanError::UnknownModel("a/c".to_owned()))
        );
    }

    #[test]
    fn model_first_then_models_without_duplicates() {
        let catalog = catalog();
        let models = [
            Cow::from("a/plain"),
            Cow::from("a/big"),
            Cow::from("a/plain"),
        ];
        let plan = build(&catalog, &request(Some("a/big"), &models)).unwrap();
        assert_eq!(providers(&catalog, &plan), ["p1", "p2", "p4"]);
        assert_eq!(plan.requested, [ModelIdx(0), ModelIdx(2)]);
        assert_eq!(
            plan.attempts[2].reason,
            AttemptReason::FallbackModel { position: 1 }
        );

        let plan = build(&catalog, &request(None, &models)).unwrap();
        assert_eq!(providers(&catalog, &plan), ["p4", "p1", "p2"]);
        assert_eq!(plan.attempts[0].reason, AttemptReason::Requested);
    }

    #[test]
    fn limits_and_unknown_models_are_errors() {
        let catalog = catalog();
        let three = [
            Cow::from("a/plain"),
            Cow::from("a/small"),
            Cow::from("a/plain"),
        ];
        assert!(build(&catalog, &request(Some("a/big"), &three)).is_ok());
        let four = [
            Cow::from("a/plain"),
            Cow::from("a/small"),
            Cow::from("a/plain"),
            Cow::from("a/big"),
        ];
        let err = build(&catalog, &request(None, &four)).unwrap_err();
        assert_eq!(err, PlanError::TooManyModels { max: 3, given: 4 });
        assert_eq!(
            err.to_string(),
            "'models' array must have 3 items or fewer."
        );
        assert_eq!(
            build(&catalog, &request(None, &[])),
            Err(PlanError::NoModel)
        );
        assert_eq!(
            build(&catalog, &request(Some("a/big"), &[Cow::from("x/y")])),
            Err(PlanError::UnknownModel("x/y".to_owned()))
        );
    }

    #[test]
    fn skips_models_that_cannot_take_the_request() {
        let catalog = catalog();
        let models = [Cow::from("a/big"), Cow::from("a/plain")];
        let mut req = request(Some("a/small"), &models);
        req.features.prompt_tokens_estimate = 90;
        req.features.max_output_tokens = Some(50);
        req.features.needs_tools = true;
        let plan = build(&catalog, &req).unwrap();
        // a/small is too small; a/big's second endpoint and a/plain lack tools.
        assert_eq!(
            providers(&catalog, &plan),
            ["skip a/small", "p1", "skip a/plain"]
        );
        assert_eq!(
            plan.skipped[0].reason,
            SkipReason::ContextLength {
                needed: 140,
                limit: 100
            }
        );
        assert_eq!(
            plan.skipped[1].reason,
            SkipReason::MissingCapability(Capability::Tools)
        );
        assert_eq!(plan.skipped[1].before_attempt, 1);
        // The first usable endpoint of the second model is a model fallback, not a provider one.
        assert_eq!(
            plan.attempts[0].reason,
            AttemptReason::FallbackModel { position: 1 }
        );
        assert_eq!(plan.len(), 3);
        assert_eq!(
            plan.skipped[0].reason.failure_class(),
            FailureClass::ContextLength
        );
        assert_eq!(plan.skipped[1].reason.status(), 404);
        assert_eq!(
            plan.skipped[1].reason.to_string(),
            "No endpoints found that support tool use."
        );
    }

    #[test]
    fn without_max_tokens_the_prompt_must_fit() {
        let catalog = catalog();
        let mut req = request(Some("a/small"), &[]);
        req.features.prompt_tokens_estimate = 99;
        assert_eq!(build(&catalog, &req).unwrap().attempts.len(), 1);
        req.features.prompt_tokens_estimate = 100;
        let plan = build(&catalog, &req).unwrap();
        assert!(plan.attempts.is_empty());
        assert_eq!(
            plan.skipped[0].reason,
            SkipReason::ContextLength {
                needed: 101,
                limit: 100
            }
        );
    }

    #[test]
    fn plans_from_a_parsed_request() {
        let catalog = catalog();
        let body = br#"{"model":"a/plain","models":["a/big"],"messages":[{"role":"user","content":"hi"}]}"#;
        let chat = ChatRequest::parse(body).unwrap();
        let plan = build(
            &catalog,
            &PlanRequest::from_chat(&chat, PlanOptions::default()),
        )
        .unwrap();
        assert_eq!(providers(&catalog, &plan), ["p4", "p1", "p2"]);
    }
}
