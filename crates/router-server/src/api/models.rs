//! `GET /api/v1/models`: the catalog in OpenRouter's shape, then the Auto Router's ids, rendered
//! once at start-up by [`router_core::render::models_list_with_routers`].

use axum::extract::State;
use axum::response::Response;

use super::json_response;
use crate::app::AppState;

/// The model list.
pub(crate) async fn list(State(app): State<AppState>) -> Response {
    json_response(app.models_body())
}
