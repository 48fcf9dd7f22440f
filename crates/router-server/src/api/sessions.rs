//! `GET /api/v1/sessions/{id}`: one conversation of the calling key: its requests, where it is
//! pinned now, what it read from providers' caches and what that saved.
//!
//! `{id}` is how records name the conversation: the client's `session_id` (or `x-session-id`,
//! or `prompt_cache_key`), or `fp-…` for an implicit conversation (the `session_id` of its
//! generation records). Only the key that made the requests sees them; a conversation the key
//! has no request in is a 404, whoever else has one. Pins are looked up without renewing them.
//!
//! ```json
//! {"data": {
//!   "id": "my-conversation-123",
//!   "requests": [{"id": "gen-…", "created_at": "…", "requested": "openrouter/auto",
//!                 "model": "…", "provider": "…", "prompt_tokens": 120, "cached_tokens": 100,
//!                 "cost": 0.00012, "cache_savings": 0.00009}],
//!   "pins": [{"requested": "openrouter/auto", "model": "…", "provider": "…"}],
//!   "prompt_tokens": 120, "cached_tokens": 100, "cost": 0.00012, "cache_savings": 0.00009,
//!   "uncached_cost": 0.00021,
//!   "store": {"kind": "memory", "unavailable": 0}
//! }}
//! ```
//!
//! `cache_savings` is the cached tokens priced at the prompt price minus at the cache-read
//! price; `uncached_cost` is what the requests would have cost without the cache
//! (`cost + cache_savings`). At most the newest 1,000 requests are listed and summed.

use axum::extract::{Path, State};
use axum::response::Response;
use router_session::{Lookup, Scope};
use serde_json::{Value, json};

use super::json_response;
use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::error::ApiError;
use crate::records::{GenerationRecord, render};

/// The most requests listed.
const MAX_REQUESTS: usize = 1000;

/// The sessions handler.
pub(crate) async fn session(
    State(app): State<AppState>,
    auth: ClientAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let key_name = auth.key().name.clone();
    let records = app.records().clone();
    let (lookup_key, lookup_id) = (key_name.clone(), id.clone());
    let found =
        tokio::task::spawn_blocking(move || records.session(&lookup_key, &lookup_id, MAX_REQUESTS))
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "session lookup task failed");
                ApiError::Internal
            })?
            .map_err(|err| {
                ApiError::store_failed(
                    crate::error::RECORD_STORE,
                    "cannot read a session's records",
                    err,
                )
            })?;
    if found.is_empty() {
        return Err(ApiError::SessionNotFound(id));
    }
    let mut pins = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for requested in found.iter().map(requested_of) {
        if seen.contains(&requested) {
            continue;
        }
        seen.push(requested);
        for scope in Scope::candidates(&key_name, requested, &id) {
            if let Lookup::Hit(pin) = app.sticky().lookup(&scope).await {
                let target = app.target_of(pin.model, pin.endpoint);
                pins.push(json!({
                    "requested": requested,
                    "model": target.model.id,
                    "provider": target.endpoint.provider,
                }));
            }
        }
    }
    let requests: Vec<Value> = found.iter().map(request_json).collect();
    let sum = |field: fn(&GenerationRecord) -> f64| found.iter().map(field).sum::<f64>();
    let cost = sum(|it| it.cost_usd);
    let savings = sum(|it| it.cache_savings_usd);
    let (kind, unavailable) = app.sticky().store_status().unwrap_or(("disabled", 0));
    let body = json!({"data": {
        "id": id,
        "requests": requests,
        "pins": pins,
        "prompt_tokens": found.iter().map(|it| it.prompt_tokens).sum::<u64>(),
        "cached_tokens": found.iter().map(|it| it.cached_tokens).sum::<u64>(),
        "cost": cost,
        "cache_savings": savings,
        "uncached_cost": cost + savings,
        "store": {"kind": kind, "unavailable": unavailable},
    }});
    Ok(json_response(body.to_string()))
}

/// The model or router slug a record's request named (its pin's scope).
fn requested_of(record: &GenerationRecord) -> &str {
    record
        .router
        .as_deref()
        .or(record.requested_models.first().map(|it| &**it))
        .unwrap_or_default()
}

fn request_json(record: &GenerationRecord) -> Value {
    json!({
        "id": record.id,
        "created_at": render::timestamp(record.created_at_ms),
        "requested": requested_of(record),
        "model": record.model,
        "provider": record.provider,
        "prompt_tokens": record.prompt_tokens,
        "cached_tokens": record.cached_tokens,
        "cost": record.cost_usd,
        "cache_savings": record.cache_savings_usd,
    })
}
