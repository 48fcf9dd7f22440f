//! HTTP/1.1 on one upstream connection, read and written by the task that makes the request.
//!
//! A chat request is one `POST` with a body in hand, and its answer is read by the same task
//! that asked: there is no need for a connection task, a channel to it and back, or a header
//! map for the request. `Connection` writes the request head and body with one vectored write,
//! reads the response head with `httparse` (the parser hyper uses), and [`BodyDecoder`] takes
//! the body out of the read buffer as it arrives: by `content-length`, chunked, or up to the
//! close.
//!
//! What a connection can carry next is decided here too: HTTP/1.1 without `connection: close`,
//! a body whose end is known, read to that end with nothing after it. Everything else closes.
//!
//! [`Framing`], [`BodyDecoder`], the header readers [`content_length`], [`is_chunked`] and
//! [`has_token`], and [`write_all_vectored`] are public: the server reads its requests and
//! writes its answers with them.

use std::io::{self, IoSlice};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most bytes a response head may take.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most headers a response head may have.
const MAX_HEADERS: usize = 100;
/// Room kept free in the read buffer for each read.
const READ_SIZE: usize = 16 * 1024;
/// The longest chunk-size line (with extensions) or trailer line accepted.
const MAX_LINE_BYTES: usize = 4096;

/// Why an exchange failed on the wire.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Reading or writing the socket failed.
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    /// The provider closed the connection early.
    #[error("the connection closed {0}")]
    Closed(&'static str),
    /// What the provider sent is not HTTP/1.1 as expected; says what.
    #[error("invalid HTTP response: {0}")]
    Invalid(String),
}

/// One TCP connection and what has been read from it but not used yet.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    buf: BytesMut,
}

/// A response's status, how its body is framed, and its head as it arrived (the headers are
/// only turned into a map when asked for: a 2xx answer usually never is).
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    /// The status line and headers, up to and including the empty line.
    pub(crate) raw: Bytes,
    /// How the body ends.
    pub(crate) framing: Framing,
    /// Whether the connection may carry another request once the body is read.
    pub(crate) keep_alive: bool,
}

/// How a response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// After this many bytes.
    Length(u64),
    /// After the last (zero-size) chunk and the trailers.
    Chunked,
    /// When the provider closes the connection.
    Close,
}

/// Takes a body out of the read buffer, piece by piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyDecoder {
    /// This many bytes are still to come.
    Length(u64),
    /// Within a chunked body.
    Chunked(ChunkState),
    /// Everything up to the close.
    Close,
    /// The body has ended.
    Done,
}

/// Where a chunked body's reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkState {
    /// At a chunk-size line.
    Size,
    /// Within a chunk's data, this many bytes to go.
    Data(u64),
    /// After a chunk's data, at its CRLF.
    DataEnd,
    /// After the last chunk, at a trailer line or the final empty line.
    Trailers,
}

/// What [`BodyDecoder::decode`] found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes.
    Data(Bytes),
    /// Nothing more until more is read.
    NeedMore,
    /// The body has ended.
    End,
}

// === impl Connection ===

impl Connection {
    /// A connection over `stream`, nothing read yet.
    pub(crate) fn new(stream: TcpStream) -> Self {
        Connection {
            stream,
            buf: BytesMut::with_capacity(READ_SIZE),
        }
    }

    /// Writes a request given as consecutive parts (the head's pieces, ending with its empty
    /// line, then the body), in as few vectored writes as the socket takes (one, normally).
    pub(crate) async fn write_request<const N: usize>(
        &mut self,
        parts: [&[u8]; N],
    ) -> io::Result<()> {
        write_all_vectored(&mut self.stream, &mut parts.map(IoSlice::new)).await
    }

    /// Reads the response head, skipping interim (1xx) responses.
    pub(crate) async fn read_head(&mut self) -> Result<Head, WireError> {
        loop {
            if let Some(head) = parse_head(&mut self.buf)? {
                return Ok(head);
            }
            if self.buf.len() >= MAX_HEAD_BYTES {
                return Err(WireError::Invalid(format!(
                    "the response head is longer than {MAX_HEAD_BYTES} bytes"
                )));
            }
            if self.read_more().await? == 0 {
                return Err(WireError::Closed("before a response"));
            }
        }
    }

    /// The next piece of the body; `None` at its end.
    pub(crate) async fn read_body(
        &mut self,
        decoder: &mut BodyDecoder,
    ) -> Result<Option<Bytes>, WireError> {
        loop {
            match decoder.decode(&mut self.buf)? {
                Decoded::Data(data) => return Ok(Some(data)),
                Decoded::End => return Ok(None),
                Decoded::NeedMore => {}
            }
            if self.read_more().await? == 0 {
                if *decoder == BodyDecoder::Close {
                    *decoder = BodyDecoder::Done;
                    return Ok(None);
                }
                return Err(WireError::Closed("before the body ended"));
            }
        }
    }

    /// Finishes `decoder`'s body from what has already arrived, without waiting: whether the
    /// body ended (the rest was in the buffer or the socket already).
    pub(crate) fn finish_now(&mut self, decoder: &mut BodyDecoder) -> bool {
        let mut read_once = false;
        loop {
            match decoder.decode(&mut self.buf) {
                Ok(Decoded::Data(_)) => {}
                Ok(Decoded::End) => return true,
                Ok(Decoded::NeedMore) if !read_once => {
                    read_once = true;
                    self.buf.reserve(READ_SIZE);
                    match self.stream.try_read_buf(&mut self.buf) {
                        Ok(n) if n > 0 => {}
                        _ => return false,
                    }
                }
                Ok(Decoded::NeedMore) | Err(_) => return false,
            }
        }
    }

    /// Whether the connection can take a request: nothing unread and not closed by the
    /// provider. Costs no system call unless the socket has reported something since the last
    /// read.
    pub(crate) fn is_reusable(&self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0_u8; 1];
                matches!(
                    self.stream.try_read(&mut probe),
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock
                )
            }
        }
    }

    /// Reads what the socket has into the buffer; 0 at the close.
    async fn read_more(&mut self) -> io::Result<usize> {
        self.buf.reserve(READ_SIZE);
        self.stream.read_buf(&mut self.buf).await
    }
}

/// Parses a complete final response head off the front of `buf`; `None` until it is complete.
fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, WireError> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let len = match response.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(err) => return Err(WireError::Invalid(err.to_string())),
        };
        let code = response.code.unwrap_or(0);
        let status =
            StatusCode::from_u16(code).map_err(|_| WireError::Invalid(format!("status {code}")))?;
        if status.is_informational() {
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(WireError::Invalid("unexpected protocol switch".to_owned()));
            }
            buf.advance(len);
            continue;
        }
        let mut keep_alive = response.version == Some(1);
        let mut chunked = false;
        let mut transfer_encoding = false;
        let mut length: Option<u64> = None;
        for header in response.headers.iter() {
            let name = header.name;
            if name.eq_ignore_ascii_case("content-length") {
                let value = content_length(header.value)
                    .ok_or_else(|| WireError::Invalid("bad content-length".to_owned()))?;
                if length.is_some_and(|seen| seen != value) {
                    return Err(WireError::Invalid("conflicting content-length".to_owned()));
                }
                length = Some(value);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                transfer_encoding = true;
                chunked = is_chunked(header.value);
            } else if name.eq_ignore_ascii_case("connection") {
                keep_alive &= !has_token(header.value, b"close");
            }
        }
        let framing = if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            Framing::Length(0)
        } else if transfer_encoding {
            if chunked {
                Framing::Chunked
            } else {
                Framing::Close
            }
        } else {
            match length {
                Some(length) => Framing::Length(length),
                None => Framing::Close,
            }
        };
        if framing == Framing::Close {
            keep_alive = false;
        }
        return Ok(Some(Head {
            status,
            raw: buf.split_to(len).freeze(),
            framing,
            keep_alive,
        }));
    }
}

impl Head {
    /// The value of the first header called `name` (any case), trimmed, read off the head
    /// without building a map.
    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        self.raw
            .split(|byte| *byte == b'\n')
            // The status line first; the empty line last.
            .skip(1)
            .find_map(|line| {
                let (field, value) = line.split_at(line.iter().position(|byte| *byte == b':')?);
                field
                    .eq_ignore_ascii_case(name.as_bytes())
                    .then(|| value[1..].trim_ascii())
            })
    }

    /// The response headers. Names or values that `http` refuses are left out.
    pub(crate) fn headers(&self) -> HeaderMap {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let mut map = HeaderMap::new();
        // The head parsed once already; parsing it again gives the same headers.
        if response.parse(&self.raw).is_ok() {
            map.reserve(response.headers.len());
            for header in response.headers.iter() {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(header.name.as_bytes()),
                    HeaderValue::from_bytes(header.value),
                ) {
                    map.append(name, value);
                }
            }
        }
        map
    }
}

/// Writes all of `slices`, in as few vectored writes as the socket takes (one, normally).
pub async fn write_all_vectored(
    stream: &mut TcpStream,
    mut slices: &mut [IoSlice<'_>],
) -> io::Result<()> {
    while !slices.is_empty() {
        let n = stream.write_vectored(slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}

/// A `content-length` value: decimal digits only (RFC 9110, section 8.6), around which
/// whitespace is allowed.
pub fn content_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Whether a `transfer-encoding` value makes a body chunked: only when `chunked` is the last
/// coding applied.
pub fn is_chunked(transfer_encoding: &[u8]) -> bool {
    transfer_encoding
        .rsplit(|byte| *byte == b',')
        .next()
        .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// Whether a comma-separated header value (`connection`, say) lists `token`, in any case.
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|byte| *byte == b',')
        .any(|it| it.trim_ascii().eq_ignore_ascii_case(token))
}

// === impl BodyDecoder ===

impl BodyDecoder {
    /// The decoder for a body framed as `framing`.
    pub fn new(framing: Framing) -> Self {
        match framing {
            Framing::Length(0) => BodyDecoder::Done,
            Framing::Length(length) => BodyDecoder::Length(length),
            Framing::Chunked => BodyDecoder::Chunked(ChunkState::Size),
            Framing::Close => BodyDecoder::Close,
        }
    }

    /// Takes the next piece of body out of `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, WireError> {
        loop {
            match self {
                BodyDecoder::Done => return Ok(Decoded::End),
                BodyDecoder::Close => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    return Ok(Decoded::Data(buf.split().freeze()));
                }
                BodyDecoder::Length(remaining) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let n = take_len(*remaining, buf.len());
                    *remaining -= n as u64;
                    let data = buf.split_to(n).freeze();
                    if *remaining == 0 {
                        *self = BodyDecoder::Done;
                    }
                    return Ok(Decoded::Data(data));
                }
                BodyDecoder::Chunked(state) => match *state {
                    ChunkState::Size => {
                        let Some(line) = take_line(buf)? else {
                            return Ok(Decoded::NeedMore);
                        };
                        let size = chunk_size(&line)?;
                        *state = if size == 0 {
                            ChunkState::Trailers
                        } else {
                            ChunkState::Data(size)
                        };
                    }
                    ChunkState::Data(remaining) => {
                        if buf.is_empty() {
                            return Ok(Decoded::NeedMore);
                        }
                        let n = take_len(remaining, buf.len());
                        let left = remaining - n as u64;
                        *state = if left == 0 {
                            ChunkState::DataEnd
                        } else {
                            ChunkState::Data(left)
                        };
                        return Ok(Decoded::Data(buf.split_to(n).freeze()));
                    }
                    ChunkState::DataEnd => {
                        if buf.len() < 2 {
                            return Ok(Decoded::NeedMore);
                        }
                        if &buf[..2] != b"\r\n" {
                            return Err(WireError::Invalid(
                                "chunk data not followed by CRLF".to_owned(),
                            ));
                        }
                        buf.advance(2);
                        *state = ChunkState::Size;
                    }
                    ChunkState::Trailers => {
                        let Some(line) = take_line(buf)? else {
                            return Ok(Decoded::NeedMore);
                        };
                        if line.is_empty() {
                            *self = BodyDecoder::Done;
                        }
                    }
                },
            }
        }
    }
}

/// How many of `available` bytes belong to a part with `remaining` bytes to go.
fn take_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |remaining| remaining.min(available))
}

/// Takes one CRLF-terminated line off `buf` (without its CRLF); `None` until it is complete.
fn take_line(buf: &mut BytesMut) -> Result<Option<BytesMut>, WireError> {
    match memchr::memchr(b'\n', buf) {
        Some(end) => {
            let mut line = buf.split_to(end + 1);
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            Ok(Some(line))
        }
        None if buf.len() > MAX_LINE_BYTES => {
            Err(WireError::Invalid("chunk line too long".to_owned()))
        }
        None => Ok(None),
    }
}

/// The size on a chunk-size line (hex digits, then optional `;` extensions).
fn chunk_size(line: &[u8]) -> Result<u64, WireError> {
    let digits = line
        .split(|byte| *byte == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let invalid = || WireError::Invalid("bad chunk size".to_owned());
    if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(invalid());
    }
    let digits = std::str::from_utf8(digits).map_err(|_| invalid())?;
    u64::from_str_radix(digits, 16).map_err(|_| invalid())
}

impl WireError {
    /// Whether the socket reported a timeout.
    pub(crate) fn is_timeout(&self) -> bool {
        matches!(self, WireError::Io(err) if err.kind() == io::ErrorKind::TimedOut)
    }
}

#[cfg(test)]
mod tests;
