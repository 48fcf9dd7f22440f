//! Tests of the connection pool against a raw HTTP/1.1 server on loopback that counts the
//! connections it accepts.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// A complete answer with a small body.
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// What the server does.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answer [`ANSWER`] and keep the connection for the next request.
    KeepAlive,
    /// Answer [`ANSWER`] and close the connection (without saying so in the response).
    Close,
    /// Send the head and the first chunk of a chunked body, then nothing more.
    Stall,
}

/// Connections the server has accepted, and how many of them the client has closed.
#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    closed_by_client: AtomicUsize,
}

/// A server on loopback answering every request as `behaviour` says; returns its port.
async fn server(behaviour: Behaviour) -> (u16, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = Arc::new(Counts::default());
    let shared = counts.clone();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            shared.accepted.fetch_add(1, Ordering::SeqCst);
            let counts = shared.clone();
            tokio::spawn(async move {
                let mut buf = vec![0_u8; 4096];
                let mut seen = Vec::new();
                loop {
                    let Ok(n) = conn.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        counts.closed_by_client.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    // Every test request has an empty body.
                    while let Some(end) = seen.windows(4).position(|it| it == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let answer: &[u8] = match behaviour {
                            Behaviour::KeepAlive | Behaviour::Close => ANSWER,
                            Behaviour::Stall => {
                                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n"
                            }
                        };
                        if conn.write_all(answer).await.is_err() {
                            return;
                        }
                        if matches!(behaviour, Behaviour::Close) {
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, counts)
}

/// A request with an empty body.
fn request(port: u16) -> Vec<u8> {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Sends one request and reads its body to the end, which gives the connection back.
async fn exchange(pool: &Arc<Pool>, port: u16) -> Bytes {
    let (head, mut body) = pool.send([&request(port)[..], b""]).await.unwrap();
    assert_eq!(head.status, 200);
    let mut bytes = Vec::new();
    while let Some(data) = body.chunk().await.unwrap() {
        bytes.extend_from_slice(&data);
    }
    Bytes::from(bytes)
}

#[tokio::test]
async fn a_connection_is_reused_once_its_body_was_read() {
    let (port, counts) = server(Behaviour::KeepAlive).await;
    let pool = Pool::new("127.0.0.1".to_owned(), port, Duration::from_secs(5));
    for _ in 0..3 {
        assert_eq!(&exchange(&pool, port).await[..], b"ok");
        assert_eq!(pool.idle_count(), 1);
    }
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unread_body_that_had_fully_arrived_does_not_cost_the_connection() {
    // The end of an SSE stream: the reader stops at `[DONE]`, and the chunked terminator after
    // it has arrived but was never read.
    let (port, counts) = server(Behaviour::KeepAlive).await;
    let pool = Pool::new("127.0.0.1".to_owned(), port, Duration::from_secs(5));
    let (_head, body) = pool.send([&request(port)[..], b""]).await.unwrap();
    drop(body);
    assert_eq!(pool.idle_count(), 1);
    assert_eq!(&exchange(&pool, port).await[..], b"ok");
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_body_abandoned_mid_way_closes_the_connection() {
    let (port, counts) = server(Behaviour::Stall).await;
    let pool = Pool::new("127.0.0.1".to_owned(), port, Duration::from_secs(5));
    let (_head, mut body) = pool.send([&request(port)[..], b""]).await.unwrap();
    let first = body.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"first");
    drop(body);
    assert_eq!(pool.idle_count(), 0);
    // The provider sees the connection close, and the next request gets a new one.
    tokio::time::timeout(Duration::from_secs(10), async {
        while counts.closed_by_client.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the abandoned connection was never closed");
    let _answer = pool.send([&request(port)[..], b""]).await.unwrap();
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrent_exchanges_each_get_a_connection() {
    let (port, counts) = server(Behaviour::KeepAlive).await;
    let pool = Pool::new("127.0.0.1".to_owned(), port, Duration::from_secs(5));
    let first = pool.send([&request(port)[..], b""]).await.unwrap();
    let second = pool.send([&request(port)[..], b""]).await.unwrap();
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 2);
    drop((first, second));
    assert_eq!(pool.idle_count(), 2);
}

#[tokio::test]
async fn a_connection_the_provider_closed_while_idle_is_replaced() {
    let (port, counts) = server(Behaviour::Close).await;
    let pool = Pool::new("127.0.0.1".to_owned(), port, Duration::from_secs(5));
    for round in 1..=3 {
        // The server closes after each answer, without saying so in the response.
        assert_eq!(&exchange(&pool, port).await[..], b"ok");
        assert_eq!(counts.accepted.load(Ordering::SeqCst), round);
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let pool = Pool::new("127.0.0.1".to_owned(), port, Duration::from_secs(5));
    let err = pool.send([&request(port)[..], b""]).await.err().unwrap();
    assert!(err.is_connect() && !err.is_timeout(), "{err:?}");
    assert!(err.to_string().starts_with("cannot connect: "), "{err}");
}
