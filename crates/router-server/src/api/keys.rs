//! OpenRouter's key provisioning API, for the provisioning key (`[keys_api]`):
//! `POST /api/v1/keys` makes a key (its secret is in that answer only), `GET /api/v1/keys`
//! lists every key with its usage (the config file's too), `GET`, `PATCH` and `DELETE
//! /api/v1/keys/{hash}` read, change (`name`, `disabled`, `limit`, `limit_reset`) and remove
//! one. Keys of the config file can be read but not changed or removed here (403).
//!
//! Store calls and usage sums run on the blocking pool; every write reloads the in-memory
//! table the request path authenticates against ([`crate::keys::ApiKeys`]).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json_response;
use crate::app::AppState;
use crate::auth::ProvisioningAuth;
use crate::config::{ClientKey, LimitReset};
use crate::error::ApiError;
use crate::keys::{ApiKey, client_key, hash_hex};
use crate::records::render::{self, timestamp};

/// The prefix of the secrets Turnout makes.
const SECRET_PREFIX: &str = "sk-tn-v1-";
/// The longest key name.
const MAX_NAME_CHARS: usize = 200;

/// Why a provisioning request was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum KeysApiError {
    /// The body or a query parameter is not what the endpoint takes.
    #[error("{0}")]
    Invalid(String),
    /// No key has this hash.
    #[error("no key has the hash `{0}`")]
    NotFound(String),
    /// The key comes from the config file.
    #[error("`{0}` is a key of the config file: change or remove it there, not through the API")]
    ConfigKey(String),
}

impl KeysApiError {
    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        match self {
            KeysApiError::Invalid(_) => 400,
            KeysApiError::NotFound(_) => 404,
            KeysApiError::ConfigKey(_) => 403,
        }
    }

    /// OpenRouter's typed error.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            KeysApiError::Invalid(_) => "invalid_request",
            KeysApiError::NotFound(_) => "not_found",
            KeysApiError::ConfigKey(_) => "permission_denied",
        }
    }
}

/// `POST /api/v1/keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    limit: Option<f64>,
    #[serde(default)]
    limit_reset: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    /// Ignored: Turnout has no BYOK usage.
    #[serde(default)]
    include_byok_in_limit: Option<bool>,
    /// Only `null`: keys do not expire.
    #[serde(default)]
    expires_at: Option<Value>,
}

/// `PATCH /api/v1/keys/{hash}`: a missing member stays, `null` clears `limit`/`limit_reset`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    limit: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    limit_reset: Option<Option<String>>,
    /// Ignored: Turnout has no BYOK usage.
    #[serde(default)]
    include_byok_in_limit: Option<bool>,
}

/// A member that is present, `null` or not.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `GET /api/v1/keys` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(default)]
    include_disabled: Option<bool>,
    #[serde(default)]
    offset: Option<usize>,
}

/// `POST /api/v1/keys`: a new key; its secret is in this answer only (`key`).
pub(crate) async fn create(
    State(app): State<AppState>,
    _: ProvisioningAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: CreateBody = parse(&body)?;
    if body.expires_at.as_ref().is_some_and(|it| !it.is_null()) {
        return Err(invalid(
            "`expires_at`: keys made here do not expire; send null",
        ));
    }
    let _ignored = body.include_byok_in_limit;
    let name = checked_name(&app, &body.name, None)?;
    let limit = checked_limit(body.limit)?;
    let limit_reset = checked_reset(body.limit_reset.as_deref())?;
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|err| {
        tracing::error!(error = %err, "no randomness for a new key");
        ApiError::Internal
    })?;
    let secret = format!("{SECRET_PREFIX}{}", hex(&random));
    let key = ApiKey {
        hash: hash_hex(secret.as_bytes()),
        name,
        label: label(&secret),
        limit,
        limit_reset,
        disabled: body.disabled.unwrap_or(false),
        created_at_ms: now_ms(),
        updated_at_ms: None,
    };
    let stored = key.clone();
    blocking(&app, move |app| {
        app.api_keys().store().create(&stored)?;
        app.api_keys().reload()
    })
    .await?;
    let data = key_json(&app, &key).await?;
    let mut response = json_response(json!({ "data": data, "key": secret }).to_string());
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// `GET /api/v1/keys`: the config file's keys, then the API keys, oldest first.
pub(crate) async fn list(
    State(app): State<AppState>,
    _: ProvisioningAuth,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Ok(Query(query)) = query else {
        return Err(invalid(
            "the query takes `include_disabled` (true or false) and `offset` (a number)",
        ));
    };
    let stored = blocking(&app, |app| app.api_keys().store().list()).await?;
    let mut data = Vec::new();
    for key in app.config().keys.iter() {
        data.push(config_key_json(&app, key).await?);
    }
    for key in stored {
        if key.disabled && query.include_disabled != Some(true) {
            continue;
        }
        data.push(key_json(&app, &key).await?);
    }
    let data: Vec<Value> = data.into_iter().skip(query.offset.unwrap_or(0)).collect();
    Ok(json_response(json!({ "data": data }).to_string()))
}

/// `GET /api/v1/keys/{hash}`.
pub(crate) async fn get_one(
    State(app): State<AppState>,
    _: ProvisioningAuth,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(key) = config_key_by_hash(&app, &hash) {
        let data = config_key_json(&app, key).await?;
        return Ok(json_response(json!({ "data": data }).to_string()));
    }
    let key = stored_key(&app, &hash).await?;
    let data = key_json(&app, &key).await?;
    Ok(json_response(json!({ "data": data }).to_string()))
}

/// `PATCH /api/v1/keys/{hash}`.
pub(crate) async fn update(
    State(app): State<AppState>,
    _: ProvisioningAuth,
    Path(hash): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if let Some(key) = config_key_by_hash(&app, &hash) {
        return Err(KeysApiError::ConfigKey(key.name.to_string()).into());
    }
    let body: PatchBody = parse(&body)?;
    let _ignored = body.include_byok_in_limit;
    let mut key = stored_key(&app, &hash).await?;
    if let Some(name) = &body.name {
        key.name = checked_name(&app, name, Some(&key.hash))?;
    }
    if let Some(disabled) = body.disabled {
        key.disabled = disabled;
    }
    if let Some(limit) = body.limit {
        key.limit = checked_limit(limit)?;
    }
    if let Some(reset) = &body.limit_reset {
        key.limit_reset = checked_reset(reset.as_deref())?;
    }
    key.updated_at_ms = Some(now_ms());
    let stored = key.clone();
    let found = blocking(&app, move |app| {
        let found = app.api_keys().store().update(&stored)?;
        app.api_keys().reload()?;
        Ok(found)
    })
    .await?;
    if !found {
        return Err(KeysApiError::NotFound(hash).into());
    }
    let data = key_json(&app, &key).await?;
    Ok(json_response(json!({ "data": data }).to_string()))
}

/// `DELETE /api/v1/keys/{hash}`.
pub(crate) async fn delete(
    State(app): State<AppState>,
    _: ProvisioningAuth,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(key) = config_key_by_hash(&app, &hash) {
        return Err(KeysApiError::ConfigKey(key.name.to_string()).into());
    }
    let removing = hash.clone();
    let found = blocking(&app, move |app| {
        let found = app.api_keys().store().delete(&removing)?;
        app.api_keys().reload()?;
        Ok(found)
    })
    .await?;
    if !found {
        return Err(KeysApiError::NotFound(hash).into());
    }
    Ok(json_response(json!({ "deleted": true }).to_string()).into_response())
}

/// Runs `op` on the blocking pool.
async fn blocking<T: Send + 'static>(
    app: &AppState,
    op: impl FnOnce(&AppState) -> Result<T, crate::keys::KeyStoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || op(&app))
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "key store task failed");
            ApiError::Internal
        })?
        .map_err(|err| ApiError::store_failed(crate::error::KEY_STORE, "the key store failed", err))
}

async fn stored_key(app: &AppState, hash: &str) -> Result<ApiKey, ApiError> {
    let wanted = hash.to_owned();
    blocking(app, move |app| app.api_keys().store().get(&wanted))
        .await?
        .ok_or_else(|| KeysApiError::NotFound(hash.to_owned()).into())
}

fn config_key_by_hash<'a>(app: &'a AppState, hash: &str) -> Option<&'a ClientKey> {
    app.config()
        .keys
        .iter()
        .find(|it| hash_hex(it.key.expose().as_bytes()) == hash)
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|err| invalid(&format!("invalid body: {err}")))
}

fn invalid(message: &str) -> ApiError {
    KeysApiError::Invalid(message.to_owned()).into()
}

/// `name`, trimmed, when it is usable and no other key (but `own`) has it.
fn checked_name(app: &AppState, name: &str, own: Option<&str>) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(&format!(
            "`name` must have 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    let in_config = app.config().keys.iter().any(|it| *it.name == *name);
    let in_api = app
        .api_keys()
        .store()
        .list()
        .map_err(|err| {
            ApiError::store_failed(crate::error::KEY_STORE, "the key store failed", err)
        })?
        .iter()
        .any(|it| it.name == name && Some(it.hash.as_str()) != own);
    if in_config || in_api {
        return Err(invalid(&format!("`name`: another key is named `{name}`")));
    }
    Ok(name.to_owned())
}

fn checked_limit(limit: Option<f64>) -> Result<Option<f64>, ApiError> {
    match limit {
        Some(limit) if !(limit.is_finite() && limit >= 0.0) => Err(invalid(
            "`limit` must be a number of USD, 0 or more, or null",
        )),
        other => Ok(other),
    }
}

fn checked_reset(reset: Option<&str>) -> Result<Option<LimitReset>, ApiError> {
    match reset {
        None => Ok(None),
        Some("daily") => Ok(Some(LimitReset::Daily)),
        Some("weekly") => Ok(Some(LimitReset::Weekly)),
        Some("monthly") => Ok(Some(LimitReset::Monthly)),
        Some(other) => Err(invalid(&format!(
            "`limit_reset`: `{other}` is not one of daily, weekly, monthly or null"
        ))),
    }
}

/// The key object of a config key (its hash is the hash of its secret).
async fn config_key_json(app: &AppState, key: &ClientKey) -> Result<Value, ApiError> {
    let hash = hash_hex(key.key.expose().as_bytes());
    let label = label(key.key.expose());
    object(app, key, &hash, &label, false, 0, None).await
}

/// The key object of an API key.
async fn key_json(app: &AppState, key: &ApiKey) -> Result<Value, ApiError> {
    let client = client_key(key);
    object(
        app,
        &client,
        &key.hash,
        &key.label,
        key.disabled,
        key.created_at_ms,
        key.updated_at_ms,
    )
    .await
}

/// OpenRouter's key object, with the key's usage from its records and what its limit left.
async fn object(
    app: &AppState,
    key: &ClientKey,
    hash: &str,
    label: &str,
    disabled: bool,
    created_at_ms: u64,
    updated_at_ms: Option<u64>,
) -> Result<Value, ApiError> {
    let (usage, spent) = super::key::usage_and_spent(app, key).await?;
    let object = json!({
        "hash": hash,
        "name": key.name,
        "label": label,
        "disabled": disabled,
        "created_at": timestamp(created_at_ms),
        "updated_at": updated_at_ms.map(timestamp),
        "expires_at": null,
        "creator_user_id": null,
        "external_user": null,
        "workspace_id": "default",
    });
    let reset = key.limits.limit_reset.map(LimitReset::as_str);
    Ok(render::with_limit_and_usage(
        object,
        key.limits.limit,
        spent,
        reset,
        &usage,
    ))
}

/// `sk-tn-v1-abc...xyz`: enough to recognise a key, not to use it.
fn label(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 18 {
        return "***".to_owned();
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}...{tail}")
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn now_ms() -> u64 {
    crate::records::calendar::system_now_ms()
}
