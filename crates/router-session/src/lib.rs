//! Conversation fingerprints and the sticky routing cache.
//!
//! Filled in by the session-stickiness work; for now the crate only reserves its place in the
//! layering (it may use `router-core`, and only `router-server` uses it).
