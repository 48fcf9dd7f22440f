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
                hasher.update(b"F");
                hasher.update(&fingerprint.0);
            }
        }
        Scope(*hasher.finalize().as_bytes())
    }

    /// Lowercase hex (the Redis key's suffix).
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
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
}
