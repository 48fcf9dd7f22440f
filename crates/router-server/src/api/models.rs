//! `GET /api/v1/models`: the catalog in OpenRouter's shape, then the Auto Router's ids. Without a
//! query string the body rendered once at start-up
//! ([`router_core::render::models_list_with_routers`]) is sent; a query (filters, a sort, a page:
//! [`router_core::listing`]) is rendered per request. And
//! `GET /api/v1/models/{author}/{slug}/endpoints`, the link every row of it carries: one model's
//! endpoints ([`router_core::render::model_endpoints`]).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::Response;
use router_core::listing::ListingQuery;
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
    let listing = query.select(catalog, &app.config().routing.auto.aliases);
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
    let body = render::model_endpoints(catalog.model(idx), |slug| {
        providers
            .iter()
            .find(|it| it.settings.name == slug)
            .map_or(slug, |it| it.display_name.as_str())
    });
    Ok(json_response(body))
}
