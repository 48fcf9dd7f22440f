//! HTTP/1.1 on the wire, spoken byte by byte over a raw socket: keep-alive and pipelining,
//! request bodies by length and chunked, `Expect: 100-continue`, `HEAD`, HTTP/1.0, chunked
//! streams, and malformed requests answered in OpenRouter's error shape.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{CLIENT_KEY, Gateway, chat_body};

/// A response as it came off the wire.
#[derive(Debug)]
struct Wire {
    status: u16,
    /// Header names lowercased, in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Wire {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(it, _)| it == name)
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A raw client connection and the bytes read from it but not used yet.
struct Client {
    socket: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(gateway: &Gateway) -> Client {
        Client {
            socket: TcpStream::connect(gateway.server.addr()).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).await.unwrap();
    }

    /// Reads more; false at the close.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0_u8; 16 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), self.socket.read(&mut chunk))
            .await
            .expect("the server went silent")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(2).position(|it| it == b"\r\n") {
                let line = String::from_utf8(self.buf[..end].to_vec()).unwrap();
                self.buf.drain(..end + 2);
                return line;
            }
            assert!(self.fill().await, "closed mid-line");
        }
    }

    async fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill().await, "closed mid-body");
        }
        self.buf.drain(..n).collect()
    }

    /// Reads one response; `head_only` for the answer to a `HEAD`.
    async fn response_to(&mut self, head_only: bool) -> Wire {
        let status_line = self.line().await;
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.line().await;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut wire = Wire {
            status,
            headers,
            body: Vec::new(),
        };
        if head_only || status == 100 || status == 204 {
            return wire;
        }
        if wire.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(&self.line().await, 16).unwrap();
                let data = self.take(size).await;
                assert_eq!(self.line().await, "", "chunk not followed by CRLF");
                if size == 0 {
                    break;
                }
                wire.body.extend_from_slice(&data);
            }
        } else if let Some(length) = wire.header("content-length") {
            wire.body = self.take(length.parse().unwrap()).await;
        } else {
            while self.fill().await {}
            wire.body = std::mem::take(&mut self.buf);
        }
        wire
    }

    async fn response(&mut self) -> Wire {
        self.response_to(false).await
    }

    /// Whether the server closed the connection with nothing more sent.
    async fn closed(&mut self) -> bool {
        self.buf.is_empty() && !self.fill().await
    }
}

fn chat_head(extra: &str) -> String {
    format!(
        "POST /api/v1/chat/completions HTTP/1.1\r\nhost: turnout\r\n\
         authorization: Bearer {CLIENT_KEY}\r\ncontent-type: application/json\r\n{extra}\r\n"
    )
}

/// An error in OpenRouter's shape with `status` as its code.
fn assert_error(wire: &Wire, status: u16) {
    assert_eq!(wire.status, status, "{wire:?}");
    assert_eq!(wire.header("content-type"), Some("application/json"));
    assert_eq!(wire.json()["error"]["code"], status, "{wire:?}");
    assert!(wire.json()["error"]["message"].is_string());
}

#[tokio::test]
async fn one_connection_carries_pipelined_requests_in_order() {
    let gateway = Gateway::start().await;
    let mut client = Client::connect(&gateway).await;
    let body = chat_body("test/one", false).to_string();
    let chat = format!(
        "{}{body}",
        chat_head(&format!("content-length: {}\r\n", body.len()))
    );
    // Three requests in one write: a chat completion between two others.
    let health = "GET /health HTTP/1.1\r\nhost: turnout\r\n\r\n";
    client
        .send(format!("{health}{chat}GET /nowhere HTTP/1.1\r\nhost: turnout\r\n\r\n").as_bytes())
        .await;
    let first = client.response().await;
    assert_eq!(first.status, 200);
    assert!(first.header("date").is_some());
    let second = client.response().await;
    assert_eq!(second.status, 200);
    assert_eq!(second.json()["model"], "test/one");
    assert_error(&client.response().await, 404);
    // And the connection is still open for more.
    client.send(health.as_bytes()).await;
    assert_eq!(client.response().await.status, 200);
}

#[tokio::test]
async fn chunked_request_bodies_are_read_whole() {
    let gateway = Gateway::start().await;
    let mut client = Client::connect(&gateway).await;
    let body = chat_body("test/one", false).to_string();
    let (a, b) = body.split_at(body.len() / 2);
    let chunked = format!(
        "{}{:x};ext=1\r\n{a}\r\n{:X}\r\n{b}\r\n0\r\ntrailer: x\r\n\r\n",
        chat_head("transfer-encoding: chunked\r\n"),
        a.len(),
        b.len()
    );
    client.send(chunked.as_bytes()).await;
    let wire = client.response().await;
    assert_eq!(wire.status, 200, "{wire:?}");
    assert_eq!(wire.json()["model"], "test/one");

    client
        .send(format!("{}zz\r\n", chat_head("transfer-encoding: chunked\r\n")).as_bytes())
        .await;
    assert_error(&client.response().await, 400);
    assert!(client.closed().await);
}

#[tokio::test]
async fn expect_continue_gets_a_go_ahead_only_within_the_limit() {
    let gateway = Gateway::start().await;
    let mut client = Client::connect(&gateway).await;
    let body = chat_body("test/one", false).to_string();
    let head = chat_head(&format!(
        "expect: 100-continue\r\ncontent-length: {}\r\n",
        body.len()
    ));
    client.send(head.as_bytes()).await;
    assert_eq!(client.response().await.status, 100);
    client.send(body.as_bytes()).await;
    let wire = client.response().await;
    assert_eq!(wire.status, 200, "{wire:?}");

    // The test config's limit is 4096 bytes: a larger body is refused unread.
    let mut client = Client::connect(&gateway).await;
    let head = chat_head("expect: 100-continue\r\ncontent-length: 5000\r\n");
    client.send(head.as_bytes()).await;
    let wire = client.response().await;
    assert_error(&wire, 413);
    assert_eq!(wire.header("connection"), Some("close"));
    assert!(client.closed().await);
}

/// Heads hyper refuses itself: answered with the status alone (no body, hence not in the
/// API's error shape), then the connection is closed with nothing read past the bad head.
#[tokio::test]
async fn malformed_heads_are_refused_by_status_then_closed() {
    let gateway = Gateway::start().await;
    let many: String = (0..101).map(|n| format!("x-{n}: v\r\n")).collect();
    let cases = [
        (
            "GET /health HTTP/1.1\r\nno colon here\r\n\r\n".to_owned(),
            400,
        ),
        (
            "GET /health HTTP/1.1\r\nhost: a\r\ncontent-length: 1, 2\r\n\r\n".to_owned(),
            400,
        ),
        (format!("GET /health HTTP/1.1\r\n{many}\r\n"), 431),
        (
            format!("GET /health HTTP/1.1\r\nx: {}\r\n\r\n", "a".repeat(70_000)),
            431,
        ),
        ("GET /health HTTP/1.2\r\nhost: a\r\n\r\n".to_owned(), 400),
    ];
    for (request, status) in cases {
        let mut client = Client::connect(&gateway).await;
        client.send(request.as_bytes()).await;
        let wire = client.response().await;
        assert_eq!(wire.status, status, "{request:?}");
        assert!(wire.body.is_empty(), "{request:?}");
        assert!(client.closed().await, "{request:?}");
    }
}

#[tokio::test]
async fn http_1_0_and_connection_close_are_answered_then_closed() {
    let gateway = Gateway::start().await;
    for request in [
        "GET /health HTTP/1.0\r\n\r\n",
        "GET /health HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    ] {
        let mut client = Client::connect(&gateway).await;
        client.send(request.as_bytes()).await;
        let wire = client.response().await;
        assert_eq!(wire.status, 200, "{request:?}");
        assert!(client.closed().await, "{request:?}");
    }
}

#[tokio::test]
async fn head_answers_carry_no_body() {
    let gateway = Gateway::start().await;
    let mut client = Client::connect(&gateway).await;
    client
        .send(b"HEAD /health HTTP/1.1\r\nhost: a\r\n\r\nGET /health HTTP/1.1\r\nhost: a\r\n\r\n")
        .await;
    let head = client.response_to(true).await;
    assert_eq!(head.status, 200);
    // Had the HEAD answer carried a body, it would be read as the next response's start.
    let get = client.response().await;
    assert_eq!(get.status, 200);
    assert!(!get.body.is_empty());
}

#[tokio::test]
async fn streams_are_chunked_end_with_the_last_chunk_and_keep_the_connection() {
    let gateway = Gateway::start().await;
    let mut client = Client::connect(&gateway).await;
    let body = chat_body("test/one", true).to_string();
    let request = format!(
        "{}{body}",
        chat_head(&format!("content-length: {}\r\n", body.len()))
    );
    for _ in 0..2 {
        client.send(request.as_bytes()).await;
        let wire = client.response().await;
        assert_eq!(wire.status, 200);
        assert_eq!(wire.header("transfer-encoding"), Some("chunked"));
        assert_eq!(wire.header("content-type"), Some("text/event-stream"));
        let text = String::from_utf8(wire.body).unwrap();
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    }
}

#[tokio::test]
async fn a_client_that_does_not_finish_its_request_in_time_is_closed() {
    let gateway = Gateway::start_with("request_read_timeout_ms = 200").await;
    // Idle after a request, mid-head, and mid-body.
    let body = chat_body("test/one", false).to_string();
    let partial_body = format!(
        "{}{}",
        chat_head(&format!("content-length: {}\r\n", body.len())),
        &body[..10]
    );
    for (first, then) in [
        ("GET /health HTTP/1.1\r\nhost: a\r\n\r\n", ""),
        ("", "GET /health HTTP/1.1\r\nhost"),
        ("", partial_body.as_str()),
    ] {
        let mut client = Client::connect(&gateway).await;
        if !first.is_empty() {
            client.send(first.as_bytes()).await;
            assert_eq!(client.response().await.status, 200);
        }
        client.send(then.as_bytes()).await;
        // Closed (a body cut short is answered 400 first); `closed` and `response` fail the
        // test if it takes 10 s.
        if then.contains("content-length") {
            assert_error(&client.response().await, 400);
        }
        assert!(client.closed().await, "{then:?}");
    }
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_finishes_the_request_in_flight() {
    let gateway = Gateway::start().await;
    gateway.behave(
        "one-upstream",
        router_mock::Behavior {
            first_token_latency: Duration::from_millis(300),
            ..router_mock::Behavior::default()
        },
    );
    let mut idle = Client::connect(&gateway).await;
    idle.send(b"GET /health HTTP/1.1\r\nhost: a\r\n\r\n").await;
    assert_eq!(idle.response().await.status, 200);
    let mut busy = Client::connect(&gateway).await;
    let body = chat_body("test/one", false).to_string();
    let request = format!(
        "{}{body}",
        chat_head(&format!("content-length: {}\r\n", body.len()))
    );
    busy.send(request.as_bytes()).await;
    while gateway.alpha.calls().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let crate::support::Gateway {
        server,
        alpha,
        beta,
        ..
    } = gateway;
    let stopped = tokio::spawn(server.shutdown(Duration::from_secs(10)));
    assert!(idle.closed().await);
    let answer = busy.response().await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["model"], "test/one");
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(busy.closed().await);
    stopped.await.unwrap().unwrap();
    drop((alpha, beta));
}

#[tokio::test]
async fn a_client_sending_a_body_over_the_limit_reads_the_413_not_a_reset() {
    let gateway = Gateway::start().await;
    let mut client = Client::connect(&gateway).await;
    // Far over the 4096-byte limit and more than socket buffers hold: the client is still
    // writing when the answer comes, and finishes only if the server drains the rest.
    let body = vec![b' '; 4 << 20];
    client
        .send(chat_head(&format!("content-length: {}\r\n", body.len())).as_bytes())
        .await;
    client.send(&body).await;
    let wire = client.response().await;
    assert_error(&wire, 413);
    assert!(client.closed().await);
}
