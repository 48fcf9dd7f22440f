//! Tests of the HTTP/1.1 pieces: response heads, body framing and decoding, fed in any split.

use proptest::prelude::*;

use super::*;

/// Decodes `wire` (a body as sent), fed in pieces split at `cuts`; the body bytes and whether
/// it ended, or the error.
fn decode_in_pieces(
    framing: Framing,
    wire: &[u8],
    cuts: &[usize],
) -> Result<(Vec<u8>, bool), WireError> {
    let mut decoder = BodyDecoder::new(framing);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut fed = 0;
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (wire.len() + 1)).collect();
    points.sort_unstable();
    points.push(wire.len());
    for point in points {
        buf.extend_from_slice(&wire[fed..point.max(fed)]);
        fed = point.max(fed);
        loop {
            match decoder.decode(&mut buf)? {
                Decoded::Data(data) => body.extend_from_slice(&data),
                Decoded::NeedMore => break,
                Decoded::End => return Ok((body, true)),
            }
        }
    }
    Ok((body, false))
}

fn head(text: &str) -> Result<Option<Head>, WireError> {
    parse_head(&mut BytesMut::from(text.as_bytes()))
}

#[test]
fn reads_status_headers_and_framing() {
    let head = head("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 12\r\nX-A: 1\r\nX-A: 2\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.status, StatusCode::TOO_MANY_REQUESTS);
    let headers = head.headers();
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(headers.get_all("x-a").iter().count(), 2);
    assert_eq!(head.framing, Framing::Length(12));
    assert!(head.keep_alive);
}

#[test]
fn one_header_is_read_without_the_map() {
    let head = head(
        "HTTP/1.1 200 OK\r\ncontent-typex: no\r\nContent-Type:  text/event-stream \r\n\
         content-type: second\r\nEmpty:\r\n\r\n",
    )
    .unwrap()
    .unwrap();
    assert_eq!(head.header("content-type"), Some(&b"text/event-stream"[..]));
    assert_eq!(head.header("CONTENT-TYPEX"), Some(&b"no"[..]));
    assert_eq!(head.header("empty"), Some(&b""[..]));
    assert_eq!(head.header("missing"), None);
    // The status line is not a header, even with a colon in it.
    let head = self::head("HTTP/1.1 200 OK: fine\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.header("HTTP/1.1 200 OK"), None);
}

#[test]
fn framing_follows_rfc_9112() {
    let cases = [
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            Framing::Chunked,
            true,
        ),
        // Chunked wins over a length sent with it.
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            Framing::Chunked,
            true,
        ),
        // A coding other than chunked last: the body ends with the connection.
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            Framing::Close,
            false,
        ),
        ("HTTP/1.1 200 OK\r\n\r\n", Framing::Close, false),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, Close\r\n\r\n",
            Framing::Length(2),
            false,
        ),
        (
            "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n",
            Framing::Length(2),
            false,
        ),
        ("HTTP/1.1 204 No Content\r\n\r\n", Framing::Length(0), true),
        (
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n",
            Framing::Length(1),
            true,
        ),
    ];
    for (text, framing, keep_alive) in cases {
        let head = head(text).unwrap().unwrap();
        assert_eq!(
            (head.framing, head.keep_alive),
            (framing, keep_alive),
            "{text:?}"
        );
    }
}

#[test]
fn an_incomplete_head_waits_and_a_bad_one_is_an_error() {
    assert!(head("HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
    for text in [
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "SSH-2.0-OpenSSH_9.6\r\n\r\n",
    ] {
        assert!(head(text).is_err(), "{text:?}");
    }
}

#[test]
fn the_head_is_taken_off_the_buffer_and_the_body_left() {
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..]);
    parse_head(&mut buf).unwrap().unwrap();
    assert_eq!(&buf[..], b"ok");
}

#[test]
fn chunked_bodies_with_extensions_and_trailers() {
    let wire = b"3;name=value\r\nabc\r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n";
    let (body, ended) = decode_in_pieces(Framing::Chunked, wire, &[]).unwrap();
    assert_eq!(body, b"abc0123456789");
    assert!(ended);
}

#[test]
fn bad_chunks_are_errors() {
    for wire in [
        &b"x\r\nabc\r\n0\r\n\r\n"[..],
        b"+3\r\nabc\r\n0\r\n\r\n",
        b"3\r\nabcd\r\n0\r\n\r\n",
        b"11111111111111111\r\n",
    ] {
        assert!(
            decode_in_pieces(Framing::Chunked, wire, &[]).is_err(),
            "{wire:?}"
        );
    }
}

#[test]
fn a_length_body_stops_at_its_length() {
    let mut decoder = BodyDecoder::new(Framing::Length(3));
    let mut buf = BytesMut::from(&b"abcEXTRA"[..]);
    assert_eq!(
        decoder.decode(&mut buf).unwrap(),
        Decoded::Data(Bytes::from_static(b"abc"))
    );
    assert_eq!(decoder.decode(&mut buf).unwrap(), Decoded::End);
    assert_eq!(&buf[..], b"EXTRA");
}

/// Chunks of a body as a sender might frame them.
fn chunked(pieces: &[Vec<u8>]) -> Vec<u8> {
    let mut wire = Vec::new();
    for piece in pieces.iter().filter(|piece| !piece.is_empty()) {
        wire.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        wire.extend_from_slice(piece);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

proptest! {
    #[test]
    fn any_split_of_a_chunked_body_decodes_the_same(
        pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let wire = chunked(&pieces);
        let (body, ended) = decode_in_pieces(Framing::Chunked, &wire, &cuts).unwrap();
        prop_assert_eq!(body, pieces.concat());
        prop_assert!(ended);
    }

    #[test]
    fn any_split_of_a_length_body_decodes_the_same(
        bytes in prop::collection::vec(any::<u8>(), 1..100),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let (body, ended) =
            decode_in_pieces(Framing::Length(bytes.len() as u64), &bytes, &cuts).unwrap();
        prop_assert_eq!(body, bytes);
        prop_assert!(ended);
    }

    #[test]
    fn a_cut_short_chunked_body_never_ends(
        pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..20), 1..4),
        keep in any::<prop::sample::Index>(),
    ) {
        let wire = chunked(&pieces);
        let short = &wire[..keep.index(wire.len())];
        let (_, ended) = decode_in_pieces(Framing::Chunked, short, &[]).unwrap();
        prop_assert!(!ended);
    }
}

#[tokio::test]
async fn a_request_larger_than_the_socket_takes_at_once_is_written_whole() {
    use tokio::io::AsyncReadExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut bytes = Vec::new();
        socket.read_to_end(&mut bytes).await.unwrap();
        bytes
    });
    let mut connection = Connection::new(TcpStream::connect(addr).await.unwrap());
    let body: Vec<u8> = (0..8_000_000_u32).map(|i| (i % 251) as u8).collect();
    let parts: [&[u8]; 4] = [
        b"POST / HTTP/1.1\r\n",
        b"",
        b"content-length: 8000000\r\n\r\n",
        &body,
    ];
    connection.write_request(parts).await.unwrap();
    drop(connection);
    assert_eq!(received.await.unwrap(), parts.concat());
}

#[test]
fn content_lengths_are_digits_only() {
    assert_eq!(content_length(b"0"), Some(0));
    assert_eq!(content_length(b" 42 "), Some(42));
    for bad in [
        &b""[..],
        b"+5",
        b"-1",
        b"5 5",
        b"0x10",
        b"1, 2",
        b"99999999999999999999999",
    ] {
        assert_eq!(
            content_length(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}
