//! A harness for model fallbacks: three models, each on its own provider and mock, and three
//! client keys.
//!
//! - `a/primary` at `primary` ("Primary AI", upstream `primary-up`), [`PRIMARY_PRICES`];
//! - `b/fallback` at `fallback` ("Fallback Cloud", upstream `fallback-up`), [`FALLBACK_PRICES`];
//! - `c/small` at `tiny` (upstream `small-up`), a context window of 16 tokens.
//!
//! Keys: `test` ([`CLIENT_KEY`]), `other` ([`OTHER_KEY`]) and `strict` ([`STRICT_KEY`], whose
//! fallback policy is `except = ["moderation"]`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use router_mock::MockProvider;
use router_server::RunningServer;
use router_server::config::{self, Config};
use serde_json::{Value, json};

use crate::support::{CLIENT_KEY, client, mock, spawn};

/// The second client key.
pub(crate) const OTHER_KEY: &str = "sk-client-other";

/// A key whose requests do not fall back on a moderation refusal.
pub(crate) const STRICT_KEY: &str = "sk-client-strict";

/// Prices of `a/primary`, USD per million tokens.
pub(crate) const PRIMARY_PRICES: (f64, f64) = (3.0, 12.0);

/// Prices of `b/fallback`, USD per million tokens.
pub(crate) const FALLBACK_PRICES: (f64, f64) = (0.4, 1.6);

/// The primary's timeouts unless a test sets others: a short first-byte (and so first-token)
/// timeout, so that hung calls fail fast.
pub(crate) const PRIMARY_TIMEOUTS: &str = "first_byte_timeout_ms = 1000";

const TEMPLATE: &str = r#"
[server]
listen = "127.0.0.1:0"
keepalive_interval_ms = 60000
{server}

[[keys]]
name = "test"
key = "sk-client-test"

[[keys]]
name = "other"
key = "sk-client-other"

[[keys]]
name = "strict"
key = "sk-client-strict"
fallback_policy = { except = ["moderation"] }

[providers.primary]
display_name = "Primary AI"
base_url = "${PRIMARY_URL}"
api_key = "sk-provider-SECRET-123"
{primary}

[providers.fallback]
display_name = "Fallback Cloud"
base_url = "${FALLBACK_URL}"
api_key = "sk-provider-SECRET-123"

[providers.tiny]
display_name = "Tiny Co"
base_url = "${TINY_URL}"
api_key = "sk-provider-SECRET-123"

[[models]]
id = "a/primary"

  [[models.endpoints]]
  provider = "primary"
  upstream_model = "primary-up"
  context_length = 8192
  pricing = { prompt = 3.0, completion = 12.0 }

[[models]]
id = "b/fallback"

  [[models.endpoints]]
  provider = "fallback"
  upstream_model = "fallback-up"
  context_length = 8192
  pricing = { prompt = 0.4, completion = 1.6 }

[[models]]
id = "c/small"

  [[models.endpoints]]
  provider = "tiny"
  upstream_model = "small-up"
  context_length = 16
  pricing = { prompt = 0.1, completion = 0.1 }
"#;

/// How to start a [`Fleet`].
#[derive(Debug, Default)]
pub(crate) struct FleetOptions {
    /// Where `primary` points instead of its mock (a closed port, a stalling server).
    pub(crate) primary_url: Option<String>,
    /// Timeout keys of `[providers.primary]`; by default [`PRIMARY_TIMEOUTS`].
    pub(crate) primary_timeouts: Option<&'static str>,
    /// `server.records_path`.
    pub(crate) records_path: Option<PathBuf>,
}

/// The server, its three mocks and a client.
pub(crate) struct Fleet {
    pub(crate) server: RunningServer,
    pub(crate) primary: MockProvider,
    pub(crate) fallback: MockProvider,
    pub(crate) tiny: MockProvider,
    pub(crate) client: reqwest::Client,
    config: Config,
}

impl Fleet {
    /// Starts the default fleet.
    pub(crate) async fn start() -> Fleet {
        Fleet::start_with(FleetOptions::default()).await
    }

    /// Starts a fleet with `options`.
    pub(crate) async fn start_with(options: FleetOptions) -> Fleet {
        let primary = mock().await;
        let fallback = mock().await;
        let tiny = mock().await;
        let server_settings = match &options.records_path {
            Some(path) => format!("records_path = {:?}", path.display().to_string()),
            None => String::new(),
        };
        let text = TEMPLATE.replace("{server}", &server_settings).replace(
            "{primary}",
            options.primary_timeouts.unwrap_or(PRIMARY_TIMEOUTS),
        );
        let primary_url = options.primary_url.unwrap_or_else(|| primary.base_url());
        let config = config::load_str(&text, &|name: &str| match name {
            "PRIMARY_URL" => Some(primary_url.clone()),
            "FALLBACK_URL" => Some(fallback.base_url()),
            "TINY_URL" => Some(tiny.base_url()),
            _ => None,
        })
        .unwrap_or_else(|err| panic!("{err}"));
        let server = spawn(config.clone()).await;
        Fleet {
            server,
            primary,
            fallback,
            tiny,
            client: client(),
            config,
        }
    }

    /// Stops the server (gracefully), then starts it again on the same config and records.
    pub(crate) async fn restart(self) -> Fleet {
        let Fleet {
            server,
            primary,
            fallback,
            tiny,
            client,
            config,
        } = self;
        server.shutdown(Duration::from_secs(10)).await.unwrap();
        let server = spawn(config.clone()).await;
        Fleet {
            server,
            primary,
            fallback,
            tiny,
            client,
            config,
        }
    }

    /// Posts a chat `body` with `key`.
    pub(crate) async fn chat_as(&self, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/chat/completions", self.server.url()))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    /// Posts a chat `body` with the test key.
    pub(crate) async fn chat(&self, body: &Value) -> reqwest::Response {
        self.chat_as(CLIENT_KEY, body).await
    }

    /// `GET {path}` with `key`.
    pub(crate) async fn get_as(&self, key: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.server.url()))
            .bearer_auth(key)
            .send()
            .await
            .expect("request failed")
    }

    /// The generation record `id` as `key` sees it: its status and body.
    pub(crate) async fn generation_as(&self, key: &str, id: &str) -> (u16, Value) {
        let response = self
            .get_as(key, &format!("/api/v1/generation?id={id}"))
            .await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Waits (up to 10 s) until the test key can read the record `id`, and returns its `data`.
    pub(crate) async fn wait_for_generation(&self, id: &str) -> Value {
        for _ in 0..500 {
            let (status, body) = self.generation_as(CLIENT_KEY, id).await;
            if status == 200 {
                return body["data"].clone();
            }
            assert_eq!(status, 404, "{body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("generation {id} was never recorded");
    }

    /// The test key's total usage in USD, from `GET /api/v1/key`.
    pub(crate) async fn key_usage(&self) -> f64 {
        let response = self.get_as(CLIENT_KEY, "/api/v1/key").await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["data"]["usage"].as_f64().unwrap()
    }
}

/// `{"model": model, "models": models, "messages": [Hello], "stream": stream}`.
pub(crate) fn routed_body(model: Option<&str>, models: &[&str], stream: bool) -> Value {
    let mut body = json!({
        "models": models,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hello"}],
    });
    if let Some(model) = model {
        body["model"] = json!(model);
    }
    body
}

/// A response header as text.
pub(crate) fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|it| it.to_str().unwrap())
}

/// The generation id of a response.
pub(crate) fn generation_id(response: &reqwest::Response) -> String {
    header(response, "x-generation-id")
        .expect("no X-Generation-Id")
        .to_owned()
}

/// An unused loopback URL: connections to it are refused.
pub(crate) async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

/// A fresh SQLite path in the temp directory, removed (with its WAL files) on drop.
pub(crate) struct TempStore(pub(crate) PathBuf);

impl TempStore {
    pub(crate) fn new(name: &str) -> TempStore {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let file = format!("turnout-it-{name}-{}-{nanos}.sqlite", std::process::id());
        TempStore(std::env::temp_dir().join(file))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}
