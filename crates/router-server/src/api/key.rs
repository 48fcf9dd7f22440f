//! `GET /api/v1/key` (also `/v1/key` and the legacy `/api/v1/auth/key`): the calling key's
//! label, spending (total, today, this week, this month, in USD, UTC) summed from its
//! generation records on the blocking pool, and its limits: `limit`, `limit_remaining` and
//! `limit_reset` from the key's credit limit as [`crate::limits`] counts it (shared in Redis
//! when `[redis]` is set), `rate_limit` from its `rpm`, and the one budget its limit makes.

use axum::extract::State;
use axum::response::Response;

use super::json_response;
use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::config::{ClientKey, LimitReset};
use crate::error::ApiError;
use crate::limits::window::period_end;
use crate::records::KeyUsage;
use crate::records::render::{self, KeyLimitView};

/// The key handler.
pub(crate) async fn key(
    State(app): State<AppState>,
    auth: ClientAuth,
) -> Result<Response, ApiError> {
    let key = auth.key();
    let now_ms = app.sticky().clock().now_ms();
    let (usage, spent) = usage_and_spent(&app, key).await?;
    let reset = key.limits.limit_reset;
    let view = KeyLimitView {
        limit: key.limits.limit,
        spent,
        reset: reset.map(LimitReset::as_str),
        resets_at_ms: period_end(now_ms, reset),
        rpm: key.limits.rpm,
    };
    Ok(json_response(render::key_json(&key.name, &usage, &view)))
}

/// `key`'s usage summed from its records (on the blocking pool), and what counts against its
/// credit limit: the limit counters, or the records when they know more (a restart without
/// Redis); 0 without a limit. Records are stamped with the system's time, limits count on the
/// app's clock.
pub(crate) async fn usage_and_spent(
    app: &AppState,
    key: &ClientKey,
) -> Result<(KeyUsage, f64), ApiError> {
    let records = app.records().clone();
    let name = key.name.clone();
    let system_ms = crate::records::calendar::system_now_ms();
    let usage = tokio::task::spawn_blocking(move || records.key_usage(&name, system_ms))
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "key usage task failed");
            ApiError::Internal
        })?
        .map_err(|err| {
            ApiError::store_failed(
                crate::error::RECORD_STORE,
                "cannot sum the key's usage",
                err,
            )
        })?;
    let spent = match key.limits.limit {
        Some(_) => {
            let recorded = usage.in_period(key.limits.limit_reset);
            app.limits().used(key).await.max(recorded)
        }
        None => 0.0,
    };
    Ok((usage, spent))
}
