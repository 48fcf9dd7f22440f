//! `bare-proxy`, the bench's reference proxy: it forwards to the mock with the provider's key,
//! keeps answers as they are, and passes a stream through to `[DONE]`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use router_mock::{MockConfig, MockProvider};
use serde_json::Value;
use support::{chat, chat_stream, client};

#[tokio::test]
async fn forwards_answers_and_streams_with_the_providers_key() {
    let mock = MockProvider::start(MockConfig {
        api_key: Some("sk-mock-secret".to_owned()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let mut proxy = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_bare-proxy"))
            .args(["127.0.0.1:0", &mock.addr().to_string(), "sk-mock-secret"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(proxy.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("bare-proxy listening on ")
        .unwrap()
        .to_owned();
    let url = format!("{base}/v1/chat/completions");
    let client = client();

    // Several answers in a row, so pooled connections are reused.
    for text in ["one", "two", "three"] {
        let answer: Value = client
            .post(&url)
            .json(&chat("m", text))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["object"], "chat.completion", "{answer}");
        let reply = answer["choices"][0]["message"]["content"].as_str().unwrap();
        assert_eq!(reply, format!("Mock reply to: {text}"), "{answer}");
    }
    let stream = client
        .post(&url)
        .json(&chat_stream("m", "a b c", false))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let text = stream.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(text.matches("chat.completion.chunk").count() >= 3, "{text}");

    // The mock saw four calls, each with the provider's key (it refuses any other).
    assert_eq!(mock.calls().len(), 4);
}

/// Kills the child process when the test ends, also when it fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
