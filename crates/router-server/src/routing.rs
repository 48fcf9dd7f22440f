//! Routing: the one place that decides which attempts a request gets and when to move on.
//!
//! [`route`] builds the plan with [`router_core::plan::build`] (`model` first, then `models` in
//! order, duplicates removed, at most `routing.max_models` entries in `models`, models that
//! cannot take the request skipped) and picks the fallback policy: the request's
//! `fallback_policy`, else the client key's, else OpenRouter's "any error falls back" (which is
//! the key's default). The executors ([`crate::execute`], [`crate::stream`]) only run what
//! this returns.

use router_core::fallback::FallbackPolicy;
use router_core::plan::{self, Plan, PlanError, PlanOptions, PlanRequest};
use router_core::request::ChatRequest;

use crate::app::AppState;
use crate::auth::ClientAuth;

/// What to try for one request and when to give up.
#[derive(Debug)]
pub(crate) struct Route {
    /// The steps, in order.
    pub(crate) plan: Plan,
    /// Which failures move on to the next step.
    pub(crate) policy: FallbackPolicy,
    /// The plan's estimate of the prompt's tokens (for billing a stream cut short before the
    /// provider reported usage).
    pub(crate) prompt_tokens_estimate: u32,
}

/// The route of `request`, made with `auth`'s key. Errors are the client's (400).
pub(crate) fn route(
    app: &AppState,
    request: &ChatRequest<'_>,
    auth: ClientAuth,
) -> Result<Route, PlanError> {
    let options = PlanOptions {
        max_models: app.config().routing.max_models,
        ..PlanOptions::default()
    };
    let plan_request = PlanRequest::from_chat(request, options);
    let plan = plan::build(app.catalog(), &plan_request)?;
    let policy = request
        .fallback_policy
        .unwrap_or(app.key(auth.key_idx).fallback_policy);
    Ok(Route {
        plan,
        policy,
        prompt_tokens_estimate: plan_request.features.prompt_tokens_estimate,
    })
}
