//! Request heads as RFC 9112 frames them, and response heads as written.

use bytes::BytesMut;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};

use super::ProtocolError;
use super::head::{self, BodyFraming, RequestHead};
use super::response::{self, Framing};

fn parse(text: &str) -> (Result<Option<RequestHead>, ProtocolError>, BytesMut) {
    let mut buf = BytesMut::from(text.as_bytes());
    let head = head::parse(&mut buf);
    (head, buf)
}

fn parsed(text: &str) -> RequestHead {
    parse(text).0.unwrap().unwrap()
}

#[test]
fn a_post_head_is_read_and_its_body_left_in_the_buffer() {
    let (head, rest) = parse(
        "POST /api/v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer k\r\n\
         Content-Length: 2\r\nX-Session-Id: s1\r\nX-Session-Id: s2\r\n\r\n{}GET",
    );
    let head = head.unwrap().unwrap();
    assert_eq!(head.method, Method::POST);
    assert_eq!(head.uri.path(), "/api/v1/chat/completions");
    assert_eq!(head.uri.query(), Some("x=1"));
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.headers["authorization"], "Bearer k");
    let sessions: Vec<_> = head.headers.get_all("x-session-id").iter().collect();
    assert_eq!(sessions, ["s1", "s2"]);
    assert_eq!(head.body, BodyFraming::Length(2));
    assert!(head.keep_alive);
    assert!(!head.expects_continue);
    assert_eq!(&rest[..], b"{}GET");
}

#[test]
fn a_head_in_pieces_is_read_once_complete() {
    let text = "GET /health HTTP/1.1\r\nHost: a\r\n\r\n";
    for cut in 0..text.len() {
        let (head, rest) = parse(&text[..cut]);
        assert!(head.unwrap().is_none(), "complete at {cut}");
        assert_eq!(rest.len(), cut, "consumed before complete");
    }
    assert_eq!(parsed(text).body, BodyFraming::Length(0));
}

#[test]
fn keep_alive_follows_the_version_and_connection_header() {
    assert!(!parsed("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n").keep_alive);
    assert!(!parsed("GET / HTTP/1.0\r\n\r\n").keep_alive);
    assert!(!parsed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    assert!(parsed("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n").keep_alive);
}

#[test]
fn bodies_are_framed_by_length_or_chunked_and_never_ambiguously() {
    let framing = |text: &str| parse(text).0.map(|head| head.unwrap().body);
    assert_eq!(
        framing("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        Ok(BodyFraming::Chunked)
    );
    assert_eq!(
        framing("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
        Ok(BodyFraming::Length(5))
    );
    for bad in [
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    ] {
        assert!(
            matches!(framing(bad), Err(ProtocolError::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn expect_continue_is_read_for_http_1_1() {
    let text = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
    assert!(parsed(text).expects_continue);
    let text = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
    assert!(!parsed(text).expects_continue);
}

#[test]
fn bad_heads_are_refused_with_their_status() {
    let error = |text: &str| parse(text).0.unwrap_err();
    assert_eq!(
        error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").status(),
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    assert_eq!(error("GET /\r\n\r\n").status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n").status(),
        StatusCode::BAD_REQUEST
    );
    let many: String = (0..101).map(|n| format!("X-{n}: v\r\n")).collect();
    assert_eq!(
        error(&format!("GET / HTTP/1.1\r\n{many}\r\n")).status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    // Too long while still incomplete: refused before the end is seen.
    let long = format!(
        "GET / HTTP/1.1\r\nX-Long: {}",
        "a".repeat(head::MAX_HEAD_BYTES)
    );
    assert_eq!(error(&long), ProtocolError::HeadTooLarge);
}

fn rendered(headers: &HeaderMap, framing: Framing, keep_alive: bool) -> String {
    let mut out = Vec::new();
    response::render_head(&mut out, StatusCode::OK, headers, framing, None, keep_alive);
    String::from_utf8(out).unwrap()
}

#[test]
fn response_heads_say_how_the_body_is_sent() {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("content-length", HeaderValue::from_static("999"));
    headers.insert("date", HeaderValue::from_static("yesterday"));
    let head = rendered(&headers, Framing::Length(12), true);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"));
    assert!(head.contains("\r\ncontent-length: 12\r\n"));
    assert!(!head.contains("999") && !head.contains("yesterday"));
    assert!(!head.contains("connection"));
    let date = head.split("\r\ndate: ").nth(1).unwrap().trim_end();
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    assert!(head.ends_with("\r\n\r\n"));

    let head = rendered(&HeaderMap::new(), Framing::Chunked, false);
    assert!(head.contains("\r\ntransfer-encoding: chunked\r\n"));
    assert!(head.contains("\r\nconnection: close\r\n"));
    assert!(!head.contains("content-length"));
}

#[test]
fn chunk_sizes_are_hex() {
    for len in [0, 1, 15, 16, 255, 4096, 0xdead_beef, usize::MAX] {
        let mut out = Vec::new();
        response::push_chunk_size(&mut out, len);
        assert_eq!(String::from_utf8(out).unwrap(), format!("{len:x}\r\n"));
    }
}
