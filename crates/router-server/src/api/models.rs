//! `GET /api/v1/models`: the catalog in OpenRouter's shape, then the Auto Router's ids. Without a
//! query string the body rendered once at start-up
//! ([`router_core::render::models_list_with_routers`]) is sent; a query (filters, a sort, a page:
//! [`router_core::listing`]) is rendered per request. And
//! `GET /api/v1/models/{author}/{slug}/endpoints`, the link every row of it carries: one model's
//! endpoints ([`router_core::render::model_endpoints`]) with their live uptime, latency and
//! throughput over the last 30 minutes. `GET /api/v1/model/{author}/{slug}` (the SDKs'
//! `models.get`) and `GET /api/v1/models/{author}/{slug}` (OpenAI's `models.retrieve`, which also
//! reads `id`, `object`, `created` and `owned_by` at the top level): one model's row. And
//! `GET /api/v1/providers`: the configured providers.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::Response;
use router_core::catalog::{EndpointIdx, ModelIdx};
use router_core::listing::{ListingQuery, Sort, Speed};
use router_core::render;
use serde::Deserialize;

use super::json_response;
use crate::app::AppState;
use crate::error::ApiError;
use crate::percent;

/// The query string of the model list (`category` and `use_rss` are accepted and ignored).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListParams {
    supported_parameters: Option<String>,
    output_modalities: Option<String>,
    sort: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
}

/// The model list.
pub(crate) async fn list(
    State(app): State<AppState>,
    uri: Uri,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    if uri.query().is_none_or(str::is_empty) {
        return Ok(json_response(app.models_body()));
    }
    // A query string that is not `key=value` pairs lists as if it were empty.
    let params = params.map(|Query(it)| it).unwrap_or_default();
    let query = ListingQuery::parse(
        params.supported_parameters.as_deref(),
        params.output_modalities.as_deref(),
        params.sort.as_deref(),
        params.offset.as_deref(),
        params.limit.as_deref(),
    )?;
    let catalog = app.catalog();
    let aliases = &app.config().routing.auto.aliases;
    let listing = match query.sort {
        Sort::ThroughputHighToLow | Sort::LatencyLowToHigh => {
            query.select_measured(catalog, aliases, |model| measured_speed(&app, model))
        }
        _ => query.select(catalog, aliases),
    };
    let next = listing
        .next
        .map(|(offset, limit)| next_link(uri.path(), &params, offset, limit));
    Ok(json_response(render::models_listing(
        catalog,
        &listing,
        next.as_deref(),
    )))
}

/// The URL of the page at `offset`, with the same filters and sort.
fn next_link(path: &str, params: &ListParams, offset: usize, limit: usize) -> String {
    let mut link = format!("{path}?");
    for (name, value) in [
        ("supported_parameters", &params.supported_parameters),
        ("output_modalities", &params.output_modalities),
        ("sort", &params.sort),
    ] {
        if let Some(value) = value {
            link.push_str(name);
            link.push('=');
            // Letters, digits and `-._~,` as they are; the rest percent-encoded.
            percent::push_encoded(&mut link, value, |byte| {
                byte.is_ascii_alphanumeric() || b"-._~,".contains(&byte)
            });
            link.push('&');
        }
    }
    link.push_str(&format!("offset={offset}&limit={limit}"));
    link
}

/// One model's endpoints, in configured order. A router id (`openrouter/auto`) is not a model
/// with endpoints of its own: it is a 404 like any id outside the catalog.
pub(crate) async fn endpoints(
    State(app): State<AppState>,
    Path((author, slug)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = format!("{author}/{slug}");
    let catalog = app.catalog();
    let Some(idx) = catalog.find(&id) else {
        return Err(ApiError::ModelNotFound(id));
    };
    let providers = &app.config().providers;
    let health = app.health();
    let body = render::model_endpoints(
        catalog.model(idx),
        |slug| {
            providers
                .iter()
                .find(|it| it.settings.name == slug)
                .map_or(slug, |it| it.display_name.as_str())
        },
        |endpoint| health.stats(idx, endpoint),
    );
    Ok(json_response(body))
}

/// One model's row, `{"data": …}` (`GET /api/v1/model/{author}/{slug}`).
pub(crate) async fn model(
    State(app): State<AppState>,
    Path((author, slug)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    one_model(&app, author, slug, false)
}

/// One model's row with OpenAI's top-level members (`GET /api/v1/models/{author}/{slug}`).
pub(crate) async fn model_openai(
    State(app): State<AppState>,
    Path((author, slug)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    one_model(&app, author, slug, true)
}

/// [`model_openai`] for an id sent as one path segment (`test%2Ftwo`, decoded by the router).
pub(crate) async fn model_openai_encoded(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match id.split_once('/') {
        Some((author, slug)) => one_model(&app, author.to_owned(), slug.to_owned(), true),
        None => Err(ApiError::ModelNotFound(id)),
    }
}

/// `{"data":[{name, slug, …}]}`: the configured providers, by name.
pub(crate) async fn providers(State(app): State<AppState>) -> Response {
    let data: Vec<serde_json::Value> = app
        .config()
        .providers
        .iter()
        .map(|it| {
            serde_json::json!({
                "name": it.display_name,
                "slug": it.settings.name,
                "privacy_policy_url": null,
                "terms_of_service_url": null,
                "status_page_url": null,
                "headquarters": null,
                "datacenters": null,
            })
        })
        .collect();
    json_response(serde_json::json!({ "data": data }).to_string())
}

/// A model's row; a variant suffix (`:free`, `:nitro`, `:floor`) names the model itself.
fn one_model(
    app: &AppState,
    author: String,
    slug: String,
    openai_compatible: bool,
) -> Result<Response, ApiError> {
    let id = format!("{author}/{slug}");
    let catalog = app.catalog();
    let idx = catalog
        .find(&id)
        .or_else(|| {
            let (base, variant) = id.rsplit_once(':')?;
            matches!(variant, "free" | "nitro" | "floor")
                .then(|| catalog.find(base))
                .flatten()
        })
        .ok_or(ApiError::ModelNotFound(id))?;
    Ok(json_response(render::model(
        catalog.model(idx),
        openai_compatible,
    )))
}

/// A model's fastest endpoint by its medians over the last 30 minutes.
fn measured_speed(app: &AppState, model: ModelIdx) -> Speed {
    let n_endpoints = app.catalog().model(model).endpoints.len();
    let stats = (0..n_endpoints).map(|idx| app.health().stats(model, EndpointIdx(idx)));
    stats.fold(Speed::default(), |best, stats| Speed {
        throughput: max_of(best.throughput, stats.throughput.map(|it| it[0])),
        latency: min_of(best.latency, stats.latency.map(|it| it[0])),
    })
}

fn max_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn min_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
