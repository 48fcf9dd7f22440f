//! Tests of `transport`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const AGENT: &str = "turnout/test";

fn transport(url: &str, proxy_in_env: bool) -> Transport {
    let mut headers = HeaderMap::new();
    let mut key = HeaderValue::from_static("Bearer sk-test");
    key.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, key);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Transport::new(
        Url::parse(url).unwrap(),
        headers,
        AGENT,
        Duration::from_secs(5),
        proxy_in_env,
    )
    .unwrap()
}

/// What [`post`] asks for: a JSON answer, or a stream.
const JSON: bool = false;
const STREAM: bool = true;

/// POSTs `body` asking for a stream or not, with a total timeout of `total_timeout`.
async fn post(
    transport: &Transport,
    body: &[u8],
    stream: bool,
    total_timeout: Duration,
) -> Result<Response, TransportError> {
    transport.post(body.to_vec(), stream, total_timeout).await
}

/// A server that answers one request with `answer` and hands back the request it read. It
/// then holds the connection open (a stalled body stays stalled) until the client leaves or
/// sends more, and hands back how many bytes that next read got (0: the client closed).
async fn one_shot_server(
    answer: &'static [u8],
) -> (
    Url,
    tokio::sync::oneshot::Receiver<String>,
    tokio::sync::oneshot::Receiver<usize>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    ))
    .unwrap();
    let (seen, request_seen) = tokio::sync::oneshot::channel();
    let (next, next_read) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0_u8; 4096];
        while !request.ends_with(b"}") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending its body");
            request.extend_from_slice(&buf[..n]);
        }
        conn.write_all(answer).await.unwrap();
        let _ = seen.send(String::from_utf8(request).unwrap());
        // What the client does next: close (0 bytes), or send more.
        let _ = next.send(conn.read(&mut buf).await.unwrap_or(0));
    });
    (url, request_seen, next_read)
}

#[test]
fn only_plain_http_without_a_proxy_bypasses_reqwest() {
    assert!(transport("http://127.0.0.1:9/v1/chat/completions", false).is_plain());
    assert!(!transport("http://127.0.0.1:9/v1/chat/completions", true).is_plain());
    assert!(!transport("https://api.example.com/v1/chat/completions", false).is_plain());
}

#[tokio::test]
async fn plain_requests_carry_every_header_and_read_the_body() {
    let (url, server, _next) = one_shot_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}",
    )
    .await;
    let transport = transport(url.as_str(), false);
    let response = post(&transport, b"{\"a\":1}", JSON, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        &response.bytes_within(1 << 20).await.unwrap()[..],
        b"{\"ok\":true}"
    );
    let request = server.await.unwrap().to_ascii_lowercase();
    assert!(
        request.starts_with("post /v1/chat/completions http/1.1\r\n"),
        "{request}"
    );
    for line in [
        format!("host: {}\r\n", url.authority()),
        "authorization: bearer sk-test\r\n".to_owned(),
        "content-type: application/json\r\n".to_owned(),
        "accept: application/json\r\n".to_owned(),
        format!("user-agent: {AGENT}\r\n"),
        "content-length: 7\r\n".to_owned(),
    ] {
        assert!(request.contains(&line), "{line:?} missing in {request}");
    }
    assert!(request.ends_with("\r\n\r\n{\"a\":1}"), "{request}");
}

#[tokio::test]
async fn the_total_timeout_bounds_the_body() {
    let (url, _server, _next) =
        one_shot_server(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            .await;
    let transport = transport(url.as_str(), false);
    let mut response = post(&transport, b"{}", STREAM, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(
        response.chunk().await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
    let err = response.chunk().await.unwrap_err();
    assert!(err.is_timeout() && !err.is_connect(), "{err:?}");
    assert!(err.describe().contains("total timeout"));
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let transport = transport(&format!("http://{addr}/v1/chat/completions"), false);
    let err = post(&transport, b"{}", JSON, Duration::from_secs(20))
        .await
        .err()
        .unwrap();
    assert!(err.is_connect() && !err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn a_large_body_is_read_across_many_reads() {
    let body: Vec<u8> = (0..300_000_u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut answer =
        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    answer.extend_from_slice(&body);
    let (url, _server, _next) = one_shot_server(answer.leak()).await;
    let transport = transport(url.as_str(), false);
    let response = post(&transport, b"{}", JSON, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(
        &response.bytes_within(1 << 20).await.unwrap()[..],
        &body[..]
    );
}

#[tokio::test]
async fn a_streamed_body_ends_after_its_last_chunk() {
    let (url, _server, _next) = one_shot_server(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    )
    .await;
    let transport = transport(url.as_str(), false);
    let response = post(&transport, b"{}", STREAM, Duration::from_secs(20))
        .await
        .unwrap();
    let chunks: Vec<Bytes> = response
        .into_stream()
        .map(|chunk| chunk.unwrap())
        .collect()
        .await;
    assert_eq!(chunks.concat(), b"abcde");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    // Declared too long: refused from the head, before any body byte is read.
    let (url, _server, _next) =
        one_shot_server(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000000\r\n\r\n{\"choices\":")
            .await;
    let client = transport(url.as_str(), false);
    let response = post(&client, b"{}", JSON, Duration::from_secs(20))
        .await
        .unwrap();
    let err = response.bytes_within(1024).await.unwrap_err();
    assert!(err.is_too_large() && !err.is_timeout(), "{err:?}");
    assert!(err.describe().contains("max_response_bytes (1024 bytes)"));

    // Chunked: read up to the limit, and no further.
    let (url, _server, _next) = one_shot_server(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n4\r\nefgh\r\n4\r\nijkl\r\n",
    )
    .await;
    let client = transport(url.as_str(), false);
    let response = post(&client, b"{}", JSON, Duration::from_secs(20))
        .await
        .unwrap();
    let err = response.bytes_within(10).await.unwrap_err();
    assert!(err.is_too_large(), "{err:?}");
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_read() {
    let (url, _server, _next) = one_shot_server(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n4\r\nefgh\r\n4\r\nijkl\r\n0\r\n\r\n",
    )
    .await;
    let transport = transport(url.as_str(), false);
    let response = post(&transport, b"{}", JSON, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(
        &response.bytes_within(12).await.unwrap()[..],
        b"abcdefghijkl"
    );
}

#[test]
fn the_buffer_never_grows_past_the_limit() {
    let mut body = Vec::new();
    for _ in 0..7 {
        append_within(&mut body, &[b'x'; 100], 700).unwrap();
        assert!(body.capacity() <= 700, "{}", body.capacity());
    }
    assert_eq!(body.len(), 700);
    assert_eq!(append_within(&mut body, b"y", 700), None);
    assert_eq!(body.len(), 700);
}

/// What a [`scripted_server`] does with the next request it reads.
#[derive(Clone, Copy)]
enum Reply {
    /// Answers with a small keep-alive `200`.
    Answer,
    /// Answers, then closes the connection (as a provider's idle timeout would, later).
    AnswerThenClose,
    /// Closes the connection without answering.
    Close,
}

/// Counts of what a [`scripted_server`] saw.
#[derive(Default)]
struct Seen {
    connections: std::sync::atomic::AtomicUsize,
    requests: std::sync::atomic::AtomicUsize,
}

/// A server that reads whole requests and replies to the n-th one (over all connections) as
/// `replies[n]` says; `closed` gets a message each time it closes a connection itself.
async fn scripted_server(
    replies: Vec<Reply>,
) -> (
    Url,
    std::sync::Arc<Seen>,
    tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    use std::sync::atomic::Ordering::SeqCst;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    ))
    .unwrap();
    let seen = std::sync::Arc::new(Seen::default());
    let counts = std::sync::Arc::clone(&seen);
    let (closed_tx, closed) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            counts.connections.fetch_add(1, SeqCst);
            let counts = std::sync::Arc::clone(&counts);
            let replies = replies.clone();
            let closed_tx = closed_tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut read = [0_u8; 4096];
                loop {
                    // One whole request: the head, then `content-length` bytes.
                    let request_end = loop {
                        if let Some(head_end) = buf.windows(4).position(|it| it == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                            let length: usize = head
                                .lines()
                                .find_map(|line| line.strip_prefix("content-length: "))
                                .map_or(0, |it| it.trim().parse().unwrap());
                            if buf.len() >= head_end + 4 + length {
                                break head_end + 4 + length;
                            }
                        }
                        match conn.read(&mut read).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&read[..n]),
                        }
                    };
                    buf.drain(..request_end);
                    let n = counts.requests.fetch_add(1, SeqCst);
                    let reply = replies.get(n).copied().unwrap_or(Reply::Answer);
                    if let Reply::Answer | Reply::AnswerThenClose = reply {
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if conn.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                    if let Reply::AnswerThenClose | Reply::Close = reply {
                        drop(conn);
                        let _ = closed_tx.send(());
                        return;
                    }
                }
            });
        }
    });
    (url, seen, closed)
}

async fn exchange(client: &Transport, stream: bool) -> Result<Bytes, TransportError> {
    post(client, b"{}", stream, Duration::from_secs(20))
        .await?
        .bytes_within(1024)
        .await
}

/// Both kinds of pooled connection: driven by a task of their own (answers read whole), and
/// by their reader (streams).
const BOTH: [(bool, Drive); 2] = [(JSON, Drive::Task), (STREAM, Drive::Inline)];

#[tokio::test]
async fn a_connection_is_reused_and_one_the_provider_closed_is_not() {
    use std::sync::atomic::Ordering::SeqCst;

    for (stream, drive) in BOTH {
        let (url, seen, mut closed) =
            scripted_server(vec![Reply::Answer, Reply::AnswerThenClose]).await;
        let client = transport(url.as_str(), false);
        assert_eq!(&exchange(&client, stream).await.unwrap()[..], b"ok");
        assert_eq!(&exchange(&client, stream).await.unwrap()[..], b"ok");
        assert_eq!(
            seen.connections.load(SeqCst),
            1,
            "{drive:?}: the connection was reused"
        );
        closed.recv().await.unwrap();
        // The provider closed the pooled connection: the next request goes on a new one, once.
        assert_eq!(&exchange(&client, stream).await.unwrap()[..], b"ok");
        assert_eq!(seen.connections.load(SeqCst), 2, "{drive:?}");
        assert_eq!(seen.requests.load(SeqCst), 3, "{drive:?}");
    }
}

#[tokio::test]
async fn a_connection_idle_past_the_idle_timeout_is_not_reused() {
    use std::sync::atomic::Ordering::SeqCst;

    for (stream, drive) in BOTH {
        let (url, seen, _closed) = scripted_server(vec![]).await;
        let client = transport(url.as_str(), false);
        assert_eq!(&exchange(&client, stream).await.unwrap()[..], b"ok");
        assert_eq!(&exchange(&client, stream).await.unwrap()[..], b"ok");
        assert_eq!(seen.connections.load(SeqCst), 1, "{drive:?}");
        tokio::time::pause();
        tokio::time::advance(IDLE_TIMEOUT + Duration::from_secs(1)).await;
        tokio::time::resume();
        assert_eq!(&exchange(&client, stream).await.unwrap()[..], b"ok");
        assert_eq!(
            seen.connections.load(SeqCst),
            2,
            "{drive:?}: the stale connection was reused"
        );
    }
}

#[tokio::test]
async fn a_connection_is_reused_once_its_answer_was_read_even_if_its_end_was_not_asked_for() {
    use std::sync::atomic::Ordering::SeqCst;

    // A stream reader stops at its last event (`[DONE]`) and drops the body without asking
    // for its end; hyper has read the whole answer by then, so the connection serves again.
    for (stream, drive) in BOTH {
        let (url, seen, _closed) = scripted_server(vec![]).await;
        let client = transport(url.as_str(), false);
        for _ in 0..3 {
            let mut response = post(&client, b"{}", stream, Duration::from_secs(20))
                .await
                .unwrap();
            assert_eq!(response.chunk().await.unwrap().as_deref(), Some(&b"ok"[..]));
        }
        assert_eq!(&exchange(&client, stream).await.unwrap()[..], b"ok");
        assert_eq!(seen.requests.load(SeqCst), 4, "{drive:?}");
        assert_eq!(
            seen.connections.load(SeqCst),
            1,
            "{drive:?}: a connection per answer"
        );
        let Transport::Plain(plain) = &client else {
            panic!("not plain")
        };
        assert_eq!(plain.pool.idle(drive), 1, "{drive:?}");
    }
}

#[tokio::test]
async fn streams_and_answers_read_whole_keep_connections_of_their_own() {
    use std::sync::atomic::Ordering::SeqCst;

    let (url, seen, _closed) = scripted_server(vec![]).await;
    let client = transport(url.as_str(), false);
    for (stream, _) in BOTH {
        assert_eq!(&exchange(&client, stream).await.unwrap()[..], b"ok");
        assert_eq!(&exchange(&client, stream).await.unwrap()[..], b"ok");
    }
    assert_eq!(seen.connections.load(SeqCst), 2, "one of each kind");
    let Transport::Plain(plain) = &client else {
        panic!("not plain")
    };
    for (_, drive) in BOTH {
        assert_eq!(plain.pool.idle(drive), 1, "{drive:?}");
    }
}

#[tokio::test]
async fn a_body_dropped_before_its_end_closes_its_connection() {
    let (url, _request, next_read) =
        one_shot_server(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            .await;
    let client = transport(url.as_str(), false);
    let mut response = post(&client, b"{}", STREAM, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(
        response.chunk().await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
    drop(response);
    assert_eq!(next_read.await.unwrap(), 0, "the connection stayed open");
}

#[tokio::test]
async fn a_request_that_was_written_is_never_sent_again() {
    use std::sync::atomic::Ordering::SeqCst;

    // On a new connection and on a reused one: read whole, then no answer.
    let (url, seen, _closed) = scripted_server(vec![Reply::Close]).await;
    let client = transport(url.as_str(), false);
    let err = exchange(&client, JSON).await.unwrap_err();
    assert!(!err.is_connect() && !err.is_timeout(), "{err:?}");
    assert_eq!(seen.requests.load(SeqCst), 1);

    let (url, seen, _closed) = scripted_server(vec![Reply::Answer, Reply::Close]).await;
    let client = transport(url.as_str(), false);
    exchange(&client, JSON).await.unwrap();
    let err = exchange(&client, JSON).await.unwrap_err();
    assert!(!err.is_connect() && !err.is_timeout(), "{err:?}");
    assert_eq!(seen.requests.load(SeqCst), 2);
    assert_eq!(seen.connections.load(SeqCst), 1);
}
