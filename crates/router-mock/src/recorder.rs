//! The call recorder: every chat request the mock receives, in arrival order, with what became
//! of it.
//!
//! The request path stores only what it already owns (the body bytes and the header map, moved,
//! not copied); [`Recorder::calls`] turns them into [`RecordedCall`]s when a test asks. Each call
//! is followed by a [`CallGuard`] that records how it ended; a guard dropped before it was
//! finished means the client went away, which is how disconnects are detected.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::{HeaderMap, Uri};
use bytes::Bytes;
use tokio::sync::Notify;

/// One chat request the mock received.
#[derive(Clone, Debug)]
pub struct RecordedCall {
    /// The request path, such as `/v1/chat/completions`.
    pub path: String,
    /// The path and query, as requested (`/v1beta/models/m:streamGenerateContent?alt=sse`).
    pub path_and_query: String,
    /// `model` of the request body (empty when the body had none).
    pub model: String,
    /// `stream` of the request body.
    pub stream: bool,
    /// The request body as JSON (a JSON string holding the text when the body was not JSON).
    pub body: serde_json::Value,
    /// The request body as it arrived, byte for byte.
    pub raw_body: Vec<u8>,
    /// The `Authorization` header, verbatim.
    pub authorization: Option<String>,
    /// All request headers as `(name, value)` pairs, names lowercase; a header sent several
    /// times appears once per value.
    pub headers: Vec<(String, String)>,
    /// What became of the call (so far).
    pub outcome: CallOutcome,
}

/// What became of a recorded call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// The mock is still working on it (waiting, hanging or streaming).
    InProgress,
    /// The whole response was handed to the connection (also for a scripted `non_json` body).
    Completed,
    /// The client went away before the response was complete.
    ClientDisconnected,
    /// A scripted failure was sent (an error status, or a stream cut by `fail_after_chunks`).
    Failed,
    /// The mock refused the request itself: wrong or missing API key, or a body that is not a
    /// chat request.
    Rejected,
}

/// Shared store of calls; one per [`crate::MockProvider`].
#[derive(Debug)]
pub(crate) struct Recorder {
    enabled: bool,
    state: Mutex<State>,
    changed: Notify,
}

/// Records how one call ends. Dropping it unfinished records [`CallOutcome::ClientDisconnected`]:
/// the server drops a request's future (and a stream's body) when its client goes away.
#[derive(Debug)]
pub(crate) struct CallGuard {
    /// `None` once finished, or when the recorder is disabled.
    target: Option<(Arc<Recorder>, Slot)>,
}

/// A call whose outcome is set later: the index is only valid within its epoch, which
/// [`Recorder::reset`] advances.
#[derive(Debug, Clone, Copy)]
struct Slot {
    epoch: u64,
    index: usize,
}

#[derive(Debug, Default)]
struct State {
    epoch: u64,
    calls: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    uri: Uri,
    model: String,
    stream: bool,
    body: Bytes,
    headers: HeaderMap,
    outcome: CallOutcome,
}

/// What the request path hands to [`Recorder::record`].
pub(crate) struct NewCall<'a> {
    pub(crate) uri: Uri,
    pub(crate) model: &'a str,
    pub(crate) stream: bool,
    pub(crate) body: Bytes,
    pub(crate) headers: HeaderMap,
}

// === impl Recorder ===

impl Recorder {
    /// A recorder; a disabled one keeps nothing (for benchmarks and the binary, where nobody
    /// reads the calls and memory must not grow).
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    /// Appends a call with `outcome` and returns the guard that records how it ends.
    pub(crate) fn record(self: &Arc<Self>, call: NewCall<'_>, outcome: CallOutcome) -> CallGuard {
        if !self.enabled {
            return CallGuard { target: None };
        }
        let entry = Entry {
            uri: call.uri,
            model: call.model.to_owned(),
            stream: call.stream,
            body: call.body,
            headers: call.headers,
            outcome,
        };
        let slot = {
            let mut state = self.lock();
            state.calls.push(entry);
            Slot {
                epoch: state.epoch,
                index: state.calls.len() - 1,
            }
        };
        self.changed.notify_waiters();
        CallGuard {
            target: Some((Arc::clone(self), slot)),
        }
    }

    /// All calls in arrival order.
    pub(crate) fn calls(&self) -> Vec<RecordedCall> {
        let state = self.lock();
        state.calls.iter().map(Entry::to_recorded).collect()
    }

    /// Forgets all calls; guards of calls still running stop recording.
    pub(crate) fn reset(&self) {
        let mut state = self.lock();
        state.epoch += 1;
        state.calls.clear();
    }

    /// Waits until call `index` is [`CallOutcome::ClientDisconnected`], at most `timeout`.
    pub(crate) async fn wait_for_disconnect(&self, index: usize, timeout: Duration) -> bool {
        if !self.enabled {
            return false;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a change between the check and the wait is seen.
            notified.as_mut().enable();
            let outcome = self.lock().calls.get(index).map(|it| it.outcome);
            match outcome {
                Some(CallOutcome::ClientDisconnected) => return true,
                // Any other final outcome can no longer become a disconnect.
                Some(CallOutcome::Completed | CallOutcome::Failed | CallOutcome::Rejected) => {
                    return false;
                }
                Some(CallOutcome::InProgress) | None => {}
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    fn set_outcome(&self, slot: Slot, outcome: CallOutcome) {
        {
            let mut state = self.lock();
            if state.epoch != slot.epoch {
                return;
            }
            if let Some(entry) = state.calls.get_mut(slot.index) {
                entry.outcome = outcome;
            }
        }
        self.changed.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated (each update is one
        // push or one assignment), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// === impl CallGuard ===

impl CallGuard {
    /// Records the call's final outcome.
    pub(crate) fn finish(mut self, outcome: CallOutcome) {
        if let Some((recorder, slot)) = self.target.take() {
            recorder.set_outcome(slot, outcome);
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Some((recorder, slot)) = self.target.take() {
            recorder.set_outcome(slot, CallOutcome::ClientDisconnected);
        }
    }
}

// === impl Entry ===

impl Entry {
    fn to_recorded(&self) -> RecordedCall {
        let body = serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&self.body).into_owned())
        });
        let header_text = |value: &axum::http::HeaderValue| {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        RecordedCall {
            path: self.uri.path().to_owned(),
            path_and_query: self
                .uri
                .path_and_query()
                .map_or_else(|| self.uri.path().to_owned(), |it| it.as_str().to_owned()),
            model: self.model.clone(),
            stream: self.stream,
            body,
            raw_body: self.body.to_vec(),
            authorization: self
                .headers
                .get(axum::http::header::AUTHORIZATION)
                .map(header_text),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), header_text(value)))
                .collect(),
            outcome: self.outcome,
        }
    }
}
