//! `bare-proxy`, the bench's reference proxy: it forwards to the mock with the provider's key,
//! keeps answers as they are, and passes a stream through to `[DONE]`.

mod support;

use std::process::Command;

use router_mock::{MockConfig, MockProvider};
use support::{chat, chat_stream, client, post_json, read_stream, spawn_announced};

#[tokio::test]
async fn forwards_answers_and_streams_with_the_providers_key() {
    let mock = MockProvider::start(MockConfig {
        api_key: Some("sk-mock-secret".to_owned()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let (_proxy, base) = spawn_announced(
        Command::new(env!("CARGO_BIN_EXE_bare-proxy")).args([
            "127.0.0.1:0",
            &mock.addr().to_string(),
            "sk-mock-secret",
        ]),
        "bare-proxy listening on ",
    );
    let url = format!("{base}/v1/chat/completions");

    // Several answers in a row, so pooled connections are reused.
    for text in ["one", "two", "three"] {
        let answer = post_json(&url, &chat("m", text)).await;
        assert_eq!(answer["object"], "chat.completion", "{answer}");
        let reply = answer["choices"][0]["message"]["content"].as_str().unwrap();
        assert_eq!(reply, format!("Mock reply to: {text}"), "{answer}");
    }
    let stream = client()
        .post(&url)
        .json(&chat_stream("m", "a b c", false))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let read = read_stream(stream).await;
    assert!(!read.cut);
    assert_eq!(read.events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(read.contents().concat(), "Mock reply to: a b c");

    // The mock saw four calls, each with the provider's key (it refuses any other).
    assert_eq!(mock.calls().len(), 4);
}
