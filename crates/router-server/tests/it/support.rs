//! The test harness: mock providers on `127.0.0.1:0`, a config pointing at them, the real server
//! on `127.0.0.1:0`, and helpers to call it and read its SSE streams.

use std::time::Duration;

use router_mock::{Behavior, MockConfig, MockProvider};
use router_server::RunningServer;
use router_server::config::{self, Config};
use serde_json::Value;
use tokio::net::TcpListener;

/// The key test clients authenticate with.
pub(crate) const CLIENT_KEY: &str = "sk-client-test";

/// The key the server sends to the providers; must never reach a client.
pub(crate) const PROVIDER_KEY: &str = "sk-provider-SECRET-123";

/// Prices of `test/one` at `alpha`, USD per million tokens.
pub(crate) const ONE_PRICES: (f64, f64) = (2.0, 8.0);

/// Prices of `test/two` at `beta`, USD per million tokens.
pub(crate) const TWO_BETA_PRICES: (f64, f64) = (0.5, 1.5);

/// The providers' first-byte timeout unless a test sets another: short, so hung calls fail fast.
pub(crate) const DEFAULT_FIRST_BYTE_TIMEOUT_MS: u64 = 1000;

/// Two providers (`alpha` on `${MOCK_ALPHA}`, `beta` on `${MOCK_BETA}`) and three models:
/// `test/one` at alpha, and `test/two` at alpha then beta (in that order: no load balancing). `{server}` is replaced by extra
/// `[server]` keys, `{provider}` by keys for both providers (the first-byte timeout, at least).
const CONFIG_TEMPLATE: &str = r#"
[server]
listen = "127.0.0.1:0"
body_limit = 4096
{server}

# These tests read which endpoint answered: endpoints are tried in config order.
[routing]
load_balance = false

[[keys]]
name = "test"
key = "sk-client-test"

[providers.alpha]
display_name = "Alpha AI"
base_url = "${MOCK_ALPHA}"
api_key = "sk-provider-SECRET-123"
{provider}

[providers.beta]
display_name = "Beta Cloud"
base_url = "${MOCK_BETA}"
api_key = "sk-provider-SECRET-123"
{provider}

[[models]]
id = "test/one"
name = "Test: One"
created = 1700000000
description = "The first test model."

  [[models.endpoints]]
  provider = "alpha"
  upstream_model = "one-upstream"
  context_length = 8192
  max_output = 1024
  supported_parameters = ["temperature", "tools"]
  pricing = { prompt = 2.0, completion = 8.0, cache_read = 2.0 }

[[models]]
id = "test/two"
name = "Test: Two"

  [[models.endpoints]]
  provider = "alpha"
  upstream_model = "two-alpha"
  context_length = 8192
  pricing = { prompt = 1.0, completion = 3.0 }

  [[models.endpoints]]
  provider = "beta"
  upstream_model = "two-beta"
  context_length = 16384
  pricing = { prompt = 0.5, completion = 1.5, cache_read = 0.5 }
"#;

/// A running server with its two mock providers and a client.
pub(crate) struct Gateway {
    pub(crate) server: RunningServer,
    pub(crate) alpha: MockProvider,
    pub(crate) beta: MockProvider,
    pub(crate) client: reqwest::Client,
}

impl Gateway {
    /// Starts the mocks and the server with the default settings.
    pub(crate) async fn start() -> Gateway {
        Gateway::start_with("").await
    }

    /// Starts the mocks and the server with extra `[server]` keys (`keepalive_interval_ms = 50`).
    pub(crate) async fn start_with(server_settings: &str) -> Gateway {
        Gateway::start_with_timeout(server_settings, DEFAULT_FIRST_BYTE_TIMEOUT_MS).await
    }

    /// Starts the mocks and the server with extra `[server]` keys and the providers' first-byte
    /// timeout.
    pub(crate) async fn start_with_timeout(
        server_settings: &str,
        first_byte_timeout_ms: u64,
    ) -> Gateway {
        let provider = format!("first_byte_timeout_ms = {first_byte_timeout_ms}");
        Gateway::start_with_providers(server_settings, &provider).await
    }

    /// Starts the mocks and the server with extra `[server]` keys and extra keys for both
    /// providers (`total_timeout_ms = 2000`).
    pub(crate) async fn start_with_providers(server_settings: &str, provider: &str) -> Gateway {
        let alpha = mock().await;
        let beta = mock().await;
        let text = CONFIG_TEMPLATE
            .replace("{server}", server_settings)
            .replace("{provider}", provider);
        let config = config::load_str(&text, &|name: &str| match name {
            "MOCK_ALPHA" => Some(alpha.base_url()),
            "MOCK_BETA" => Some(beta.base_url()),
            _ => None,
        })
        .unwrap_or_else(|err| panic!("{err}"));
        let server = spawn(config).await;
        Gateway {
            server,
            alpha,
            beta,
            client: client(),
        }
    }

    /// `http://addr/api/v1/chat/completions`.
    pub(crate) fn chat_url(&self) -> String {
        format!("{}/api/v1/chat/completions", self.server.url())
    }

    /// Posts `body` with the client key.
    pub(crate) async fn chat(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.chat_url())
            .bearer_auth(CLIENT_KEY)
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    /// Sets `behavior` for `upstream_model` on both mocks.
    pub(crate) fn behave(&self, upstream_model: &str, behavior: Behavior) {
        self.alpha.set_behavior(upstream_model, behavior.clone());
        self.beta.set_behavior(upstream_model, behavior);
    }
}

/// A mock provider that requires [`PROVIDER_KEY`].
pub(crate) async fn mock() -> MockProvider {
    MockProvider::start(MockConfig {
        api_key: Some(PROVIDER_KEY.to_owned()),
        ..MockConfig::default()
    })
    .await
    .expect("mock did not start")
}

/// Starts the server for `config` on `127.0.0.1:0`.
pub(crate) async fn spawn(config: Config) -> RunningServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    router_server::spawn(config, listener)
        .await
        .expect("server did not start")
}

/// A client with a generous timeout (only against hangs).
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A one-message chat body.
pub(crate) fn chat_body(model: &str, stream: bool) -> Value {
    serde_json::json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hello"}],
    })
}

/// A response's status, headers as text, and body, checked to be an error in OpenRouter's shape
/// (`status == error.code`, JSON content type) that does not leak the provider key.
pub(crate) async fn error_response(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let headers = format!("{:?}", response.headers());
    let content_type = response
        .headers()
        .get("content-type")
        .map(|it| it.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert_no_secret(&headers);
    assert_no_secret(&text);
    assert_eq!(content_type.as_deref(), Some("application/json"), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
    assert_eq!(body["error"]["code"], status, "{text}");
    assert!(body["error"]["message"].is_string(), "{text}");
    (status, body)
}

/// Fails when `text` contains the provider key.
pub(crate) fn assert_no_secret(text: &str) {
    assert!(!text.contains(PROVIDER_KEY), "provider key leaked: {text}");
    assert!(!text.contains("SECRET"), "provider key leaked: {text}");
}

/// One SSE event of a response body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    /// A `: …` comment line.
    Comment(String),
    /// `data: [DONE]`.
    Done,
    /// `data: <json>`.
    Data(Value),
}

/// Reads a whole SSE body into events, checking the framing: events separated by a blank line,
/// each a comment or one `data:` line, never an `id:` line.
pub(crate) async fn read_events(response: reqwest::Response) -> Vec<Event> {
    let text = response.text().await.unwrap();
    parse_events(&text)
}

/// See [`read_events`].
pub(crate) fn parse_events(text: &str) -> Vec<Event> {
    assert_no_secret(text);
    assert!(text.ends_with("\n\n"), "unterminated stream: {text:?}");
    text.split_terminator("\n\n")
        .map(|event| {
            assert!(!event.contains('\n'), "multi-line event: {event:?}");
            if let Some(comment) = event.strip_prefix(':') {
                Event::Comment(comment.trim().to_owned())
            } else if event == "data: [DONE]" {
                Event::Done
            } else {
                let json = event
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not a data event: {event:?}"));
                Event::Data(
                    serde_json::from_str(json).unwrap_or_else(|err| panic!("{err}: {json}")),
                )
            }
        })
        .collect()
}

/// The `data:` JSON events.
pub(crate) fn data(events: &[Event]) -> Vec<&Value> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Data(value) => Some(value),
            _ => None,
        })
        .collect()
}

/// The streamed text: every chunk's `delta.content`, in order.
pub(crate) fn content(chunks: &[&Value]) -> String {
    chunks
        .iter()
        .flat_map(|chunk| chunk["choices"].as_array().unwrap())
        .filter_map(|choice| choice["delta"]["content"].as_str())
        .collect()
}

/// `prompt × prompt_price + completion × completion_price`, prices per million tokens.
pub(crate) fn expected_cost(usage: &Value, (prompt_price, completion_price): (f64, f64)) -> f64 {
    let prompt = usage["prompt_tokens"].as_u64().unwrap() as f64;
    let completion = usage["completion_tokens"].as_u64().unwrap() as f64;
    (prompt * prompt_price + completion * completion_price) / 1e6
}

/// Asserts `actual` is `expected` up to floating-point rounding.
pub(crate) fn assert_close(actual: &Value, expected: f64) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {actual}"));
    assert!(
        (actual - expected).abs() <= 1e-12 + expected.abs() * 1e-9,
        "{actual} != {expected}"
    );
}

/// The Python packages of [`sdk_python`], pinned.
const PYTHON_SDKS: [&str; 2] = ["openai==3.63.0", "anthropic==2.17.0"];

/// The npm package of [`anthropic_node_modules`], pinned.
const NODE_ANTHROPIC_SDK: &str = "@anthropic-ai/sdk@1.17.0";

/// The Python of a virtualenv with the pinned [`PYTHON_SDKS`], creating it under the target
/// directory when needed (and when a pin changed).
pub(crate) fn sdk_python() -> std::path::PathBuf {
    let args: Vec<&std::ffi::OsStr> = PYTHON_SDKS.iter().map(std::ffi::OsStr::new).collect();
    crate::sdk_env::virtualenv("sdk-venv", &args, &PYTHON_SDKS.join("\n"))
}

/// A `node_modules` directory with the pinned [`NODE_ANTHROPIC_SDK`], installed with npm under
/// the target directory when needed.
pub(crate) fn anthropic_node_modules() -> std::path::PathBuf {
    crate::sdk_env::npm_prefix("node-sdk", NODE_ANTHROPIC_SDK).join("node_modules")
}

pub(crate) use crate::sdk_env::{describe, run};
