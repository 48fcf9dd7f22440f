//! The Auto Router (`openrouter/auto`) through the server, on the demo catalog and the demo
//! quality profile, against one `router-mock` per demo provider: patterns restrict the chosen
//! model, the dial moves it, different prompts get different models, the receipt and the record
//! say what was chosen, the bill is the chosen model's, and settings layer request over key over
//! `[routing.auto]`.
//!
//! [`DemoFleet`] is the harness (shared with `route_api`): `config/demo.toml` with extra TOML
//! appended, its providers pointed at mocks that record their calls.

use std::time::Duration;

use router_core::catalog::Pricing;
use router_mock::{Behavior, Failure, MockConfig, MockProvider};
use router_server::RunningServer;
use router_server::config::{self, Config};
use serde_json::{Value, json};

use crate::fleet::TempStore;
use crate::support::{Event, assert_close, client, data, error_response, read_events, spawn};

/// The demo config, as shipped.
const DEMO_TOML: &str = include_str!("../../../../config/demo.toml");

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

#[tokio::test]
async fn documented_patterns_restrict_the_chosen_model() {
    // The same prompt again and again would read the mock's cache and pin its model.
    let fleet = DemoFleet::start_with(crate::sessions::NO_STICKINESS).await;
    let cases: [(&[&str], &Admits); 5] = [
        (&["anthropic/*"], &|id| author(id) == "anthropic"),
        (&["openai/gpt-5*"], &|id| {
            author(id) == "openai" && slug(id).starts_with("gpt-5")
        }),
        (&["*/claude-*"], &|id| slug(id).starts_with("claude-")),
        (&["openai/gpt-5.1"], &|id| id == "openai/gpt-5.1"),
        (&["anthropic/*", "openai/gpt-5.1"], &|id| {
            author(id) == "anthropic" || id == "openai/gpt-5.1"
        }),
    ];
    for (patterns, admits) in cases {
        for dial in [0, 7, 10] {
            let body = auto_body(
                PYTHON_BUG,
                Some(json!({"allowed_models": patterns, "cost_quality_tradeoff": dial})),
            );
            let response = fleet.chat(&body).await;
            assert_eq!(response.status(), 200, "{patterns:?} at {dial}");
            let picks = requested(&response);
            let model = header(&response, "x-turnout-served-model")
                .unwrap()
                .to_owned();
            println!("{patterns:?} at {dial}: {model} (picks {picks:?})");
            assert!(admits(&model), "{patterns:?} at {dial} chose {model}");
            assert!(picks.iter().all(|it| admits(it)), "{patterns:?}: {picks:?}");
        }
    }
    // Without patterns, the same prompt goes elsewhere at some dial: the patterns did the work.
    let mut unrestricted = Vec::new();
    for dial in [0, 7, 10] {
        let body = auto_body(PYTHON_BUG, Some(json!({"cost_quality_tradeoff": dial})));
        unrestricted.push(served(&fleet, &body).await);
    }
    assert!(
        unrestricted.iter().any(|it| author(it) != "anthropic"),
        "{unrestricted:?}"
    );
    assert!(
        unrestricted.iter().any(|it| it != "openai/gpt-5.1"),
        "{unrestricted:?}"
    );
}

#[tokio::test]
async fn patterns_match_whole_ids_case_sensitively_and_stars_stop_at_slashes() {
    let fleet = DemoFleet::start().await;
    // At dial 10 the cheapest model wins, and `openaix/gpt-5` is the cheapest of all...
    let cheapest = auto_body(LIMERICK, Some(json!({"cost_quality_tradeoff": 10})));
    assert_eq!(served(&fleet, &cheapest).await, "openaix/gpt-5");
    let its_own = auto_body(
        LIMERICK,
        Some(json!({"allowed_models": ["openaix/*"], "cost_quality_tradeoff": 10})),
    );
    assert_eq!(served(&fleet, &its_own).await, "openaix/gpt-5");
    // ...but `openai/*` never admits it: the pattern is anchored to the whole `author/slug`.
    let openai = json!({"allowed_models": ["openai/*"], "cost_quality_tradeoff": 10});
    let body = auto_body(LIMERICK, Some(openai));
    let model = served(&fleet, &body).await;
    assert!(model.starts_with("openai/"), "{model}");
    let (status, route) = fleet.route(&body).await;
    assert_eq!(status, 200);
    let lookalike = candidate(&route, "openaix/gpt-5");
    assert_eq!(lookalike["status"], "dropped");
    assert_eq!(lookalike["reason"], "not matched by allowed_models");
    // Case matters, and `*` does not cross `/`.
    fleet.mocks.iter().for_each(|(_, mock)| mock.reset_calls());
    for pattern in ["OpenAI/*", "openai*", "*", "*/*/*", "anthropic"] {
        let body = auto_body(LIMERICK, Some(json!({"allowed_models": [pattern]})));
        let error = assert_error(&fleet, &body, 404, NO_MODELS).await;
        assert_eq!(error["error"]["message"], NO_MODELS);
        assert_eq!(error["error"]["metadata"]["error_type"], "not_found");
    }
}

#[tokio::test]
async fn exclusions_win_over_allowed_patterns() {
    let fleet = DemoFleet::start().await;
    let allowed = json!({"allowed_models": ["anthropic/*"], "cost_quality_tradeoff": 0});
    // The control: at dial 0 on Anthropic's models, the Python bug goes to Opus.
    let best = served(&fleet, &auto_body(PYTHON_BUG, Some(allowed))).await;
    assert_eq!(best, "anthropic/claude-opus-4.5");
    for dial in 0..=10 {
        let body = auto_body(
            PYTHON_BUG,
            Some(json!({
                "allowed_models": ["anthropic/*"],
                "excluded_models": ["anthropic/claude-opus*"],
                "cost_quality_tradeoff": dial,
            })),
        );
        let response = fleet.chat(&body).await;
        assert_eq!(response.status(), 200);
        let picks = requested(&response);
        assert!(!picks.is_empty());
        assert!(
            picks
                .iter()
                .all(|it| it.starts_with("anthropic/") && !it.contains("opus")),
            "dial {dial}: {picks:?}"
        );
        let (_, route) = fleet.route(&body).await;
        let opus = candidate(&route, "anthropic/claude-opus-4.5");
        assert_eq!(opus["status"], "dropped");
        assert_eq!(opus["reason"], "matched by excluded_models");
    }
    // An exclusion that covers the whole allow list leaves nothing.
    fleet.mocks.iter().for_each(|(_, mock)| mock.reset_calls());
    let nothing = auto_body(
        PYTHON_BUG,
        Some(json!({"allowed_models": ["anthropic/*"], "excluded_models": ["*/claude-*"]})),
    );
    assert_error(&fleet, &nothing, 404, NO_MODELS).await;
}

#[tokio::test]
async fn no_model_left_is_a_404_with_openrouters_message() {
    let fleet = DemoFleet::start().await;
    for plugin in [
        json!({"allowed_models": ["nobody/*"]}),
        json!({"allowed_models": ["openai/gpt-4o"]}),
        json!({"excluded_models": ["*/*"]}),
    ] {
        for stream in [false, true] {
            let mut body = auto_body(TRANSLATION, Some(plugin.clone()));
            body["stream"] = json!(stream);
            let error = assert_error(&fleet, &body, 404, NO_MODELS).await;
            assert_eq!(error["error"]["message"], NO_MODELS, "{error}");
            assert_eq!(
                error["error"]["metadata"]["availability"]["code"],
                "no_models_match"
            );
            let (status, route) = fleet.route(&body).await;
            assert_eq!(status, 404);
            assert_eq!(route["error"]["message"], NO_MODELS);
        }
    }
}

#[tokio::test]
async fn invalid_patterns_are_a_400_that_names_them() {
    let fleet = DemoFleet::start().await;
    for (key, pattern) in [
        ("allowed_models", "openai/[gpt"),
        ("allowed_models", "anthropic/{claude"),
        ("excluded_models", "openai/gpt-5[]"),
        ("allowed_models", ""),
    ] {
        let body = auto_body(LIMERICK, Some(json!({ key: ["anthropic/*", pattern] })));
        let error = assert_error(&fleet, &body, 400, &format!("`{pattern}`")).await;
        assert_eq!(error["error"]["metadata"]["pattern"], pattern, "{error}");
        assert_eq!(error["error"]["metadata"]["error_type"], "invalid_request");
    }
    // Not a list, or not strings: the field is named.
    for (plugin, field) in [
        (
            json!({"allowed_models": "openai/*"}),
            "plugins[0].allowed_models",
        ),
        (
            json!({"excluded_models": ["a/*", 3]}),
            "plugins[0].excluded_models[1]",
        ),
    ] {
        let body = auto_body(LIMERICK, Some(plugin));
        let error = assert_error(&fleet, &body, 400, &format!("`{field}`")).await;
        assert_eq!(error["error"]["metadata"]["field"], field);
    }
}

#[tokio::test]
async fn bad_dial_values_are_a_400_that_names_the_field() {
    let fleet = DemoFleet::start().await;
    for value in [
        json!(11),
        json!("x"),
        json!(2.5),
        json!(-1),
        json!("7"),
        json!(true),
    ] {
        let body = auto_body(LIMERICK, Some(json!({"cost_quality_tradeoff": value})));
        let error = assert_error(&fleet, &body, 400, "`plugins[0].cost_quality_tradeoff`").await;
        assert_eq!(
            error["error"]["metadata"]["field"],
            "plugins[0].cost_quality_tradeoff"
        );
    }
    // The index is the plugin's position; other plugins are left alone.
    let mut body = auto_body(LIMERICK, None);
    body["plugins"] = json!([{"id": "web"}, {"id": "auto-router", "cost_tier": "cheap"}]);
    let error = assert_error(&fleet, &body, 400, "`plugins[1].cost_tier`").await;
    assert_eq!(error["error"]["metadata"]["field"], "plugins[1].cost_tier");
    // An explicit model does not read the plugin.
    let mut explicit = body.clone();
    explicit["model"] = json!("openai/gpt-5-mini");
    assert_eq!(fleet.chat(&explicit).await.status(), 200);
}

#[tokio::test]
async fn cost_tier_is_accepted_as_a_shorthand_for_the_dial() {
    let fleet = DemoFleet::start().await;
    for (tier, dial) in [
        ("low", 9),
        ("medium", 7),
        ("high", 5),
        ("xhigh", 3),
        ("max", 1),
    ] {
        let body = auto_body(PROOF, Some(json!({"cost_tier": tier})));
        let (status, route) = fleet.route(&body).await;
        assert_eq!(status, 200, "{route}");
        assert_eq!(route["settings"]["cost_quality_tradeoff"], dial);
        let response = fleet.chat(&body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "x-turnout-auto-tradeoff"),
            Some(dial.to_string().as_str())
        );
        assert_eq!(requested(&response)[0], route["requested_models"][0]);
    }
    // The tier wins over a number in the same plugin (OpenRouter's current rule).
    let both = auto_body(
        PROOF,
        Some(json!({"cost_tier": "max", "cost_quality_tradeoff": 10})),
    );
    let (_, route) = fleet.route(&both).await;
    assert_eq!(route["settings"]["cost_quality_tradeoff"], 1);
}

#[tokio::test]
async fn different_prompts_pick_different_models_at_the_default_dial() {
    let fleet = DemoFleet::start().await;
    let mut chosen = Vec::new();
    for (prompt, task) in [
        (PYTHON_BUG, "code"),
        (LIMERICK, "creative_writing"),
        (PROOF, "math"),
        (TRANSLATION, "translation"),
    ] {
        let response = fleet.chat(&auto_body(prompt, None)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-turnout-auto-tradeoff"), Some("7"));
        assert_eq!(header(&response, "x-turnout-auto-task"), Some(task));
        let model = header(&response, "x-turnout-served-model")
            .unwrap()
            .to_owned();
        println!("{task:>16}: {model}");
        chosen.push(model);
    }
    let mut distinct = chosen.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() > 1, "every prompt got {chosen:?}");
}

#[tokio::test]
async fn dial_zero_picks_the_best_model_and_dial_ten_the_cheapest() {
    // The same prompt again and again would read the mock's cache and pin its model.
    let fleet = DemoFleet::start_with(crate::sessions::NO_STICKINESS).await;
    for prompt in [PYTHON_BUG, LIMERICK, PROOF, TRANSLATION] {
        let mut previous_cost = f64::INFINITY;
        for dial in 0..=10 {
            let body = auto_body(prompt, Some(json!({"cost_quality_tradeoff": dial})));
            let (status, route) = fleet.route(&body).await;
            assert_eq!(status, 200);
            let kept = kept(&route);
            let model = served(&fleet, &body).await;
            let chosen = candidate(&route, &model);
            assert_eq!(chosen["rank"], 1, "{model}: {route}");
            let quality = number(&chosen["expected_quality"]);
            let cost = number(&chosen["expected_cost_usd"]);
            if dial == 0 {
                let best = kept
                    .iter()
                    .map(|it| number(&it["expected_quality"]))
                    .fold(f64::MIN, f64::max);
                assert_eq!(quality, best, "dial 0 chose {model}");
            }
            if dial == 10 {
                let cheapest = kept
                    .iter()
                    .map(|it| number(&it["expected_cost_usd"]))
                    .fold(f64::MAX, f64::min);
                assert_eq!(cost, cheapest, "dial 10 chose {model}");
                assert_eq!(route["settings"]["lambda"], Value::Null);
            }
            // Raising the dial never picks a more expensive model.
            assert!(cost <= previous_cost, "dial {dial} chose {model} at {cost}");
            previous_cost = cost;
        }
    }
}

#[tokio::test]
async fn the_receipt_the_body_and_the_record_carry_the_chosen_model_and_its_price() {
    let fleet = DemoFleet::start().await;
    let mut body = auto_body(PYTHON_BUG, None);
    // Sorted, so that the route shown and the route run pick the same provider (load balancing
    // draws each request's first provider anew).
    body["provider"] = json!({"sort": "price"});
    let (_, route) = fleet.route(&body).await;
    let picks: Vec<&str> = route["requested_models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it.as_str().unwrap())
        .collect();
    assert_eq!(picks.len(), 3);
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-turnout-router"),
        Some("openrouter/auto")
    );
    assert_eq!(header(&response, "x-turnout-auto-task"), Some("code"));
    assert_eq!(header(&response, "x-turnout-auto-language"), Some("en"));
    assert_eq!(header(&response, "x-turnout-auto-tradeoff"), Some("7"));
    let difficulty: f64 = header(&response, "x-turnout-auto-difficulty")
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..=1.0).contains(&difficulty));
    assert_eq!(requested(&response), picks);
    assert_eq!(header(&response, "x-turnout-served-model"), Some(picks[0]));
    assert_eq!(header(&response, "x-turnout-fallback-depth"), Some("0"));
    let provider = header(&response, "x-turnout-served-provider")
        .unwrap()
        .to_owned();
    assert_eq!(provider, route["attempts"][0]["provider"]);
    let id = header(&response, "x-generation-id").unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], picks[0]);
    assert_eq!(
        body["_metadata"],
        json!({"openRouter": {"modelRouting": {"requested": picks, "actual": picks[0]}}})
    );
    // Billed at the chosen model's price at the provider that answered.
    let pricing = fleet.pricing(picks[0], &provider);
    let usage = &body["usage"];
    let expected = number(&usage["prompt_tokens"]) * pricing.prompt
        + number(&usage["completion_tokens"]) * pricing.completion
        + pricing.request;
    assert!(expected > 0.0);
    assert_close(&usage["cost"], expected);
    // The chosen model's upstream name went to that provider, and nothing else was called.
    let (_, mock) = fleet.mocks.iter().find(|(it, _)| *it == provider).unwrap();
    let calls = mock.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(fleet.provider_calls(), 1);
    let catalog = &fleet.config.catalog;
    let model = catalog.model(catalog.find(picks[0]).unwrap());
    let endpoint = model
        .endpoints
        .iter()
        .find(|it| it.provider == provider)
        .unwrap();
    assert_eq!(calls[0].model, endpoint.upstream_model);
    // The record names the router and the chosen model.
    let record = fleet.generation(&id).await;
    assert_eq!(record["router"], "openrouter/auto");
    assert_eq!(record["model"], picks[0]);
    assert_eq!(record["requested_models"], json!(picks));
    assert_close(&record["total_cost"], expected);
}

#[tokio::test]
async fn a_stream_carries_the_auto_receipt() {
    let fleet = DemoFleet::start().await;
    let mut body = auto_body(TRANSLATION, None);
    body["stream"] = json!(true);
    let (_, route) = fleet.route(&body).await;
    let primary = route["requested_models"][0].as_str().unwrap().to_owned();
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-turnout-router"),
        Some("openrouter/auto")
    );
    assert_eq!(
        header(&response, "x-turnout-auto-task"),
        Some("translation")
    );
    assert_eq!(
        header(&response, "x-turnout-served-model"),
        Some(primary.as_str())
    );
    let events = read_events(response).await;
    assert_eq!(events.last(), Some(&Event::Done));
    let chunks = data(&events);
    assert!(chunks.iter().all(|it| it["model"] == primary.as_str()));
    let last = chunks.last().unwrap();
    assert_eq!(
        last["_metadata"]["openRouter"]["modelRouting"],
        json!({"requested": route["requested_models"], "actual": primary})
    );
    assert!(number(&last["usage"]["cost"]) > 0.0);
}

#[tokio::test]
async fn the_ranked_picks_are_the_fallback_chain() {
    let fleet = DemoFleet::start().await;
    let body = auto_body(LIMERICK, None);
    let (_, route) = fleet.route(&body).await;
    let picks = route["requested_models"].as_array().unwrap();
    let (primary, second) = (picks[0].as_str().unwrap(), picks[1].as_str().unwrap());
    // Every endpoint of the primary is down.
    let catalog = &fleet.config.catalog;
    for endpoint in &catalog.model(catalog.find(primary).unwrap()).endpoints {
        let overloaded = Behavior {
            fail: Some(Failure::overloaded()),
            ..Behavior::default()
        };
        for (_, mock) in &fleet.mocks {
            mock.set_behavior(&endpoint.upstream_model, overloaded.clone());
        }
    }
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-turnout-served-model"), Some(second));
    assert_eq!(header(&response, "x-turnout-fallback-depth"), Some("1"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], second);
    assert_eq!(
        body["_metadata"]["openRouter"]["modelRouting"]["actual"],
        second
    );
}

#[tokio::test]
async fn key_defaults_apply_without_a_plugin_and_the_plugin_overrides_them() {
    let fleet = DemoFleet::start().await;
    // The frugal key: Anthropic only, cheapest capable.
    let plain = auto_body(PROOF, None);
    let (_, route) = fleet.route_as(FRUGAL_KEY, &plain).await;
    let sources = &route["settings"]["sources"];
    assert_eq!(sources["allowed_models"], "key");
    assert_eq!(sources["cost_quality_tradeoff"], "key");
    assert_eq!(route["settings"]["cost_quality_tradeoff"], 10);
    assert_eq!(
        served_as(&fleet, FRUGAL_KEY, &plain).await,
        "anthropic/claude-haiku-4.5"
    );
    // The same request with the demo key is routed with the global defaults.
    let (_, demo) = fleet.route(&plain).await;
    assert_eq!(demo["settings"]["sources"]["allowed_models"], "default");
    assert_ne!(served(&fleet, &plain).await, "anthropic/claude-haiku-4.5");
    // The request's plugin overrides a field; the key's other defaults still apply.
    let openai = auto_body(PROOF, Some(json!({"allowed_models": ["openai/*"]})));
    let (_, route) = fleet.route_as(FRUGAL_KEY, &openai).await;
    assert_eq!(route["settings"]["sources"]["allowed_models"], "request");
    assert_eq!(route["settings"]["sources"]["cost_quality_tradeoff"], "key");
    assert_eq!(
        served_as(&fleet, FRUGAL_KEY, &openai).await,
        "openai/gpt-5-nano"
    );
    let best = auto_body(PROOF, Some(json!({"cost_quality_tradeoff": 0})));
    let model = served_as(&fleet, FRUGAL_KEY, &best).await;
    assert!(model.starts_with("anthropic/"), "{model}");
    assert_ne!(model, "anthropic/claude-haiku-4.5");
    // `enabled: false` turns the request's plugin off: the defaults apply.
    let disabled = auto_body(
        PROOF,
        Some(json!({"enabled": false, "allowed_models": ["openai/*"]})),
    );
    let (_, route) = fleet.route_as(FRUGAL_KEY, &disabled).await;
    assert_eq!(route["settings"]["plugin"], "disabled");
    assert_eq!(route["settings"]["sources"]["allowed_models"], "key");
    assert_eq!(
        served_as(&fleet, FRUGAL_KEY, &disabled).await,
        "anthropic/claude-haiku-4.5"
    );
}

#[tokio::test]
async fn routing_auto_sets_global_defaults_aliases_and_the_number_of_picks() {
    let fleet = DemoFleet::start_with(
        r#"
        [routing.auto]
        alias = ["openrouter/auto", "auto"]
        top_k = 2
        excluded_models = ["google/*"]
        cost_quality_tradeoff = 3
        "#,
    )
    .await;
    let mut body = auto_body(TRANSLATION, None);
    body["model"] = json!("auto");
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-turnout-router"),
        Some("openrouter/auto")
    );
    assert_eq!(header(&response, "x-turnout-auto-tradeoff"), Some("3"));
    let picks = requested(&response);
    assert_eq!(picks.len(), 2, "{picks:?}");
    assert!(
        picks.iter().all(|it| !it.starts_with("google/")),
        "{picks:?}"
    );
    let (_, route) = fleet.route(&body).await;
    assert_eq!(route["settings"]["sources"]["excluded_models"], "global");
    assert_eq!(
        route["settings"]["sources"]["cost_quality_tradeoff"],
        "global"
    );
    assert_eq!(route["settings"]["top_k"], 2);
    // The key's dial wins over the global one; the global exclusion still applies.
    let (_, route) = fleet.route_as(FRUGAL_KEY, &body).await;
    assert_eq!(route["settings"]["cost_quality_tradeoff"], 10);
    assert_eq!(route["settings"]["sources"]["excluded_models"], "global");
    // Without the default alias in the list, `openrouter/auto` is not a model.
    let off = DemoFleet::start_with("[routing.auto]\nalias = [\"auto\"]\n").await;
    let (status, error) = error_response(off.chat(&auto_body(TRANSLATION, None)).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "openrouter/auto is not a valid model ID"
    );
}

#[tokio::test]
async fn a_client_models_list_is_ignored_and_the_router_must_be_the_primary() {
    let fleet = DemoFleet::start().await;
    let plain = auto_body(PYTHON_BUG, None);
    let (_, route) = fleet.route(&plain).await;
    let mut with_models = plain.clone();
    with_models["models"] = json!(["mistralai/mistral-small-3.2-24b-instruct", "x/unknown"]);
    let (status, ignored) = fleet.route(&with_models).await;
    assert_eq!(status, 200, "{ignored}");
    assert_eq!(ignored["requested_models"], route["requested_models"]);
    // `models` alone: its first entry is the primary, so the router may be named there.
    let only_models = json!({
        "models": ["openrouter/auto"],
        "messages": [{"role": "user", "content": PYTHON_BUG}],
    });
    let (_, listed) = fleet.route(&only_models).await;
    assert_eq!(listed["model_kind"], "auto");
    assert_eq!(listed["requested_models"], route["requested_models"]);
    // As a fallback it is an error.
    let fallback = json!({
        "model": "openai/gpt-5.1",
        "models": ["openrouter/auto"],
        "messages": [{"role": "user", "content": "Hello"}],
    });
    let error = assert_error(&fleet, &fallback, 400, "can only be the primary model").await;
    assert_eq!(error["error"]["metadata"]["error_type"], "invalid_request");
}

#[tokio::test]
async fn pin_model_reuses_the_model_of_the_last_assistant_message() {
    let fleet = DemoFleet::start().await;
    let mut body = json!({
        "model": "openrouter/auto",
        "messages": [
            {"role": "user", "content": LIMERICK},
            {"role": "assistant", "content": "There once was a cat...", "model": "meta-llama/llama-3.3-70b-instruct"},
            {"role": "user", "content": "Another one, about a dog."},
        ],
        "plugins": [{"id": "auto-router", "pin_model": true}],
    });
    let (_, route) = fleet.route(&body).await;
    assert_eq!(route["pinned_model"], "meta-llama/llama-3.3-70b-instruct");
    assert_eq!(
        route["requested_models"][0],
        "meta-llama/llama-3.3-70b-instruct"
    );
    assert_eq!(route["requested_models"].as_array().unwrap().len(), 3);
    assert_eq!(
        served(&fleet, &body).await,
        "meta-llama/llama-3.3-70b-instruct"
    );
    // Not pinned: the router chooses afresh.
    body["plugins"] = json!([{"id": "auto-router", "pin_model": false}]);
    let (_, route) = fleet.route(&body).await;
    assert_eq!(route["pinned_model"], Value::Null);
    assert_ne!(
        route["requested_models"][0],
        "meta-llama/llama-3.3-70b-instruct"
    );
    // A pinned model the patterns exclude is not pinned.
    body["plugins"] =
        json!([{"id": "auto-router", "pin_model": true, "excluded_models": ["meta-llama/*"]}]);
    let (_, route) = fleet.route(&body).await;
    assert_eq!(route["pinned_model"], Value::Null);
}

#[tokio::test]
async fn routing_auto_profile_points_at_a_quality_profile_file() {
    // The demo profile, except that the small Mistral model is expected to be perfect at
    // everything: at dial 0 it then beats every other model.
    let mut data = router_core::auto::profile::Profile::demo()
        .unwrap()
        .data()
        .clone();
    const MISTRAL: &str = "mistralai/mistral-small-3.2-24b-instruct";
    for values in data.models.get_mut(MISTRAL).unwrap().quality.values_mut() {
        values.iter_mut().for_each(|it| *it = 1.0);
    }
    let profile = router_core::auto::profile::Profile::from_data(data).unwrap();
    let file = TempStore::new("profile");
    std::fs::write(file.path(), profile.to_json()).unwrap();
    let body = auto_body(PYTHON_BUG, Some(json!({"cost_quality_tradeoff": 0})));
    let shipped = DemoFleet::start().await;
    assert_ne!(served(&shipped, &body).await, MISTRAL);
    let path = file.path().display().to_string().replace('\\', "/");
    let custom = DemoFleet::start_with(&format!("[routing.auto]\nprofile = \"{path}\"\n")).await;
    assert_eq!(served(&custom, &body).await, MISTRAL);
}

#[tokio::test]
async fn an_unreadable_or_invalid_profile_stops_the_start() {
    let file = TempStore::new("bad-profile");
    std::fs::write(file.path(), r#"{"format": "something-else", "version": 1}"#).unwrap();
    let mut mocks = Vec::new();
    for _ in DEMO_PROVIDERS {
        mocks.push(MockProvider::start(MockConfig::default()).await.unwrap());
    }
    let vars = |name: &str| {
        name.starts_with("TURNOUT_DEMO_URL_")
            .then(|| mocks[0].base_url())
    };
    let missing = std::env::temp_dir().join("turnout-it-no-such-profile.json");
    for (path, expected) in [
        (file.path().to_owned(), "is invalid"),
        (missing, "cannot read"),
    ] {
        let text = format!(
            "{DEMO_TOML}\n[routing.auto]\nprofile = \"{}\"\n",
            path.display().to_string().replace('\\', "/")
        );
        let config = config::load_str(&text, &vars).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = router_server::spawn(config, listener).await.unwrap_err();
        let message = err.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
}

#[tokio::test]
async fn the_route_api_decides_as_offline_evaluation_does() {
    // `cargo xtask calibrate` and `eval-router` decide a labelled prompt with
    // `analysis::tokens::user_prompt_features` and `Conversation::user`; the server, from the
    // request body. Same prompt, same profile, same catalog: same estimate, same ranking.
    use router_core::analysis::Conversation;
    use router_core::analysis::tokens::user_prompt_features;
    use router_core::auto::profile::Profile;
    use router_core::auto::select::{self, SelectParams};
    use router_core::patterns::ModelFilter;
    let fleet = DemoFleet::start().await;
    let profile = Profile::demo().unwrap();
    let filter = ModelFilter::permit_all();
    let prompts = [
        PYTHON_BUG,
        "Écris un poème sur la mer, s'il te plaît.\n\"Merci\" — 谢谢",
        "Prove that there are infinitely many primes.",
        "hi",
    ];
    for prompt in prompts {
        for dial in [0u8, 3, 7, 10] {
            let body = auto_body(prompt, Some(json!({"cost_quality_tradeoff": dial})));
            let (status, online) = fleet.route(&body).await;
            assert_eq!(status, 200, "{online}");
            let features = user_prompt_features(prompt);
            let analysis = profile.analyze(&Conversation::user(prompt), &features);
            let params = SelectParams {
                filter: &filter,
                tradeoff: dial,
                top_k: fleet.config.routing.auto.top_k,
            };
            let offline = select::select(&fleet.config.catalog, &profile, &analysis, &params)
                .unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(
                online["analysis"]["prompt_tokens_estimate"], features.prompt_tokens_estimate,
                "{prompt:?}"
            );
            let picks: Vec<&str> = offline
                .picks
                .iter()
                .map(|idx| fleet.config.catalog.model(*idx).id.as_str())
                .collect();
            assert_eq!(
                online["requested_models"],
                json!(picks),
                "{prompt:?} at {dial}"
            );
            for report in &offline.explanation.candidates {
                let row = online["candidates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|it| it["model"] == report.model)
                    .unwrap();
                assert_eq!(row["rank"], json!(report.rank), "{}", report.model);
                let cost = row["expected_cost_usd"].as_f64();
                match (cost, report.expected_cost) {
                    (Some(online), Some(offline)) => {
                        assert!((online - offline).abs() <= 1e-12 * offline.abs());
                    }
                    (online, offline) => assert_eq!(online, offline, "{}", report.model),
                }
            }
        }
    }
}
