//! [`MemoryStore`]: pins in a bounded in-process cache (moka).
//!
//! Each entry keeps its own expiry on the caller's clock, checked on every lookup, so a test
//! clock decides what has expired. moka's own expiry (in real time, `max_ttl` after the last
//! read or write) only frees memory: it is never shorter than an entry's TTL. When the cache is
//! full, moka evicts the entries least likely to be used again.
//!
//! Renewing a pin (storing the pin an entry already holds, which every successful turn of a
//! conversation does) moves the entry's expiry in place instead of inserting it again: a
//! lookup instead of an insert and the housekeeping that follows every write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;

use crate::scope::Scope;
use crate::store::{Lookup, PinStore, PinnedRoute, StoreFuture};

/// The in-process pin store.
pub struct MemoryStore {
    pins: Cache<Scope, Entry>,
}

/// A pin and when it expires, in the caller's milliseconds (shared by the cache's copies of
/// the entry, so a renewal moves it in place).
#[derive(Debug, Clone)]
struct Entry {
    pin: PinnedRoute,
    expires_at_ms: Arc<AtomicU64>,
}

impl MemoryStore {
    /// A store of at most `capacity` pins, none longer than `max_ttl`.
    pub fn new(capacity: u64, max_ttl: Duration) -> Self {
        Self {
            pins: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(max_ttl)
                .build(),
        }
    }

    /// The pin of `scope` at `now_ms` (what [`PinStore::get`] answers, without a future).
    pub fn lookup(&self, scope: &Scope, now_ms: u64) -> Lookup {
        match self.pins.get(scope) {
            Some(entry) if now_ms < entry.expires_at_ms.load(Ordering::Relaxed) => {
                Lookup::Hit(entry.pin)
            }
            _ => Lookup::Miss,
        }
    }

    /// Stores `pin` (what [`PinStore::put`] does, without a future).
    pub fn store(&self, scope: &Scope, pin: PinnedRoute, ttl: Duration, now_ms: u64) {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let expires_at_ms = now_ms.saturating_add(ttl_ms);
        if let Some(entry) = self.pins.get(scope)
            && entry.pin == pin
        {
            entry.expires_at_ms.store(expires_at_ms, Ordering::Relaxed);
            return;
        }
        let entry = Entry {
            pin,
            expires_at_ms: Arc::new(AtomicU64::new(expires_at_ms)),
        };
        self.pins.insert(*scope, entry);
    }
}

impl PinStore for MemoryStore {
    fn get<'a>(&'a self, scope: &'a Scope, now_ms: u64) -> StoreFuture<'a, Lookup> {
        let found = self.lookup(scope, now_ms);
        Box::pin(std::future::ready(found))
    }

    fn put<'a>(
        &'a self,
        scope: &'a Scope,
        pin: PinnedRoute,
        ttl: Duration,
        now_ms: u64,
    ) -> StoreFuture<'a, bool> {
        self.store(scope, pin, ttl, now_ms);
        Box::pin(std::future::ready(true))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    fn unavailable(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use router_core::catalog::{EndpointIdx, ModelIdx};

    use super::*;

    const MINUTE: u64 = 60_000;

    fn pin(endpoint: usize) -> PinnedRoute {
        PinnedRoute {
            model: ModelIdx(0),
            endpoint: EndpointIdx(endpoint),
        }
    }

    #[test]
    fn a_pin_expires_on_the_callers_clock_and_a_put_renews_it() {
        let store = MemoryStore::new(100, Duration::from_secs(3600));
        let scope = Scope([7; 32]);
        let ttl = Duration::from_secs(300);
        assert_eq!(store.lookup(&scope, 0), Lookup::Miss);
        store.store(&scope, pin(1), ttl, 0);
        assert_eq!(store.lookup(&scope, 4 * MINUTE), Lookup::Hit(pin(1)));
        // Lookups do not renew.
        assert_eq!(store.lookup(&scope, 5 * MINUTE), Lookup::Miss);
        store.store(&scope, pin(1), ttl, 4 * MINUTE);
        assert_eq!(store.lookup(&scope, 8 * MINUTE), Lookup::Hit(pin(1)));
        assert_eq!(store.lookup(&scope, 9 * MINUTE), Lookup::Miss);
        assert_eq!(store.lookup(&Scope([8; 32]), 0), Lookup::Miss);
    }

    #[test]
    fn a_put_of_another_pin_replaces_the_entry_and_a_renewal_outlives_its_first_expiry() {
        let store = MemoryStore::new(100, Duration::from_secs(3600));
        let scope = Scope([9; 32]);
        let ttl = Duration::from_secs(300);
        store.store(&scope, pin(1), ttl, 0);
        for minute in 1..=20 {
            store.store(&scope, pin(1), ttl, minute * MINUTE);
        }
        assert_eq!(store.lookup(&scope, 24 * MINUTE), Lookup::Hit(pin(1)));
        store.store(&scope, pin(2), ttl, 24 * MINUTE);
        assert_eq!(store.lookup(&scope, 25 * MINUTE), Lookup::Hit(pin(2)));
        assert_eq!(store.lookup(&scope, 29 * MINUTE), Lookup::Miss);
    }
}
