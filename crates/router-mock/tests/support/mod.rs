//! Helpers shared by the integration tests: an HTTP client, request bodies and an SSE reader.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use futures_util::StreamExt;
use router_mock::{Behavior, MockConfig, MockProvider};
use serde_json::{Value, json};

/// A plain client; tests that need a timeout set it per request.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// A mock whose `models` have the given behaviours.
pub(crate) async fn start(
    models: impl IntoIterator<Item = (&'static str, Behavior)>,
) -> MockProvider {
    let models: HashMap<String, Behavior> = models
        .into_iter()
        .map(|(name, behavior)| (name.to_owned(), behavior))
        .collect();
    MockProvider::start(MockConfig {
        models,
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

/// A one-message chat body for `model`.
pub(crate) fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// The same body, streaming.
pub(crate) fn chat_stream(model: &str, text: &str, include_usage: bool) -> Value {
    let mut body = chat(model, text);
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// POSTs `body` to the mock's chat completions endpoint.
pub(crate) async fn post(mock: &MockProvider, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// What a stream delivered: the `data:` payloads in order, and whether the body ended with an
/// error (the connection was cut) rather than cleanly.
pub(crate) struct StreamRead {
    pub(crate) events: Vec<String>,
    pub(crate) cut: bool,
}

impl StreamRead {
    /// The JSON chunks, without `[DONE]`.
    pub(crate) fn chunks(&self) -> Vec<Value> {
        self.events
            .iter()
            .filter(|event| *event != "[DONE]")
            .map(|event| serde_json::from_str(event).unwrap())
            .collect()
    }

    /// The `delta.content` of each chunk that has a non-empty one.
    pub(crate) fn contents(&self) -> Vec<String> {
        self.chunks()
            .iter()
            .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
            .filter(|content| !content.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Reads a whole SSE response body, frame by frame.
pub(crate) async fn read_stream(response: reqwest::Response) -> StreamRead {
    let mut text = String::new();
    let mut cut = false;
    let mut body = response.bytes_stream();
    while let Some(frame) = body.next().await {
        match frame {
            Ok(bytes) => text.push_str(std::str::from_utf8(&bytes).unwrap()),
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    let events = text
        .split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| event.strip_prefix("data: ").unwrap().to_owned())
        .collect();
    StreamRead { events, cut }
}

/// POSTs `body` to `url` and reads the JSON answer.
pub(crate) async fn post_json(url: &str, body: &Value) -> Value {
    client()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Starts `command` with its stdout piped and returns it with what its first line says after
/// `prefix` (a binary's listening line: the address it took).
pub(crate) fn spawn_announced(command: &mut Command, prefix: &str) -> (KillOnDrop, String) {
    let mut child = KillOnDrop(command.stdout(Stdio::piped()).spawn().unwrap());
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let announced = line.trim().strip_prefix(prefix).unwrap().to_owned();
    (child, announced)
}

/// Kills the child process when the test ends, also when it fails.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
