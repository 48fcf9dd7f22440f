//! The [`PinStore`] trait: where pins live, with the same semantics in every store.
//!
//! - [`PinStore::get`] returns the pin of a scope unless it expired; it never renews it.
//! - [`PinStore::put`] stores a pin (a new one, or the same one again to renew it) that expires
//!   `ttl` after `now_ms`.
//!
//! Time is an argument (`now_ms`, milliseconds on the caller's clock), and the expiry is
//! checked against it, so a test can move its clock and see a pin expire. A store that cannot
//! answer says [`Lookup::Unavailable`] and the request is routed without stickiness.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use router_core::catalog::{EndpointIdx, ModelIdx};

use crate::scope::Scope;

/// A boxed future of a store operation.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a conversation goes: a model and one of its endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PinnedRoute {
    /// The model (for a router slug, the model the router chose).
    pub model: ModelIdx,
    /// The endpoint that served it.
    pub endpoint: EndpointIdx,
}

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A pin that has not expired.
    Hit(PinnedRoute),
    /// No pin, or an expired one.
    Miss,
    /// The store could not answer in time (Redis unreachable): route without stickiness.
    Unavailable,
}

/// A store of pins (see the module docs).
pub trait PinStore: Send + Sync + 'static {
    /// The pin of `scope`, unless it expired at `now_ms`. Does not renew it.
    fn get<'a>(&'a self, scope: &'a Scope, now_ms: u64) -> StoreFuture<'a, Lookup>;

    /// Stores `pin` for `scope`, expiring `ttl` after `now_ms`. Returns whether it was stored
    /// (`false`: the store could not be reached).
    fn put<'a>(
        &'a self,
        scope: &'a Scope,
        pin: PinnedRoute,
        ttl: Duration,
        now_ms: u64,
    ) -> StoreFuture<'a, bool>;

    /// `memory` or `redis`.
    fn kind(&self) -> &'static str;

    /// How many operations found the store unreachable (and so ran without stickiness).
    fn unavailable(&self) -> u64;
}
