//! The Auto Router (`openrouter/auto`) through the server, on the demo catalog and the demo
//! quality profile, against one `router-mock` per demo provider: patterns restrict the chosen
//! model, the dial moves it, different prompts get different models, the receipt and the record
//! say what was chosen, the bill is the chosen model's, and settings layer request over key over
//! `[routing.auto]`.
//!
//! [`DemoFleet`] is the harness (shared with `route_api`): `config/demo.toml` with extra TOML
//! appended, its providers pointed at mocks that record their calls.
//!
//! Here the harness and the helpers; [`choice`] holds what is chosen (patterns, the dial,
//! prompts) and [`settings`] what carries and layers the choice (receipts, records, streams,
//! fallbacks, key and `[routing.auto]` defaults, profiles, the route API).

mod choice;
mod settings;

use std::time::Duration;

use router_core::catalog::Pricing;
use router_mock::{MockConfig, MockProvider};
use router_server::RunningServer;
use router_server::config::{self, Config};
use serde_json::{Value, json};

use crate::support::{client, error_response, spawn};

/// The demo config, as shipped.
const DEMO_TOML: &str = include_str!("../../../../../config/demo.toml");

/// The demo's client key.
pub(crate) const DEMO_KEY: &str = "sk-turnout-demo";

/// A key with Auto Router defaults (see [`KEY_DEFAULTS`]).
pub(crate) const FRUGAL_KEY: &str = "sk-frugal";

/// The providers of `demo.toml`.
const DEMO_PROVIDERS: [&str; 6] = [
    "openai",
    "anthropic",
    "google-ai-studio",
    "deepseek",
    "together",
    "deepinfra",
];

/// A key whose requests stay on Anthropic models at the cheapest end of the dial, and a model
/// `openaix/gpt-5` (the cheapest of all, served by `openai`) that `openai/*` must never admit.
pub(crate) const KEY_DEFAULTS: &str = r#"
[[keys]]
name = "frugal"
key = "sk-frugal"
auto_router = { allowed_models = ["anthropic/*"], cost_quality_tradeoff = 10 }

[[models]]
id = "openaix/gpt-5"
name = "Not OpenAI: GPT-5 look-alike"

  [[models.endpoints]]
  provider = "openai"
  upstream_model = "openaix-gpt-5"
  context_length = 400000
  pricing = { prompt = 0.001, completion = 0.001 }
"#;

/// The four prompts of the issue.
pub(crate) const PYTHON_BUG: &str = "Fix this Python function: def add(a, b): return a - b\n\
    It should return the sum of a and b, but add(2, 3) returns -1. What is the bug and how do I \
    fix it?";
pub(crate) const LIMERICK: &str = "Write a funny limerick about a cat who is in love with lasagna.";
pub(crate) const PROOF: &str = "Prove that the square root of 2 is irrational. Give a rigorous \
    proof by contradiction, and explain each step of the argument.";
pub(crate) const TRANSLATION: &str = "Translate into French: \"The weather is lovely today, so we \
    are going to walk to the beach after lunch.\"";

/// The demo catalog behind the real server, its providers on recording mocks.
pub(crate) struct DemoFleet {
    pub(crate) server: RunningServer,
    pub(crate) mocks: Vec<(&'static str, MockProvider)>,
    pub(crate) config: Config,
    pub(crate) client: reqwest::Client,
}

impl DemoFleet {
    /// The demo config plus [`KEY_DEFAULTS`].
    pub(crate) async fn start() -> DemoFleet {
        DemoFleet::start_with("").await
    }

    /// The demo config plus [`KEY_DEFAULTS`] plus `extra` TOML.
    pub(crate) async fn start_with(extra: &str) -> DemoFleet {
        let mut mocks = Vec::new();
        for provider in DEMO_PROVIDERS {
            let mock = MockProvider::start(MockConfig::default()).await.unwrap();
            mocks.push((provider, mock));
        }
        let text = format!("{DEMO_TOML}\n{KEY_DEFAULTS}\n{extra}");
        let config = config::load_str(&text, &|name: &str| {
            let provider = name.strip_prefix("TURNOUT_DEMO_URL_")?;
            mocks
                .iter()
                .find(|(it, _)| it.replace('-', "_").to_ascii_uppercase() == provider)
                .map(|(_, mock)| mock.base_url())
        })
        .unwrap_or_else(|err| panic!("{err}"));
        let server = spawn(config.clone()).await;
        DemoFleet {
            server,
            mocks,
            config,
            client: client(),
        }
    }

    /// Posts `body` to `path` with `key`.
    pub(crate) async fn post_as(&self, key: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.server.url()))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts a chat completion with the demo key.
    pub(crate) async fn chat(&self, body: &Value) -> reqwest::Response {
        self.post_as(DEMO_KEY, "/api/v1/chat/completions", body)
            .await
    }

    /// `POST /api/v1/route` with the demo key: the status and the JSON body.
    pub(crate) async fn route(&self, body: &Value) -> (u16, Value) {
        self.route_as(DEMO_KEY, body).await
    }

    /// `POST /api/v1/route` with `key`.
    pub(crate) async fn route_as(&self, key: &str, body: &Value) -> (u16, Value) {
        let response = self.post_as(key, "/api/v1/route", body).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Calls the mocks received, all providers together.
    pub(crate) fn provider_calls(&self) -> usize {
        self.mocks.iter().map(|(_, mock)| mock.calls().len()).sum()
    }

    /// The prices of `model` at `provider` (per token).
    pub(crate) fn pricing(&self, model: &str, provider: &str) -> Pricing {
        let catalog = &self.config.catalog;
        let model = catalog.model(catalog.find(model).unwrap());
        model
            .endpoints
            .iter()
            .find(|it| it.provider == provider)
            .unwrap()
            .pricing
    }

    /// The generation record of `id`, once written (demo key).
    pub(crate) async fn generation(&self, id: &str) -> Value {
        for _ in 0..500 {
            let response = self
                .client
                .get(format!("{}/api/v1/generation?id={id}", self.server.url()))
                .bearer_auth(DEMO_KEY)
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                let body: Value = response.json().await.unwrap();
                return body["data"].clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("generation {id} was never recorded");
    }
}

/// An auto request for `prompt`, with `plugin` as its `auto-router` plugin when given.
pub(crate) fn auto_body(prompt: &str, plugin: Option<Value>) -> Value {
    let mut body = json!({
        "model": "openrouter/auto",
        "messages": [{"role": "user", "content": prompt}],
    });
    if let Some(mut plugin) = plugin {
        plugin["id"] = json!("auto-router");
        body["plugins"] = json!([plugin]);
    }
    body
}

/// A header's value as text.
pub(crate) fn header<'r>(response: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    response.headers().get(name).map(|it| it.to_str().unwrap())
}

/// The author of an `author/slug` id.
fn author(id: &str) -> &str {
    id.split_once('/').unwrap().0
}

/// The slug of an `author/slug` id.
fn slug(id: &str) -> &str {
    id.split_once('/').unwrap().1
}

/// Which model ids a list of patterns should admit.
type Admits = dyn Fn(&str) -> bool;

/// The exact 404 message of OpenRouter when the patterns leave nothing.
const NO_MODELS: &str = "No models match your request and model restrictions";

/// Sends `body` with `key` and returns the served model, checking that the body's `model` and
/// the receipt say the same.
async fn served_as(fleet: &DemoFleet, key: &str, body: &Value) -> String {
    let response = fleet.post_as(key, "/api/v1/chat/completions", body).await;
    assert_eq!(response.status(), 200);
    let model = header(&response, "x-turnout-served-model")
        .unwrap()
        .to_owned();
    assert_eq!(
        header(&response, "x-turnout-router"),
        Some("openrouter/auto")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], model.as_str(), "{body}");
    model
}

/// [`served_as`] with the demo key.
async fn served(fleet: &DemoFleet, body: &Value) -> String {
    served_as(fleet, DEMO_KEY, body).await
}

/// The kept candidates of a `/route` answer.
fn kept(route: &Value) -> Vec<&Value> {
    route["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|it| it["status"] == "kept")
        .collect()
}

/// The candidate `model` of a `/route` answer.
fn candidate<'r>(route: &'r Value, model: &str) -> &'r Value {
    route["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|it| it["model"] == model)
        .unwrap_or_else(|| panic!("no candidate {model}: {route}"))
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// The ids of a `X-Turnout-Requested-Models` header.
fn requested(response: &reqwest::Response) -> Vec<String> {
    header(response, "x-turnout-requested-models")
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// Asserts an error answer's status and message, and that no provider was called.
async fn assert_error(fleet: &DemoFleet, body: &Value, status: u16, message: &str) -> Value {
    let response = fleet.chat(body).await;
    let (got, error) = error_response(response).await;
    assert_eq!(got, status, "{error}");
    let text = error["error"]["message"].as_str().unwrap();
    assert!(text.contains(message), "{text:?} lacks {message:?}");
    assert_eq!(fleet.provider_calls(), 0);
    error
}
