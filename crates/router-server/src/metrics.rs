//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! Every label value comes from the config or from a fixed set, never from a client: model and
//! provider ids of the catalog (a request whose models could not be routed counts under
//! `model="other"`), status classes (`2xx`, `4xx`, `5xx`, `cancelled`), and OpenRouter's
//! `error_type`s as fallback and abort reasons. The label sets are bounded by the config's size,
//! whatever clients send.
//!
//! [`Telemetry`] owns the registry and the metric families and lives as long as the server, so
//! counters survive a config reload. [`Handles`] are one config's pre-registered handles: for
//! each model (by index), its counters and histograms, so recording a request indexes a vector
//! and bumps atomics; only rare events (fallbacks, aborts, failed attempts) look a label set up
//! in a family.
//!
//! | Metric | Labels | What |
//! | --- | --- | --- |
//! | `turnout_requests_total` | `model`, `status` | Requests by served (else first requested) model and status class. |
//! | `turnout_request_duration_seconds` | `model` | Arrival to last byte. |
//! | `turnout_time_to_first_token_seconds` | `model` | Arrival to the first output (answered requests). |
//! | `turnout_tokens_total` | `model`, `kind` (`prompt`, `completion`) | Tokens billed. |
//! | `turnout_cost_usd_total` | `model` | USD billed. |
//! | `turnout_attempts_total` | `model`, `provider`, `outcome` (`ok` or an `error_type`) | Calls and skips, per endpoint: its health as seen by traffic. |
//! | `turnout_fallbacks_total` | `from`, `to`, `reason` | Moves from a failed attempt's model to the next attempt's. |
//! | `turnout_stream_aborts_total` | `model`, `reason` (`client_gone` or an `error_type`) | Streams that ended without finishing. |
//! | `turnout_config_reloads_total` | `result` (`ok`, `invalid`) | Config reloads. |
//! | `turnout_records_dropped_total` | | Generation records dropped because the queue waiting for their database was full (`server.records_buffer`). |
//! | `turnout_records_queued` | | Generation records waiting in memory for their database, when scraped. |

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use router_core::catalog::{Catalog, EndpointIdx, ModelIdx};
use router_core::health::Status;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse as _, Response};

use crate::app::AppState;
use crate::chat::attempt_log::AttemptRecord;

/// The label value of a model that is not in the catalog (client input never becomes a label).
pub(crate) const OTHER_MODEL: &str = "other";

/// A label set: fixed keys, values from the config or a fixed set.
type Labels = Vec<(&'static str, String)>;

/// A histogram family, with its bucket constructor.
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// The registry and the metric families, for the life of the server.
pub(crate) struct Telemetry {
    registry: Registry,
    requests: Family<Labels, Counter>,
    duration: Histograms,
    ttft: Histograms,
    tokens: Family<Labels, Counter>,
    cost: Family<Labels, Counter<f64, AtomicU64>>,
    attempts: Family<Labels, Counter>,
    fallbacks: Family<Labels, Counter>,
    aborts: Family<Labels, Counter>,
    reloads: Family<Labels, Counter>,
    sticky: Family<Labels, Counter>,
    endpoint_health: Family<Labels, Gauge>,
    /// `turnout_key_limit_checks_total` by `mode` (`shared` or `local`).
    pub(crate) limit_checks: Family<Labels, Counter>,
    /// Records dropped (read from the record store when scraped).
    records_dropped: Counter,
    /// Records waiting for their database (read when scraped).
    records_queued: Gauge,
    /// The OTLP trace exporter, when `telemetry.otlp_endpoint` is set.
    otlp: Option<crate::otlp::Otlp>,
}

/// A request's status class, a `turnout_requests_total` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusClass {
    /// Answered.
    Ok,
    /// The client's error.
    Client,
    /// A provider's or ours.
    Server,
    /// The client went away first.
    Cancelled,
}

const STATUS_CLASSES: [StatusClass; 4] = [
    StatusClass::Ok,
    StatusClass::Client,
    StatusClass::Server,
    StatusClass::Cancelled,
];

/// One config's pre-registered handles.
pub(crate) struct Handles {
    telemetry: std::sync::Arc<Telemetry>,
    models: Vec<ModelHandles>,
    /// `turnout_requests_total{model="other"}` by status class.
    other: [Counter; 4],
    /// Model ids, for the rare label lookups.
    ids: Vec<String>,
    /// `turnout_sticky_sessions_total` by outcome, in [`crate::sticky::METRIC_LABELS`]' order:
    /// every request has one, so its counter is found here, not built and hashed from labels.
    sticky: [Counter; crate::sticky::METRIC_LABELS.len()],
}

/// One model's handles.
struct ModelHandles {
    requests: [Counter; 4],
    duration: Histogram,
    ttft: Histogram,
    prompt_tokens: Counter,
    completion_tokens: Counter,
    cost: Counter<f64, AtomicU64>,
    /// `outcome="ok"` by endpoint index.
    attempts_ok: Vec<Counter>,
}

/// What a finished request reports.
pub(crate) struct Observation<'a> {
    /// The served model, else the first requested one.
    pub(crate) model: Option<ModelIdx>,
    /// The status class of the answer.
    pub(crate) status: StatusClass,
    /// Seconds from arrival to the last byte.
    pub(crate) duration: f64,
    /// Seconds to the first output, when something answered.
    pub(crate) ttft: Option<f64>,
    /// Prompt and completion tokens billed.
    pub(crate) tokens: (u64, u64),
    /// USD billed.
    pub(crate) cost: f64,
    /// Every attempt, in order.
    pub(crate) attempts: &'a [AttemptRecord],
    /// The catalog the attempts index.
    pub(crate) catalog: &'a Catalog,
    /// Why a stream ended without finishing, if it did.
    pub(crate) abort: Option<&'static str>,
    /// What stickiness did, when the request had a conversation key: an index into
    /// [`crate::sticky::METRIC_LABELS`].
    pub(crate) sticky: Option<usize>,
}

/// `GET /metrics`: the registry in Prometheus' text format (no key needed: every label is
/// config or a fixed set).
pub(crate) async fn serve(State(app): State<AppState>) -> Response {
    let telemetry = app.metrics().telemetry();
    for (model_idx, model) in app.catalog().models().iter().enumerate() {
        for (endpoint_idx, endpoint) in model.endpoints.iter().enumerate() {
            let status = app
                .health()
                .status(ModelIdx(model_idx), EndpointIdx(endpoint_idx));
            let value = match status {
                Status::Healthy => 0,
                Status::Unstable => 1,
                Status::Probe => 2,
                Status::CoolingDown => 3,
            };
            telemetry
                .endpoint_health
                .get_or_create(&vec![
                    ("model", model.id.to_string()),
                    ("provider", endpoint.provider.clone()),
                ])
                .set(value);
        }
    }
    let dropped = app.records().dropped();
    telemetry
        .records_dropped
        .inc_by(dropped.saturating_sub(telemetry.records_dropped.get()));
    telemetry
        .records_queued
        .set(i64::try_from(app.records().queued()).unwrap_or(i64::MAX));
    let text = telemetry.render();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

// === impl Telemetry ===

impl Telemetry {
    /// An empty registry with every family registered, and the OTLP exporter to
    /// `otlp_endpoint` if one is given.
    pub(crate) fn new(otlp_endpoint: Option<&str>) -> Result<Self, crate::otlp::OtlpError> {
        let otlp = otlp_endpoint.map(crate::otlp::Otlp::new).transpose()?;
        let mut registry = Registry::default();
        let requests = Family::default();
        let duration: Histograms =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 14)));
        let ttft: Histograms =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 14)));
        let tokens = Family::default();
        let cost = Family::default();
        let attempts = Family::default();
        let fallbacks = Family::default();
        let aborts = Family::default();
        let reloads = Family::default();
        let sticky = Family::default();
        let endpoint_health = Family::default();
        let limit_checks = Family::default();
        registry.register(
            "turnout_key_limit_checks",
            "Key limit checks by where they were counted: shared (in Redis) or local (by this replica alone, Redis unreachable)",
            limit_checks.clone(),
        );
        registry.register(
            "turnout_requests",
            "Requests by model and status class",
            requests.clone(),
        );
        registry.register(
            "turnout_request_duration_seconds",
            "Time from a request's arrival to its last byte",
            duration.clone(),
        );
        registry.register(
            "turnout_time_to_first_token_seconds",
            "Time from a request's arrival to its first output",
            ttft.clone(),
        );
        registry.register("turnout_tokens", "Tokens billed by model", tokens.clone());
        registry.register("turnout_cost_usd", "USD billed by model", cost.clone());
        registry.register(
            "turnout_attempts",
            "Provider calls and skips by model, provider and outcome",
            attempts.clone(),
        );
        registry.register(
            "turnout_fallbacks",
            "Moves from a failed attempt's model to the next attempt's, by reason",
            fallbacks.clone(),
        );
        registry.register(
            "turnout_stream_aborts",
            "Streams that ended without finishing, by reason",
            aborts.clone(),
        );
        registry.register(
            "turnout_config_reloads",
            "Config reloads by result",
            reloads.clone(),
        );
        registry.register(
            "turnout_sticky_sessions",
            "Requests with a conversation key, by what stickiness did",
            sticky.clone(),
        );
        registry.register(
            "turnout_endpoint_health",
            "Each endpoint's state when scraped: 0 healthy, 1 unstable, 2 waiting for its probe, 3 cooling down",
            endpoint_health.clone(),
        );
        let records_dropped = Counter::default();
        let records_queued = Gauge::default();
        registry.register(
            "turnout_records_dropped",
            "Generation records dropped because the queue waiting for their database was full",
            records_dropped.clone(),
        );
        registry.register(
            "turnout_records_queued",
            "Generation records waiting in memory for their database, when scraped",
            records_queued.clone(),
        );
        Ok(Self {
            registry,
            records_dropped,
            records_queued,
            requests,
            duration,
            ttft,
            tokens,
            cost,
            attempts,
            fallbacks,
            aborts,
            reloads,
            sticky,
            endpoint_health,
            limit_checks,
            otlp,
        })
    }

    /// The OTLP exporter, if configured.
    pub(crate) fn otlp(&self) -> Option<&crate::otlp::Otlp> {
        self.otlp.as_ref()
    }

    /// The registry in Prometheus' text format.
    pub(crate) fn render(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        // Writing into a `String` cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// Counts a config reload.
    pub(crate) fn reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "invalid" };
        self.reloads
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
    }
}

// === impl Handles ===

impl Handles {
    /// Registers the handles of every model and endpoint of `catalog`.
    pub(crate) fn new(telemetry: std::sync::Arc<Telemetry>, catalog: &Catalog) -> Self {
        let requests = |model: &str| {
            STATUS_CLASSES.map(|status| {
                telemetry
                    .requests
                    .get_or_create(&vec![
                        ("model", model.to_owned()),
                        ("status", status.as_str().to_owned()),
                    ])
                    .clone()
            })
        };
        let models = catalog
            .models()
            .iter()
            .map(|model| {
                let id = || vec![("model", model.id.to_string())];
                let tokens = |kind: &str| {
                    telemetry
                        .tokens
                        .get_or_create(&vec![
                            ("model", model.id.to_string()),
                            ("kind", kind.to_owned()),
                        ])
                        .clone()
                };
                ModelHandles {
                    requests: requests(&model.id),
                    duration: telemetry.duration.get_or_create(&id()).clone(),
                    ttft: telemetry.ttft.get_or_create(&id()).clone(),
                    prompt_tokens: tokens("prompt"),
                    completion_tokens: tokens("completion"),
                    cost: telemetry.cost.get_or_create(&id()).clone(),
                    attempts_ok: model
                        .endpoints
                        .iter()
                        .map(|endpoint| {
                            telemetry
                                .attempts
                                .get_or_create(&vec![
                                    ("model", model.id.to_string()),
                                    ("provider", endpoint.provider.clone()),
                                    ("outcome", "ok".to_owned()),
                                ])
                                .clone()
                        })
                        .collect(),
                }
            })
            .collect();
        let other = requests(OTHER_MODEL);
        let ids = catalog
            .models()
            .iter()
            .map(|it| it.id.to_string())
            .collect();
        let sticky = crate::sticky::METRIC_LABELS.map(|outcome| {
            telemetry
                .sticky
                .get_or_create(&vec![("outcome", outcome.to_owned())])
                .clone()
        });
        Self {
            telemetry,
            models,
            other,
            ids,
            sticky,
        }
    }

    /// The registry shared by every config.
    pub(crate) fn telemetry(&self) -> &std::sync::Arc<Telemetry> {
        &self.telemetry
    }

    /// A request refused before it was routed (its body or its models): `model="other"`.
    pub(crate) fn rejected(&self, status: u16) {
        self.other[StatusClass::of(status) as usize].inc();
    }

    /// Records a routed request.
    pub(crate) fn observe(&self, seen: &Observation<'_>) {
        let Some(model) = seen.model.and_then(|it| self.models.get(it.0)) else {
            self.other[seen.status as usize].inc();
            return;
        };
        model.requests[seen.status as usize].inc();
        model.duration.observe(seen.duration);
        if let Some(ttft) = seen.ttft {
            model.ttft.observe(ttft);
        }
        model.prompt_tokens.inc_by(seen.tokens.0);
        model.completion_tokens.inc_by(seen.tokens.1);
        if seen.cost > 0.0 {
            model.cost.inc_by(seen.cost);
        }
        for (idx, attempt) in seen.attempts.iter().enumerate() {
            let Some(failure) = attempt.failure else {
                if let Some(counter) = attempt.endpoint.and_then(|endpoint| {
                    self.models
                        .get(attempt.model.0)
                        .and_then(|it| it.attempts_ok.get(endpoint.0))
                }) {
                    counter.inc();
                }
                continue;
            };
            let provider = attempt.endpoint.map_or("none", |endpoint| {
                seen.catalog
                    .model(attempt.model)
                    .endpoint(endpoint)
                    .provider
                    .as_str()
            });
            self.telemetry
                .attempts
                .get_or_create(&vec![
                    ("model", self.id(attempt.model)),
                    ("provider", provider.to_owned()),
                    ("outcome", failure.error_type.to_owned()),
                ])
                .inc();
            if let Some(next) = seen.attempts.get(idx + 1) {
                self.telemetry
                    .fallbacks
                    .get_or_create(&vec![
                        ("from", self.id(attempt.model)),
                        ("to", self.id(next.model)),
                        ("reason", failure.error_type.to_owned()),
                    ])
                    .inc();
            }
        }
        if let Some(counter) = seen.sticky.and_then(|idx| self.sticky.get(idx)) {
            counter.inc();
        }
        if let Some(reason) = seen.abort {
            self.telemetry
                .aborts
                .get_or_create(&vec![
                    ("model", self.id(seen.model.unwrap_or(ModelIdx(usize::MAX)))),
                    ("reason", reason.to_owned()),
                ])
                .inc();
        }
    }

    /// The label of the model at `idx`.
    fn id(&self, idx: ModelIdx) -> String {
        self.ids
            .get(idx.0)
            .map_or_else(|| OTHER_MODEL.to_owned(), Clone::clone)
    }
}

// === impl StatusClass ===

impl StatusClass {
    /// The class of an HTTP status.
    pub(crate) fn of(status: u16) -> Self {
        match status {
            200..=399 => StatusClass::Ok,
            400..=499 => StatusClass::Client,
            _ => StatusClass::Server,
        }
    }

    /// The label value.
    fn as_str(self) -> &'static str {
        match self {
            StatusClass::Ok => "2xx",
            StatusClass::Client => "4xx",
            StatusClass::Server => "5xx",
            StatusClass::Cancelled => "cancelled",
        }
    }
}
