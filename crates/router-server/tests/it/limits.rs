//! Limits that hold before any work: memory under a thousand keyless connections that declare
//! large bodies (the real binary, measured through `/proc`), the connection cap, and what a
//! request without a key costs.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::process::{self, ServerProcess, TempDir};
use crate::support::{CLIENT_KEY, Gateway, chat_body, client, mock};

/// A chat request head declaring a 10 MiB body, then its first byte.
fn declared_10_mib(key: Option<&str>) -> String {
    let auth = key.map_or(String::new(), |key| {
        format!("authorization: Bearer {key}\r\n")
    });
    format!(
        "POST /api/v1/chat/completions HTTP/1.1\r\nhost: turnout\r\n{auth}\
         content-type: application/json\r\ncontent-length: 10485760\r\n\r\n{{"
    )
}

/// Reads a whole answer up to the close: its text.
async fn read_to_close(socket: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), socket.read_to_end(&mut answer));
    let _ = read.await.expect("the server neither answered nor closed");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_thousand_keyless_10_mib_requests_cost_little_memory_and_keyed_requests_go_on() {
    let mock = mock().await;
    let dir = TempDir::new("limits");
    // A body limit above the declared size, so that only the missing key refuses them.
    let config = process::config(
        &mock.base_url(),
        "body_limit = \"16MiB\"\nrequest_read_timeout_ms = 5000\n",
    );
    let server = ServerProcess::start(dir.path(), &config);
    let chat = || {
        client()
            .post(format!("{}/api/v1/chat/completions", server.url()))
            .bearer_auth(CLIENT_KEY)
            .json(&chat_body("test/one", false))
            .send()
    };
    assert_eq!(chat().await.unwrap().status(), 200);
    let before = server.memory_kib("VmRSS");

    let mut sockets = Vec::new();
    for _ in 0..1000 {
        let mut socket = TcpStream::connect(server.addr()).await.unwrap();
        socket
            .write_all(declared_10_mib(None).as_bytes())
            .await
            .unwrap();
        sockets.push(socket);
    }
    // Keyed requests are answered while the keyless ones are open.
    assert_eq!(chat().await.unwrap().status(), 200);
    for socket in &mut sockets {
        let answer = read_to_close(socket).await;
        assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
        assert!(answer.contains("\"code\":401"), "{answer}");
    }
    let peak = server.memory_kib("VmHWM");
    assert!(
        peak.saturating_sub(before) < 50 * 1024,
        "RSS rose from {before} KiB to a peak of {peak} KiB"
    );

    // Keyed requests that declare 10 MiB and send one byte hold only what they sent.
    let mut keyed = Vec::new();
    for _ in 0..200 {
        let mut socket = TcpStream::connect(server.addr()).await.unwrap();
        socket
            .write_all(declared_10_mib(Some(CLIENT_KEY)).as_bytes())
            .await
            .unwrap();
        keyed.push(socket);
    }
    assert_eq!(chat().await.unwrap().status(), 200);
    let peak = server.memory_kib("VmHWM");
    assert!(
        peak.saturating_sub(before) < 50 * 1024,
        "RSS rose from {before} KiB to a peak of {peak} KiB"
    );
    // They time out (`request_read_timeout_ms`) and are answered 400.
    for socket in &mut keyed {
        let answer = read_to_close(socket).await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    }
}

#[tokio::test]
async fn a_keyless_request_is_refused_before_its_body_is_read() {
    let gateway = Gateway::start().await;
    // `Expect: 100-continue`: no go-ahead, the 401 at once, and the connection closed.
    let mut socket = TcpStream::connect(gateway.server.addr()).await.unwrap();
    let head = declared_10_mib(None).replace(
        "content-length: 10485760\r\n\r\n{",
        "content-length: 100\r\nexpect: 100-continue\r\n\r\n",
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut socket).await;
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("\"code\":401"), "{answer}");
    assert!(gateway.alpha.calls().is_empty());
}

#[tokio::test]
async fn two_authorization_headers_are_a_400() {
    let gateway = Gateway::start().await;
    for path in ["/api/v1/chat/completions", "/api/v1/key"] {
        let method = if path.contains("chat") {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let response = gateway
            .client
            .request(method, format!("{}{path}", gateway.server.url()))
            .header("authorization", format!("Bearer {CLIENT_KEY}"))
            .header("authorization", "Bearer sk-someone-else")
            .json(&chat_body("test/one", false))
            .send()
            .await
            .unwrap();
        let (status, body) = crate::support::error_response(response).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Authorization"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once() {
    let gateway = Gateway::start_with("max_connections = 2").await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut socket = TcpStream::connect(gateway.server.addr()).await.unwrap();
        socket
            .write_all(b"GET /health HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0_u8; 512];
        let n = socket.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(socket);
    }
    // The third is accepted and closed: the client learns at once (a close or a reset), and is
    // never answered.
    let mut third = TcpStream::connect(gateway.server.addr()).await.unwrap();
    let _ = third
        .write_all(b"GET /health HTTP/1.1\r\nhost: a\r\n\r\n")
        .await;
    let mut buf = [0_u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
        .await
        .expect("a connection past the cap hung");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // Once one closes, a new connection is served.
    drop(held.pop());
    let mut served = false;
    for _ in 0..100 {
        let response = gateway
            .client
            .get(format!("{}/health", gateway.server.url()))
            .send()
            .await;
        if response.is_ok_and(|it| it.status() == 200) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served);
}
