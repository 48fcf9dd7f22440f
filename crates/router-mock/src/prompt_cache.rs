//! A simulated provider prompt cache: a request that repeats a message prefix the mock has seen
//! (for the same model) reports that prefix as `cached_tokens`.
//!
//! For each request the cache hashes every message prefix (the first K messages, for each K)
//! that reaches at least the first user message, remembers the hashes per model, and answers with
//! the tokens of the longest prefix it had already seen. A first request reads 0; a repeat, or
//! the next turn of the same conversation, reads more than 0.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use crate::reply::tokens_of_chars;

/// Prefix hashes kept per model before the set is cleared, so memory stays bounded under load.
const MAX_PREFIXES_PER_MODEL: usize = 1 << 20;

/// Seen prompt prefixes, per model.
#[derive(Debug, Default)]
pub(crate) struct PromptCache {
    models: Mutex<HashMap<String, HashSet<u64>>>,
}

/// One message as the cache sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheMessage<'a> {
    pub(crate) role: &'a str,
    pub(crate) text: &'a str,
    /// `text.chars().count()`, counted once by the caller.
    pub(crate) chars: usize,
}

impl PromptCache {
    /// Cached tokens for `messages` sent to `model`, remembering its prefixes for later requests.
    pub(crate) fn read_and_write(&self, model: &str, messages: &[CacheMessage<'_>]) -> u32 {
        let first_user = messages
            .iter()
            .position(|message| message.role == "user")
            .unwrap_or(0);
        let mut hasher = DefaultHasher::new();
        let mut chars = 0;
        let mut prefixes = Vec::with_capacity(messages.len() - first_user.min(messages.len()));
        for (idx, message) in messages.iter().enumerate() {
            message.role.hash(&mut hasher);
            message.text.hash(&mut hasher);
            chars += message.chars;
            if idx >= first_user {
                prefixes.push((hasher.finish(), chars));
            }
        }
        let mut models = self.models.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = match models.get_mut(model) {
            Some(seen) => seen,
            None => models.entry(model.to_owned()).or_default(),
        };
        let longest_seen = prefixes
            .iter()
            .rev()
            .find(|(hash, _)| seen.contains(hash))
            .map(|&(_, chars)| chars);
        if seen.len() + prefixes.len() > MAX_PREFIXES_PER_MODEL {
            seen.clear();
        }
        seen.extend(prefixes.iter().map(|&(hash, _)| hash));
        match longest_seen {
            Some(chars) => tokens_of_chars(chars).max(1),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<CacheMessage<'a>> {
        pairs
            .iter()
            .map(|&(role, text)| CacheMessage {
                role,
                text,
                chars: text.chars().count(),
            })
            .collect()
    }

    #[test]
    fn repeats_and_continuations_read_the_longest_seen_prefix() {
        let cache = PromptCache::default();
        let turn1 = messages(&[("system", "You are terse."), ("user", "Hello there, model")]);
        assert_eq!(cache.read_and_write("m", &turn1), 0);
        // 14 + 18 characters seen before: 8 tokens.
        assert_eq!(cache.read_and_write("m", &turn1), 8);
        let turn2 = messages(&[
            ("system", "You are terse."),
            ("user", "Hello there, model"),
            ("assistant", "Hi."),
            ("user", "Tell me more"),
        ]);
        assert_eq!(cache.read_and_write("m", &turn2), 8);
        assert_eq!(cache.read_and_write("m", &turn2), 11);
        // Caches are per model.
        assert_eq!(cache.read_and_write("other", &turn2), 0);
    }

    #[test]
    fn a_shared_system_prompt_alone_is_not_a_hit() {
        let cache = PromptCache::default();
        let first = messages(&[("system", "You are terse."), ("user", "one")]);
        let second = messages(&[("system", "You are terse."), ("user", "two")]);
        assert_eq!(cache.read_and_write("m", &first), 0);
        assert_eq!(cache.read_and_write("m", &second), 0);
    }
}
