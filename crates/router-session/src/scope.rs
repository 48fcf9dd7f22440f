//! [`Scope`]: what a pin is stored under.
//!
//! A pin belongs to one client key, one requested model (or router slug, such as
//! `openrouter/auto`) and one conversation. The scope is a blake3 hash of the three, each
//! length-prefixed and the conversation key tagged with its kind (a session id, whether from
//! the body or the header; a `prompt_cache_key`; a fingerprint), so two keys never share a pin
//! even with the same `session_id`, and stores never hold a client's raw session id.

use crate::fingerprint::hex;
use crate::key::{ConversationKey, KeySource};

/// The hash a pin is stored under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope(pub [u8; 32]);

impl Scope {
    /// The scope of `conversation` for the client key named `client` asking for `model` (a
    /// model id or a router slug).
    pub fn new(client: &str, model: &str, conversation: &ConversationKey<'_>) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"turnout-pin-scope-v1");
        for field in [client.as_bytes(), model.as_bytes()] {
            hasher.update(&(field.len() as u64).to_le_bytes());
            hasher.update(field);
        }
        match conversation {
            ConversationKey::Explicit { source, id } => {
                let tag = match source {
                    KeySource::PromptCacheKey => b'P',
                    _ => b'S',
                };
                hasher.update(&[tag]);
                hasher.update(&(id.len() as u64).to_le_bytes());
                hasher.update(id.as_bytes());
            }
            ConversationKey::Implicit(fingerprint) => {
                // The half that records keep (`fp-…`), so the sessions API finds the pin.
                hasher.update(b"F");
                hasher.update(&fingerprint.0[..16]);
            }
        }
        Scope(*hasher.finalize().as_bytes())
    }

    /// The scopes a conversation named `record_id` in records
    /// ([`ConversationKey::record_id`]) may have: a session id's and a `prompt_cache_key`'s,
    /// or for `fp-…` also the implicit fingerprint's. (A hashed long `prompt_cache_key` has
    /// none.)
    pub fn candidates(client: &str, model: &str, record_id: &str) -> Vec<Scope> {
        let mut scopes = Vec::with_capacity(3);
        for source in [KeySource::SessionId, KeySource::PromptCacheKey] {
            let key = ConversationKey::Explicit {
                source,
                id: std::borrow::Cow::Borrowed(record_id),
            };
            scopes.push(Scope::new(client, model, &key));
        }
        if let Some(short) = record_id.strip_prefix("fp-")
            && let Some(half) = unhex16(short)
        {
            let mut bytes = [0; 32];
            bytes[..16].copy_from_slice(&half);
            let key = ConversationKey::Implicit(crate::Fingerprint(bytes));
            scopes.push(Scope::new(client, model, &key));
        }
        scopes
    }

    /// Lowercase hex (the Redis key's suffix).
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

/// 32 hex digits as 16 bytes.
fn unhex16(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    let mut out = [0; 16];
    for (idx, pair) in text.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[idx] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn session(source: KeySource, id: &str) -> ConversationKey<'_> {
        ConversationKey::Explicit {
            source,
            id: Cow::Borrowed(id),
        }
    }

    #[test]
    fn each_part_of_the_scope_separates_pins() {
        let base = Scope::new("a", "m/x", &session(KeySource::SessionId, "s"));
        assert_eq!(
            base,
            Scope::new("a", "m/x", &session(KeySource::Header, "s")),
            "the header and the body name the same session"
        );
        for other in [
            Scope::new("b", "m/x", &session(KeySource::SessionId, "s")),
            Scope::new("a", "m/y", &session(KeySource::SessionId, "s")),
            Scope::new("a", "m/x", &session(KeySource::SessionId, "t")),
            Scope::new("a", "m/x", &session(KeySource::PromptCacheKey, "s")),
            // Length prefixes: moving a byte between fields changes the scope.
            Scope::new("am", "/x", &session(KeySource::SessionId, "s")),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn a_recorded_id_names_the_scopes_it_may_have() {
        let fingerprint = crate::Fingerprint([3; 32]);
        let implicit = ConversationKey::Implicit(fingerprint);
        let scopes = Scope::candidates("a", "m/x", &implicit.record_id());
        assert_eq!(scopes.len(), 3);
        assert!(scopes.contains(&Scope::new("a", "m/x", &implicit)));
        let pck = session(KeySource::PromptCacheKey, "k");
        assert!(Scope::candidates("a", "m/x", "k").contains(&Scope::new("a", "m/x", &pck)));
    }
}
