//! Streams cannot be held: a client that stops taking bytes is dropped after
//! `server.write_timeout_ms`, or at its provider's `total_timeout_ms` if that comes first, and
//! its upstream call with it.

use std::time::Duration;

use router_mock::{Behavior, CallOutcome};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{CLIENT_KEY, Gateway, chat_body};

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_the_provider_call_cancelled() {
    let gateway = Gateway::start_with("write_timeout_ms = 300").await;
    let mut socket = stalled_stream(&gateway).await;
    assert_cut(&gateway, &mut socket).await;
}

#[tokio::test]
async fn a_stalled_stream_ends_at_the_provider_s_total_timeout_even_with_a_long_write_timeout() {
    // A write timeout of ten minutes: only the total timeout can end this stream in time.
    let gateway =
        Gateway::start_with_providers("write_timeout_ms = 600000", "total_timeout_ms = 12000")
            .await;
    let mut socket = stalled_stream(&gateway).await;
    assert_cut(&gateway, &mut socket).await;
}

/// Starts a stream far longer than socket buffers hold (tens of megabytes of events, sent as
/// fast as taken) and reads only the start of its head.
async fn stalled_stream(gateway: &Gateway) -> TcpStream {
    gateway.behave(
        "one-upstream",
        Behavior {
            reply: Some("word ".repeat(300_000)),
            first_token_latency: Duration::ZERO,
            ..Behavior::default()
        },
    );
    let body = chat_body("test/one", true).to_string();
    let mut socket = TcpStream::connect(gateway.server.addr()).await.unwrap();
    let request = format!(
        "POST /api/v1/chat/completions HTTP/1.1\r\nhost: turnout\r\n\
         authorization: Bearer {CLIENT_KEY}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0_u8; 64];
    let n = socket.read(&mut head).await.unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &head[..n]);
    socket
}

/// The client read nothing more: the router must have cancelled the provider call and cut the
/// client's connection (a finished stream would end in `[DONE]` and keep it open for the next
/// request).
async fn assert_cut(gateway: &Gateway, socket: &mut TcpStream) {
    assert!(
        gateway
            .alpha
            .wait_for_disconnect(0, Duration::from_secs(60))
            .await,
        "the provider call outlived the stalled client: {:?}",
        gateway.alpha.calls()
    );
    assert_eq!(
        gateway.alpha.calls()[0].outcome,
        CallOutcome::ClientDisconnected
    );
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection stayed open");
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("[DONE]"), "the stream was not cut");
}
