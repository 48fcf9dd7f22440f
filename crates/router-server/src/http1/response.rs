//! Writing a response head: the status line, the handler's headers, and the ones the
//! connection owns (`content-length` or `transfer-encoding`, `connection`, `date`).

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, StatusCode};

/// How a response body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body at all: a `HEAD` answer, `204`, `304`.
    None,
    /// This many bytes, announced by `content-length`.
    Length(u64),
    /// Chunked: a stream whose length is not known in advance.
    Chunked,
    /// Up to the close: an HTTP/1.0 client gets a stream so.
    Close,
}

/// Renders the head of a response into `out`.
///
/// The handler's `content-length`, `transfer-encoding`, `connection` and `date` give way to the
/// connection's own, so what the head says about the body is always what is sent. A `HEAD`
/// answer (`Framing::None` with `head_length`) keeps the length a `GET` would have had.
pub(super) fn render_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    head_length: Option<u64>,
    keep_alive: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING || name == CONNECTION || name == DATE
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let length = match framing {
        Framing::Length(length) => Some(length),
        Framing::None => head_length,
        Framing::Chunked | Framing::Close => None,
    };
    if let Some(length) = length {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if framing == Framing::Chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"date: ");
    push_date(out);
    out.extend_from_slice(b"\r\n\r\n");
}

/// Appends the `Date` of now (IMF-fixdate), formatted once a second per thread.
fn push_date(out: &mut Vec<u8>) {
    thread_local! {
        static CACHED: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |it| it.as_secs());
    CACHED.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != second {
            *cached = (second, httpdate::fmt_http_date(now));
        }
        out.extend_from_slice(cached.1.as_bytes());
    });
}

/// Appends the size line that opens a chunk of `len` bytes (hex digits, then CRLF).
pub(super) fn push_chunk_size(out: &mut Vec<u8>, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0_u8; 2 * size_of::<usize>()];
    let mut at = digits.len();
    let mut rest = len;
    loop {
        at -= 1;
        digits[at] = HEX[rest % 16];
        rest /= 16;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}
