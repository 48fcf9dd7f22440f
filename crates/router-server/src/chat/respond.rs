//! The answer to one exchange, as JSON or as a stream.
//!
//! Every chat exchange, streaming or not, is driven from here. The whole exchange (parse, plan,
//! attempts, relaying) is one future that owns the request body (the parsed request borrows
//! from it). [`json_or_stream`] polls it until it either finishes (its whole response: a
//! non-streaming answer, or an error) or commits a stream through its
//! [`Sink`](crate::chat::stream::Sink); a committed response's body ([`EventBody`]) keeps
//! polling the same future while it hands out events. So no task is spawned and nothing is
//! parsed twice, and when the client disconnects, the connection (hyper, in [`crate::serve`])
//! drops the body, which drops the exchange and with it the upstream
//! [`ChunkStream`](router_upstream::ChunkStream): the upstream call is cancelled at once.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

use crate::api::X_GENERATION_ID;
use crate::chat::stream::{Commit, Committed, EventBody};
use crate::error::ApiError;

/// How an exchange ended.
pub(crate) enum Finished {
    /// It never committed: this is the whole response.
    Respond(Response),
    /// It committed: its events went through the [`Sink`](crate::chat::stream::Sink).
    Streamed,
}

/// Drives `exchange` until it finishes or commits, and answers accordingly (see the module
/// docs). `generation_id` is the `X-Generation-Id` of a streamed response.
///
/// The exchange comes boxed: its future is several kilobytes, and every future that held it by
/// value would copy all of it each time it moved (into this one, then into the handler's box).
pub(crate) async fn json_or_stream<F>(
    exchange: Pin<Box<F>>,
    committed: Committed,
    generation_id: HeaderValue,
) -> Response
where
    F: Future<Output = Finished> + Send + 'static,
{
    enum Head<F> {
        Finished(Finished),
        Committed(Pin<Box<F>>, Commit),
    }
    let mut exchange = Some(exchange);
    let mut committed = Some(committed);
    let head = poll_fn(|cx| {
        if let Some(running) = exchange.as_mut()
            && let Poll::Ready(finished) = running.as_mut().poll(cx)
        {
            exchange = None;
            return Poll::Ready(Head::Finished(finished));
        }
        // A commit happens only while the exchange is polled (the exchange owns the sink), so
        // a look after each poll sees it, without a waker in the channel: one there would be
        // woken when a non-streaming exchange drops its sink, and poll this task again for
        // nothing.
        if let Some(receiver) = committed.as_mut() {
            match receiver.try_recv() {
                Ok(commit) => {
                    if let Some(running) = exchange.take() {
                        return Poll::Ready(Head::Committed(running, commit));
                    }
                }
                // The sink is gone without committing: the exchange is about to finish.
                Err(oneshot::error::TryRecvError::Closed) => committed = None,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
        Poll::Pending
    })
    .await;
    match head {
        Head::Finished(Finished::Respond(response)) => response,
        Head::Committed(running, (headers, events)) => event_stream(
            EventBody::new(Some(running), events),
            generation_id,
            headers,
        ),
        // It committed and finished within one poll: the events are all queued.
        Head::Finished(Finished::Streamed) => {
            match committed.and_then(|mut it| it.try_recv().ok()) {
                Some((headers, events)) => {
                    event_stream(EventBody::<F>::new(None, events), generation_id, headers)
                }
                None => ApiError::Internal.into_response(),
            }
        }
    }
}

/// A `200` `text/event-stream` response over `body`, with `extra` headers.
fn event_stream<F>(body: EventBody<F>, generation_id: HeaderValue, extra: HeaderMap) -> Response
where
    F: Future<Output = Finished> + Send + 'static,
{
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.extend(extra);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_GENERATION_ID, generation_id);
    response
}
