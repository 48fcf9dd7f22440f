//! [`EventBody`], the body of a committed response: it hands out the events the exchange
//! queues and keeps driving the exchange, gathering a burst of events into one write.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

use crate::chat::respond::Finished;

/// The most events gathered into one write.
const MAX_GATHERED: usize = 64;
/// How many scheduler passes in a row may bring nothing before the gathered events go out.
const MAX_IDLE_PASSES: u8 = 2;

/// The body of a committed response: hands out the queued events and keeps driving the
/// exchange that produces them. Dropping it drops the exchange.
///
/// Events are gathered before they are handed out, so that a burst becomes one write: the
/// connection writes what it has whenever the body is pending, and the upstream connection
/// decodes one chunk of the provider's body per poll, so handing events out as they come would
/// cost a `writev` (and a wake-up of the client) per event. After a poll that brought new
/// events, the body yields once to the scheduler, which runs the upstream connection first; when
/// a poll brings nothing new, everything gathered goes out back to back, in one write. An event
/// that arrives alone is delayed by a few passes of the scheduler, not by a timer, and the
/// first event is never held: it goes out at once, with the response head, so gathering
/// costs nothing in time to first token.
pub(crate) struct EventBody<F> {
    exchange: Option<Pin<Box<F>>>,
    events: mpsc::Receiver<Bytes>,
    /// Events gathered and not yet handed out.
    ready: VecDeque<Bytes>,
    /// Whether `ready` is being handed out (rather than gathered).
    handing_out: bool,
    /// Whether the event queue has ended (the exchange finished and everything was taken).
    closed: bool,
    /// Passes yielded in a row that brought no event.
    idle_passes: u8,
    /// Whether an event has been handed out yet.
    started: bool,
}

impl<F: Future<Output = Finished>> EventBody<F> {
    /// The body of a committed response: `events`, and the `exchange` that queues them, or
    /// `None` when it finished already.
    pub(crate) fn new(exchange: Option<Pin<Box<F>>>, events: mpsc::Receiver<Bytes>) -> Self {
        Self {
            exchange,
            events,
            ready: VecDeque::new(),
            handing_out: false,
            closed: false,
            idle_passes: 0,
            started: false,
        }
    }

    /// Takes the queued events, lets the exchange run, and takes what it queued; returns
    /// whether any event was gathered.
    fn gather(&mut self, cx: &mut Context<'_>) -> bool {
        let before = self.ready.len();
        self.take_queued(cx);
        if let Some(exchange) = self.exchange.as_mut()
            && exchange.as_mut().poll(cx).is_ready()
        {
            // Finishing dropped the sender: the queue now drains and then ends.
            self.exchange = None;
        }
        self.take_queued(cx);
        self.ready.len() > before
    }

    fn take_queued(&mut self, cx: &mut Context<'_>) {
        while !self.closed {
            match self.events.poll_recv(cx) {
                Poll::Ready(Some(event)) => self.ready.push_back(event),
                Poll::Ready(None) => self.closed = true,
                Poll::Pending => break,
            }
        }
    }

    /// Whether to yield once more before handing out what was gathered: something was
    /// gathered, the exchange is still running, and a recent pass brought events.
    fn keep_gathering(&mut self, gathered: bool) -> bool {
        if gathered {
            self.idle_passes = 0;
        } else {
            self.idle_passes += 1;
        }
        let keep = self.started
            && !self.ready.is_empty()
            && self.exchange.is_some()
            && !self.closed
            && self.ready.len() < MAX_GATHERED
            && self.idle_passes <= MAX_IDLE_PASSES;
        if !keep {
            self.idle_passes = 0;
        }
        keep
    }
}

impl<F: Future<Output = Finished>> Stream for EventBody<F> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // At most two rounds: hand out what is left, then gather once more (which also
        // registers the wake-ups) when everything went out.
        let mut gathered_now = false;
        loop {
            if !this.handing_out {
                let gathered = this.gather(cx);
                if this.keep_gathering(gathered) {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                this.handing_out = true;
                gathered_now = true;
            }
            if let Some(event) = this.ready.pop_front() {
                this.started = true;
                return Poll::Ready(Some(Ok(event)));
            }
            this.handing_out = false;
            if this.closed {
                return Poll::Ready(None);
            }
            if gathered_now {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::stream::sink::EVENT_QUEUE;

    struct Pass(bool);

    impl Future for Pass {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    /// Polls `body` as an executor would, `polls` times or until it ends: each poll's
    /// outcome, `Some(event)` or `None` for pending.
    fn drive<F: Future<Output = Finished>>(
        body: &mut EventBody<F>,
        polls: usize,
    ) -> Vec<Option<Bytes>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut outcomes = Vec::new();
        for _ in 0..polls {
            match Pin::new(&mut *body).poll_next(&mut cx) {
                Poll::Ready(Some(Ok(event))) => outcomes.push(Some(event)),
                Poll::Ready(None) => break,
                Poll::Pending => outcomes.push(None),
            }
        }
        outcomes
    }

    #[test]
    fn a_burst_of_events_is_handed_out_back_to_back() {
        let (sender, events) = mpsc::channel(EVENT_QUEUE);
        // Like an upstream connection that decodes one event per two scheduler passes.
        let exchange = async move {
            for idx in 0..5 {
                let _ = sender.send(Bytes::from(format!("event {idx}\n"))).await;
                Pass(false).await;
                Pass(false).await;
            }
            Finished::Streamed
        };
        let mut body = EventBody::new(Some(Box::pin(exchange)), events);
        let outcomes = drive(&mut body, 100);
        let expected: Vec<_> = (0..5)
            .map(|idx| Bytes::from(format!("event {idx}\n")))
            .collect();
        // The first event at once, with nothing before it: no delay to the first token.
        assert_eq!(outcomes[0], Some(expected[0].clone()), "{outcomes:?}");
        // Every later event in one uninterrupted run: the connection writes them in one go.
        let rest = outcomes[1..].iter().position(Option::is_some).unwrap() + 1;
        let handed: Vec<_> = outcomes[rest..].iter().map_while(Clone::clone).collect();
        assert_eq!(handed, expected[1..], "{outcomes:?}");
        assert_eq!(
            outcomes.len(),
            rest + 4,
            "the body ends right after: {outcomes:?}"
        );
    }

    #[test]
    fn a_lone_event_goes_out_after_a_few_passes_not_a_timer() {
        let (sender, events) = mpsc::channel(EVENT_QUEUE);
        let exchange = async move {
            let _ = sender.send(Bytes::from_static(b"first\n")).await;
            Pass(false).await;
            Pass(false).await;
            let _ = sender.send(Bytes::from_static(b"alone\n")).await;
            // The provider is slow: nothing more for a long time.
            std::future::pending::<()>().await;
            drop(sender);
            Finished::Streamed
        };
        let mut body = EventBody::new(Some(Box::pin(exchange)), events);
        // Two passes to the second event, then at most MAX_IDLE_PASSES + 1 more before it goes.
        let outcomes = drive(&mut body, usize::from(MAX_IDLE_PASSES) + 8);
        // The first event is never held.
        assert_eq!(
            outcomes[0],
            Some(Bytes::from_static(b"first\n")),
            "{outcomes:?}"
        );
        assert_eq!(
            outcomes[1..].iter().flatten().collect::<Vec<_>>(),
            [&Bytes::from_static(b"alone\n")],
            "{outcomes:?}"
        );
        assert_eq!(outcomes.last(), Some(&None), "then it waits: {outcomes:?}");
    }
}
