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

#[tokio::test]
async fn a_stalled_stream_ends_at_the_provider_s_total_timeout_even_with_a_long_write_timeout() {
    let mock = crate::support::mock().await;
    // A write timeout of ten minutes: only the total timeout can end this stream in time.
    let text = r#"
[server]
listen = "127.0.0.1:0"
write_timeout_ms = 600000

[[keys]]
name = "test"
key = "sk-client-test"

[providers.alpha]
display_name = "Alpha AI"
base_url = "${MOCK_ALPHA}"
api_key = "sk-provider-SECRET-123"
total_timeout_ms = 12000

[[models]]
id = "test/one"
name = "Test: One"

  [[models.endpoints]]
  provider = "alpha"
  upstream_model = "one-upstream"
  context_length = 8192
  max_output = 1024
  pricing = { prompt = 2.0, completion = 8.0 }
"#;
    let config = router_server::config::load_str(text, &|name: &str| {
        (name == "MOCK_ALPHA").then(|| mock.base_url())
    })
    .unwrap();
    let server = crate::support::spawn(config).await;
    mock.set_behavior(
        "one-upstream",
        Behavior {
            reply: Some("word ".repeat(300_000)),
            first_token_latency: Duration::ZERO,
            ..Behavior::default()
        },
    );
    let body = chat_body("test/one", true).to_string();
    let mut socket = TcpStream::connect(server.addr()).await.unwrap();
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
    // The client reads nothing more. Long before the write timeout could fire, the total
    // timeout has ended the stream and its upstream call.
    assert!(
        mock.wait_for_disconnect(0, Duration::from_secs(60)).await,
        "the provider call outlived the stream's total timeout: {:?}",
        mock.calls()
    );
    assert_eq!(mock.calls()[0].outcome, CallOutcome::ClientDisconnected);
    let mut rest = Vec::new();
    // Cut, not finished: a finished stream would leave the connection open for the next request.
    let read = tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection stayed open");
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("[DONE]"), "the stream was not cut");
}
