//! Which conversation a request belongs to ([`ConversationKey::resolve`]).
//!
//! In order: the body's `session_id`, the `x-session-id` header (the body wins when both are
//! sent), the `prompt_cache_key` body field (OpenAI's), else the implicit [`Fingerprint`]. An
//! empty `session_id`, header or `prompt_cache_key` counts as absent. `session_id` and the
//! header are at most [`MAX_SESSION_ID_CHARS`] characters; a longer one is the client's error
//! (a 400). A `prompt_cache_key` that is not a string is left to the provider that receives
//! it.

use std::borrow::Cow;

use router_core::request::ChatRequest;

use crate::fingerprint::{Fingerprint, hex};

/// The longest `session_id` (body or header) accepted, in characters.
pub const MAX_SESSION_ID_CHARS: usize = 256;

/// Where a conversation key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The body's `session_id`.
    SessionId,
    /// The `x-session-id` header.
    Header,
    /// The body's `prompt_cache_key`.
    PromptCacheKey,
    /// The implicit fingerprint of the conversation's start.
    Fingerprint,
}

/// The conversation a request belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationKey<'a> {
    /// A key the client sent: pins on the first successful response.
    Explicit {
        /// Which field or header.
        source: KeySource,
        /// The key as sent (JSON escapes decoded).
        id: Cow<'a, str>,
    },
    /// The implicit fingerprint: pins only after a response that read the provider's cache.
    Implicit(Fingerprint),
}

/// A session key the request cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionKeyError {
    /// `session_id` or `x-session-id` is longer than [`MAX_SESSION_ID_CHARS`].
    #[error("`{field}` must be at most {MAX_SESSION_ID_CHARS} characters (got {chars})")]
    TooLong {
        /// `session_id` or `x-session-id`.
        field: &'static str,
        /// Its length in characters.
        chars: usize,
    },
}

impl<'a> ConversationKey<'a> {
    /// The key of `request`, whose `x-session-id` header (if any) is `header` (see the module
    /// docs).
    pub fn resolve(
        request: &'a ChatRequest<'a>,
        header: Option<&'a str>,
    ) -> Result<Self, SessionKeyError> {
        let body = checked("session_id", request.session_id.as_deref())?;
        let header = checked("x-session-id", header)?;
        if let Some(id) = body {
            return Ok(ConversationKey::Explicit {
                source: KeySource::SessionId,
                id: match &request.session_id {
                    Some(Cow::Borrowed(it)) => Cow::Borrowed(*it),
                    _ => Cow::Owned(id.to_owned()),
                },
            });
        }
        if let Some(id) = header {
            return Ok(ConversationKey::Explicit {
                source: KeySource::Header,
                id: Cow::Borrowed(id),
            });
        }
        let prompt_cache_key = request
            .passthrough
            .iter()
            .find(|(name, _)| name == "prompt_cache_key")
            .and_then(|(_, raw)| serde_json::from_str::<Cow<'a, str>>(raw.get()).ok())
            .filter(|it| !it.is_empty());
        if let Some(id) = prompt_cache_key {
            return Ok(ConversationKey::Explicit {
                source: KeySource::PromptCacheKey,
                id,
            });
        }
        Ok(ConversationKey::Implicit(Fingerprint::of(
            &request.messages,
        )))
    }

    /// Where the key came from.
    pub fn source(&self) -> KeySource {
        match self {
            ConversationKey::Explicit { source, .. } => *source,
            ConversationKey::Implicit(_) => KeySource::Fingerprint,
        }
    }

    /// Whether the client named the conversation (it pins on the first success).
    pub fn is_explicit(&self) -> bool {
        matches!(self, ConversationKey::Explicit { .. })
    }

    /// How records and `GET /api/v1/sessions/{id}` name the conversation: an explicit key as
    /// sent (a `prompt_cache_key` longer than [`MAX_SESSION_ID_CHARS`] characters as `pck-`
    /// and a hash), the fingerprint as `fp-` and 32 hex digits. Never the prompt itself.
    pub fn record_id(&self) -> String {
        match self {
            ConversationKey::Explicit { id, .. } if id.chars().count() <= MAX_SESSION_ID_CHARS => {
                id.clone().into_owned()
            }
            ConversationKey::Explicit { id, .. } => {
                format!("pck-{}", hex(&blake3::hash(id.as_bytes()).as_bytes()[..16]))
            }
            ConversationKey::Implicit(fingerprint) => format!("fp-{}", fingerprint.short_hex()),
        }
    }
}

/// `value` unless empty; an error when longer than [`MAX_SESSION_ID_CHARS`] characters.
fn checked<'v>(
    field: &'static str,
    value: Option<&'v str>,
) -> Result<Option<&'v str>, SessionKeyError> {
    let Some(value) = value.filter(|it| !it.is_empty()) else {
        return Ok(None);
    };
    // Cheap first: a string of at most 256 bytes has at most 256 characters.
    if value.len() > MAX_SESSION_ID_CHARS {
        let chars = value.chars().count();
        if chars > MAX_SESSION_ID_CHARS {
            return Err(SessionKeyError::TooLong { field, chars });
        }
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(body: &str, header: Option<&str>) -> Result<(KeySource, String), SessionKeyError> {
        let request = ChatRequest::parse(body.as_bytes()).unwrap();
        ConversationKey::resolve(&request, header).map(|it| (it.source(), it.record_id()))
    }

    const MESSAGES: &str = r#""messages":[{"role":"user","content":"hi"}]"#;

    #[test]
    fn the_body_wins_then_the_header_then_prompt_cache_key_then_the_fingerprint() {
        let all = format!(r#"{{"session_id":"body","prompt_cache_key":"pck",{MESSAGES}}}"#);
        assert_eq!(
            key_of(&all, Some("head")).unwrap(),
            (KeySource::SessionId, "body".to_owned())
        );
        let no_body = format!(r#"{{"prompt_cache_key":"pck",{MESSAGES}}}"#);
        assert_eq!(
            key_of(&no_body, Some("head")).unwrap(),
            (KeySource::Header, "head".to_owned())
        );
        assert_eq!(
            key_of(&no_body, None).unwrap(),
            (KeySource::PromptCacheKey, "pck".to_owned())
        );
        let none = format!(r#"{{"session_id":"","prompt_cache_key":7,{MESSAGES}}}"#);
        let (source, id) = key_of(&none, Some("")).unwrap();
        assert_eq!(source, KeySource::Fingerprint);
        assert!(id.starts_with("fp-") && id.len() == 35, "{id}");
    }

    #[test]
    fn session_ids_longer_than_256_characters_are_refused() {
        let ok = "é".repeat(256);
        let body = format!(r#"{{"session_id":"{ok}",{MESSAGES}}}"#);
        assert_eq!(key_of(&body, None).unwrap().1, ok);
        let long = "x".repeat(257);
        let body = format!(r#"{{"session_id":"{long}",{MESSAGES}}}"#);
        assert_eq!(
            key_of(&body, None).unwrap_err(),
            SessionKeyError::TooLong {
                field: "session_id",
                chars: 257
            }
        );
        let body = format!(r#"{{{MESSAGES}}}"#);
        let err = key_of(&body, Some(&long)).unwrap_err();
        assert!(err.to_string().contains("`x-session-id`"), "{err}");
    }

    #[test]
    fn a_long_prompt_cache_key_is_recorded_as_a_hash() {
        let long = "k".repeat(300);
        let body = format!(r#"{{"prompt_cache_key":"{long}",{MESSAGES}}}"#);
        let (_, id) = key_of(&body, None).unwrap();
        assert!(id.starts_with("pck-") && id.len() == 36, "{id}");
    }
}
