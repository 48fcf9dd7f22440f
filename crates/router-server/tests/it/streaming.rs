//! Streaming chat completions: chunk shape, the usage chunk, keep-alives, mid-stream errors and
//! client disconnects.

use std::time::Duration;

use futures_util::StreamExt;
use router_mock::{Behavior, Failure};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::support::{
    CLIENT_KEY, Event, Gateway, ONE_PRICES, assert_close, chat_body, content, data, error_response,
    expected_cost, read_events,
};

/// Every data chunk carries the fields SDKs require, with one id and `created` per stream.
fn assert_chunk_identity(chunks: &[&Value]) {
    let first = chunks[0];
    assert!(first["id"].as_str().unwrap().starts_with("gen-"));
    for chunk in chunks {
        assert_eq!(chunk["id"], first["id"], "{chunk}");
        assert_eq!(chunk["created"], first["created"], "{chunk}");
        assert_eq!(chunk["object"], "chat.completion.chunk", "{chunk}");
        assert_eq!(chunk["model"], "test/one", "{chunk}");
        assert_eq!(chunk["provider"], "Alpha AI", "{chunk}");
        assert!(chunk["choices"].is_array(), "{chunk}");
    }
}

#[tokio::test]
async fn streams_chunks_then_usage_then_done() {
    let gateway = Gateway::start().await;
    let response = gateway.chat(&chat_body("test/one", true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let generation_id = response.headers()["x-generation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let events = read_events(response).await;

    assert_eq!(events.last(), Some(&Event::Done));
    assert_eq!(events.iter().filter(|it| **it == Event::Done).count(), 1);
    let chunks = data(&events);
    assert_chunk_identity(&chunks);
    assert_eq!(chunks[0]["id"], generation_id.as_str());
    assert_eq!(content(&chunks), router_mock::default_reply("Hello"));
    assert!(chunks.iter().all(|chunk| chunk.get("error").is_none()));

    let (usage_chunk, content_chunks) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    let usage = &usage_chunk["usage"];
    assert!(usage["completion_tokens"].as_u64().unwrap() > 0);
    assert_close(&usage["cost"], expected_cost(usage, ONE_PRICES));
    assert!(
        content_chunks
            .iter()
            .all(|chunk| chunk.get("usage").is_none())
    );
    assert!(
        content_chunks
            .iter()
            .any(|chunk| chunk["choices"][0]["finish_reason"] == "stop")
    );
    assert!(gateway.alpha.calls()[0].stream);
}

#[tokio::test]
async fn sends_keepalive_comments_while_waiting_for_the_first_token() {
    let gateway = Gateway::start_with("keepalive_interval_ms = 50").await;
    gateway.behave(
        "one-upstream",
        Behavior {
            first_token_latency: Duration::from_millis(300),
            ..Behavior::default()
        },
    );
    let response = gateway.chat(&chat_body("test/one", true)).await;
    assert_eq!(response.status(), 200);
    let events = read_events(response).await;
    let first_data = events
        .iter()
        .position(|it| matches!(it, Event::Data(_)))
        .unwrap();
    assert!(
        events[..first_data].contains(&Event::Comment("OPENROUTER PROCESSING".to_owned())),
        "{events:?}"
    );
    assert_eq!(content(&data(&events)), router_mock::default_reply("Hello"));
    assert_eq!(events.last(), Some(&Event::Done));
}

#[tokio::test]
async fn a_failure_after_output_ends_with_an_error_chunk_then_done() {
    let gateway = Gateway::start().await;
    gateway.behave(
        "one-upstream",
        Behavior {
            reply: Some("one two three four five six".to_owned()),
            fail_after_chunks: Some(3),
            ..Behavior::default()
        },
    );
    let response = gateway.chat(&chat_body("test/one", true)).await;
    assert_eq!(response.status(), 200);
    let events = read_events(response).await;
    let chunks = data(&events);
    assert_chunk_identity(&chunks);
    assert_eq!(chunks.len(), 4, "{events:?}");
    assert_eq!(content(&chunks[..3]), "one two three ");
    let error_chunk = chunks[3];
    let code = &error_chunk["error"]["code"];
    assert!(code.is_u64(), "{error_chunk}");
    assert!(code.as_u64().unwrap() >= 500, "{error_chunk}");
    assert!(error_chunk["error"]["message"].is_string());
    assert!(error_chunk["error"]["metadata"]["error_type"].is_string());
    assert_eq!(error_chunk["choices"][0]["finish_reason"], "error");
    assert_eq!(error_chunk["choices"][0]["index"], 0);
    assert_eq!(events.last(), Some(&Event::Done));
    assert_eq!(events.len(), 5, "{events:?}");
}

#[tokio::test]
async fn a_failure_before_anything_was_sent_is_a_json_error() {
    let gateway = Gateway::start().await;
    gateway.behave(
        "one-upstream",
        Behavior {
            fail: Some(Failure::status(500)),
            ..Behavior::default()
        },
    );
    let response = gateway.chat(&chat_body("test/one", true)).await;
    let (status, body) = error_response(response).await;
    assert_eq!(status, 502);
    assert_eq!(
        body["error"]["metadata"]["error_type"],
        "provider_unavailable"
    );
}

#[tokio::test]
async fn a_failure_after_keepalives_is_an_error_chunk() {
    let gateway = Gateway::start_with("keepalive_interval_ms = 50").await;
    gateway.behave(
        "one-upstream",
        Behavior {
            first_token_latency: Duration::from_millis(300),
            fail: Some(Failure::status(500)),
            ..Behavior::default()
        },
    );
    let response = gateway.chat(&chat_body("test/one", true)).await;
    assert_eq!(response.status(), 200);
    let events = read_events(response).await;
    assert!(matches!(events[0], Event::Comment(_)), "{events:?}");
    let chunks = data(&events);
    assert_eq!(chunks.len(), 1, "{events:?}");
    assert_eq!(chunks[0]["error"]["code"], 502);
    assert_eq!(chunks[0]["choices"][0]["finish_reason"], "error");
    assert_eq!(chunks[0]["model"], "test/one");
    assert_eq!(events.last(), Some(&Event::Done));
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_call() {
    let gateway = Gateway::start().await;
    gateway.behave(
        "one-upstream",
        Behavior {
            reply: Some("word ".repeat(200)),
            tokens_per_second: Some(20.0),
            ..Behavior::default()
        },
    );
    let response = gateway.chat(&chat_body("test/one", true)).await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "), "{first:?}");
    drop(body);
    assert!(
        gateway
            .alpha
            .wait_for_disconnect(0, Duration::from_secs(10))
            .await,
        "the upstream call was not cancelled"
    );
}

#[tokio::test]
async fn a_client_that_gives_up_before_the_first_token_cancels_the_upstream_call() {
    // A first-byte timeout far beyond the wait below: only the client going away can end the
    // upstream calls.
    let gateway = Gateway::start_with_timeout("", 600_000).await;
    gateway.behave(
        "one-upstream",
        Behavior {
            hang: true,
            ..Behavior::default()
        },
    );
    for (call_index, stream) in [false, true].into_iter().enumerate() {
        // A raw connection, so that going away really closes the socket (a pooled HTTP client
        // may keep it open after a request is dropped).
        let mut socket = TcpStream::connect(gateway.server.addr()).await.unwrap();
        let body = chat_body("test/one", stream).to_string();
        let request = format!(
            "POST /api/v1/chat/completions HTTP/1.1\r\nhost: turnout\r\n\
             authorization: Bearer {CLIENT_KEY}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        // The client goes away once the provider has the call (and is silent on it).
        while gateway.alpha.calls().len() <= call_index {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(socket);
        assert!(
            gateway
                .alpha
                .wait_for_disconnect(call_index, Duration::from_secs(10))
                .await,
            "the upstream call (stream: {stream}) was not cancelled"
        );
    }
}

/// `test/one`'s endpoint as its endpoints page reports it.
async fn endpoint_stats(gateway: &Gateway) -> Value {
    let page: Value = gateway
        .client
        .get(format!(
            "{}/api/v1/models/test/one/endpoints",
            gateway.server.url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["data"]["endpoints"][0].clone()
}

#[tokio::test]
async fn a_finished_stream_reports_its_throughput_and_a_broken_one_its_failure() {
    let gateway = Gateway::start().await;
    let response = gateway.chat(&chat_body("test/one", true)).await;
    assert_eq!(response.status(), 200);
    let events = read_events(response).await;
    assert_eq!(events.last(), Some(&Event::Done));
    let stats = endpoint_stats(&gateway).await;
    assert!(
        stats["throughput_last_30m"]["p50"].as_f64().unwrap() > 0.0,
        "{stats}"
    );
    assert_eq!(stats["uptime_last_30m"], 100.0, "{stats}");

    gateway.behave(
        "one-upstream",
        Behavior {
            reply: Some("one two three four five six".to_owned()),
            fail_after_chunks: Some(3),
            ..Behavior::default()
        },
    );
    let response = gateway.chat(&chat_body("test/one", true)).await;
    let _ = read_events(response).await;
    let stats = endpoint_stats(&gateway).await;
    // One stream finished and one broke after its first output.
    assert_eq!(stats["uptime_last_30m"], 50.0, "{stats}");
}
