//! Conversation keys, fingerprints and the sticky routing cache.
//!
//! A request's conversation key ([`ConversationKey::resolve`]) is, in order: the body's
//! `session_id`, the `x-session-id` header, the `prompt_cache_key` body field, else the
//! implicit [`Fingerprint`] of its first system (or developer) and first non-system message.
//! A pin ([`PinnedRoute`]: a model and one of its endpoints) is kept per [`Scope`] (client key,
//! requested model or router slug, conversation key) in a [`PinStore`] with an inactivity TTL
//! checked against a clock the caller passes in, so tests can move time.
//!
//! # Layout
//!
//! - `key`: [`ConversationKey`], where it came from ([`KeySource`]) and [`SessionKeyError`].
//! - `fingerprint`: the canonical encoding of a conversation's start and its blake3 hash.
//! - `scope`: [`Scope`], the hash a pin is stored under.
//! - `store`: the [`PinStore`] trait, [`PinnedRoute`] and [`Lookup`].
//! - `memory`: [`MemoryStore`], the bounded in-process store (moka).
//! - `redis` (feature `redis`): [`RedisStore`], shared by several replicas, over a
//!   [`RedisLink`]: one connection with a circuit that stops trying an unreachable Redis for a
//!   while, which other state that replicas share in Redis can use too.
//!
//! **Invariant:** the sticky cache is an optimisation: a miss, or a store that cannot be
//! reached, is never an error.

mod fingerprint;
mod key;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod scope;
mod store;

pub use fingerprint::{Fingerprint, canonical_encoding};
pub use key::{ConversationKey, KeySource, MAX_SESSION_ID_CHARS, SessionKeyError};
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{RedisLink, RedisOptions, RedisStore, RedisUrlError};
pub use scope::Scope;
pub use store::{Lookup, PinStore, PinnedRoute, StoreFuture};
