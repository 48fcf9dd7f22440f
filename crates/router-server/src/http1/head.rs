//! Reading a request head: the request line and headers, parsed with `httparse` in one pass,
//! and what they say about the body (its framing) and the connection (keep-alive, `Expect`).
//!
//! The head's bytes are taken out of the read buffer whole and frozen; the URI and every header
//! value are slices of them, not copies.

use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::BytesMut;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri, Version};
use router_upstream::h1;

use super::ProtocolError;

/// The most bytes a request head may take.
pub(super) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most headers a request may have.
const MAX_HEADERS: usize = 100;

/// A request's line and headers, and what they decide.
#[derive(Debug)]
pub(super) struct RequestHead {
    pub(super) method: Method,
    pub(super) uri: Uri,
    pub(super) version: Version,
    pub(super) headers: HeaderMap,
    pub(super) body: BodyFraming,
    /// Whether the client asked to keep the connection open after the response.
    pub(super) keep_alive: bool,
    /// `Expect: 100-continue`: the client waits for a go-ahead before sending the body.
    pub(super) expects_continue: bool,
}

/// How the request body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyFraming {
    /// After this many bytes (0: no body).
    Length(u64),
    /// Chunked.
    Chunked,
}

/// Where each piece of a header sits in the head.
#[derive(Debug, Clone, Copy, Default)]
struct HeaderAt {
    name: (u32, u32),
    value: (u32, u32),
}

/// Parses a complete request head off the front of `buf`; `None` until it has all arrived.
pub(super) fn parse(buf: &mut BytesMut) -> Result<Option<RequestHead>, ProtocolError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut found = [HeaderAt::default(); MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let len = match request.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
            return Err(ProtocolError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ProtocolError::HeadTooLarge),
        Err(httparse::Error::Version) => return Err(ProtocolError::Version),
        Err(_) => {
            return Err(ProtocolError::Malformed(
                "the request line or a header is malformed",
            ));
        }
    };
    if len > MAX_HEAD_BYTES {
        return Err(ProtocolError::HeadTooLarge);
    }
    let base = buf.as_ptr() as usize;
    let at = |piece: &[u8]| {
        let start = piece.as_ptr() as usize - base;
        // Within a head of at most `MAX_HEAD_BYTES`.
        (start as u32, (start + piece.len()) as u32)
    };
    let method = Method::from_bytes(request.method.unwrap_or_default().as_bytes())
        .map_err(|_| ProtocolError::Malformed("the method is not a token"))?;
    let version = if request.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let path = at(request.path.unwrap_or_default().as_bytes());
    let mut meaning = Meaning::default();
    let count = request.headers.len();
    for (header, slot) in request.headers.iter().zip(found.iter_mut()) {
        meaning.read(header.name, header.value)?;
        *slot = HeaderAt {
            name: at(header.name.as_bytes()),
            value: at(header.value),
        };
    }
    let raw = buf.split_to(len).freeze();
    let uri = Uri::from_maybe_shared(raw.slice(range(path)))
        .map_err(|_| ProtocolError::Malformed("the request target is not a URI"))?;
    let mut headers = HeaderMap::with_capacity(count);
    for header in &found[..count] {
        let name = HeaderName::from_bytes(&raw[range(header.name)])
            .map_err(|_| ProtocolError::Malformed("a header name is not a token"))?;
        let value = HeaderValue::from_maybe_shared(raw.slice(range(header.value)))
            .map_err(|_| ProtocolError::Malformed("a header value has a control character"))?;
        headers.append(name, value);
    }
    let body = meaning.framing(version)?;
    Ok(Some(RequestHead {
        method,
        uri,
        version,
        headers,
        body,
        keep_alive: version == Version::HTTP_11 && !meaning.close,
        expects_continue: version == Version::HTTP_11 && meaning.expects_continue,
    }))
}

fn range((start, end): (u32, u32)) -> Range<usize> {
    start as usize..end as usize
}

/// What the headers that concern the connection and the body say.
#[derive(Debug, Default)]
struct Meaning {
    length: Option<u64>,
    transfer_encoding: Option<bool>,
    close: bool,
    expects_continue: bool,
}

impl Meaning {
    fn read(&mut self, name: &str, value: &[u8]) -> Result<(), ProtocolError> {
        if name.eq_ignore_ascii_case("content-length") {
            let length = h1::content_length(value)
                .ok_or(ProtocolError::Malformed("`content-length` is not a number"))?;
            if self.length.is_some_and(|seen| seen != length) {
                return Err(ProtocolError::Malformed("`content-length` is given twice"));
            }
            self.length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            self.transfer_encoding = Some(h1::is_chunked(value));
        } else if name.eq_ignore_ascii_case("connection") {
            self.close |= h1::has_token(value, b"close");
        } else if name.eq_ignore_ascii_case("expect") {
            self.expects_continue = value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        }
        Ok(())
    }

    /// The body's framing. Both a length and a transfer coding, or a coding that does not end
    /// in `chunked`, leave the body's end unknown: such a request is refused, as RFC 9112
    /// (section 6.3) asks of a server, since a proxy before it may read it differently.
    fn framing(&self, version: Version) -> Result<BodyFraming, ProtocolError> {
        match (self.transfer_encoding, self.length) {
            (None, length) => Ok(BodyFraming::Length(length.unwrap_or(0))),
            (Some(_), Some(_)) => Err(ProtocolError::Malformed(
                "both `transfer-encoding` and `content-length` are given",
            )),
            (Some(true), None) if version == Version::HTTP_11 => Ok(BodyFraming::Chunked),
            (Some(_), None) => Err(ProtocolError::Malformed(
                "`transfer-encoding` other than HTTP/1.1 `chunked`",
            )),
        }
    }
}
