//! OpenRouter-shaped bodies of `GET /api/v1/generation?id=…` and `GET /api/v1/key`.
//!
//! The official SDKs validate these strictly: every key they require is present, nullable ones as
//! `null`, and keys that are optional but not nullable (the per-attempt `provider_name`) are left
//! out rather than set to `null`. Fields Turnout has no notion of (BYOK, apps, presets, media
//! counts, web search) get their neutral value: `false`, `0`, or `null`.

use serde_json::{Map, Value, json};

use super::calendar::iso8601;
use super::{AttemptRecord, GenerationRecord, KeyUsage};

/// The note OpenRouter puts in the deprecated `rate_limit` object of `/api/v1/key`.
const RATE_LIMIT_NOTE: &str = "This field is deprecated and safe to ignore.";

/// `ms` (Unix milliseconds) as an ISO-8601 UTC timestamp, as the records' bodies write times.
pub fn timestamp(ms: u64) -> String {
    iso8601(ms)
}

/// `{"data": {…}}` for `GET /api/v1/generation`.
///
/// `model` is the model that answered, or the first requested one when every attempt failed
/// (the SDKs require a string). `provider_responses` lists every attempt in order, skipped models
/// included (without `provider_name`). `generation_time` is the answering attempt's time.
pub fn generation_json(record: &GenerationRecord) -> String {
    let model = record
        .model
        .as_deref()
        .or(record.requested_models.first().map(|it| &**it))
        .unwrap_or_default();
    let generation_time = record
        .model
        .as_ref()
        .and(record.attempts.last())
        .map(|attempt| attempt.elapsed_ms);
    let provider_responses: Vec<Value> =
        record.attempts.iter().map(provider_response_json).collect();
    let data: Map<String, Value> = [
        ("id", json!(record.id)),
        ("upstream_id", json!(record.upstream_id)),
        ("request_id", Value::Null),
        ("session_id", json!(record.session_id)),
        ("created_at", json!(iso8601(record.created_at_ms))),
        ("model", json!(model)),
        ("router", json!(record.router)),
        ("provider_name", json!(record.provider)),
        ("api_type", json!("completions")),
        ("streamed", json!(record.streamed)),
        ("cancelled", json!(record.cancelled)),
        ("total_cost", json!(record.cost_usd)),
        ("usage", json!(record.cost_usd)),
        ("upstream_inference_cost", Value::Null),
        ("cache_discount", Value::Null),
        ("is_byok", json!(false)),
        ("latency", json!(record.latency_ms)),
        ("generation_time", json!(generation_time)),
        ("moderation_latency", Value::Null),
        ("time_to_first_token", json!(record.time_to_first_token_ms)),
        ("tokens_prompt", json!(record.prompt_tokens)),
        ("tokens_completion", json!(record.completion_tokens)),
        ("native_tokens_prompt", json!(record.prompt_tokens)),
        ("native_tokens_completion", json!(record.completion_tokens)),
        ("native_tokens_reasoning", json!(record.reasoning_tokens)),
        ("native_tokens_cached", json!(record.cached_tokens)),
        ("native_tokens_completion_images", json!(0)),
        ("finish_reason", json!(record.finish_reason)),
        ("native_finish_reason", json!(record.finish_reason)),
        ("num_media_prompt", json!(0)),
        ("num_media_completion", json!(0)),
        ("num_input_audio_prompt", json!(0)),
        ("num_search_results", json!(0)),
        ("num_fetches", json!(0)),
        ("web_search_engine", Value::Null),
        ("origin", json!("")),
        ("http_referer", Value::Null),
        ("user_agent", Value::Null),
        ("external_user", Value::Null),
        ("app_id", Value::Null),
        ("preset_id", Value::Null),
        ("workspace_id", Value::Null),
        ("data_region", json!("global")),
        ("service_tier", Value::Null),
        ("response_cache_source_id", Value::Null),
        ("requested_models", json!(record.requested_models)),
        ("provider_responses", Value::Array(provider_responses)),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    json!({ "data": data }).to_string()
}

/// A key's credit limit as `GET /api/v1/key` reports it (all `None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KeyLimitView<'a> {
    /// The credit limit, USD.
    pub limit: Option<f64>,
    /// USD spent in the current period, as the limit counts it.
    pub spent: f64,
    /// `daily`, `weekly` or `monthly`; `None`: never resets.
    pub reset: Option<&'a str>,
    /// When the period ends (Unix ms); `None` without a reset.
    pub resets_at_ms: Option<u64>,
    /// Requests per minute, when limited.
    pub rpm: Option<u64>,
}

/// The `GET /api/v1/key` body for the key labelled `key_name`, with its spending and limits.
pub fn key_json(key_name: &str, usage: &KeyUsage, limits: &KeyLimitView<'_>) -> String {
    let remaining = limits.limit.map(|limit| (limit - limits.spent).max(0.0));
    let budget = limits.limit.map(|limit| {
        json!({
            "budget_id": null,
            "guardrail_id": null,
            "include_byok": false,
            "limit_usd": limit,
            "remaining_usd": remaining,
            "reset_interval": limits.reset,
            "resets_at": limits.resets_at_ms.map(iso8601),
            "scope": "key_limit",
            "spend_usd": limits.spent,
        })
    });
    let (requests, interval) = match limits.rpm {
        Some(rpm) => (i64::try_from(rpm).unwrap_or(i64::MAX), "1m"),
        None => (-1, "10s"),
    };
    let data = json!({
            "label": key_name,
            "is_free_tier": false,
            "is_management_key": false,
            "is_provisioning_key": false,
            "creator_user_id": null,
            "organization_id": null,
            "workspace_id": null,
            "allowed_data_regions": ["global"],
            "free_model_daily_requests": { "limit": 0, "remaining": 0, "used": 0 },
            "budgets": budget.iter().collect::<Vec<_>>(),
            "effective_budget": budget,
            "expires_at": null,
            "rate_limit": {
                "requests": requests,
                "interval": interval,
                "note": RATE_LIMIT_NOTE,
            },
    });
    let data = with_limit_and_usage(data, limits.limit, limits.spent, limits.reset, usage);
    let body = json!({ "data": data });

    body.to_string()
}

/// `object` with the members of a key's credit limit and usage that `GET /api/v1/key` and the
/// key provisioning API's key objects share, in OpenRouter's names: the limit, what remains of it
/// after `spent` and when it resets, USD spent in all, today, this week and this month, and no
/// BYOK usage (Turnout has no BYOK).
pub fn with_limit_and_usage(
    mut object: Value,
    limit: Option<f64>,
    spent: f64,
    reset: Option<&str>,
    usage: &KeyUsage,
) -> Value {
    let remaining = limit.map(|limit| (limit - spent).max(0.0));
    if let Some(members) = object.as_object_mut() {
        let shared = [
            ("limit", json!(limit)),
            ("limit_remaining", json!(remaining)),
            ("limit_reset", json!(reset)),
            ("include_byok_in_limit", json!(false)),
            ("usage", json!(usage.total)),
            ("usage_daily", json!(usage.daily)),
            ("usage_weekly", json!(usage.weekly)),
            ("usage_monthly", json!(usage.monthly)),
            ("byok_usage", json!(0.0)),
            ("byok_usage_daily", json!(0.0)),
            ("byok_usage_weekly", json!(0.0)),
            ("byok_usage_monthly", json!(0.0)),
        ];
        for (name, value) in shared {
            members.insert(name.to_owned(), value);
        }
    }
    object
}

fn provider_response_json(attempt: &AttemptRecord) -> Value {
    let mut response = json!({
        "status": attempt.status,
        "latency": attempt.elapsed_ms,
        "model_permaslug": attempt.model,
        "is_byok": false,
    });
    if let (Some(provider), Some(fields)) = (&attempt.provider, response.as_object_mut()) {
        fields.insert("provider_name".to_owned(), json!(provider));
    }
    if let (Some(error_type), Some(fields)) = (&attempt.error_type, response.as_object_mut()) {
        fields.insert("error_type".to_owned(), json!(error_type));
    }
    response
}
