//! [`ClientSocket`]: a client's TCP connection with the deadlines the HTTP stack above it does
//! not keep.
//!
//! - **Write timeout** (`server.write_timeout_ms`): a write that stays pending (the client takes
//!   no bytes) for that long fails with `TimedOut`, which ends the connection; the request's
//!   future is dropped with it, and so is its upstream call. A committed stream's
//!   [`StreamDeadline`] cuts the wait shorter: a stalled write fails at it at the latest.
//! - **First-byte timeout** (`server.request_read_timeout_ms`): a connection that sends nothing
//!   at all is closed after that long (hyper's own header timeout starts only once it knows the
//!   protocol, which takes the first bytes).
//! - **Lingering close**: when the connection closes while the client is still sending (a body
//!   refused unread: 401, 413), the socket first sends its FIN, then reads and drops what keeps
//!   coming, for up to [`LINGER_TIME`] and [`LINGER_BYTES`], so that the client reads the answer
//!   rather than a reset (RFC 9112, section 9.6).
//!
//! One timer serves all three: it is only armed while something waits, so a request that never
//! waits on a slow client costs no timer work here.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::deadline::StreamDeadline;

/// How long a closing connection drops what the client still sends, at most.
const LINGER_TIME: Duration = Duration::from_secs(2);

/// How many bytes a closing connection reads and drops, at most.
const LINGER_BYTES: usize = 64 << 20;

/// A client's TCP stream with a write timeout, a first-byte timeout and a lingering close.
pub(super) struct ClientSocket {
    tcp: TcpStream,
    write_timeout: Duration,
    /// The latest a stalled write may wait for the stream being written.
    deadline: StreamDeadline,
    /// Until the first byte arrives: how long the client has to send it.
    first_byte: Option<Duration>,
    /// The one timer, made the first time something waits.
    timer: Option<Pin<Box<Sleep>>>,
    /// What the timer is counting down.
    waiting: Waiting,
    /// Bytes dropped while lingering.
    dropped: usize,
}

/// What the timer of a [`ClientSocket`] counts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// Nothing.
    Nothing,
    /// The first byte from the client.
    FirstByte,
    /// A pending write.
    Write,
    /// The client's end of the stream, after our FIN.
    Linger,
}

impl ClientSocket {
    /// Wraps an accepted connection, whose streams' writes wait at most until `deadline`.
    pub(super) fn new(
        tcp: TcpStream,
        write_timeout: Duration,
        first_byte: Duration,
        deadline: StreamDeadline,
    ) -> Self {
        Self {
            tcp,
            write_timeout,
            deadline,
            first_byte: Some(first_byte),
            timer: None,
            waiting: Waiting::Nothing,
            dropped: 0,
        }
    }

    /// Starts counting `wait` down for `what`, unless it is already being counted.
    fn arm(&mut self, what: Waiting, wait: Duration) {
        if self.waiting == what {
            return;
        }
        self.waiting = what;
        let deadline = Instant::now() + wait;
        match &mut self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    /// Ready once the armed timer has fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.timer {
            Some(timer) => timer.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }

    /// A write came back pending: counts the stall, and fails it once it lasted too long.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let wait = match self.deadline.get() {
            Some(at) => self
                .write_timeout
                .min(at.saturating_duration_since(Instant::now())),
            None => self.write_timeout,
        };
        self.arm(Waiting::Write, wait);
        ready!(self.poll_timer(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client took no bytes within the write timeout or the stream's total timeout",
        )))
    }

    /// A write went through: the stall, if any, is over.
    fn moved<T>(&mut self, written: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if self.waiting == Waiting::Write {
            self.waiting = Waiting::Nothing;
        }
        written
    }

    /// After our FIN: drops what the client still sends, until it closes, the time or byte
    /// budget runs out, or (the common case) it was not sending anything.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut sink = [0_u8; 16 * 1024];
        loop {
            match self.tcp.try_read(&mut sink) {
                Ok(0) | Err(_) if self.waiting != Waiting::Linger => {
                    // Nothing pending at the close (`WouldBlock`), or the client has closed.
                    return Poll::Ready(());
                }
                Ok(0) => return Poll::Ready(()),
                Ok(n) => {
                    self.dropped += n;
                    if self.dropped >= LINGER_BYTES {
                        return Poll::Ready(());
                    }
                    self.arm(Waiting::Linger, LINGER_TIME);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    if self.poll_timer(cx).is_ready() {
                        return Poll::Ready(());
                    }
                    if ready!(self.tcp.poll_read_ready(cx)).is_err() {
                        return Poll::Ready(());
                    }
                }
                Err(_) => return Poll::Ready(()),
            }
        }
    }
}

impl AsyncRead for ClientSocket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let read = Pin::new(&mut this.tcp).poll_read(cx, buf);
        let Some(wait) = this.first_byte else {
            return read;
        };
        match read {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                this.first_byte = None;
                if this.waiting == Waiting::FirstByte {
                    this.waiting = Waiting::Nothing;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                this.arm(Waiting::FirstByte, wait);
                ready!(this.poll_timer(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent nothing within the request read timeout",
                )))
            }
            other => other,
        }
    }
}

impl AsyncWrite for ClientSocket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.tcp).poll_write(cx, buf) {
            Poll::Pending => this.stalled(cx),
            written => this.moved(written),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.stalled(cx),
            written => this.moved(written),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.tcp).poll_flush(cx) {
            Poll::Pending => this.stalled(cx),
            flushed => this.moved(flushed),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.waiting != Waiting::Linger {
            match Pin::new(&mut this.tcp).poll_shutdown(cx) {
                Poll::Pending => return this.stalled(cx),
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Ready(Ok(())) => {}
            }
            this.waiting = Waiting::Nothing;
        }
        ready!(this.poll_linger(cx));
        Poll::Ready(Ok(()))
    }
}
