//! HTTP/1.1 connections: reading each request, running it, writing its response.
//!
//! This is the connection half of an HTTP server; what a request means is axum's and the
//! handlers' business ([`Dispatch`]). It replaces hyper's connection machinery, which cost more
//! instructions per request than the rest of a chat completion's routing together:
//!
//! - the head is parsed with `httparse` in one pass; the URI and header values are slices of
//!   the bytes read, and a body that arrived with its head is a slice of them too;
//! - a JSON answer goes out with its head in one vectored write; a stream's events go out as
//!   they come, chunked, every event that is ready in one write;
//! - the one timer of a connection is armed once and moved on lazily: a request costs a clock
//!   read, not a timer-wheel insert and removal.
//!
//! What a client can rely on:
//!
//! - `TCP_NODELAY` on every connection, so a streamed event leaves as soon as it is written;
//! - keep-alive and pipelining (HTTP/1.1 without `connection: close`); HTTP/1.0 is answered and
//!   closed;
//! - request bodies by `content-length` or chunked, and `Expect: 100-continue` (the go-ahead is
//!   sent only for a body within `server.body_limit_bytes`); a declared body over the limit is
//!   not read: the handler answers 413 from the declared length, and the connection closes
//!   after dropping what the client still sends (for up to 2 s), so that the client reads the
//!   answer rather than a reset;
//! - a malformed head is a 400, one over 64 KiB or 100 headers a 431, another HTTP version a
//!   505, all in the API's error shape, then the connection closes;
//! - a client has `server.request_read_timeout_ms` to send a request head and body, counted
//!   from when the connection is ready for it (so an idle keep-alive connection is closed after
//!   that time);
//! - a client that closes its side while its request runs (or its stream is being sent) cancels
//!   it: the handler's future is dropped, and with it the upstream call;
//! - on shutdown, a connection finishes the request in flight and closes; an idle one closes at
//!   once.

mod head;
mod response;
#[cfg(test)]
mod tests;

use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, HttpBody as _};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http::{Method, StatusCode};
use router_upstream::h1::{self, BodyDecoder, Decoded, Framing as BodyFramingOf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use crate::dispatch::Dispatch;
use crate::error::ApiError;
use head::{BodyFraming, RequestHead};
use response::Framing;

/// Room kept free in the read buffer for each read.
const READ_SIZE: usize = 8 * 1024;

/// The most unread bytes (a pipelined next request) buffered while a request runs.
const MAX_BUFFERED: usize = head::MAX_HEAD_BYTES;

/// Why a request could not be read: answered with an error, then the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProtocolError {
    /// The head is not HTTP/1.x; says what is wrong.
    #[error("malformed HTTP request: {0}")]
    Malformed(&'static str),
    /// The head is over 64 KiB or has over 100 headers.
    #[error("the request head is too large (at most 64 KiB and 100 headers)")]
    HeadTooLarge,
    /// Another HTTP version than 1.0 or 1.1.
    #[error("HTTP version not supported: this server speaks HTTP/1.1")]
    Version,
}

impl ProtocolError {
    /// The status it is answered with.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            ProtocolError::Malformed(_) => StatusCode::BAD_REQUEST,
            ProtocolError::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProtocolError::Version => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        }
    }
}

/// Serves one connection until the client closes it, an error ends it, or `shutdown` turns
/// true (after the request in flight, if any).
pub(crate) async fn serve_connection(
    stream: TcpStream,
    dispatch: Dispatch,
    shutdown: watch::Receiver<bool>,
) {
    if let Err(err) = stream.set_nodelay(true) {
        tracing::trace!(error = %err, "cannot set TCP_NODELAY on an accepted socket");
    }
    let (body_limit, timeout) = dispatch.request_limits();
    let mut connection = Connection {
        stream,
        buf: BytesMut::new(),
        shutdown,
        timer: None,
        timeout,
    };
    loop {
        match connection.serve_one(&dispatch, body_limit).await {
            Ok(Next::Request) => {}
            Ok(Next::Close) => return,
            Ok(Next::Linger) => return connection.linger().await,
            Err(err) => {
                tracing::trace!(error = %err, "connection ended with an error");
                return;
            }
        }
    }
}

/// What a connection does after a request.
enum Next {
    /// Reads the next one.
    Request,
    /// Closes.
    Close,
    /// Closes, but first lets the client finish sending what the server will not read (a
    /// refused body), so that the client reads the answer instead of a reset.
    Linger,
}

/// How long a closing connection waits for the client to stop sending, at most.
const LINGER_TIME: Duration = Duration::from_secs(2);

/// How many bytes a closing connection reads and drops, at most.
const LINGER_BYTES: usize = 64 << 20;

/// One client connection and what has been read from it but not used yet.
struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    shutdown: watch::Receiver<bool>,
    /// The connection's one timer, armed at the first wait for a request.
    timer: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
}

/// A request body as read: all of it, or (over the limit) what was read of it.
struct RequestBody {
    bytes: Bytes,
    /// Whether the whole body was read, so that the connection can carry another request.
    complete: bool,
}

impl Connection {
    /// Reads, runs and answers one request, and says what comes next.
    async fn serve_one(&mut self, dispatch: &Dispatch, body_limit: usize) -> io::Result<Next> {
        let mut deadline = None;
        let head = match self.read_head(&mut deadline).await {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(Next::Close),
            Err(err) => return self.refuse(err).await,
        };
        let body = match self.read_body(&head, body_limit, &mut deadline).await {
            Ok(Some(body)) => body,
            Ok(None) => return Ok(Next::Close),
            Err(err) => return self.refuse(err).await,
        };
        let complete = body.complete;
        let head_only = head.method == Method::HEAD;
        let keep_alive = head.keep_alive && complete;
        let request = into_request(head, body.bytes);
        let Some(response) = self.run(dispatch.clone().call(request), complete).await else {
            // The client is gone: its request was dropped, cancelling what it was doing.
            return Ok(Next::Close);
        };
        let keep_alive = keep_alive && !*self.shutdown.borrow();
        Ok(
            match self.write_response(response, keep_alive, head_only).await? {
                true => Next::Request,
                false if complete => Next::Close,
                false => Next::Linger,
            },
        )
    }

    /// Answers a request that cannot be read with its error.
    async fn refuse(&mut self, err: ProtocolError) -> io::Result<Next> {
        self.write_response(ApiError::Protocol(err).into_response(), false, false)
            .await?;
        Ok(Next::Linger)
    }

    /// Closes the sending side, then drops what the client still sends, for a while.
    async fn linger(mut self) {
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let drain = async {
            let mut dropped = 0;
            let mut sink = [0_u8; 16 * 1024];
            while dropped < LINGER_BYTES {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => dropped += n,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_TIME, drain).await;
    }

    /// Reads the next request head; `None` when the client closed or went quiet, or the
    /// server is shutting down, before one arrived.
    async fn read_head(
        &mut self,
        deadline: &mut Option<Instant>,
    ) -> Result<Option<RequestHead>, ProtocolError> {
        loop {
            if !self.buf.is_empty()
                && let Some(head) = head::parse(&mut self.buf)?
            {
                return Ok(Some(head));
            }
            let idle = self.buf.is_empty();
            if idle && *self.shutdown.borrow() {
                return Ok(None);
            }
            let until = *deadline.get_or_insert_with(|| Instant::now() + self.timeout);
            if !self.read_more(until, idle).await {
                return Ok(None);
            }
        }
    }

    /// Reads the request body; `None` when the client closed or went quiet before it ended.
    async fn read_body(
        &mut self,
        head: &RequestHead,
        limit: usize,
        deadline: &mut Option<Instant>,
    ) -> Result<Option<RequestBody>, ProtocolError> {
        let within_limit = match head.body {
            BodyFraming::Length(0) => {
                return Ok(Some(RequestBody {
                    bytes: Bytes::new(),
                    complete: true,
                }));
            }
            BodyFraming::Length(length) => length <= limit as u64,
            BodyFraming::Chunked => true,
        };
        if !within_limit {
            // Left unread: the handler refuses it by its declared length.
            return Ok(Some(RequestBody {
                bytes: Bytes::new(),
                complete: false,
            }));
        }
        if head.expects_continue && self.buf.is_empty() {
            let continued = self
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await;
            if continued.is_err() {
                return Ok(None);
            }
        }
        let until = *deadline.get_or_insert_with(|| Instant::now() + self.timeout);
        match head.body {
            BodyFraming::Length(length) => {
                // Within the limit, so it fits in a `usize`.
                let length = length as usize;
                self.buf.reserve(length.saturating_sub(self.buf.len()));
                while self.buf.len() < length {
                    if !self.read_more(until, false).await {
                        return Ok(None);
                    }
                }
                Ok(Some(RequestBody {
                    bytes: self.buf.split_to(length).freeze(),
                    complete: true,
                }))
            }
            BodyFraming::Chunked => {
                let mut decoder = BodyDecoder::new(BodyFramingOf::Chunked);
                let mut body = BytesMut::new();
                loop {
                    match decoder.decode(&mut self.buf) {
                        Ok(Decoded::Data(data)) => {
                            body.extend_from_slice(&data);
                            if body.len() > limit {
                                // Enough for the handler to see it is over the limit.
                                return Ok(Some(RequestBody {
                                    bytes: body.freeze(),
                                    complete: false,
                                }));
                            }
                        }
                        Ok(Decoded::End) => {
                            return Ok(Some(RequestBody {
                                bytes: body.freeze(),
                                complete: true,
                            }));
                        }
                        Ok(Decoded::NeedMore) => {
                            if !self.read_more(until, false).await {
                                return Ok(None);
                            }
                        }
                        Err(_) => {
                            return Err(ProtocolError::Malformed("the chunked body is malformed"));
                        }
                    }
                }
            }
        }
    }

    /// Reads more of the request before `until`; `false` when the client closed or was late,
    /// or (with `idle`, between requests) the server is shutting down.
    async fn read_more(&mut self, until: Instant, idle: bool) -> bool {
        self.buf.reserve(READ_SIZE);
        tokio::select! {
            biased;
            read = self.stream.read_buf(&mut self.buf) => matches!(read, Ok(n) if n > 0),
            () = sleep_until(&mut self.timer, until) => false,
            _ = self.shutdown.changed(), if idle => false,
        }
    }

    /// Runs `handled` to its response, or to the client's close (`None`) when `watch`.
    async fn run<F: Future<Output = Response>>(
        &mut self,
        handled: F,
        watch: bool,
    ) -> Option<Response> {
        let mut handled = pin!(handled);
        poll_fn(|cx| {
            if let Poll::Ready(response) = handled.as_mut().poll(cx) {
                return Poll::Ready(Some(response));
            }
            if watch && self.poll_closed(cx).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// Ready once the client has closed its side (or the socket failed). What it sends
    /// meanwhile (a pipelined request) is kept, up to `MAX_BUFFERED` bytes; past that the
    /// socket is no longer watched.
    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.buf.len() >= MAX_BUFFERED {
                return Poll::Pending;
            }
            if ready!(self.stream.poll_read_ready(cx)).is_err() {
                return Poll::Ready(());
            }
            self.buf.reserve(READ_SIZE);
            match self.stream.try_read_buf(&mut self.buf) {
                Ok(0) => return Poll::Ready(()),
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Poll::Ready(()),
            }
        }
    }

    /// Writes `response`; whether the connection may carry another request.
    async fn write_response(
        &mut self,
        response: Response,
        keep_alive: bool,
        head_only: bool,
    ) -> io::Result<bool> {
        let (parts, body) = response.into_parts();
        let status = parts.status;
        let keep_alive = keep_alive && !closes(&parts.headers);
        let no_body = head_only
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let framing = match body.size_hint().exact() {
            _ if no_body => Framing::None,
            Some(length) => Framing::Length(length),
            None if keep_alive => Framing::Chunked,
            None => Framing::Close,
        };
        // A `HEAD` answer's body is gone already (axum drops it); a length the handler set
        // stays, as the length a `GET` would have had.
        let head_length = head_only.then(|| content_length(&parts.headers)).flatten();
        let mut out = Vec::with_capacity(512);
        response::render_head(
            &mut out,
            status,
            &parts.headers,
            framing,
            head_length,
            keep_alive,
        );
        if framing == Framing::None {
            self.stream.write_all(&out).await?;
            return Ok(keep_alive);
        }
        let mut body = pin!(body);
        let mut sent = 0_u64;
        let mut pieces: Vec<Bytes> = Vec::new();
        loop {
            // Every frame that is ready joins the pending output; it goes out when the body
            // has to wait or ends, so a JSON answer leaves with its head in one write.
            let flush_first = !out.is_empty() || !pieces.is_empty();
            let step = poll_fn(|cx| match body.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => Poll::Ready(Step::Frame(frame.into_data().ok())),
                Poll::Ready(Some(Err(err))) => Poll::Ready(Step::Failed(err)),
                Poll::Ready(None) => Poll::Ready(Step::End),
                Poll::Pending if flush_first => Poll::Ready(Step::Flush),
                Poll::Pending => self.poll_closed(cx).map(|()| Step::Gone),
            })
            .await;
            match step {
                Step::Frame(Some(data)) if !data.is_empty() => {
                    sent += data.len() as u64;
                    if framing == Framing::Chunked {
                        response::push_chunk_size(&mut out, data.len());
                        out.extend_from_slice(&data);
                        out.extend_from_slice(b"\r\n");
                    } else {
                        pieces.push(data);
                    }
                }
                Step::Frame(_) => {}
                Step::Flush => {
                    write_all(&mut self.stream, &out, &pieces).await?;
                    out.clear();
                    pieces.clear();
                }
                Step::End => {
                    if framing == Framing::Chunked {
                        out.extend_from_slice(b"0\r\n\r\n");
                    }
                    write_all(&mut self.stream, &out, &pieces).await?;
                    let whole = match framing {
                        Framing::Length(length) => length == sent,
                        Framing::Chunked => true,
                        Framing::None | Framing::Close => false,
                    };
                    return Ok(keep_alive && whole);
                }
                Step::Failed(err) => {
                    // What was sent stays sent; the close tells the client the body is cut
                    // short (a chunked body without its last chunk, or a short length).
                    write_all(&mut self.stream, &out, &pieces).await?;
                    return Err(io::Error::other(err));
                }
                Step::Gone => return Ok(false),
            }
        }
    }
}

/// What happened next while sending a response body.
enum Step {
    /// A frame: its data, if it is a data frame.
    Frame(Option<Bytes>),
    /// The body must wait: send what is pending first.
    Flush,
    /// The body has ended.
    End,
    /// The body failed.
    Failed(axum::Error),
    /// The client closed the connection.
    Gone,
}

/// Whether the handler asked to close the connection.
fn closes(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .any(|value| h1::has_token(value.as_bytes(), b"close"))
}

/// The `content-length` a handler set.
fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The request for the handlers.
fn into_request(head: RequestHead, body: Bytes) -> http::Request<Body> {
    let mut request = http::Request::new(Body::from(body));
    *request.method_mut() = head.method;
    *request.uri_mut() = head.uri;
    *request.version_mut() = head.version;
    *request.headers_mut() = head.headers;
    request
}

/// Writes `head` then `pieces`, in as few vectored writes as the socket takes.
async fn write_all(stream: &mut TcpStream, head: &[u8], pieces: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = std::iter::once(head)
        .chain(pieces.iter().map(|it| &it[..]))
        .filter(|it| !it.is_empty())
        .map(IoSlice::new)
        .collect();
    h1::write_all_vectored(stream, &mut slices).await
}

/// Resolves at `until`, with the connection's one timer. The timer is only moved when it fires
/// early (its deadline was an earlier request's): deadlines only move later, so a request
/// costs no timer-wheel work.
async fn sleep_until(timer: &mut Option<Pin<Box<Sleep>>>, until: Instant) {
    let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
    loop {
        if sleep.deadline() > until {
            sleep.as_mut().reset(until);
        }
        sleep.as_mut().await;
        if Instant::now() >= until {
            return;
        }
        sleep.as_mut().reset(until);
    }
}
