//! `GET /api/v1/models`: the catalog in OpenRouter's shape, then the Auto Router's ids, rendered
//! once at start-up by [`router_core::render::models_list_with_routers`]; and
//! `GET /api/v1/models/{author}/{slug}/endpoints`, the link every row of it carries: one model's
//! endpoints ([`router_core::render::model_endpoints`]).

use axum::extract::{Path, State};
use axum::response::Response;
use router_core::render;

use super::json_response;
use crate::app::AppState;
use crate::error::ApiError;

/// The model list.
pub(crate) async fn list(State(app): State<AppState>) -> Response {
    json_response(app.models_body())
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
