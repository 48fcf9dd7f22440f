//! Stopping the real binary with SIGTERM: streams in flight end with `[DONE]` (the error chunk
//! first when the grace period runs out), the process exits 0, and every generation id a client
//! received is in the record store after a restart.

use std::time::Duration;

use futures_util::StreamExt as _;
use router_mock::Behavior;

use crate::process::{self, ServerProcess, TempDir};
use crate::support::{CLIENT_KEY, chat_body, client, mock, parse_events};

/// Starts a stream and reads it up to its first event; its generation id and the rest.
async fn open_stream(
    server: &ServerProcess,
) -> (
    String,
    impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + use<>,
    Vec<u8>,
) {
    let response = client()
        .post(format!("{}/api/v1/chat/completions", server.url()))
        .bearer_auth(CLIENT_KEY)
        .json(&chat_body("test/one", true))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-generation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap().to_vec();
    assert!(first.starts_with(b"data: "), "{first:?}");
    (id, body, first)
}

#[tokio::test]
async fn sigterm_ends_every_stream_with_done_exits_0_and_keeps_the_records() {
    let mock = mock().await;
    // Ten seconds of output per stream: longer than the grace period.
    mock.set_behavior(
        "one-upstream",
        Behavior {
            reply: Some("word ".repeat(100)),
            tokens_per_second: Some(10.0),
            ..Behavior::default()
        },
    );
    let dir = TempDir::new("sigterm");
    let records = dir.path().join("records.sqlite");
    let config = process::config(
        &mock.base_url(),
        &format!(
            "records_path = {:?}\nshutdown_grace_ms = 1000\n",
            records.display().to_string()
        ),
    );
    let server = ServerProcess::start(dir.path(), &config);
    let mut streams = Vec::new();
    for _ in 0..5 {
        streams.push(open_stream(&server).await);
    }
    server.signal("TERM");
    let mut ids = Vec::new();
    for (id, mut body, mut text) in streams {
        while let Some(bytes) = body.next().await {
            text.extend_from_slice(&bytes.unwrap());
        }
        let text = String::from_utf8(text).unwrap();
        let events = parse_events(&text);
        assert_eq!(
            events.last(),
            Some(&crate::support::Event::Done),
            "stream {id} did not end with [DONE]: {text}"
        );
        let error = crate::support::data(&events)
            .into_iter()
            .find(|chunk| chunk.get("error").is_some())
            .unwrap_or_else(|| panic!("no error chunk: {text}"));
        assert_eq!(error["error"]["code"], 503, "{text}");
        ids.push(id);
    }
    let status = server.wait().await;
    assert!(status.success(), "{status:?}");

    let server = ServerProcess::start(dir.path(), &config);
    for id in ids {
        let response = client()
            .get(format!("{}/api/v1/generation?id={id}", server.url()))
            .bearer_auth(CLIENT_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "generation {id} was not kept");
        let record: serde_json::Value = response.json().await.unwrap();
        assert_eq!(record["data"]["id"], id.as_str(), "{record}");
    }
    server.signal("TERM");
    assert!(server.wait().await.success());
}

#[tokio::test]
async fn streams_that_end_within_the_grace_period_end_normally() {
    let mock = mock().await;
    mock.set_behavior(
        "one-upstream",
        Behavior {
            reply: Some("word ".repeat(10)),
            tokens_per_second: Some(20.0),
            ..Behavior::default()
        },
    );
    let dir = TempDir::new("sigint");
    let config = process::config(&mock.base_url(), "shutdown_grace_ms = 30000\n");
    let server = ServerProcess::start(dir.path(), &config);
    let (_id, mut body, mut text) = open_stream(&server).await;
    server.signal("INT");
    while let Some(bytes) = body.next().await {
        text.extend_from_slice(&bytes.unwrap());
    }
    let text = String::from_utf8(text).unwrap();
    let events = parse_events(&text);
    assert_eq!(events.last(), Some(&crate::support::Event::Done), "{text}");
    let chunks = crate::support::data(&events);
    assert!(
        chunks.iter().all(|chunk| chunk.get("error").is_none()),
        "{text}"
    );
    assert!(chunks.last().unwrap()["usage"].is_object(), "{text}");
    // New connections are no longer taken.
    let refused = client()
        .get(format!("{}/health", server.url()))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(server.wait().await.success());
}
