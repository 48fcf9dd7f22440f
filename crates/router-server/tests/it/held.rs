//! Streams cannot be held: a client that stops taking bytes is dropped after
//! `server.write_timeout_ms`, and its upstream call with it.

use std::time::Duration;

use router_mock::{Behavior, CallOutcome};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{CLIENT_KEY, Gateway, chat_body};

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_the_provider_call_cancelled() {
    let gateway = Gateway::start_with("write_timeout_ms = 300").await;
    // Far more than socket buffers hold: tens of megabytes of events, sent as fast as taken.
    gateway.behave(
        "one-upstream",
        Behavior {
            reply: Some("word ".repeat(300_000)),
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
    // The stream starts; then the client reads nothing more.
    let mut head = [0_u8; 64];
    let n = socket.read(&mut head).await.unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &head[..n]);
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
    // The router closed the client's connection: reading what was buffered ends in a close.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), socket.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection stayed open");
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("[DONE]"), "the stream was not cut");
}
