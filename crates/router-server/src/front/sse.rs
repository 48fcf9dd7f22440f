//! The stream adapter: the exchange's SSE body (chunks, keep-alive comments, the error chunk,
//! `[DONE]`) read event by event and rendered by a format's [`Events`].
//!
//! The exchange hands its body out in frames of whole events, so an event is normally read
//! where it lies; a frame that ends inside an event (never seen, but allowed) is kept until the
//! rest arrives. A frame whose events render to nothing is not handed on, and the body waits for
//! the next one.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream};
use bytes::Bytes;
use futures_util::Stream;

use super::answer::Chunk;

/// One event of the exchange's stream.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// A keep-alive comment (`: OPENROUTER PROCESSING`), sent while no output has come.
    KeepAlive,
    /// A chunk: output, the usage chunk, or the error chunk that ends a committed stream.
    Chunk(Chunk<'a>),
    /// `data: [DONE]`, or the body's end without it.
    Done,
}

/// Renders one answer's events in a client's format.
pub(crate) trait Events: Send + Unpin + 'static {
    /// Appends what `event` becomes to `out`.
    fn event(&mut self, event: Event<'_>, out: &mut Vec<u8>);
}

/// `body` with every event rendered by `events`.
pub(crate) fn translate<E: Events>(body: Body, events: E) -> Translated<E> {
    Translated {
        body: body.into_data_stream(),
        events,
        partial: Vec::new(),
        done: false,
    }
}

/// The translated body of a stream.
pub(crate) struct Translated<E> {
    body: BodyDataStream,
    events: E,
    /// The start of an event whose end has not arrived.
    partial: Vec<u8>,
    /// Whether [`Event::Done`] was rendered.
    done: bool,
}

impl<E: Events> Translated<E> {
    /// Renders the whole events of `frame` (after what was left of the last one) and keeps what
    /// is left of it.
    fn frame(&mut self, frame: &[u8], out: &mut Vec<u8>) {
        if self.partial.is_empty() {
            let rest = self.whole_events(frame, out);
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.extend_from_slice(frame);
            let joined = std::mem::take(&mut self.partial);
            let rest = self.whole_events(&joined, out);
            self.partial.extend_from_slice(rest);
        }
    }

    /// Renders the whole events at the start of `bytes`; returns the rest.
    fn whole_events<'b>(&mut self, mut bytes: &'b [u8], out: &mut Vec<u8>) -> &'b [u8] {
        while let Some(end) = find_event_end(bytes) {
            self.one(&bytes[..end], out);
            bytes = &bytes[end + 2..];
        }
        bytes
    }

    /// Renders one event (without its blank line).
    fn one(&mut self, event: &[u8], out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if event.starts_with(b":") {
            return self.events.event(Event::KeepAlive, out);
        }
        let Some(data) = event.strip_prefix(b"data: ") else {
            return;
        };
        if data == b"[DONE]" {
            self.done = true;
            return self.events.event(Event::Done, out);
        }
        match serde_json::from_slice::<Chunk<'_>>(data) {
            Ok(chunk) => self.events.event(Event::Chunk(chunk), out),
            Err(err) => tracing::debug!(error = %err, "a stream chunk did not read back"),
        }
    }
}

impl<E: Events> Stream for Translated<E> {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match Pin::new(&mut this.body).poll_next(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let mut out = Vec::with_capacity(frame.len() * 2);
                    this.frame(&frame, &mut out);
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Bytes::from(out))));
                    }
                }
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err))),
                Poll::Ready(None) if !this.done => {
                    this.done = true;
                    let mut out = Vec::new();
                    this.events.event(Event::Done, &mut out);
                    return Poll::Ready(Some(Ok(Bytes::from(out))));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Where the first event of `bytes` ends (the index of its blank line's `\n\n`).
fn find_event_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\n\n")
}

/// Appends one named SSE event: `event: <name>`, `data: <json>`, a blank line.
pub(crate) fn push_event(out: &mut Vec<u8>, name: &str, data: &serde_json::Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // A `Value` always serializes.
    let _ = serde_json::to_writer(&mut *out, data);
    out.extend_from_slice(b"\n\n");
}

/// Appends one unnamed SSE event: `data: <json>`, a blank line.
pub(crate) fn push_data(out: &mut Vec<u8>, data: &serde_json::Value) {
    out.extend_from_slice(b"data: ");
    let _ = serde_json::to_writer(&mut *out, data);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt as _;

    use super::*;

    /// Writes each event as `<kind>;`.
    struct Names;

    impl Events for Names {
        fn event(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
            let name = match event {
                Event::KeepAlive => "keepalive".to_owned(),
                Event::Chunk(chunk) => format!("chunk {}", chunk.choices.len()),
                Event::Done => "done".to_owned(),
            };
            out.extend_from_slice(name.as_bytes());
            out.push(b';');
        }
    }

    async fn rendered(frames: &[&'static str]) -> String {
        let frames: Vec<Result<Bytes, std::io::Error>> = frames
            .iter()
            .map(|it| Ok(Bytes::from_static(it.as_bytes())))
            .collect();
        let body = Body::from_stream(futures_util::stream::iter(frames));
        let out: Vec<_> = translate(body, Names).collect().await;
        out.into_iter()
            .map(|it| String::from_utf8(it.unwrap().to_vec()).unwrap())
            .collect()
    }

    const CHUNK: &str = r#"data: {"id":"gen-1","model":"m","choices":[{"delta":{"content":"a"}}]}"#;

    #[tokio::test]
    async fn events_split_across_frames_are_read_whole() {
        let first = format!(": OPENROUTER PROCESSING\n\n{}", &CHUNK[..20]);
        let second = format!("{}\n\ndata: [DONE]\n\n", &CHUNK[20..]);
        let frames: [&'static str; 2] = [first.leak(), second.leak()];
        assert_eq!(rendered(&frames).await, "keepalive;chunk 1;done;");
    }

    #[tokio::test]
    async fn a_body_without_done_still_ends_its_answer() {
        let frame: &'static str = format!("{CHUNK}\n\n").leak();
        assert_eq!(rendered(&[frame]).await, "chunk 1;done;");
    }
}
