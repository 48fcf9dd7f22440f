//! `POST /api/v1/route` (and `/v1/route`): the plan of a chat completion request, explained,
//! without calling any provider.
//!
//! The body and authentication are those of `POST /api/v1/chat/completions`, and so are the
//! errors (a body that does not parse, an unknown model, bad `auto-router` settings or patterns
//! are 400; no model left is a 404). The answer works for every way of naming models:
//!
//! ```json
//! {"model_kind": "auto", "router": "openrouter/auto",
//!  "analysis": {"task": "code", "difficulty": 0.41, "language": "en", ...},
//!  "settings": {"cost_quality_tradeoff": 7, "sources": {"cost_quality_tradeoff": "default", ...}, ...},
//!  "candidates": [{"model": "openai/gpt-5.1", "status": "kept", "reason": "picked: primary",
//!                  "expected_quality": 0.86, "expected_cost_usd": 0.0071, "score": 0.62, ...}],
//!  "requested_models": ["openai/gpt-5.1", ...],
//!  "attempts": [{"model": "openai/gpt-5.1", "provider": "openai", "reason": "primary", ...}],
//!  "skipped": []}
//! ```
//!
//! `analysis` and `settings` are `null` for explicit models and `models` lists (the Auto Router
//! did not run); their `candidates` are the named models, kept or dropped by the plan's
//! pre-checks. Nothing is recorded: no generation happened.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use router_core::analysis::task::TaskType;
use router_core::auto::explain::{AnalysisSummary, CandidateStatus, QualitySource};
use router_core::plan::{AttemptReason, Plan};
use router_core::request::ChatRequest;
use serde::Serialize;

use super::json_response;
use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::chat::route::{
    self as routing, AUTO_ROUTER_ID, AutoDecision, ModelKind, Planned, PluginUse,
};
use crate::error::ApiError;
use crate::extract::ChatBody;

/// The route handler.
pub(crate) async fn route(
    State(app): State<AppState>,
    auth: ClientAuth,
    ChatBody(body): ChatBody,
) -> Response {
    let request = match ChatRequest::parse(&body) {
        Ok(request) => request,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let planned = match routing::plan(&app, &request, &auth) {
        Ok(planned) => planned,
        Err(err) => return ApiError::from(err).into_response(),
    };
    match serde_json::to_vec(&RouteBody::new(&app, &planned)) {
        Ok(body) => json_response(body),
        Err(err) => {
            tracing::error!(error = %err, "cannot render a route explanation");
            ApiError::Internal.into_response()
        }
    }
}

/// The answer.
#[derive(Serialize)]
struct RouteBody<'a> {
    /// `explicit`, `fallbacks` or `auto`.
    model_kind: &'static str,
    /// `openrouter/auto` when the Auto Router chose the models.
    router: Option<&'static str>,
    /// What the Auto Router saw (auto only).
    analysis: Option<AnalysisBody<'a>>,
    /// The Auto Router's settings and where each came from (auto only).
    settings: Option<SettingsBody<'a>>,
    /// Every candidate model and why it was kept or dropped.
    candidates: Vec<CandidateBody<'a>>,
    /// The models to try, in order (the receipt's `X-Turnout-Requested-Models`).
    requested_models: Vec<&'a str>,
    /// The model `pin_model` put first (auto only).
    pinned_model: Option<&'a str>,
    /// The calls the plan would make, in order.
    attempts: Vec<AttemptBody<'a>>,
    /// The models the plan skips before any call.
    skipped: Vec<SkippedBody<'a>>,
}

#[derive(Serialize)]
struct AnalysisBody<'a> {
    task: TaskType,
    task_scores: Vec<TaskScore>,
    difficulty: f32,
    language: &'a str,
    capabilities: CapabilitiesBody,
    prompt_tokens_estimate: u32,
    max_output_tokens: Option<u32>,
    expected_completion_tokens: f64,
}

#[derive(Serialize)]
struct TaskScore {
    task: TaskType,
    probability: f32,
}

#[derive(Serialize)]
struct CapabilitiesBody {
    tools: bool,
    images: bool,
    structured_output: bool,
    long_context: bool,
}

#[derive(Serialize)]
struct SettingsBody<'a> {
    cost_quality_tradeoff: u8,
    /// `null` at 10: the cheapest capable model wins.
    lambda: Option<f64>,
    allowed_models: &'a [String],
    excluded_models: &'a [String],
    pin_model: bool,
    top_k: usize,
    /// `applied`, `absent`, or `disabled` (`enabled: false`: its settings were ignored).
    plugin: &'static str,
    sources: SourcesBody,
}

#[derive(Serialize)]
struct SourcesBody {
    allowed_models: &'static str,
    excluded_models: &'static str,
    cost_quality_tradeoff: &'static str,
    pin_model: &'static str,
}

#[derive(Serialize)]
struct CandidateBody<'a> {
    model: &'a str,
    status: CandidateStatus,
    reason: String,
    rank: Option<usize>,
    expected_quality: Option<f64>,
    quality_source: Option<QualitySource>,
    expected_cost_usd: Option<f64>,
    score: Option<f64>,
}

#[derive(Serialize)]
struct AttemptBody<'a> {
    model: &'a str,
    /// The provider's slug.
    provider: &'a str,
    /// Its display name.
    provider_name: &'a str,
    /// `primary`, `fallback_model` or `fallback_provider`.
    reason: &'static str,
    /// The model's position among the requested models (0: the primary).
    position: usize,
}

#[derive(Serialize)]
struct SkippedBody<'a> {
    model: &'a str,
    position: usize,
    reason: String,
    status: u16,
    error_type: &'static str,
}

// === impl RouteBody ===

impl<'a> RouteBody<'a> {
    fn new(app: &'a AppState, planned: &'a Planned<'a>) -> Self {
        let plan = &planned.route.plan;
        let catalog = app.catalog();
        let model_id = |idx| &*catalog.model(idx).id;
        let position = |model| {
            plan.requested
                .iter()
                .position(|it| *it == model)
                .unwrap_or_default()
        };
        let attempts = plan
            .attempts
            .iter()
            .map(|attempt| {
                let target = app.target(attempt);
                AttemptBody {
                    model: &target.model.id,
                    provider: &target.endpoint.provider,
                    provider_name: &target.provider.display_name,
                    reason: match attempt.reason {
                        AttemptReason::Requested => "primary",
                        AttemptReason::FallbackModel { .. } => "fallback_model",
                        AttemptReason::FallbackProvider => "fallback_provider",
                    },
                    position: position(attempt.model),
                }
            })
            .collect();
        let skipped = plan
            .skipped
            .iter()
            .map(|skipped| SkippedBody {
                model: model_id(skipped.model),
                position: skipped.position,
                reason: skipped.reason.to_string(),
                status: skipped.reason.status(),
                error_type: skipped.reason.error_type(),
            })
            .collect();
        let (analysis, settings, candidates) = match &planned.auto {
            Some(decision) => (
                Some(analysis(decision)),
                Some(settings(decision)),
                auto_candidates(decision),
            ),
            None => (None, None, named_candidates(app, plan)),
        };
        Self {
            model_kind: match planned.kind {
                ModelKind::Explicit => "explicit",
                ModelKind::Fallbacks => "fallbacks",
                ModelKind::Auto => "auto",
            },
            router: planned.auto.as_ref().map(|_| AUTO_ROUTER_ID),
            analysis,
            settings,
            candidates,
            requested_models: plan.requested.iter().map(|it| model_id(*it)).collect(),
            pinned_model: planned.auto.as_ref().and_then(|it| it.pinned).map(model_id),
            attempts,
            skipped,
        }
    }
}

fn analysis<'a>(decision: &'a AutoDecision<'_>) -> AnalysisBody<'a> {
    let explanation = &decision.explanation;
    let AnalysisSummary {
        task_type,
        task_scores,
        difficulty,
        language,
        needs,
    } = &explanation.analysis;
    AnalysisBody {
        task: *task_type,
        task_scores: task_scores
            .iter()
            .map(|(task, probability)| TaskScore {
                task: *task,
                probability: *probability,
            })
            .collect(),
        difficulty: *difficulty,
        language,
        capabilities: CapabilitiesBody {
            tools: needs.tools,
            images: needs.images,
            structured_output: needs.structured_output,
            long_context: needs.long_context,
        },
        prompt_tokens_estimate: needs.prompt_tokens,
        max_output_tokens: needs.max_output_tokens,
        expected_completion_tokens: explanation.expected_completion_tokens,
    }
}

fn settings<'a>(decision: &'a AutoDecision<'_>) -> SettingsBody<'a> {
    let settings = &decision.settings;
    let sources = &decision.sources;
    SettingsBody {
        cost_quality_tradeoff: settings.cost_quality_tradeoff,
        lambda: decision.explanation.lambda,
        allowed_models: &settings.allowed_models,
        excluded_models: &settings.excluded_models,
        pin_model: settings.pin_model,
        top_k: decision.top_k,
        plugin: match decision.plugin {
            PluginUse::Absent => "absent",
            PluginUse::Applied => "applied",
            PluginUse::Disabled => "disabled",
        },
        sources: SourcesBody {
            allowed_models: sources.allowed_models.as_str(),
            excluded_models: sources.excluded_models.as_str(),
            cost_quality_tradeoff: sources.cost_quality_tradeoff.as_str(),
            pin_model: sources.pin_model.as_str(),
        },
    }
}

/// Every catalog model, as the Auto Router judged it.
fn auto_candidates<'a>(decision: &'a AutoDecision<'_>) -> Vec<CandidateBody<'a>> {
    decision
        .explanation
        .candidates
        .iter()
        .map(|report| CandidateBody {
            model: report.model,
            status: report.status,
            reason: report.reason.to_string(),
            rank: report.rank,
            expected_quality: report.expected_quality,
            quality_source: report.quality_source,
            expected_cost_usd: report.expected_cost,
            score: report.score,
        })
        .collect()
}

/// The models a request named, kept when the plan calls them, dropped when it skips them.
fn named_candidates<'a>(app: &'a AppState, plan: &'a Plan) -> Vec<CandidateBody<'a>> {
    plan.requested
        .iter()
        .enumerate()
        .map(|(position, model)| {
            let skip = plan.skipped.iter().find(|it| it.model == *model);
            let (status, reason) = match (skip, position) {
                (Some(skip), _) => (CandidateStatus::Dropped, skip.reason.to_string()),
                (None, 0) => (CandidateStatus::Kept, "requested: primary".to_owned()),
                (None, n) => (CandidateStatus::Kept, format!("requested: fallback {n}")),
            };
            CandidateBody {
                model: &app.catalog().model(*model).id,
                status,
                reason,
                rank: Some(position + 1),
                expected_quality: None,
                quality_source: None,
                expected_cost_usd: None,
                score: None,
            }
        })
        .collect()
}
