//! Sticky sessions over real HTTP: explicit and implicit pins, their TTL on a test clock,
//! errors from the pinned endpoint, client keys, `provider.order`, the Auto Router, and pins
//! shared by two servers through a real `redis-server` (which the harness starts on a free
//! port, and stops mid-test to see both servers answer without stickiness).
//!
//! The catalog has one model, `test/chat`, served by `alpha` then `beta`: the plan prefers
//! `alpha`, so a conversation pinned to `beta` shows the pin at work.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use router_mock::{Behavior, Failure, MockProvider};
use router_server::RunningServer;
use router_server::config;
use router_server::{Clock, ManualClock};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::auto_router::{DEMO_KEY, DemoFleet, LIMERICK, PYTHON_BUG};
use crate::configs;
use crate::support::{client, error_response, mock};

/// Config that turns sticky sessions off (for tests that repeat one prompt on purpose).
pub(crate) const NO_STICKINESS: &str = "[sessions]\nenabled = false\n";

const KEY_ONE: &str = "sk-one";
const KEY_TWO: &str = "sk-two";
const MINUTE: Duration = Duration::from_secs(60);

/// The server, routing and keys of every test here.
const KEYS: &str = r#"
[server]
listen = "127.0.0.1:0"

# Without a pin, the plan tries alpha first (config order), so a pin to beta shows.
[routing]
load_balance = false

[[keys]]
name = "one"
key = "sk-one"

[[keys]]
name = "two"
key = "sk-two"

"#;

/// [`KEYS`], and `test/chat` on the mocks `alpha` and `beta`, in that order.
fn config() -> String {
    let fleet =
        configs::chat_on_alpha_and_beta("{ prompt = 1.0, completion = 2.0, cache_read = 0.1 }");
    format!("{KEYS}{fleet}")
}

/// The two mocks and one or more servers on them.
struct Sticky {
    alpha: MockProvider,
    beta: MockProvider,
    servers: Vec<RunningServer>,
    clock: Arc<ManualClock>,
    client: reqwest::Client,
}

/// What one answer said.
#[derive(Debug)]
struct Answer {
    status: u16,
    provider: Option<String>,
    session: Option<String>,
    body: Value,
}

impl Sticky {
    /// One server, with `extra` TOML (a `[sessions]` section) appended.
    async fn start(extra: &str) -> Sticky {
        Sticky::start_many(extra, 1).await
    }

    /// `n` servers sharing the mocks and the clock.
    async fn start_many(extra: &str, n: usize) -> Sticky {
        let alpha = mock().await;
        let beta = mock().await;
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let mut servers = Vec::new();
        for _ in 0..n {
            let text = format!("{}\n{extra}", config());
            let config = config::load_str(&text, &|name: &str| match name {
                "MOCK_ALPHA" => Some(alpha.base_url()),
                "MOCK_BETA" => Some(beta.base_url()),
                _ => None,
            })
            .unwrap_or_else(|err| panic!("{err}"));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let clock: Arc<dyn Clock> = clock.clone();
            let server = router_server::spawn_with_clock(config, listener, clock)
                .await
                .unwrap();
            servers.push(server);
        }
        Sticky {
            alpha,
            beta,
            servers,
            clock,
            client: client(),
        }
    }

    /// `alpha` fails every call (503) until [`Sticky::heal_alpha`].
    fn break_alpha(&self) {
        self.alpha.set_behavior(
            "chat-alpha",
            Behavior {
                fail: Some(Failure::status(503)),
                ..Behavior::default()
            },
        );
    }

    fn heal_alpha(&self) {
        self.alpha.set_behavior("chat-alpha", Behavior::default());
    }

    /// Posts `body` to server `idx` with `key` and extra `headers`.
    async fn post(&self, idx: usize, key: &str, body: &Value, headers: &[(&str, &str)]) -> Answer {
        let mut request = self
            .client
            .post(format!(
                "{}/api/v1/chat/completions",
                self.servers[idx].url()
            ))
            .bearer_auth(key)
            .json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|it| it.to_str().unwrap().to_owned())
        };
        let provider = header("x-turnout-served-provider");
        let session = header("x-turnout-session");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        Answer {
            status,
            provider,
            session,
            body,
        }
    }

    /// A chat in conversation `session_id` (none: implicit), from key one, to server 0.
    async fn chat(&self, session_id: Option<&str>) -> Answer {
        self.post(0, KEY_ONE, &body(session_id, "Hello"), &[]).await
    }
}

/// A two-message conversation; `session_id` when given.
fn body(session_id: Option<&str>, first: &str) -> Value {
    let mut body = json!({
        "model": "test/chat",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": first},
        ],
    });
    if let Some(id) = session_id {
        body["session_id"] = json!(id);
    }
    body
}

fn served(answer: &Answer) -> (&str, &str) {
    assert_eq!(answer.status, 200, "{answer:?}");
    (
        answer.provider.as_deref().unwrap_or("-"),
        answer.session.as_deref().unwrap_or("-"),
    )
}

#[tokio::test]
async fn an_explicit_session_sticks_to_its_endpoint_until_five_minutes_of_silence() {
    let sticky = Sticky::start("").await;
    // The first turn lands on beta (alpha is down): the session pins beta.
    sticky.break_alpha();
    assert_eq!(served(&sticky.chat(Some("s1")).await), ("beta", "created"));
    sticky.heal_alpha();
    // Without the session the plan prefers alpha; with it, the conversation stays on beta.
    assert_eq!(served(&sticky.chat(None).await).0, "alpha");
    assert_eq!(served(&sticky.chat(Some("s1")).await), ("beta", "renewed"));
    // The header names the same session (and the body wins over it).
    let by_header = sticky
        .post(0, KEY_ONE, &body(None, "Hello"), &[("x-session-id", "s1")])
        .await;
    assert_eq!(served(&by_header), ("beta", "renewed"));
    let both = sticky
        .post(
            0,
            KEY_ONE,
            &body(Some("other"), "Hello"),
            &[("x-session-id", "s1")],
        )
        .await;
    assert_eq!(served(&both), ("alpha", "created"));
    // A turn at 4 minutes renews the pin: 4 more minutes later it still holds.
    sticky.clock.advance(4 * MINUTE);
    assert_eq!(served(&sticky.chat(Some("s1")).await), ("beta", "renewed"));
    sticky.clock.advance(4 * MINUTE);
    assert_eq!(served(&sticky.chat(Some("s1")).await), ("beta", "renewed"));
    // Five minutes of silence: the pin is gone and the plan's order is back.
    sticky.clock.advance(5 * MINUTE);
    assert_eq!(served(&sticky.chat(Some("s1")).await), ("alpha", "created"));
}

#[tokio::test]
async fn an_error_from_the_pinned_endpoint_falls_back_and_leaves_the_pin_unrenewed() {
    let sticky = Sticky::start("").await;
    assert_eq!(served(&sticky.chat(Some("s2")).await), ("alpha", "created"));
    sticky.clock.advance(4 * MINUTE);
    sticky.break_alpha();
    // The pinned endpoint fails: this request falls back and succeeds.
    let fallback = sticky.chat(Some("s2")).await;
    assert_eq!(served(&fallback), ("beta", "ignored; pin-failed"));
    let attempts = fallback.body["_metadata"].to_string();
    assert!(!attempts.is_empty());
    sticky.heal_alpha();
    // Had the fallback replaced the pin, this would go to beta; had it renewed the pin, the pin
    // would still hold: neither, so the expired pin is created afresh on alpha.
    sticky.clock.advance(MINUTE + Duration::from_secs(1));
    assert_eq!(served(&sticky.chat(Some("s2")).await), ("alpha", "created"));
}

#[tokio::test]
async fn a_pin_to_an_endpoint_in_cool_down_is_set_aside_and_left_as_it_was() {
    let sticky = Sticky::start("").await;
    assert_eq!(served(&sticky.chat(Some("s3")).await), ("alpha", "created"));
    // alpha answers a 429 with a ten-minute Retry-After: the router cools it down.
    sticky.alpha.set_behavior(
        "chat-alpha",
        Behavior {
            fail: Some(Failure::rate_limit(Some(600))),
            ..Behavior::default()
        },
    );
    assert_eq!(served(&sticky.chat(None).await).0, "beta");
    sticky.heal_alpha();
    sticky.alpha.reset_calls();
    // The conversation pinned to alpha is not sent there first while it cools down.
    let answer = sticky.chat(Some("s3")).await;
    assert_eq!(served(&answer), ("beta", "ignored; pin-cooling-down"));
    assert!(
        sticky.alpha.calls().is_empty(),
        "{:?}",
        sticky.alpha.calls()
    );
    // The pin is left as it was: still alpha, not replaced by the endpoint that answered.
    let sessions = sticky
        .client
        .get(format!("{}/api/v1/sessions/s3", sticky.servers[0].url()))
        .bearer_auth(KEY_ONE)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        sessions["data"]["pins"],
        json!([{"requested": "test/chat", "model": "test/chat", "provider": "alpha"}]),
        "{sessions}"
    );
}

#[tokio::test]
async fn an_implicit_conversation_pins_only_after_a_cache_read() {
    let sticky = Sticky::start("").await;
    sticky.break_alpha();
    // Beta has not seen this prompt: no cache read, no pin.
    let first = sticky.chat(None).await;
    assert_eq!(served(&first), ("beta", "ignored; no-cache-read"));
    assert_eq!(
        first.body["usage"]["prompt_tokens_details"]["cached_tokens"],
        0
    );
    // The next turn of the same conversation reads beta's cache: now it pins.
    let mut next = body(None, "Hello");
    next["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": "Hi."}),
        json!({"role": "user", "content": "More."}),
    ]);
    let second = sticky.post(0, KEY_ONE, &next, &[]).await;
    assert_eq!(served(&second), ("beta", "created"));
    let cached = second.body["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64();
    assert!(cached.unwrap() > 0, "{:?}", second.body);
    sticky.heal_alpha();
    // The conversation stays on beta; another conversation goes where the plan says.
    assert_eq!(
        served(&sticky.post(0, KEY_ONE, &next, &[]).await),
        ("beta", "renewed")
    );
    let other = sticky
        .post(0, KEY_ONE, &body(None, "Another topic"), &[])
        .await;
    assert_eq!(served(&other), ("alpha", "ignored; no-cache-read"));
}

#[tokio::test]
async fn two_keys_with_the_same_session_id_have_their_own_pins() {
    let sticky = Sticky::start("").await;
    sticky.break_alpha();
    assert_eq!(
        served(&sticky.chat(Some("shared")).await),
        ("beta", "created")
    );
    sticky.heal_alpha();
    let two = sticky
        .post(0, KEY_TWO, &body(Some("shared"), "Hello"), &[])
        .await;
    assert_eq!(served(&two), ("alpha", "created"));
    assert_eq!(
        served(&sticky.chat(Some("shared")).await),
        ("beta", "renewed")
    );
}

#[tokio::test]
async fn provider_order_turns_stickiness_off() {
    let sticky = Sticky::start("").await;
    sticky.break_alpha();
    assert_eq!(served(&sticky.chat(Some("s3")).await), ("beta", "created"));
    sticky.heal_alpha();
    let mut ordered = body(Some("s3"), "Hello");
    ordered["provider"] = json!({"order": ["alpha"]});
    let answer = sticky.post(0, KEY_ONE, &ordered, &[]).await;
    assert_eq!(served(&answer), ("alpha", "ignored; provider-order"));
    // The pin is still there for requests without `order`.
    assert_eq!(served(&sticky.chat(Some("s3")).await), ("beta", "renewed"));
}

#[tokio::test]
async fn a_session_id_longer_than_256_characters_is_a_400() {
    let sticky = Sticky::start("").await;
    let long = "x".repeat(257);
    let response = sticky
        .client
        .post(format!(
            "{}/api/v1/chat/completions",
            sticky.servers[0].url()
        ))
        .bearer_auth(KEY_ONE)
        .json(&body(Some(&long), "Hello"))
        .send()
        .await
        .unwrap();
    let (status, error) = error_response(response).await;
    assert_eq!(status, 400);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("session_id"),
        "{error}"
    );
    let response = sticky
        .client
        .post(format!(
            "{}/api/v1/chat/completions",
            sticky.servers[0].url()
        ))
        .bearer_auth(KEY_ONE)
        .header("x-session-id", &long)
        .json(&body(None, "Hello"))
        .send()
        .await
        .unwrap();
    let (status, error) = error_response(response).await;
    assert_eq!(status, 400);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-session-id"),
        "{error}"
    );
    // Exactly 256 is fine.
    let ok = sticky.chat(Some(&"y".repeat(256))).await;
    assert_eq!(served(&ok), ("alpha", "created"));
}

#[tokio::test]
async fn the_session_id_is_not_forwarded_and_a_per_model_ttl_applies() {
    let sticky = Sticky::start("[sessions]\nttl_by_model = { \"test/chat\" = 3600000 }").await;
    sticky.break_alpha();
    assert_eq!(
        served(&sticky.chat(Some("long")).await),
        ("beta", "created")
    );
    sticky.heal_alpha();
    let calls = sticky.beta.calls();
    let forwarded = calls.last().unwrap().body.to_string();
    assert!(!forwarded.contains("session_id"), "{forwarded}");
    // An hour's TTL: 30 minutes of silence do not end it.
    sticky.clock.advance(30 * MINUTE);
    assert_eq!(
        served(&sticky.chat(Some("long")).await),
        ("beta", "renewed")
    );
}

#[tokio::test]
async fn with_the_auto_router_a_coding_turn_after_a_chat_turn_stays_on_the_pinned_model() {
    let fleet = DemoFleet::start().await;
    let model_of = |body: &Value| body["model"].as_str().unwrap().to_owned();
    let turn = |messages: Value, session: Option<&str>| {
        let mut body = json!({"model": "openrouter/auto", "messages": messages});
        if let Some(id) = session {
            body["session_id"] = json!(id);
        }
        body
    };
    // Unpinned, the two prompts go to different models: the test means something.
    let chat_alone = fleet
        .chat(&turn(json!([{"role": "user", "content": LIMERICK}]), None))
        .await;
    let chat_model = model_of(&chat_alone.json::<Value>().await.unwrap());
    let code_alone = fleet
        .chat(&turn(
            json!([{"role": "user", "content": PYTHON_BUG}]),
            None,
        ))
        .await;
    let code_model = model_of(&code_alone.json::<Value>().await.unwrap());
    assert_ne!(chat_model, code_model);

    let first = fleet
        .chat(&turn(
            json!([{"role": "user", "content": LIMERICK}]),
            Some("auto-1"),
        ))
        .await;
    assert_eq!(first.headers()["x-turnout-session"], "created");
    let first = first.json::<Value>().await.unwrap();
    assert_eq!(model_of(&first), chat_model);
    let second = fleet
        .chat(&turn(
            json!([
                {"role": "user", "content": LIMERICK},
                {"role": "assistant", "content": "There once was a cat..."},
                {"role": "user", "content": PYTHON_BUG},
            ]),
            Some("auto-1"),
        ))
        .await;
    assert_eq!(second.headers()["x-turnout-session"], "renewed");
    assert_eq!(model_of(&second.json::<Value>().await.unwrap()), chat_model);
    // A request whose patterns exclude the pinned model is routed afresh.
    let mut excluded = turn(
        json!([{"role": "user", "content": PYTHON_BUG}]),
        Some("auto-1"),
    );
    excluded["plugins"] = json!([{"id": "auto-router", "excluded_models": [chat_model]}]);
    let third = fleet
        .post_as(DEMO_KEY, "/api/v1/chat/completions", &excluded)
        .await;
    assert_eq!(
        third.headers()["x-turnout-session"],
        "ignored; pin-excluded"
    );
    assert_ne!(model_of(&third.json::<Value>().await.unwrap()), chat_model);
}

/// A `redis-server` on a free port of 127.0.0.1, in a temporary directory; killed on drop.
pub(crate) struct Redis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    /// Starts one. Fails (it does not skip) when the binary is missing.
    pub(crate) async fn start() -> Redis {
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Redis::start_on(port).await
    }

    /// Starts one on `port` (empty: nothing is saved).
    async fn start_on(port: u16) -> Redis {
        let dir = std::env::temp_dir().join(format!("turnout-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Redis {
            child: None,
            port,
            dir,
        };
        redis.resume().await;
        redis
    }

    /// Starts it again (empty) on the same port after [`Redis::stop`].
    pub(crate) async fn resume(&mut self) {
        let port = self.port;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start redis-server ({err}): install it with \
                     `apt-get install redis-server`"
                )
            });
        self.child = Some(child);
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("redis-server did not start listening on port {port}");
    }

    /// Starts a new, empty one on the port of this stopped one.
    pub(crate) async fn restart(&mut self) {
        self.stop();
        self.resume().await;
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn two_servers_sharing_redis_see_each_others_pins_and_answer_when_it_stops() {
    let mut redis = Redis::start().await;
    // A generous timeout: the test machine may be busy, and a refused connection fails fast.
    let extra = format!(
        "[sessions]\nstore = \"redis\"\nredis_url = \"{}\"\nredis_timeout_ms = 2000\nredis_retry_ms = 60000",
        redis.url()
    );
    let sticky = Sticky::start_many(&extra, 2).await;
    sticky.break_alpha();
    let first = sticky
        .post(0, KEY_ONE, &body(Some("r1"), "Hello"), &[])
        .await;
    assert_eq!(served(&first), ("beta", "created"));
    sticky.heal_alpha();
    // The other server finds the pin the first one made.
    let second = sticky
        .post(1, KEY_ONE, &body(Some("r1"), "Hello"), &[])
        .await;
    assert_eq!(served(&second), ("beta", "renewed"));
    // Another key's session of the same name is its own, on either server.
    let other_key = sticky
        .post(1, KEY_TWO, &body(Some("r1"), "Hello"), &[])
        .await;
    assert_eq!(served(&other_key), ("alpha", "created"));
    // The TTL is kept against the injected clock on Redis too.
    sticky.clock.advance(5 * MINUTE);
    let expired = sticky
        .post(0, KEY_TWO, &body(Some("r1"), "Hello"), &[])
        .await;
    assert_eq!(served(&expired), ("alpha", "created"));

    redis.stop();
    for idx in [0, 1, 0, 1] {
        let answer = sticky
            .post(idx, KEY_ONE, &body(Some("r1"), "Hello"), &[])
            .await;
        assert_eq!(served(&answer), ("alpha", "ignored; store-unavailable"));
    }
}

#[tokio::test]
async fn the_sessions_api_lists_a_conversation_its_pin_and_its_cache_savings_to_its_key_only() {
    let sticky = Sticky::start("").await;
    sticky.break_alpha();
    let first = sticky.chat(Some("api-1")).await;
    assert_eq!(served(&first), ("beta", "created"));
    sticky.heal_alpha();
    let second = sticky.chat(Some("api-1")).await;
    assert_eq!(served(&second), ("beta", "renewed"));
    let cached = second.body["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert!(cached > 0, "{:?}", second.body);

    let get = |path: String, key: &'static str| {
        let request = sticky
            .client
            .get(format!("{}{path}", sticky.servers[0].url()))
            .bearer_auth(key);
        async move { request.send().await.unwrap() }
    };
    let response = get("/api/v1/sessions/api-1".to_owned(), KEY_ONE).await;
    assert_eq!(response.status(), 200);
    let data = response.json::<Value>().await.unwrap()["data"].clone();
    let ids: Vec<&str> = data["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [&first.body["id"], &second.body["id"]].map(|it| it.as_str().unwrap())
    );
    assert_eq!(
        data["pins"],
        json!([{"requested": "test/chat", "model": "test/chat", "provider": "beta"}])
    );
    assert_eq!(data["cached_tokens"], cached);
    // Cached tokens at 1.0 instead of 0.1 USD per million.
    let savings = data["cache_savings"].as_f64().unwrap();
    let expected = cached as f64 * 0.9 / 1e6;
    assert!(
        (savings - expected).abs() < 1e-12,
        "{savings} != {expected}"
    );
    assert_eq!(data["store"]["kind"], "memory");

    // Another key sees nothing, as for an unknown session.
    let (status, _) = error_response(get("/api/v1/sessions/api-1".to_owned(), KEY_TWO).await).await;
    assert_eq!(status, 404);
    // The generation record keeps the session id; an implicit one keeps the fingerprint's hash.
    let id = second.body["id"].as_str().unwrap();
    let record = get(format!("/api/v1/generation?id={id}"), KEY_ONE).await;
    assert_eq!(
        record.json::<Value>().await.unwrap()["data"]["session_id"],
        "api-1"
    );
    let implicit = sticky.chat(None).await;
    let id = implicit.body["id"].as_str().unwrap();
    let record = get(format!("/api/v1/generation?id={id}"), KEY_ONE).await;
    let session_id = record.json::<Value>().await.unwrap()["data"]["session_id"].clone();
    let session_id = session_id.as_str().unwrap().to_owned();
    assert!(
        session_id.starts_with("fp-") && session_id.len() == 35,
        "{session_id}"
    );
    assert!(!session_id.contains("Hello"));
    let listed = get(format!("/api/v1/sessions/{session_id}"), KEY_ONE).await;
    assert_eq!(listed.status(), 200);
}

#[tokio::test]
async fn streamed_turns_pin_and_follow_the_pin_too() {
    let sticky = Sticky::start("").await;
    let stream = |session: &str| {
        let mut body = body(Some(session), "Hello");
        body["stream"] = json!(true);
        body
    };
    let send = |body: Value| {
        let request = sticky
            .client
            .post(format!(
                "{}/api/v1/chat/completions",
                sticky.servers[0].url()
            ))
            .bearer_auth(KEY_ONE)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
            let seen = (
                header("x-turnout-served-provider"),
                header("x-turnout-session"),
            );
            let events = crate::support::read_events(response).await;
            assert_eq!(events.last(), Some(&crate::support::Event::Done));
            seen
        }
    };
    sticky.break_alpha();
    // The headers go out when the stream commits, before the pin is created at its end.
    assert_eq!(
        send(stream("st")).await,
        ("beta".to_owned(), "pending".to_owned())
    );
    sticky.heal_alpha();
    assert_eq!(
        send(stream("st")).await,
        ("beta".to_owned(), "used".to_owned())
    );
    // The stream's end renewed it: a non-streamed turn finds it.
    sticky.clock.advance(4 * MINUTE);
    assert_eq!(served(&sticky.chat(Some("st")).await), ("beta", "renewed"));
}
