//! [`StreamDeadline`]: the latest moment a committed stream may still hold its HTTP/1.1
//! connection, shared by the request that sets it and the [`super::socket::ClientSocket`]
//! that enforces it.
//!
//! A client that stops reading a stream stops hyper from polling the response body once its
//! buffers are full, and with the body the upstream call and its timers: nothing in the request
//! runs any more. The socket still sees the stalled write, so it fails the write at the earlier
//! of its write timeout and this deadline (the provider's `total_timeout_ms`, counted from the
//! start of the attempt that is streaming), which closes the connection and drops the request
//! with its upstream call. So a stream's life is bounded by the total timeout whatever the
//! client does.
//!
//! Each HTTP/1.1 request runs in the scope of its connection's deadline ([`StreamDeadline::scope`],
//! cleared as the request starts), where [`crate::chat::stream::Sink`] picks it up. HTTP/2 requests
//! run outside it: their streams share one connection, whose socket writes do not stall on one
//! stream's reader (flow control holds that stream back instead); the write timeout still
//! applies to the connection as a whole.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::time::Instant;

tokio::task_local! {
    /// The deadline of the connection the current HTTP/1.1 request came on.
    static CURRENT: StreamDeadline;
}

/// A connection's stream deadline (see the module docs); clones share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct StreamDeadline(Arc<AtomicU64>);

impl StreamDeadline {
    /// The deadline of the connection the current request came on, when it is HTTP/1.1.
    pub(crate) fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `request` with this deadline as [`StreamDeadline::current`], cleared first.
    pub(crate) async fn scope<F: Future>(self, request: F) -> F::Output {
        self.clear();
        CURRENT.scope(self, request).await
    }

    /// Sets the deadline to `at`.
    pub(crate) fn set(&self, at: Instant) {
        let nanos = at.saturating_duration_since(epoch()).as_nanos();
        // 0 means none: a deadline at the epoch itself is one nanosecond later.
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX).max(1);
        self.0.store(nanos, Ordering::Relaxed);
    }

    /// Removes the deadline.
    pub(crate) fn clear(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// The deadline, if one is set.
    pub(crate) fn get(&self) -> Option<Instant> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(epoch() + std::time::Duration::from_nanos(nanos)),
        }
    }
}

/// The instant deadlines are counted from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_deadline_is_shared_by_clones_and_seen_only_inside_its_scope() {
        assert!(StreamDeadline::current().is_none());
        let deadline = StreamDeadline::default();
        assert_eq!(deadline.get(), None);
        let at = Instant::now() + Duration::from_secs(5);
        deadline.set(at);
        let seen = deadline
            .clone()
            .scope(async {
                // The scope starts cleared: a deadline of the previous request does not linger.
                let current = StreamDeadline::current().unwrap();
                assert_eq!(current.get(), None);
                current.set(at);
                current.get()
            })
            .await;
        assert_eq!(seen, Some(at));
        assert_eq!(deadline.get(), Some(at));
        deadline.clear();
        assert_eq!(deadline.get(), None);
    }
}
