//! [`Sink`]: where a streaming exchange writes its events. Its first event **commits** the
//! response: it hands the receiving end and the headers set so far to
//! [`crate::chat::respond`], which sends the `200` head.
//!
//! The sink also carries the stream's deadline to the connection ([`StreamDeadline`]): the
//! total timeout of the attempt being streamed, past which a client that stopped reading is
//! dropped.

use std::time::Instant;

use axum::http::HeaderMap;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::Abort;
use crate::chat::receipt::Receipt;
use crate::serve::deadline::StreamDeadline;

/// Events queued between the exchange and the response body.
pub(super) const EVENT_QUEUE: usize = 16;

/// The client is gone; stop working for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Disconnected;

/// Where an exchange writes its stream. The first event commits the response: it hands the
/// receiving end and the headers set so far to [`crate::chat::respond`], which sends the `200`
/// headers.
pub(crate) struct Sink {
    commit: Option<oneshot::Sender<Commit>>,
    events: Option<mpsc::Sender<Bytes>>,
    /// Headers to send with the `200` (the route receipt as it stands).
    headers: HeaderMap,
    /// The connection's stream deadline (HTTP/1.1 only), and what it is once committed.
    deadline: Option<(StreamDeadline, Option<tokio::time::Instant>)>,
}

/// What a commit hands to [`crate::chat::respond`]: the extra headers and the events.
pub(crate) type Commit = (HeaderMap, mpsc::Receiver<Bytes>);

/// The receiving end of a [`Sink`]'s commit.
pub(crate) type Committed = oneshot::Receiver<Commit>;

impl From<Disconnected> for Abort {
    fn from(Disconnected: Disconnected) -> Self {
        Abort::Disconnected
    }
}

// === impl Sink ===

impl Sink {
    /// A sink, and what [`crate::chat::respond`] watches for its commit.
    pub(crate) fn new() -> (Sink, Committed) {
        let (commit, committed) = oneshot::channel();
        let sink = Sink {
            commit: Some(commit),
            events: None,
            headers: HeaderMap::new(),
            deadline: StreamDeadline::current().map(|it| (it, None)),
        };
        (sink, committed)
    }

    /// Whether the `200` has been sent.
    pub(crate) fn is_committed(&self) -> bool {
        self.events.is_some()
    }

    /// The stream must be over by `until` (the total timeout of the attempt being streamed):
    /// once committed, a client that stops reading is dropped then at the latest.
    pub(super) fn bound(&mut self, until: Instant) {
        let committed = self.is_committed();
        if let Some((deadline, bound)) = &mut self.deadline {
            let until = tokio::time::Instant::from_std(until);
            *bound = Some(until);
            if committed {
                deadline.set(until);
            }
        }
    }

    /// Sets the headers of the `200` from `receipt`, unless it was sent already.
    pub(super) fn update_headers(&mut self, receipt: &Receipt) {
        if !self.is_committed() {
            self.headers.clear();
            receipt.write_headers(&mut self.headers);
        }
    }

    /// Sends one or more complete SSE events, committing the response first if needed.
    pub(crate) async fn send(&mut self, event: Bytes) -> Result<(), Disconnected> {
        let events = match &self.events {
            Some(events) => events,
            None => {
                let (events, receiver) = mpsc::channel(EVENT_QUEUE);
                let commit = self.commit.take().ok_or(Disconnected)?;
                if let Some((deadline, Some(until))) = &self.deadline {
                    deadline.set(*until);
                }
                let headers = std::mem::take(&mut self.headers);
                commit.send((headers, receiver)).map_err(|_| Disconnected)?;
                self.events.insert(events)
            }
        };
        events.send(event).await.map_err(|_| Disconnected)
    }
}
