//! `GET /api/v1/key` (also `/v1/key` and the legacy `/api/v1/auth/key`): the calling key's
//! label and spending (total, today, this week, this month, in USD, UTC), summed from its
//! generation records on the blocking pool.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::Response;

use super::json_response;
use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::error::ApiError;
use crate::records::render;

/// The key handler.
pub(crate) async fn key(
    State(app): State<AppState>,
    auth: ClientAuth,
) -> Result<Response, ApiError> {
    let key_name = app.key(auth.key_idx).name.clone();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |it| u64::try_from(it.as_millis()).unwrap_or(u64::MAX));
    let records = app.records().clone();
    let name = key_name.clone();
    let usage = tokio::task::spawn_blocking(move || records.key_usage(&name, now_ms))
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "key usage task failed");
            ApiError::Internal
        })?
        .map_err(|err| {
            tracing::error!(error = %err, "cannot sum the key's usage");
            ApiError::Internal
        })?;
    Ok(json_response(render::key_json(&key_name, &usage)))
}
