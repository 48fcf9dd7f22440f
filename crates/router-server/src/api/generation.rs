//! `GET /api/v1/generation?id=gen-…`: the generation record of one request, in OpenRouter's
//! shape, only to the key that made it.
//!
//! A missing `id` is a 400; an id that does not exist, or that another key made, is the same 404
//! (so a key cannot learn which ids exist). The store is read on the blocking pool: the records
//! writer thread answers after it has written what is pending, so a request's record is readable
//! as soon as its response was sent.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::json_response;
use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::error::ApiError;
use crate::records::render;

/// The query string.
#[derive(Debug, Deserialize)]
pub(crate) struct GenerationQuery {
    /// The generation id, `gen-…`.
    id: Option<String>,
}

/// The generation handler.
pub(crate) async fn generation(
    State(app): State<AppState>,
    auth: ClientAuth,
    query: Result<Query<GenerationQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = query
        .ok()
        .and_then(|Query(query)| query.id)
        .filter(|id| !id.is_empty())
        .ok_or(ApiError::QueryParameter("id"))?;
    let key_name = auth.key().name.clone();
    let records = app.records().clone();
    let lookup_id = id.clone();
    let found = tokio::task::spawn_blocking(move || records.get(&lookup_id, &key_name))
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "generation lookup task failed");
            ApiError::Internal
        })?
        .map_err(|err| {
            ApiError::store_failed(
                crate::error::RECORD_STORE,
                "cannot read a generation record",
                err,
            )
        })?;
    let record = found.ok_or(ApiError::GenerationNotFound(id))?;
    Ok(json_response(render::generation_json(&record)))
}
