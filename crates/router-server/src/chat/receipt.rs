//! The route receipt of one request: what the client asked for, what was tried and why each
//! attempt failed, which model and provider answered, what it cost.
//!
//! A [`Receipt`] is made once the request is planned and follows it to the end. It renders as
//! response headers ([`Receipt::write_headers`]; on a stream, as they stand when the response
//! commits), and when it is dropped it writes the request's generation record
//! ([`super::record`]).
//!
//! # Headers
//!
//! | Header | Value |
//! | --- | --- |
//! | `X-Turnout-Requested-Models` | The requested models in plan order (`model`, then `models`, duplicates removed), comma-separated. |
//! | `X-Turnout-Attempts` | Every attempt so far, `;`-separated: `model@provider=status` for one that answered, `model@provider=status:error_type` for one that failed; `provider` is `-` for a model skipped without a call, `status` is `-` when there was none. |
//! | `X-Turnout-Served-Model` | The model that answered (absent when none did). |
//! | `X-Turnout-Served-Provider` | The provider that answered, by its slug (absent when none did). |
//! | `X-Turnout-Fallback-Depth` | The answering model's position in the requested models, `0` for the primary (absent when none answered). |
//! | `X-Turnout-Excluded` | Endpoints the plan left out before any call, `;`-separated: `model@provider=reason`, the reason a provider preference (`only`, `ignore`, `max_price`, `zdr`, `free`, …) or what the endpoint cannot take (`max_tokens`, `context_length`, `tools`, `require_parameters`, …). Absent when none was. |
//! | `X-Turnout-Router` | `openrouter/auto` on an auto-routed request (whichever alias named it); absent otherwise. |
//! | `X-Turnout-Auto-Task` | Auto-routed: the prompt's task type (`code`, `math`, `creative_writing`, …). |
//! | `X-Turnout-Auto-Difficulty` | Auto-routed: the prompt's estimated difficulty, `0.00` to `1.00`. |
//! | `X-Turnout-Auto-Language` | Auto-routed: the prompt's language (ISO 639-1). |
//! | `X-Turnout-Auto-Tradeoff` | Auto-routed: the `cost_quality_tradeoff` used, `0` to `10`. |
//! | `X-Turnout-Session` | What sticky routing did: `used`, `renewed`, `created`, `pending`, or `ignored; <reason>` (see [`crate::sticky`]). |
//! | `X-Turnout-Limits` | For a key with a credit, rpm or tpm limit: `shared` (counted in Redis) or `local` (by this replica alone: no `[redis]`, or Redis unreachable; see [`crate::limits`]). |
//!
//! On an auto-routed request the requested models are the router's ranked picks, and the
//! generation record's `router` is `openrouter/auto`.
//!
//! Model ids are written with `%`, `,`, `;`, `@`, `=` and any byte outside visible ASCII
//! percent-encoded, so the lists split unambiguously. What depends only on the catalog (each
//! model's encoded id, each endpoint's provider, and the attempts list of a request its first
//! endpoint answered) is rendered once at start-up ([`CatalogHeaders`]), so the common request
//! clones values instead of building them.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::header::{HeaderMap, HeaderName, HeaderValue};
use router_core::catalog::{Catalog, ModelIdx};
use router_core::plan::Attempt;
use router_core::pricing::{self, Cost, Usage};
use router_core::response::FinishReason;

use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::chat::attempt_log::{AttemptLog, millis};
use crate::chat::route::{AUTO_ROUTER_ID, AutoSummary, Route};
use crate::config::ClientKey;
use crate::ids::GenerationStamp;
use crate::limits::Admission;
use crate::percent;
use crate::sticky::{Session, X_SESSION};

/// Where the key's limits were counted (see [`crate::limits`]).
pub(crate) const X_LIMITS: HeaderName = HeaderName::from_static("x-turnout-limits");

/// The requested models, comma-separated.
pub(crate) const X_REQUESTED_MODELS: HeaderName =
    HeaderName::from_static("x-turnout-requested-models");
/// Every attempt and its outcome.
pub(crate) const X_ATTEMPTS: HeaderName = HeaderName::from_static("x-turnout-attempts");
/// The model that answered.
pub(crate) const X_SERVED_MODEL: HeaderName = HeaderName::from_static("x-turnout-served-model");
/// The provider (slug) that answered.
pub(crate) const X_SERVED_PROVIDER: HeaderName =
    HeaderName::from_static("x-turnout-served-provider");
/// The answering model's position among the requested models.
pub(crate) const X_FALLBACK_DEPTH: HeaderName = HeaderName::from_static("x-turnout-fallback-depth");
/// The endpoints left out before any call.
pub(crate) const X_EXCLUDED: HeaderName = HeaderName::from_static("x-turnout-excluded");
/// The router that chose the models (`openrouter/auto`).
pub(crate) const X_ROUTER: HeaderName = HeaderName::from_static("x-turnout-router");
/// The Auto Router's task type.
pub(crate) const X_AUTO_TASK: HeaderName = HeaderName::from_static("x-turnout-auto-task");
/// The Auto Router's difficulty estimate.
pub(crate) const X_AUTO_DIFFICULTY: HeaderName =
    HeaderName::from_static("x-turnout-auto-difficulty");
/// The Auto Router's language detection.
pub(crate) const X_AUTO_LANGUAGE: HeaderName = HeaderName::from_static("x-turnout-auto-language");
/// The Auto Router's dial.
pub(crate) const X_AUTO_TRADEOFF: HeaderName = HeaderName::from_static("x-turnout-auto-tradeoff");

/// Header values that depend only on the catalog, rendered once.
pub(crate) struct CatalogHeaders {
    models: Vec<ModelHeaders>,
}

/// One model's header values.
struct ModelHeaders {
    /// The encoded model id.
    id: HeaderValue,
    /// By endpoint.
    endpoints: Vec<EndpointHeaders>,
}

/// One endpoint's header values.
struct EndpointHeaders {
    /// `X-Turnout-Served-Provider`.
    provider: HeaderValue,
    /// `X-Turnout-Attempts` when this endpoint answered the first call.
    answered_first: HeaderValue,
}

/// The route receipt of one request; writes the generation record when dropped.
pub(crate) struct Receipt {
    pub(super) app: AppState,
    pub(super) key: Arc<ClientKey>,
    pub(super) id: String,
    pub(super) created_at_ms: u64,
    pub(super) arrived: Instant,
    pub(super) requested: Vec<ModelIdx>,
    /// What the Auto Router saw, for an auto-routed request.
    pub(super) auto: Option<AutoSummary>,
    pub(super) streamed: bool,
    pub(super) prompt_tokens_estimate: u32,
    /// Every step of the plan that ran.
    pub(crate) attempts: AttemptLog,
    pub(super) served: Option<Served>,
    /// The request ran to its end (an answer or an error was sent); otherwise the client went
    /// away and the record says `cancelled`.
    pub(super) finished: bool,
    /// What stickiness did (`X-Turnout-Session`, the record's `session_id`).
    pub(super) session: Option<Session>,
    /// The HTTP status answered (a committed stream's `200` by default).
    pub(super) status: u16,
    /// The request's hold on its key's limits, settled when the receipt is dropped.
    pub(super) limits: Option<Admission>,
}

/// What the attempt that answered produced.
pub(super) struct Served {
    pub(super) attempt: Attempt,
    pub(super) time_to_first_token: Duration,
    pub(super) usage: Option<Usage>,
    /// Chunks with output relayed (streams): the completion estimate when no usage came.
    pub(super) output_chunks: u64,
    pub(super) finish_reason: Option<FinishReason>,
    pub(super) upstream_id: Option<String>,
    /// The billed cost, once the request was billed.
    pub(super) cost: Option<Cost>,
}

// === impl Receipt ===

impl Receipt {
    /// The receipt of a request that arrived at `arrived` and was planned as `route`.
    pub(crate) fn new(
        app: &AppState,
        auth: &ClientAuth,
        stamp: &GenerationStamp,
        arrived: Instant,
        route: &Route,
        streamed: bool,
    ) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, millis);
        Self {
            app: app.clone(),
            key: auth.shared(),
            id: stamp.id.clone(),
            created_at_ms: now_ms.saturating_sub(millis(arrived.elapsed())),
            arrived,
            requested: route.plan.requested.clone(),
            auto: route.auto,
            streamed,
            prompt_tokens_estimate: route.prompt_tokens_estimate,
            attempts: AttemptLog::with_excluded(route.plan.excluded.clone()),
            served: None,
            finished: false,
            session: None,
            status: 200,
            limits: None,
        }
    }

    /// The request's sticky session; `pin_applied` says whether its pin went first in the plan.
    pub(crate) fn start_session(&mut self, mut session: Session, pin_applied: bool) {
        session.planned(pin_applied);
        self.session = Some(session);
    }

    /// The request ended: renew, create or leave its pin (see [`crate::sticky`]).
    pub(crate) async fn settle_session(&mut self) {
        let Some(session) = &mut self.session else {
            return;
        };
        let served = self.served.as_ref().map(|served| {
            let success = served.finish_reason != Some(FinishReason::Error);
            (served.attempt, success)
        });
        let cached_tokens = self
            .served
            .as_ref()
            .and_then(|served| served.usage)
            .map_or(0, |usage| usage.cached_tokens);
        session
            .settle(self.app.sticky(), served, cached_tokens)
            .await;
    }

    /// The request's hold on its key's limits (see [`crate::limits`]).
    pub(crate) fn hold_limits(&mut self, admission: Option<Admission>) {
        self.limits = admission;
    }

    /// The requested models, in plan order.
    pub(crate) fn requested(&self) -> &[ModelIdx] {
        &self.requested
    }

    /// `attempt` answered (a complete response, or a stream's first output).
    pub(crate) fn answered(&mut self, attempt: Attempt) {
        if let Some(session) = &mut self.session {
            session.answered(&attempt);
        }
        self.served = Some(Served {
            attempt,
            time_to_first_token: self.arrived.elapsed(),
            usage: None,
            output_chunks: 0,
            finish_reason: None,
            upstream_id: None,
            cost: None,
        });
    }

    /// A chunk with output was relayed.
    pub(crate) fn saw_output(&mut self) {
        if let Some(served) = &mut self.served {
            served.output_chunks += 1;
        }
    }

    /// The provider reported `usage`.
    pub(crate) fn saw_usage(&mut self, usage: Usage) {
        if let Some(served) = &mut self.served {
            served.usage = Some(usage);
        }
    }

    /// The answer finished with `reason`.
    pub(crate) fn saw_finish(&mut self, reason: FinishReason) {
        if let Some(served) = &mut self.served {
            served.finish_reason = Some(reason);
        }
    }

    /// The provider's own id for the generation.
    pub(crate) fn saw_upstream_id(&mut self, upstream_id: Option<String>) {
        if let Some(served) = &mut self.served {
            served.upstream_id = upstream_id;
        }
    }

    /// Bills the answer: the reported usage (zero if none) at the answering endpoint's prices,
    /// under Zero Completion Insurance. Zero when nothing answered.
    pub(crate) fn bill(&mut self) -> (Usage, Cost) {
        let Some(served) = &mut self.served else {
            return (Usage::default(), Cost::default());
        };
        let usage = served.usage.unwrap_or_default();
        let pricing = &self.app.target(&served.attempt).endpoint.pricing;
        let cost = pricing::billed_cost(pricing, &usage, served.finish_reason.as_ref());
        served.cost = Some(cost);
        (usage, cost)
    }

    /// The response has HTTP status `status` (for the metrics' status class).
    pub(crate) fn responded(&mut self, status: u16) {
        self.status = status;
    }

    /// The request ran to its end: its record is not `cancelled`.
    pub(crate) fn finish(&mut self) {
        self.finished = true;
    }

    /// Adds the receipt headers as they stand now (see the module docs) to `headers`.
    pub(crate) fn write_headers(&self, headers: &mut HeaderMap) {
        let catalog = self.app.catalog();
        let rendered = self.app.catalog_headers();
        headers.reserve(10);
        if let [model] = self.requested[..] {
            headers.insert(X_REQUESTED_MODELS, rendered.models[model.0].id.clone());
        } else {
            let mut requested = String::with_capacity(32 * self.requested.len());
            for (idx, model) in self.requested.iter().enumerate() {
                if idx > 0 {
                    requested.push(',');
                }
                push_encoded(&mut requested, &catalog.model(*model).id);
            }
            insert_string(headers, X_REQUESTED_MODELS, requested);
        }
        if let [only] = self.attempts.records()
            && only.failure.is_none()
            && let Some(endpoint) = only.endpoint
        {
            let answered = &rendered.models[only.model.0].endpoints[endpoint.0].answered_first;
            headers.insert(X_ATTEMPTS, answered.clone());
        } else {
            headers.insert(X_ATTEMPTS, self.attempts_header());
        }
        if let Some(served) = &self.served {
            let model = &rendered.models[served.attempt.model.0];
            headers.insert(X_SERVED_MODEL, model.id.clone());
            let provider = &model.endpoints[served.attempt.endpoint.0].provider;
            headers.insert(X_SERVED_PROVIDER, provider.clone());
            let depth = self
                .requested
                .iter()
                .position(|it| *it == served.attempt.model)
                .unwrap_or_default();
            headers.insert(X_FALLBACK_DEPTH, HeaderValue::from(depth));
        }
        if !self.attempts.excluded().is_empty() {
            let mut excluded = String::with_capacity(48 * self.attempts.excluded().len());
            for (idx, it) in self.attempts.excluded().iter().enumerate() {
                if idx > 0 {
                    excluded.push(';');
                }
                let model = catalog.model(it.model);
                push_encoded(&mut excluded, &model.id);
                excluded.push('@');
                push_encoded(&mut excluded, &model.endpoint(it.endpoint).provider);
                excluded.push('=');
                excluded.push_str(it.reason.code());
            }
            insert_string(headers, X_EXCLUDED, excluded);
        }
        if let Some(session) = &self.session {
            headers.insert(X_SESSION, session.header_value());
        }
        if let Some(admission) = &self.limits {
            headers.insert(X_LIMITS, admission.mode.header_value());
        }
        if let Some(auto) = &self.auto {
            insert_string(
                headers,
                X_AUTO_DIFFICULTY,
                format!("{:.2}", auto.difficulty),
            );
            headers.insert(X_ROUTER, HeaderValue::from_static(AUTO_ROUTER_ID));
            headers.insert(X_AUTO_TASK, HeaderValue::from_static(auto.task.as_str()));
            headers.insert(X_AUTO_LANGUAGE, HeaderValue::from_static(auto.language));
            headers.insert(X_AUTO_TRADEOFF, HeaderValue::from(u16::from(auto.tradeoff)));
        }
    }

    /// `X-Turnout-Attempts` built from the attempts.
    fn attempts_header(&self) -> HeaderValue {
        let catalog = self.app.catalog();
        let mut attempts = String::with_capacity(64 * self.attempts.records().len());
        for (idx, record) in self.attempts.records().iter().enumerate() {
            if idx > 0 {
                attempts.push(';');
            }
            let model = catalog.model(record.model);
            push_encoded(&mut attempts, &model.id);
            attempts.push('@');
            match record.endpoint {
                Some(endpoint) => attempts.push_str(&model.endpoint(endpoint).provider),
                None => attempts.push('-'),
            }
            attempts.push('=');
            let status = match record.failure {
                Some(failure) => failure.status,
                None => Some(200),
            };
            match status {
                // Writing into a `String` cannot fail.
                Some(status) => _ = write!(attempts, "{status}"),
                None => attempts.push('-'),
            }
            if let Some(failure) = record.failure {
                attempts.push(':');
                attempts.push_str(failure.error_type);
            }
        }
        // Every byte is visible ASCII by construction.
        HeaderValue::try_from(attempts).unwrap_or(HeaderValue::from_static("-"))
    }
}

/// The model ids of `models`.
pub(crate) fn model_ids<'a>(app: &'a AppState, models: &[ModelIdx]) -> Vec<&'a str> {
    models
        .iter()
        .map(|it| &*app.catalog().model(*it).id)
        .collect()
}

// === impl CatalogHeaders ===

impl CatalogHeaders {
    /// Renders the values for `catalog`.
    pub(crate) fn new(catalog: &Catalog) -> Self {
        let models = catalog
            .models()
            .iter()
            .map(|model| {
                let mut id = String::with_capacity(model.id.len());
                push_encoded(&mut id, &model.id);
                let endpoints = model
                    .endpoints
                    .iter()
                    .map(|endpoint| EndpointHeaders {
                        provider: header_value(endpoint.provider.clone()),
                        answered_first: header_value(format!("{id}@{}=200", endpoint.provider)),
                    })
                    .collect();
                ModelHeaders {
                    id: header_value(id),
                    endpoints,
                }
            })
            .collect();
        Self { models }
    }
}

/// A header value built at start-up from catalog names (a provider slug with a byte a header
/// cannot carry renders as `-`).
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or(HeaderValue::from_static("-"))
}

/// Appends `text` with the header lists' separators and non-visible-ASCII bytes
/// percent-encoded.
fn push_encoded(out: &mut String, text: &str) {
    percent::push_encoded(out, text, |byte| {
        byte.is_ascii_graphic() && !matches!(byte, b'%' | b',' | b';' | b'@' | b'=')
    });
}

/// Inserts a header built at run time. Every value is visible ASCII by construction; a failure
/// would only drop the header.
fn insert_string(headers: &mut HeaderMap, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_values_are_encoded_once_per_model_and_endpoint() {
        use router_core::catalog::{Endpoint, Model};
        let endpoint = |provider: &str| Endpoint {
            provider: provider.to_owned(),
            upstream_model: "m".to_owned(),
            pricing: Default::default(),
            context_length: 1000,
            max_output: None,
            supported_parameters: Vec::new(),
            capabilities: Default::default(),
            traits: Default::default(),
        };
        let catalog = Catalog::new(vec![Model {
            id: "a/b,c@d".into(),
            name: "A".to_owned(),
            created: 0,
            description: String::new(),
            endpoints: vec![endpoint("one"), endpoint("two")],
        }])
        .unwrap();
        let rendered = CatalogHeaders::new(&catalog);
        let model = &rendered.models[0];
        assert_eq!(model.id, "a/b%2Cc%40d");
        assert_eq!(model.endpoints[1].provider, "two");
        assert_eq!(model.endpoints[1].answered_first, "a/b%2Cc%40d@two=200");
    }

    #[test]
    fn encodes_separators_and_non_ascii() {
        let mut out = String::new();
        push_encoded(&mut out, "openai/gpt-5.1:free");
        assert_eq!(out, "openai/gpt-5.1:free");
        out.clear();
        push_encoded(&mut out, "a/b,c;d@e=f%g ü");
        assert_eq!(out, "a/b%2Cc%3Bd%40e%3Df%25g%20%C3%BC");
    }
}
