//! HTTP/1.1 message-body framing and header readers, shared with the server's connections.
//!
//! The upstream client speaks HTTP through hyper (see the `transport` module); what is left
//! here are the pieces the server reads its requests and writes its answers with:
//! [`Framing`] and [`BodyDecoder`] (a body by `content-length`, chunked, or up to the close),
//! the header readers [`content_length`], [`is_chunked`] and [`has_token`], and
//! [`write_all_vectored`].

use std::io::{self, IoSlice};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

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

#[cfg(test)]
mod tests;
