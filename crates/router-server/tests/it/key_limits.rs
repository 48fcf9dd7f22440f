//! Key limits over real HTTP: a credit limit answered 402 once spent, requests per minute
//! answered 429 with `Retry-After` on a test clock, tokens per minute, allowed models (403), and
//! the same limits shared by two servers through a real `redis-server` (started by the harness,
//! stopped and restarted mid-test: the servers keep answering on local limits, then share
//! again). `GET /api/v1/key` reports what is left.
//!
//! Every request costs exactly $0.003: the mock reports one completion token, requests ask for
//! `max_tokens: 1` (so the hold each request takes is its real cost), and the only price is
//! $3000 per million completion tokens.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use router_mock::{Behavior, Failure, MockProvider};
use router_server::RunningServer;
use router_server::config;
use router_server::{Clock, ManualClock};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::configs;
use crate::sdk_env::{describe, run};
use crate::sdk_pages::{npm_prefix, virtualenv};
use crate::sessions::Redis;
use crate::support::{client, mock};

/// What one request costs, USD.
const COST: f64 = 0.003;
const MINUTE: Duration = Duration::from_secs(60);
/// 2023-11-14T22:13:20Z: 40 s before the next minute.
const START_MS: u64 = 1_700_000_000_000;

/// The server and the keys of every test here.
const KEYS: &str = r#"
[server]
listen = "127.0.0.1:0"

[sessions]
enabled = false

[[keys]]
name = "credit"
key = "sk-credit"
limit = 0.01
limit_reset = "daily"

[[keys]]
name = "rate"
key = "sk-rate"
rpm = 60

[[keys]]
name = "tokens"
key = "sk-tokens"
tpm = 100

[[keys]]
name = "narrow"
key = "sk-narrow"
allowed_models = ["test/cheap*"]

"#;

/// [`KEYS`], and `test/chat` and `test/cheap` on the mock `alpha`.
fn config() -> String {
    [
        KEYS.to_owned(),
        configs::mock_provider("alpha", Some(5000)),
        configs::model(
            "test/chat",
            "chat",
            &["alpha"],
            "{ prompt = 0, completion = 3000 }",
        ),
        configs::model(
            "test/cheap",
            "cheap",
            &["alpha"],
            "{ prompt = 0, completion = 0 }",
        ),
    ]
    .concat()
}

/// One mock and `n` servers on it sharing a test clock.
struct Fleet {
    alpha: MockProvider,
    servers: Vec<RunningServer>,
    clock: Arc<ManualClock>,
    client: reqwest::Client,
}

/// What one answer said.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    limits: Option<String>,
    body: Value,
}

impl Fleet {
    async fn start(extra: &str, n: usize) -> Fleet {
        let alpha = mock().await;
        for model in ["chat-alpha", "cheap-alpha"] {
            alpha.set_behavior(
                model,
                Behavior {
                    completion_tokens: Some(1),
                    ..Behavior::default()
                },
            );
        }
        let clock = Arc::new(ManualClock::new(START_MS));
        let mut servers = Vec::new();
        for _ in 0..n {
            let text = format!("{}\n{extra}", config());
            let config = config::load_str(&text, &|name: &str| match name {
                "MOCK_ALPHA" => Some(alpha.base_url()),
                _ => None,
            })
            .unwrap_or_else(|err| panic!("{err}"));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let clock: Arc<dyn Clock> = clock.clone();
            servers.push(
                router_server::spawn_with_clock(config, listener, clock)
                    .await
                    .unwrap(),
            );
        }
        Fleet {
            alpha,
            servers,
            clock,
            client: client(),
        }
    }

    /// A chat with `key` to server `idx`.
    async fn chat(&self, idx: usize, key: &str, model: &str) -> Answer {
        let body = json!({
            "model": model,
            "max_tokens": 1,
            "messages": [{"role": "user", "content": "Hello"}],
        });
        let response = self
            .client
            .post(format!(
                "{}/api/v1/chat/completions",
                self.servers[idx].url()
            ))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|it| it.to_str().unwrap().to_owned())
        };
        let retry_after = header("retry-after");
        let limits = header("x-turnout-limits");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap();
        Answer {
            status,
            retry_after,
            limits,
            body,
        }
    }

    /// Chats with `key` on server `idx` until its limits are counted in Redis (the server
    /// reconnects once `retry_ms` has passed); fails after 200 tries.
    async fn await_shared(&self, idx: usize, key: &str) {
        for _ in 0..200 {
            let answer = self.chat(idx, key, "test/chat").await;
            assert_eq!(answer.status, 200, "{answer:?}");
            if answer.limits.as_deref() == Some("shared") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server {idx} never counted its limits in Redis");
    }

    /// `GET /api/v1/key` of `key` on server `idx`.
    async fn key(&self, idx: usize, key: &str) -> Value {
        let response = self
            .client
            .get(format!("{}/api/v1/key", self.servers[idx].url()))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["data"].clone()
    }
}

fn redis_section(redis: &Redis) -> String {
    // A generous timeout (the machine may be busy; a stopped Redis refuses at once) and a short
    // retry, so a restarted Redis is found again quickly.
    format!(
        "[redis]\nurl = \"{}\"\ntimeout_ms = 2000\nretry_ms = 100\n\n[limits]\nlocal_share = 0.5\n",
        redis.url()
    )
}

fn assert_error(answer: &Answer, status: u16, error_type: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.body["error"]["code"], status, "{answer:?}");
    assert_eq!(
        answer.body["error"]["metadata"]["error_type"], error_type,
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_spent_credit_limit_is_a_402_and_the_key_says_what_is_left() {
    let fleet = Fleet::start("", 1).await;
    let fresh = fleet.key(0, "sk-credit").await;
    assert_eq!(fresh["limit"], 0.01);
    assert_eq!(fresh["limit_remaining"], 0.01);
    assert_eq!(fresh["limit_reset"], "daily");
    assert_eq!(fresh["budgets"][0]["scope"], "key_limit");
    assert_eq!(fresh["effective_budget"]["limit_usd"], 0.01);
    // The next midnight UTC after the test clock's 2023-11-14T22:13:20Z.
    assert_eq!(
        fresh["effective_budget"]["resets_at"],
        "2023-11-15T00:00:00.000Z"
    );
    // $0.000, $0.003, $0.006, $0.009 spent: each fits (the stream, first, is charged when it
    // ends); then $0.012 is spent.
    let stream = fleet
        .client
        .post(format!(
            "{}/api/v1/chat/completions",
            fleet.servers[0].url()
        ))
        .bearer_auth("sk-credit")
        .json(&json!({
            "model": "test/chat",
            "max_tokens": 1,
            "stream": true,
            "messages": [{"role": "user", "content": "Hello"}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["x-turnout-limits"], "local");
    assert!(stream.text().await.unwrap().contains("[DONE]"));
    for _ in 0..3 {
        let answer = fleet.chat(0, "sk-credit", "test/chat").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.limits.as_deref(), Some("local"));
    }
    let refused = fleet.chat(0, "sk-credit", "test/chat").await;
    assert_error(&refused, 402, "payment_required");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("credit limit of $0.01"), "{message}");
    assert!(message.contains("not a provider's"), "{message}");
    let spent = fleet.key(0, "sk-credit").await;
    assert_eq!(spent["limit_remaining"], 0.0);
    assert!((spent["effective_budget"]["spend_usd"].as_f64().unwrap() - 4.0 * COST).abs() < 1e-9);
    // A new day: the limit starts again.
    fleet.clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(fleet.chat(0, "sk-credit", "test/chat").await.status, 200);
    // Other keys are not limited by it.
    assert_eq!(fleet.chat(0, "sk-rate", "test/chat").await.status, 200);
}

#[tokio::test]
async fn a_key_answers_only_within_its_allowed_models_and_tokens_per_minute() {
    let fleet = Fleet::start("", 1).await;
    assert_eq!(fleet.chat(0, "sk-narrow", "test/cheap").await.status, 200);
    let refused = fleet.chat(0, "sk-narrow", "test/chat").await;
    assert_error(&refused, 403, "permission_denied");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`test/chat`")
    );
    // The Auto Router picks within the key's models.
    let auto = fleet.chat(0, "sk-narrow", "openrouter/auto").await;
    assert_eq!(auto.status, 200, "{auto:?}");
    assert_eq!(auto.body["model"], "test/cheap");

    // 100 tokens per minute: a request holds its prompt estimate plus `max_tokens`, then
    // counts what the provider reported; the minute fills up, then the next one is free.
    let mut answered = 0;
    let refused = loop {
        let answer = fleet.chat(0, "sk-tokens", "test/chat").await;
        if answer.status != 200 {
            break answer;
        }
        answered += 1;
        assert!(answered < 100, "tokens per minute never ran out");
    };
    assert!(answered >= 2, "{answered}");
    assert_error(&refused, 429, "rate_limit_exceeded");
    assert_eq!(refused.retry_after.as_deref(), Some("40"));
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("100 tokens per minute"), "{message}");
    assert!(message.contains("not the provider's"), "{message}");
    fleet.clock.advance(MINUTE);
    assert_eq!(fleet.chat(0, "sk-tokens", "test/chat").await.status, 200);
}

#[tokio::test]
async fn two_servers_sharing_redis_spend_a_credit_limit_once() {
    let redis = Redis::start().await;
    let fleet = Arc::new(Fleet::start(&redis_section(&redis), 2).await);
    // Both servers connect to Redis first (until a server is connected, its first requests
    // count locally).
    for idx in [0, 1] {
        fleet.await_shared(idx, "sk-rate").await;
    }
    // 32 clients at once, split across both servers.
    let mut tasks = Vec::new();
    for idx in 0..32 {
        let fleet = fleet.clone();
        tasks.push(tokio::spawn(async move {
            fleet.chat(idx % 2, "sk-credit", "test/chat").await
        }));
    }
    let mut answered = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        match answer.status {
            200 => {
                answered += 1;
                assert_eq!(answer.limits.as_deref(), Some("shared"));
            }
            _ => assert_error(&answer, 402, "payment_required"),
        }
    }
    // Never more than one request's cost over the limit, in total.
    // $0.000, $0.003, $0.006 and $0.009 spent or held: four fit, the fourth goes over.
    let spent = f64::from(answered) * COST;
    assert!(spent <= 0.01 + COST + 1e-9, "{answered} answered");
    assert_eq!(answered, 4);
    // Once spent, the next request is refused on either server.
    for idx in [0, 1] {
        let answer = fleet.chat(idx, "sk-credit", "test/chat").await;
        assert_error(&answer, 402, "payment_required");
    }
    // Both servers report the same, shared spending.
    let (first, second) = (
        fleet.key(0, "sk-credit").await,
        fleet.key(1, "sk-credit").await,
    );
    assert_eq!(first["limit_remaining"], second["limit_remaining"]);
}

#[tokio::test]
async fn two_servers_sharing_redis_answer_60_requests_a_minute_then_local_limits_then_shared_again()
{
    let mut redis = Redis::start().await;
    let fleet = Fleet::start(&redis_section(&redis), 2).await;
    for idx in [0, 1] {
        fleet.await_shared(idx, "sk-credit").await;
    }
    for idx in 0..60 {
        let answer = fleet.chat(idx % 2, "sk-rate", "test/chat").await;
        assert_eq!(answer.status, 200, "request {idx}: {answer:?}");
        assert_eq!(answer.limits.as_deref(), Some("shared"));
    }
    for idx in [0, 1] {
        let refused = fleet.chat(idx, "sk-rate", "test/chat").await;
        assert_error(&refused, 429, "rate_limit_exceeded");
        assert_eq!(refused.retry_after.as_deref(), Some("40"));
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("60 requests per minute"), "{message}");
        assert!(message.contains("Turnout's key limit"), "{message}");
    }
    let rate = fleet.key(1, "sk-rate").await["rate_limit"].clone();
    assert_eq!(rate["requests"], 60);
    assert_eq!(rate["interval"], "1m");

    // Redis goes away in a new minute: each server keeps answering, on its half of the limit.
    fleet.clock.advance(MINUTE);
    redis.stop();
    for idx in [0, 1] {
        for _ in 0..30 {
            let answer = fleet.chat(idx, "sk-rate", "test/chat").await;
            assert_eq!(answer.status, 200, "{answer:?}");
            assert_eq!(answer.limits.as_deref(), Some("local"));
        }
        let refused = fleet.chat(idx, "sk-rate", "test/chat").await;
        assert_error(&refused, 429, "rate_limit_exceeded");
    }
    let metrics = fleet
        .client
        .get(format!("{}/metrics", fleet.servers[0].url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("turnout_key_limit_checks_total{mode=\"local\"}"),
        "{metrics}"
    );

    // Redis comes back (empty): the servers share again without a restart.
    redis.restart().await;
    fleet.clock.advance(MINUTE);
    for idx in [0, 1] {
        fleet.await_shared(idx, "sk-rate").await;
    }
}

#[tokio::test]
async fn the_official_sdks_read_a_keys_limits() {
    let fleet = Fleet::start("", 1).await;
    assert_eq!(fleet.chat(0, "sk-credit", "test/chat").await.status, 200);
    let base_url = format!("{}/api/v1", fleet.servers[0].url());
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let output = tokio::task::spawn_blocking(move || {
        let python = run(Command::new(virtualenv())
            .arg(scripts.join("key_sdk.py"))
            .args([&base_url, "sk-credit", "sk-rate"]));
        let node = run(Command::new("node")
            .arg(scripts.join("key_sdk.mjs"))
            .arg(npm_prefix())
            .args([&base_url, "sk-credit", "sk-rate"]));
        (python, node)
    })
    .await
    .unwrap();
    for (sdk, output) in [("Python", output.0), ("TypeScript", output.1)] {
        assert!(
            output.status.success(),
            "the {sdk} SDK script failed:\n{}",
            describe(&output)
        );
    }
}

#[tokio::test]
async fn a_providers_401_and_402_are_answered_as_themselves_naming_the_gateways_key() {
    let fleet = Fleet::start("", 1).await;
    for (status, error_type, words) in [
        (401, "authentication", "not your key"),
        (402, "payment_required", "not your key's limit"),
    ] {
        fleet.alpha.set_behavior(
            "cheap-alpha",
            Behavior {
                fail: Some(Failure::status(status)),
                ..Behavior::default()
            },
        );
        let answer = fleet.chat(0, "sk-rate", "test/cheap").await;
        assert_error(&answer, status, error_type);
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
        assert_eq!(answer.body["error"]["metadata"]["provider_name"], "alpha");
        assert!(!answer.body.to_string().contains("sk-provider-SECRET-123"));
    }
}
