//! Client authentication: `Authorization: Bearer <key>` against the configured client keys,
//! then the API keys made through `/api/v1/keys` ([`crate::keys`]).
//!
//! [`ClientAuth`] is an extractor, so a handler that takes one only runs for a known key, and
//! the key is checked before the body is read. Two `Authorization` headers are a 400: which one
//! counts would depend on who reads them. Config keys are compared in time independent of where
//! they differ, and every configured key is compared, so timing reveals neither a key's prefix
//! nor which key matched; an API key is found by the BLAKE3 hash of the token in an in-memory
//! table (no query, no allocation). The key itself is never echoed or logged.
//! [`ProvisioningAuth`] admits only `[keys_api] provisioning_key`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::config::ClientKey;
use crate::error::ApiError;
use crate::serve::ProtocolError;

/// The client key a request authenticated with: a `[[keys]]` entry or an API key.
#[derive(Debug, Clone)]
pub(crate) struct ClientAuth {
    key: Arc<ClientKey>,
}

impl ClientAuth {
    /// The key (its name is the label for records and logs).
    pub(crate) fn key(&self) -> &ClientKey {
        &self.key
    }

    /// The key, shared (for what outlives the handler's borrow).
    pub(crate) fn shared(&self) -> Arc<ClientKey> {
        self.key.clone()
    }
}

/// A request made with the provisioning key (`[keys_api] provisioning_key`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProvisioningAuth;

impl FromRequestParts<AppState> for ProvisioningAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = the_token(parts)?;
        let Some(keys_api) = &state.config().keys_api else {
            return Err(ApiError::InvalidKey);
        };
        if constant_time_eq(keys_api.provisioning_key.expose().as_bytes(), token) {
            Ok(ProvisioningAuth)
        } else {
            Err(ApiError::InvalidKey)
        }
    }
}

impl FromRequestParts<AppState> for ClientAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = the_token(parts)?;
        if let Some(idx) = find_key(&state.config().keys, token) {
            return Ok(ClientAuth {
                key: state.config_key(idx).clone(),
            });
        }
        let api_keys = state.api_keys();
        if let Some(key) = api_keys.find(token) {
            // A key another replica disabled, changed or deleted: read the store again in the
            // background, at most once a second, so this replica follows within about that.
            if api_keys.may_reload(state.sticky().clock().now_ms()) {
                let reloading = api_keys.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(err) = reloading.reload() {
                        tracing::warn!(error = %err, "cannot read the API keys again");
                    }
                });
            }
            return Ok(ClientAuth { key });
        }
        // Another replica may have made the key: read the store again, at most once a second.
        if api_keys.may_reload(state.sticky().clock().now_ms()) {
            let reloading = state.api_keys().clone();
            let reloaded = tokio::task::spawn_blocking(move || reloading.reload()).await;
            if let Ok(Err(err)) = reloaded {
                tracing::warn!(error = %err, "cannot read the API keys again");
            }
            if let Some(key) = api_keys.find(token) {
                return Ok(ClientAuth { key });
            }
        }
        Err(ApiError::InvalidKey)
    }
}

/// The request's bearer token: a 400 when `Authorization` is given twice (which one counts
/// would depend on who reads them), a 401 when there is none.
fn the_token(parts: &Parts) -> Result<&[u8], ApiError> {
    if parts.headers.get_all(AUTHORIZATION).iter().nth(1).is_some() {
        return Err(ApiError::Protocol(ProtocolError::Malformed(
            "`Authorization` is given twice",
        )));
    }
    bearer_token(&parts.headers).ok_or(ApiError::MissingCredentials)
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any.
fn bearer_token(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = token.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// The index of the key equal to `token`; compares against every key.
pub(crate) fn find_key(keys: &[ClientKey], token: &[u8]) -> Option<usize> {
    let mut found = None;
    for (idx, key) in keys.iter().enumerate() {
        if constant_time_eq(key.key.expose().as_bytes(), token) && found.is_none() {
            found = Some(idx);
        }
    }
    found
}

/// Whether `a == b`, in time that depends on the lengths only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for idx in 0..a.len().max(b.len()) {
        let x = a.get(idx).copied().unwrap_or(0);
        let y = b.get(idx).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use router_core::fallback::FallbackPolicy;
    use router_core::secret::Secret;

    use super::*;

    fn keys() -> Vec<ClientKey> {
        ["sk-one", "sk-two"]
            .into_iter()
            .map(|key| ClientKey {
                name: key.into(),
                key: Secret::new(key),
                fallback_policy: FallbackPolicy::default(),
                auto_router: None,
                provider: Default::default(),
                limits: Default::default(),
            })
            .collect()
    }

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn reads_bearer_tokens() {
        assert_eq!(
            bearer_token(&headers("Bearer sk-one")),
            Some(&b"sk-one"[..])
        );
        assert_eq!(
            bearer_token(&headers("bearer  sk-one ")),
            Some(&b"sk-one"[..])
        );
        assert_eq!(bearer_token(&headers("Basic abc")), None);
        assert_eq!(bearer_token(&headers("Bearer ")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn finds_only_exact_keys() {
        let keys = keys();
        assert_eq!(find_key(&keys, b"sk-two"), Some(1));
        assert_eq!(find_key(&keys, b"sk-one"), Some(0));
        for wrong in [&b"sk-on"[..], b"sk-one1", b"sk-onf", b""] {
            assert_eq!(find_key(&keys, wrong), None);
        }
    }
}
