//! Provider selection end to end: the `provider` object, model variants, load balancing and
//! endpoint health, seen from which mock providers receive calls.
//!
//! One model, `test/multi`, has three endpoints on three providers, each on its own mock:
//!
//! | provider | display name | price ($/M in and out) | quantization | data | zdr | configured speed | max output | parameters |
//! | --- | --- | --- | --- | --- | --- | --- | --- | --- |
//! | `one` | One AI | 1 | fp8 | allow | no | 20 tok/s, 900 ms | 1000 | temperature |
//! | `two` | Two Cloud | 2 | bf16 | deny | no | 50 tok/s, 200 ms | 4000 | temperature |
//! | `three` | Three Labs | 3 | fp8 | deny | yes | 90 tok/s, 500 ms | 4000 | temperature, top_k |
//!
//! `test/solo` is on `one` at $0.5; `test/freebie` is free on `two` and $3 on `three`. The key
//! `defaults` ignores `one` by default. Cool-downs last [`COOLDOWN_MS`].

use std::time::Duration;

use router_mock::{Behavior, Failure, MockProvider};
use router_server::RunningServer;
use router_server::config;
use serde_json::{Value, json};

use crate::support::{CLIENT_KEY, client, error_response, mock, spawn};

/// The cool-down of an endpoint after five failures in a row.
const COOLDOWN_MS: u64 = 3000;

/// A key whose default preferences ignore `one`.
const DEFAULTS_KEY: &str = "sk-client-defaults";

const TEMPLATE: &str = r#"
[server]
listen = "127.0.0.1:0"

[routing.health]
cooldown_ms = {cooldown_ms}

# The same prompt is sent again and again, and the mocks report cache reads for it: sticky
# sessions would pin the conversation and hide what selection chose.
[sessions]
enabled = false

[[keys]]
name = "test"
key = "sk-client-test"

[[keys]]
name = "defaults"
key = "sk-client-defaults"
provider = { ignore = ["one"] }

[providers.one]
display_name = "One AI"
base_url = "${ONE}"
api_key = "sk-provider-SECRET-123"

[providers.two]
display_name = "Two Cloud"
base_url = "${TWO}"
api_key = "sk-provider-SECRET-123"

[providers.three]
display_name = "Three Labs"
base_url = "${THREE}"
api_key = "sk-provider-SECRET-123"

[[models]]
id = "test/multi"

  [[models.endpoints]]
  provider = "one"
  upstream_model = "multi-one"
  context_length = 8192
  max_output = 1000
  supported_parameters = ["temperature"]
  quantization = "fp8"
  throughput = 20
  latency_ms = 900
  pricing = { prompt = 1.0, completion = 1.0 }

  [[models.endpoints]]
  provider = "two"
  upstream_model = "multi-two"
  context_length = 8192
  max_output = 4000
  supported_parameters = ["temperature"]
  quantization = "bf16"
  data_collection = "deny"
  throughput = 50
  latency_ms = 200
  pricing = { prompt = 2.0, completion = 2.0 }

  [[models.endpoints]]
  provider = "three"
  upstream_model = "multi-three"
  context_length = 8192
  max_output = 4000
  supported_parameters = ["temperature", "top_k"]
  quantization = "fp8"
  data_collection = "deny"
  zdr = true
  throughput = 90
  latency_ms = 500
  pricing = { prompt = 3.0, completion = 3.0 }

[[models]]
id = "test/solo"

  [[models.endpoints]]
  provider = "one"
  upstream_model = "solo-one"
  context_length = 8192
  pricing = { prompt = 0.5, completion = 0.5 }

[[models]]
id = "test/freebie"

  [[models.endpoints]]
  provider = "three"
  upstream_model = "freebie-three"
  context_length = 8192
  pricing = { prompt = 3.0, completion = 3.0 }

  [[models.endpoints]]
  provider = "two"
  upstream_model = "freebie-two"
  context_length = 8192
  pricing = { prompt = 0, completion = 0 }
"#;

/// The server and its three mocks.
struct Trio {
    server: RunningServer,
    mocks: [MockProvider; 3],
    client: reqwest::Client,
}

impl Trio {
    async fn start() -> Trio {
        let mocks = [mock().await, mock().await, mock().await];
        let text = TEMPLATE.replace("{cooldown_ms}", &COOLDOWN_MS.to_string());
        let config = config::load_str(&text, &|name: &str| match name {
            "ONE" => Some(mocks[0].base_url()),
            "TWO" => Some(mocks[1].base_url()),
            "THREE" => Some(mocks[2].base_url()),
            _ => None,
        })
        .unwrap_or_else(|err| panic!("{err}"));
        Trio {
            server: spawn(config).await,
            mocks,
            client: client(),
        }
    }

    async fn chat_as(&self, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/chat/completions", self.server.url()))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn chat(&self, body: &Value) -> reqwest::Response {
        self.chat_as(CLIENT_KEY, body).await
    }

    /// Calls received so far by `one`, `two` and `three`.
    fn calls(&self) -> [usize; 3] {
        [0, 1, 2].map(|idx| self.mocks[idx].calls().len())
    }

    /// Sends `body` and returns which providers were called for it, in the order of the mocks.
    async fn called_by(&self, body: &Value) -> (u16, [usize; 3]) {
        let before = self.calls();
        let status = self.chat(body).await.status().as_u16();
        let after = self.calls();
        (status, [0, 1, 2].map(|idx| after[idx] - before[idx]))
    }
}

fn body(model: &str, provider: Value) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": "Hello"}],
        "provider": provider,
    })
}

fn failing() -> Behavior {
    Behavior {
        fail: Some(Failure::overloaded()),
        ..Behavior::default()
    }
}

#[tokio::test]
async fn each_preference_changes_which_providers_are_called() {
    let trio = Trio::start().await;
    let cases: &[(&str, Value, [usize; 3])] = &[
        ("test/multi", json!({"order": ["three"]}), [0, 0, 1]),
        (
            "test/multi",
            json!({"order": ["Two Cloud", "one"]}),
            [0, 1, 0],
        ),
        ("test/multi", json!({"only": ["TWO"]}), [0, 1, 0]),
        ("test/multi", json!({"ignore": ["one", "two"]}), [0, 0, 1]),
        ("test/multi", json!({"sort": "price"}), [1, 0, 0]),
        (
            "test/multi",
            json!({"order": ["three", "two"], "max_price": {"prompt": "2", "completion": 2}}),
            [0, 1, 0],
        ),
        (
            "test/multi",
            json!({"sort": "price", "data_collection": "deny"}),
            [0, 1, 0],
        ),
        ("test/multi", json!({"zdr": true}), [0, 0, 1]),
        ("test/multi", json!({"quantizations": ["bf16"]}), [0, 1, 0]),
        ("test/multi:floor", json!({}), [1, 0, 0]),
        ("test/freebie:free", json!({}), [0, 1, 0]),
    ];
    for (model, provider, expected) in cases {
        let (status, called) = trio.called_by(&body(model, provider.clone())).await;
        assert_eq!(status, 200, "{model} {provider}");
        assert_eq!(&called, expected, "{model} {provider}");
    }

    // `require_parameters`: only `three` lists `top_k`.
    let mut with_top_k = body(
        "test/multi",
        json!({"require_parameters": true, "sort": "price"}),
    );
    with_top_k["top_k"] = json!(5);
    assert_eq!(trio.called_by(&with_top_k).await, (200, [0, 0, 1]));

    // `partition: "none"`: the cheapest endpoint of any model wins.
    let mut both = body(
        "test/multi",
        json!({"sort": {"by": "price", "partition": "none"}}),
    );
    both["models"] = json!(["test/solo"]);
    let response = trio.chat(&both).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model"], "test/solo");
    both["provider"] = json!({"sort": "price"});
    let answer: Value = trio.chat(&both).await.json().await.unwrap();
    assert_eq!(answer["model"], "test/multi");

    // The key's defaults sit under the request's preferences.
    let before = trio.calls();
    let response = trio
        .chat_as(DEFAULTS_KEY, &body("test/multi", json!({"sort": "price"})))
        .await;
    assert_eq!(response.status(), 200);
    let after = trio.calls();
    assert_eq!([after[0] - before[0], after[1] - before[1]], [0, 1]);
}

#[tokio::test]
async fn speed_sorts_use_configured_values_until_there_are_measurements() {
    // Each case on a fresh server: any answer is a measurement.
    let cases: &[(&str, Value, [usize; 3])] = &[
        ("test/multi", json!({"sort": "throughput"}), [0, 0, 1]),
        ("test/multi:nitro", json!({}), [0, 0, 1]),
        (
            "test/multi",
            json!({"sort": {"by": "latency", "partition": "model"}}),
            [0, 1, 0],
        ),
        (
            "test/multi",
            json!({"sort": "price", "preferred_min_throughput": 40}),
            [0, 1, 0],
        ),
        (
            "test/multi",
            json!({"sort": "price", "preferred_max_latency": {"p50": 0.6}}),
            [0, 1, 0],
        ),
    ];
    for (model, provider, expected) in cases {
        let trio = Trio::start().await;
        let (status, called) = trio.called_by(&body(model, provider.clone())).await;
        assert_eq!(status, 200, "{model} {provider}");
        assert_eq!(&called, expected, "{model} {provider}");
    }

    // Measured: `one` and `three` answer slowly, `two` at once; `two` is then the fastest in
    // both senses, whatever the configuration says.
    let trio = Trio::start().await;
    let slow = |millis| Behavior {
        first_token_latency: Duration::from_millis(millis),
        ..Behavior::default()
    };
    trio.mocks[0].set_behavior("multi-one", slow(300));
    trio.mocks[2].set_behavior("multi-three", slow(300));
    for name in ["one", "two", "three"] {
        let only = body("test/multi", json!({"only": [name]}));
        assert_eq!(trio.chat(&only).await.status(), 200);
    }
    for sort in ["throughput", "latency"] {
        let (status, called) = trio
            .called_by(&body("test/multi", json!({"sort": sort})))
            .await;
        assert_eq!((status, called), (200, [0, 1, 0]), "{sort}");
    }
}

#[tokio::test]
async fn without_fallbacks_only_the_first_or_ordered_providers_are_tried() {
    let trio = Trio::start().await;
    trio.mocks[0].set_behavior("multi-one", failing());
    let (status, called) = trio
        .called_by(&body(
            "test/multi",
            json!({"sort": "price", "allow_fallbacks": false}),
        ))
        .await;
    assert_eq!((status, called), (503, [1, 0, 0]));
    let (status, called) = trio
        .called_by(&body(
            "test/multi",
            json!({"order": ["one", "three"], "allow_fallbacks": false}),
        ))
        .await;
    assert_eq!((status, called), (200, [1, 0, 1]));
    // With fallbacks (the default), the rest follow.
    let (status, called) = trio
        .called_by(&body("test/multi", json!({"sort": "price"})))
        .await;
    assert_eq!((status, called), (200, [1, 1, 0]));
}

#[tokio::test]
async fn a_provider_member_of_the_wrong_type_is_a_400_naming_it() {
    let trio = Trio::start().await;
    for (provider, field) in [
        (
            json!({"order": "notalist", "sort": 12345}),
            "provider.order",
        ),
        (json!({"sort": 12345}), "provider.sort"),
        (json!({"only": [1]}), "provider.only[0]"),
        (json!({"ignore": "one"}), "provider.ignore"),
        (json!({"allow_fallbacks": "no"}), "provider.allow_fallbacks"),
        (
            json!({"require_parameters": 1}),
            "provider.require_parameters",
        ),
        (json!({"data_collection": true}), "provider.data_collection"),
        (json!({"zdr": "yes"}), "provider.zdr"),
        (json!({"quantizations": "fp8"}), "provider.quantizations"),
        (
            json!({"sort": {"by": "price", "partition": 1}}),
            "provider.sort.partition",
        ),
        (
            json!({"max_price": {"prompt": "cheap"}}),
            "provider.max_price.prompt",
        ),
        (
            json!({"preferred_min_throughput": "fast"}),
            "provider.preferred_min_throughput",
        ),
        (
            json!({"preferred_max_latency": {"p90": []}}),
            "provider.preferred_max_latency.p90",
        ),
        (
            json!({"enforce_distillable_text": 3}),
            "provider.enforce_distillable_text",
        ),
    ] {
        let (status, error) =
            error_response(trio.chat(&body("test/multi", provider.clone())).await).await;
        assert_eq!(status, 400, "{provider}");
        assert_eq!(error["error"]["metadata"]["field"], field, "{provider}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(field),
            "{error}"
        );
    }
    // Unknown members are ignored, as OpenRouter does.
    let (status, _) = trio
        .called_by(&body(
            "test/multi",
            json!({"brand_new": 1, "sort": "price"}),
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(trio.calls(), [1, 0, 0]);
}

#[tokio::test]
async fn filters_that_leave_nothing_are_a_404_saying_what_removed_what() {
    let trio = Trio::start().await;
    let (status, error) = error_response(
        trio.chat(&body("test/multi", json!({"only": ["nonexistent"]})))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`provider.only` removed one, two, three"),
        "{message}"
    );
    assert_eq!(
        error["error"]["metadata"]["availability"]["code"],
        "constraint_filtered"
    );

    let (status, error) = error_response(
        trio.chat(&body(
            "test/multi",
            json!({"zdr": true, "ignore": ["three"]}),
        ))
        .await,
    )
    .await;
    assert_eq!(status, 404);
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`provider.zdr: true` removed one, two"),
        "{message}"
    );
    assert!(
        message.contains("`provider.ignore` removed three"),
        "{message}"
    );

    let (status, error) =
        error_response(trio.chat(&body("test/multi:free", json!({}))).await).await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(trio.calls(), [0, 0, 0]);
}

#[tokio::test]
async fn unsupported_variants_are_a_400_that_says_so() {
    let trio = Trio::start().await;
    for variant in ["online", "thinking", "exacto", "extended"] {
        let (status, error) = error_response(
            trio.chat(&body(&format!("test/multi:{variant}"), json!({})))
                .await,
        )
        .await;
        assert_eq!(status, 400);
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`:{variant}` is not supported")),
            "{message}"
        );
        assert!(!message.contains("not a valid model"), "{message}");
    }
}

#[tokio::test]
async fn max_tokens_above_an_endpoints_output_limit_skips_it_without_a_call() {
    let trio = Trio::start().await;
    let mut request = body("test/multi", json!({"sort": "price"}));
    request["max_tokens"] = json!(2000);
    let response = trio.chat(&request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-turnout-excluded"],
        "test/multi@one=max_tokens"
    );
    assert_eq!(trio.calls(), [0, 1, 0]);

    // Above every endpoint's limit: a 400 without any call, each endpoint listed.
    request["max_tokens"] = json!(5000);
    let (status, error) = error_response(trio.chat(&request).await).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["error"]["metadata"]["error_type"],
        "max_tokens_exceeded"
    );
    assert_eq!(trio.calls(), [0, 1, 0]);

    // When the request fails, `metadata.attempts` lists the endpoints left out.
    trio.mocks[1].set_behavior("multi-two", failing());
    trio.mocks[2].set_behavior("multi-three", failing());
    request["max_tokens"] = json!(2000);
    let (_, error) = error_response(trio.chat(&request).await).await;
    let attempts = error["error"]["metadata"]["attempts"].as_array().unwrap();
    let excluded: Vec<_> = attempts
        .iter()
        .filter(|it| it["error"] == "excluded")
        .map(|it| (it["provider"].clone(), it["excluded"].clone()))
        .collect();
    assert_eq!(excluded, [(json!("one"), json!("max_tokens"))]);
}

#[tokio::test]
async fn five_failures_in_a_row_cool_an_endpoint_down_then_one_probe_brings_it_back() {
    let trio = Trio::start().await;
    let by_price = body("test/multi", json!({"sort": "price"}));
    trio.mocks[0].set_behavior("multi-one", failing());
    for _ in 0..5 {
        assert_eq!(trio.chat(&by_price).await.status(), 200);
    }
    assert_eq!(trio.calls(), [5, 5, 0]);
    // In cool-down: tried last, so not at all while `two` answers.
    assert_eq!(trio.called_by(&by_price).await, (200, [0, 1, 0]));
    // After the cool-down, one request probes it; it answers and is back first.
    trio.mocks[0].set_behavior("multi-one", Behavior::default());
    tokio::time::sleep(Duration::from_millis(COOLDOWN_MS + 300)).await;
    assert_eq!(trio.called_by(&by_price).await, (200, [1, 0, 0]));
    assert_eq!(trio.called_by(&by_price).await, (200, [1, 0, 0]));
}

#[tokio::test]
async fn a_429_with_retry_after_keeps_the_endpoint_out_for_that_long() {
    let trio = Trio::start().await;
    let by_price = body("test/multi", json!({"sort": "price"}));
    trio.mocks[0].set_behavior(
        "multi-one",
        Behavior {
            fail: Some(Failure::rate_limit(Some(2))),
            ..Behavior::default()
        },
    );
    assert_eq!(trio.called_by(&by_price).await, (200, [1, 1, 0]));
    assert_eq!(trio.called_by(&by_price).await, (200, [0, 1, 0]));
    trio.mocks[0].set_behavior("multi-one", Behavior::default());
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(trio.called_by(&by_price).await, (200, [1, 0, 0]));
}

#[tokio::test]
async fn without_sort_or_order_requests_are_balanced_by_price() {
    let trio = Trio::start().await;
    let plain = json!({
        "model": "test/multi",
        "messages": [{"role": "user", "content": "Hello"}],
    });
    for _ in 0..200 {
        assert_eq!(trio.chat(&plain).await.status(), 200);
    }
    let [one, two, three] = trio.calls();
    // Weights 1, 1/4 and 1/9: about 147, 37 and 16 of 200. Every provider gets some, the
    // cheapest the most.
    assert_eq!(one + two + three, 200);
    assert!(one > two && two > three && three > 0, "{one} {two} {three}");
}
