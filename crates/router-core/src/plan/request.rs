//! What a request needs of an endpoint (capabilities, context length, output limit), checked
//! before any call, and why a model none of whose endpoints can take it is skipped.

use super::select::parameter_rejection;
use super::{Capability, PlanOptions, PlanRequest, Selection, SkipReason};
use crate::catalog::Endpoint;
use crate::request::ChatRequest;

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

    /// Why `endpoint` cannot take this request, or `None` if it can: a missing capability, an
    /// output limit below `max_tokens`, or a context window too small.
    pub fn endpoint_rejection(&self, endpoint: &Endpoint) -> Option<SkipReason> {
        if let Some(missing) = self
            .needed_capabilities()
            .find(|capability| !has_capability(endpoint, *capability))
        {
            return Some(SkipReason::MissingCapability(missing));
        }
        if let (Some(requested), Some(limit)) =
            (self.features.max_output_tokens, endpoint.max_output)
            && requested > limit
        {
            return Some(SkipReason::MaxOutput { requested, limit });
        }
        let needed = self.needed_tokens();
        (needed > u64::from(endpoint.context_length)).then_some(SkipReason::ContextLength {
            needed,
            limit: endpoint.context_length,
        })
    }
}

/// Why a model none of whose endpoints can take the request is skipped: a missing capability
/// when no endpoint has them all (the preferred endpoint's first missing one), else a context
/// length problem when a capable endpoint is too small (with the largest such limit), else the
/// first capable endpoint's own reason (`max_tokens`, a required parameter).
pub(super) fn model_skip_reason(
    request: &PlanRequest<'_>,
    selection: &Selection<'_>,
    endpoints: &[&Endpoint],
) -> SkipReason {
    let capable = |endpoint: &&&Endpoint| {
        request
            .needed_capabilities()
            .all(|capability| has_capability(endpoint, capability))
    };
    let needed = request.needed_tokens();
    let context_limit = endpoints
        .iter()
        .filter(capable)
        .map(|endpoint| endpoint.context_length)
        .filter(|limit| needed > u64::from(*limit))
        .max();
    if let Some(limit) = context_limit {
        return SkipReason::ContextLength { needed, limit };
    }
    if let Some(first) = endpoints.iter().find(capable) {
        let own = request
            .endpoint_rejection(first)
            .or_else(|| parameter_rejection(selection.preferences, selection.parameters, first));
        if let Some(reason) = own {
            return reason;
        }
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
