//! Routing: the one place that decides which attempts a request gets and when to move on.
//!
//! A request names its models in one of three ways ([`ModelKind`]):
//!
//! - **explicit** (`model` alone) and **fallbacks** (`models`, with or without `model`): the plan
//!   is [`router_core::plan::build`]'s (`model` first, then `models` in order, duplicates
//!   removed, at most `routing.max_models` entries in `models`, models that cannot take the
//!   request skipped);
//! - **auto**: `model` (or, without `model`, the first of `models`) is one of
//!   `routing.auto.alias` (default `openrouter/auto`). The Auto Router's settings are layered
//!   field by field: the request's `auto-router` plugin (unless it says `enabled: false`), else
//!   the key's settings saved on the pages, else the client key's `auto_router` defaults, else
//!   `[routing.auto]`, else the built-in defaults.
//!   The prompt is analysed with the configured quality profile, the catalog's models are
//!   filtered by the patterns and ranked by the dial, and the top `routing.auto.top_k` picks
//!   become the plan: the primary, then its fallbacks, each on its endpoints in configured
//!   order. With `pin_model`, the model of the last assistant message (when the patterns permit
//!   it) goes first. A client's `models` list is ignored: the router's picks are the fallbacks,
//!   and the `models` cap does not apply to them.
//!
//! Every plan applies the request's `provider` preferences over the client key's
//! (`provider = { … }` of its `[[keys]]` entry), the live health of the endpoints
//! ([`crate::health_board`]) and, without `order` or `sort`, price-weighted load balancing drawn
//! with a fresh random seed ([`router_core::plan::build_with`]).
//!
//! The fallback policy is the request's `fallback_policy`, else the client key's, else
//! OpenRouter's "any error falls back" (which is the key's default). The runs
//! ([`super::complete`] without streaming, [`super::stream`] with it) only run what [`route`]
//! returns; `POST /api/v1/route` shows what [`plan`] returns without running it.

use std::borrow::Cow;

use router_core::analysis::Conversation;
use router_core::analysis::task::TaskType;
use router_core::auto;
use router_core::auto::explain::Explanation;
use router_core::auto::select::{self, SelectError, SelectParams};
use router_core::auto::settings::{AutoPlugin, AutoSettings, SettingsError};
use router_core::catalog::ModelIdx;
use router_core::fallback::FallbackPolicy;
use router_core::patterns::PatternError;
use router_core::plan::{self, Plan, PlanError, PlanOptions, PlanRequest, Selection};
use router_core::provider::{PreferenceError, Preferences};
use router_core::request::ChatRequest;
use router_session::PinnedRoute;

use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::sticky;

/// The router id reported for auto-routed requests (the receipt's `X-Turnout-Router`, the
/// generation record's `router`), whichever alias the client used.
pub(crate) const AUTO_ROUTER_ID: &str = "openrouter/auto";

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
    /// What the Auto Router saw, for an auto-routed request.
    pub(crate) auto: Option<AutoSummary>,
    /// Whether the conversation's pinned route was put first (see [`crate::sticky`]).
    pub(crate) pin_applied: bool,
}

/// The Auto Router's analysis of a request, as the route receipt reports it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AutoSummary {
    /// The most likely task type.
    pub(crate) task: TaskType,
    /// `0..=1`.
    pub(crate) difficulty: f32,
    /// ISO 639-1 code of the prompt's language.
    pub(crate) language: &'static str,
    /// The dial used.
    pub(crate) tradeoff: u8,
}

/// How a request names its models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelKind {
    /// `model` alone.
    Explicit,
    /// A `models` list (with or without `model`).
    Fallbacks,
    /// The Auto Router.
    Auto,
}

/// A route with what it was made from.
#[derive(Debug)]
pub(crate) struct Planned<'a> {
    /// The route.
    pub(crate) route: Route,
    /// How the request named its models.
    pub(crate) kind: ModelKind,
    /// The Auto Router's decision (auto-routed requests only).
    pub(crate) auto: Option<AutoDecision<'a>>,
}

/// Everything the Auto Router decided for one request.
#[derive(Debug)]
pub(crate) struct AutoDecision<'a> {
    /// The settings, every layer applied.
    pub(crate) settings: AutoSettings,
    /// Which layer each setting came from.
    pub(crate) sources: SettingSources,
    /// What was done with the request's `auto-router` plugin.
    pub(crate) plugin: PluginUse,
    /// How many picks were asked for.
    pub(crate) top_k: usize,
    /// The analysis, every candidate and the selection's picks.
    pub(crate) explanation: Explanation<'a>,
    /// The model `pin_model` put first, if any.
    pub(crate) pinned: Option<ModelIdx>,
}

/// Where one setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    /// The request's `auto-router` plugin.
    Request,
    /// The key's settings saved on the pages (Settings > Plugins > Auto Router).
    Saved,
    /// The client key's `auto_router` defaults.
    Key,
    /// `[routing.auto]`.
    Global,
    /// Nothing set it: the built-in default.
    Default,
}

/// The layer of each setting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SettingSources {
    /// Of `allowed_models`.
    pub(crate) allowed_models: Layer,
    /// Of `excluded_models`.
    pub(crate) excluded_models: Layer,
    /// Of the dial (`cost_quality_tradeoff` or `cost_tier`).
    pub(crate) cost_quality_tradeoff: Layer,
    /// Of `pin_model`.
    pub(crate) pin_model: Layer,
}

/// What was done with the request's `auto-router` plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PluginUse {
    /// The request has none.
    Absent,
    /// Its settings apply.
    Applied,
    /// It says `enabled: false`: its settings are ignored, the defaults apply.
    Disabled,
}

/// Why a request could not be routed. Every variant is the client's.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RouteError {
    /// The named models cannot make a plan (400).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// An `auto-router` plugin field has the wrong type or value (400).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// An `allowed_models` / `excluded_models` pattern does not compile (400).
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// The patterns leave no model (404).
    #[error("No models match your request and model restrictions")]
    NoModelsMatch,
    /// Models match, but none can take the request (404); the message says what it needs.
    #[error("{0}")]
    NoCapableModel(String),
    /// The Auto Router is named after the primary position of `models` (400).
    #[error("`{0}` (the Auto Router) can only be the primary model: name it in `model`")]
    RouterNotPrimary(String),
    /// A `provider` member has the wrong type or value (400).
    #[error(transparent)]
    Provider(#[from] PreferenceError),
}

/// The route of `request`, made with `auth`'s key, with the conversation's pinned route (if
/// any and if the request allows it) first.
pub(crate) fn route(
    app: &AppState,
    request: &ChatRequest<'_>,
    auth: &ClientAuth,
    pinned: Option<PinnedRoute>,
) -> Result<Route, RouteError> {
    plan_with(app, request, auth, pinned).map(|planned| planned.route)
}

/// The route of `request` with what it was made from (see the module docs).
pub(crate) fn plan<'a>(
    app: &'a AppState,
    request: &ChatRequest<'_>,
    auth: &ClientAuth,
) -> Result<Planned<'a>, RouteError> {
    plan_with(app, request, auth, None)
}

/// [`plan`], with a conversation's pinned route first when the plan has it (for the Auto
/// Router: when its model is allowed and can take the request).
fn plan_with<'a>(
    app: &'a AppState,
    request: &ChatRequest<'_>,
    auth: &ClientAuth,
    pinned: Option<PinnedRoute>,
) -> Result<Planned<'a>, RouteError> {
    let policy = request
        .fallback_policy
        .unwrap_or(auth.key().fallback_policy);
    let key_preferences = &auth.key().provider;
    let preferences = match request.provider {
        Some(raw) => Cow::Owned(Preferences::parse(raw.get())?.over(key_preferences)),
        None => Cow::Borrowed(key_preferences),
    };
    let selection = Selection {
        preferences: &preferences,
        parameters: &request.passthrough,
        health: app.health(),
        seed: fastrand::u64(..),
        load_balance: app.config().routing.load_balance,
    };
    let aliases = &app.config().routing.auto.aliases;
    let is_alias = |id: &str| aliases.iter().any(|it| it == id);
    let mut named = request
        .model
        .iter()
        .chain(request.models.iter())
        .map(|it| it.as_ref());
    if named.next().is_some_and(is_alias) {
        return auto_plan(app, request, auth, policy, &selection, pinned);
    }
    if let Some(alias) = named.find(|it| is_alias(it)) {
        return Err(RouteError::RouterNotPrimary(alias.to_owned()));
    }
    let options = PlanOptions {
        max_models: app.config().routing.max_models,
        ..PlanOptions::default()
    };
    let plan_request = PlanRequest::from_chat(request, options);
    let mut plan = plan::build_with(app.catalog(), &plan_request, &selection)?;
    let pin_applied = pinned.is_some_and(|pin| sticky::put_first(&mut plan, pin));
    let kind = if request.models.is_empty() {
        ModelKind::Explicit
    } else {
        ModelKind::Fallbacks
    };
    Ok(Planned {
        route: Route {
            plan,
            policy,
            prompt_tokens_estimate: plan_request.features.prompt_tokens_estimate,
            auto: None,
            pin_applied,
        },
        kind,
        auto: None,
    })
}

/// The Auto Router's route (see the module docs).
fn auto_plan<'a>(
    app: &'a AppState,
    request: &ChatRequest<'_>,
    auth: &ClientAuth,
    policy: FallbackPolicy,
    providers: &Selection<'_>,
    sticky: Option<PinnedRoute>,
) -> Result<Planned<'a>, RouteError> {
    let catalog = app.catalog();
    let profile = app.profile();
    let config = &app.config().routing.auto;
    let plugin = AutoPlugin::from_plugins(request.plugins)?;
    let (request_layer, plugin_use) = match &plugin {
        None => (None, PluginUse::Absent),
        Some(it) if it.enabled == Some(false) => (None, PluginUse::Disabled),
        Some(it) => (Some(it), PluginUse::Applied),
    };
    let configured = auth.key().auto_router.as_ref();
    // The key's settings saved on the pages go over the key's config defaults.
    let saved = app.settings().saved(&auth.key().name);
    let layered = saved
        .as_deref()
        .map(|it| crate::web::store::layer(it, configured));
    let key_layer = layered.as_ref().or(configured);
    let settings = AutoSettings::resolve(request_layer, key_layer, &config.defaults);
    let sources = SettingSources::of([
        request_layer,
        saved.as_deref(),
        configured,
        Some(&config.defaults),
    ]);
    let filter = settings.filter()?;

    let features = request.features();
    let analysis = profile.analyze(&Conversation::from_request(request), &features);
    let params = SelectParams {
        filter: &filter,
        tradeoff: settings.cost_quality_tradeoff,
        top_k: config.top_k,
    };
    let selection =
        select::select(catalog, profile, &analysis, &params).map_err(|err| match err {
            SelectError::NoModelsMatch(_) => RouteError::NoModelsMatch,
            other @ SelectError::NoCapableModel { .. } => {
                RouteError::NoCapableModel(other.to_string())
            }
        })?;
    let pinned = if settings.pin_model {
        auto::pinned_model(request, catalog, &filter)
    } else {
        None
    };
    // A conversation's pinned model comes first while the patterns allow it and its pinned
    // endpoint can take the request; `pin_model` then ranks second.
    let sticky = sticky.filter(|pin| {
        let model = catalog.model(pin.model);
        let check = PlanRequest {
            model: None,
            models: &[],
            features,
            options: PlanOptions::default(),
        };
        filter.permits(&model.id)
            && check
                .endpoint_rejection(model.endpoint(pin.endpoint))
                .is_none()
    });
    let mut picks: Vec<ModelIdx> = Vec::with_capacity(config.top_k + 1);
    let ranked = sticky.map(|pin| pin.model).into_iter().chain(pinned);
    for model in ranked.chain(selection.picks.iter().copied()) {
        if !picks.contains(&model) {
            picks.push(model);
        }
    }
    picks.truncate(config.top_k.max(1));
    let ids: Vec<&str> = picks.iter().map(|it| &*catalog.model(*it).id).collect();
    let Some((primary, fallbacks)) = ids.split_first() else {
        // `select` returns at least one pick or an error.
        return Err(RouteError::NoModelsMatch);
    };
    let fallbacks: Vec<Cow<'_, str>> = fallbacks.iter().map(|it| Cow::Borrowed(*it)).collect();
    let plan_request = PlanRequest {
        model: Some(primary),
        models: &fallbacks,
        features,
        // The picks are the router's, not the client's: the `models` cap does not apply.
        options: PlanOptions {
            max_models: usize::MAX,
            ..PlanOptions::default()
        },
    };
    let mut plan = plan::build_with(catalog, &plan_request, providers)?;
    let pin_applied = sticky.is_some_and(|pin| sticky::put_first(&mut plan, pin));
    let summary = AutoSummary {
        task: analysis.task,
        difficulty: analysis.difficulty,
        language: analysis.language.code(),
        tradeoff: settings.cost_quality_tradeoff,
    };
    Ok(Planned {
        route: Route {
            plan,
            policy,
            prompt_tokens_estimate: features.prompt_tokens_estimate,
            auto: Some(summary),
            pin_applied,
        },
        kind: ModelKind::Auto,
        auto: Some(AutoDecision {
            settings,
            sources,
            plugin: plugin_use,
            top_k: config.top_k,
            explanation: selection.explanation,
            pinned,
        }),
    })
}

// === impl Layer, SettingSources ===

impl Layer {
    /// Its name in `POST /api/v1/route`'s `settings.sources`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Layer::Request => "request",
            Layer::Saved => "saved",
            Layer::Key => "key",
            Layer::Global => "global",
            Layer::Default => "default",
        }
    }
}

impl SettingSources {
    /// The first layer that sets each field, of `[request, saved, key, global]`.
    pub(crate) fn of(layers: [Option<&AutoPlugin>; 4]) -> Self {
        let first = |set: &dyn Fn(&AutoPlugin) -> bool| {
            layers
                .iter()
                .zip([Layer::Request, Layer::Saved, Layer::Key, Layer::Global])
                .find_map(|(plugin, layer)| plugin.filter(|it| set(it)).map(|_| layer))
                .unwrap_or(Layer::Default)
        };
        Self {
            allowed_models: first(&|it| it.allowed_models.is_some()),
            excluded_models: first(&|it| it.excluded_models.is_some()),
            cost_quality_tradeoff: first(&|it| it.tradeoff().is_some()),
            pin_model: first(&|it| it.pin_model.is_some()),
        }
    }
}
