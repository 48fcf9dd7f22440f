//! Tests of the HTTP/1.1 pieces: body framing and decoding, fed in any split, and writes.

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
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body: Vec<u8> = (0..8_000_000_u32).map(|i| (i % 251) as u8).collect();
    let parts: [&[u8]; 4] = [
        b"POST / HTTP/1.1\r\n",
        b"",
        b"content-length: 8000000\r\n\r\n",
        &body,
    ];
    write_all_vectored(&mut stream, &mut parts.map(IoSlice::new))
        .await
        .unwrap();
    drop(stream);
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
