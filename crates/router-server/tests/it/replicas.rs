//! Several replicas as one router, over real HTTP: two servers writing their generation records
//! to one real PostgreSQL (started by the harness, stopped mid-test to see records wait in
//! memory and arrive when it returns), and two servers sharing endpoint cool-downs through a real
//! `redis-server`.
//!
//! The catalog has one model, `test/chat`, served by `alpha` then `beta` (config order), both
//! mock providers shared by the two servers.

use std::time::Duration;

use router_mock::{Behavior, Failure, MockProvider};
use router_server::RunningServer;
use router_server::config;
use serde_json::{Value, json};

use crate::configs;
use crate::postgres::Postgres;
use crate::sessions::Redis;
use crate::support::{client, mock, spawn};

const KEY: &str = "sk-replica";

/// The server (`{server}` is replaced), routing and key of every test here.
const KEYS: &str = r#"
[server]
listen = "127.0.0.1:0"
{server}

[routing]
load_balance = false

[[keys]]
name = "replica-key"
key = "sk-replica"

"#;

/// [`KEYS`] with `server` in its `[server]`, and `test/chat` on the mocks `alpha` and `beta`.
fn config(server: &str) -> String {
    let fleet = configs::chat_on_alpha_and_beta("{ prompt = 1.0, completion = 2.0 }");
    format!("{}{fleet}", KEYS.replace("{server}", server))
}

/// Two mock providers and `n` servers with the same config (`extra` appended to it, `{server}`
/// replaced by `server` keys), started together.
pub(crate) struct Replicas {
    /// The first provider of `test/chat`.
    pub(crate) alpha: MockProvider,
    /// Its second provider; kept so it serves until the test ends.
    #[expect(dead_code, reason = "held for its lifetime: the servers call it")]
    pub(crate) beta: MockProvider,
    pub(crate) servers: Vec<RunningServer>,
    client: reqwest::Client,
}

impl Replicas {
    pub(crate) async fn start(server: &str, extra: &str, n: usize) -> Replicas {
        let alpha = mock().await;
        let beta = mock().await;
        let text = format!("{}\n{extra}", config(server));
        let load = || {
            config::load_str(&text, &|name: &str| match name {
                "MOCK_ALPHA" => Some(alpha.base_url()),
                "MOCK_BETA" => Some(beta.base_url()),
                _ => None,
            })
            .unwrap_or_else(|err| panic!("{err}"))
        };
        // Started at once: replicas migrating one database together take turns.
        let servers = futures_util::future::join_all((0..n).map(|_| spawn(load()))).await;
        Replicas {
            alpha,
            beta,
            servers,
            client: client(),
        }
    }

    /// One chat request to server `idx`: its status and body.
    pub(crate) async fn chat(&self, idx: usize, text: &str) -> (u16, Value) {
        let response = self
            .client
            .post(format!(
                "{}/api/v1/chat/completions",
                self.servers[idx].url()
            ))
            .bearer_auth(KEY)
            .json(&json!({
                "model": "test/chat",
                "session_id": "replica-conversation",
                "messages": [{"role": "user", "content": text}],
            }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// `GET path` on server `idx` with the key: status and body.
    pub(crate) async fn get(&self, idx: usize, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.servers[idx].url()))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET /metrics` on server `idx`, as text.
    pub(crate) async fn metrics(&self, idx: usize) -> String {
        self.client
            .get(format!("{}/metrics", self.servers[idx].url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The generation `id` read through server `idx`, waiting (a bounded number of tries) for
    /// the batch that carries it from the other replica, or for the database to answer again
    /// (a 503 until it does).
    async fn generation_eventually(&self, idx: usize, id: &str) -> Value {
        let path = format!("/api/v1/generation?id={id}");
        for _ in 0..500 {
            let (status, body) = self.get(idx, &path).await;
            if status == 200 {
                return body;
            }
            assert!(status == 404 || status == 503, "{status}: {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("generation {id} never became readable through server {idx}");
    }
}

/// The value of metric `name` (without labels) in `text`.
pub(crate) fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn a_generation_served_by_one_replica_is_read_through_the_other_and_usage_is_equal() {
    let postgres = Postgres::start().await;
    let replicas = Replicas::start(&format!("records_url = \"{}\"", postgres.url()), "", 2).await;
    let (status, answer) = replicas.chat(0, "Hello from A").await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["id"].as_str().unwrap();

    let through_b = replicas.generation_eventually(1, id).await;
    let (status, through_a) = replicas
        .get(0, &format!("/api/v1/generation?id={id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(through_a, through_b);
    assert_eq!(through_b["data"]["model"], "test/chat");
    let cost = through_b["data"]["total_cost"].as_f64().unwrap();
    assert!(cost > 0.0, "{through_b}");

    // One more on B, then the key's usage is the same sum on both.
    let (status, _) = replicas.chat(1, "Hello from B").await;
    assert_eq!(status, 200);
    let (_, usage_a) = replicas.get(0, "/api/v1/key").await;
    let (_, usage_b) = replicas.get(1, "/api/v1/key").await;
    // Each read writes its replica's own pending batch first; B's record reaches A's reads
    // within a batch interval.
    let mut usage_a = usage_a;
    for _ in 0..500 {
        if usage_a["data"]["usage"] == usage_b["data"]["usage"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        usage_a = replicas.get(0, "/api/v1/key").await.1;
    }
    assert_eq!(usage_a["data"]["usage"], usage_b["data"]["usage"]);
    assert_eq!(
        usage_a["data"]["usage_daily"],
        usage_b["data"]["usage_daily"]
    );
    assert!(usage_b["data"]["usage"].as_f64().unwrap() > cost);

    // The conversation's requests, from both replicas, are listed by either.
    let (status, session) = replicas
        .get(0, "/api/v1/sessions/replica-conversation")
        .await;
    assert_eq!(status, 200, "{session}");
    let requests = session["data"]["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2, "{session}");
    assert_eq!(requests[0]["id"], id);
    let (status, _) = replicas.get(1, "/api/v1/generation?id=gen-none").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn records_made_while_postgres_is_down_wait_in_memory_and_are_written_when_it_returns() {
    let mut postgres = Postgres::start().await;
    let replicas = Replicas::start(&format!("records_url = \"{}\"", postgres.url()), "", 2).await;
    let (status, _) = replicas.chat(0, "before").await;
    assert_eq!(status, 200);

    postgres.stop();
    // About ten seconds of traffic without the database: every request answers.
    let mut ids = Vec::new();
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(10) && ids.len() < 400 {
        let (status, answer) = replicas.chat(0, &format!("during {}", ids.len())).await;
        assert_eq!(status, 200, "{answer}");
        ids.push(answer["id"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // The replica that served them still shows them, from memory.
    let last = ids.last().unwrap();
    let (status, body) = replicas
        .get(0, &format!("/api/v1/generation?id={last}"))
        .await;
    assert_eq!(status, 200, "{body}");
    // What only the database can answer is a 503 the client may retry, in the error shape.
    for (replica, path) in [
        (1, format!("/api/v1/generation?id={last}")),
        (0, "/api/v1/key".to_owned()),
    ] {
        let (status, body) = replicas.get(replica, &path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_eq!(body["error"]["code"], 503, "{body}");
        assert_eq!(
            body["error"]["metadata"]["error_type"], "store_unavailable",
            "{body}"
        );
    }
    let metrics = replicas.metrics(0).await;
    let queued = metric(&metrics, "turnout_records_queued").unwrap();
    assert!(queued >= 1.0, "{metrics}");

    postgres.resume().await;
    // Every record of the outage reaches the database: the other replica reads each one.
    for id in &ids {
        replicas.generation_eventually(1, id).await;
    }
    let metrics = replicas.metrics(0).await;
    assert_eq!(metric(&metrics, "turnout_records_dropped_total"), Some(0.0));
    assert_eq!(metric(&metrics, "turnout_records_queued"), Some(0.0));
}

#[tokio::test]
async fn a_full_buffer_drops_and_counts_records_but_never_fails_a_request() {
    let mut postgres = Postgres::start().await;
    let replicas = Replicas::start(
        &format!("records_url = \"{}\"\nrecords_buffer = 3", postgres.url()),
        "",
        1,
    )
    .await;
    postgres.stop();
    for idx in 0..5 {
        let (status, _) = replicas.chat(0, &format!("full {idx}")).await;
        assert_eq!(status, 200);
    }
    let metrics = replicas.metrics(0).await;
    assert_eq!(metric(&metrics, "turnout_records_dropped_total"), Some(2.0));
    assert_eq!(metric(&metrics, "turnout_records_queued"), Some(3.0));
}

#[test]
fn records_url_is_checked_and_goes_alone() {
    let load = |server: &str| {
        config::load_str(
            &format!(
                "[server]\n{server}\n[[keys]]\nname = \"k\"\nkey = \"sk-k\"\n\
                 [providers.p]\nbase_url = \"http://127.0.0.1:1\"\n\
                 [[models]]\nid = \"a/b\"\n[[models.endpoints]]\nprovider = \"p\"\nupstream_model = \"m\"\ncontext_length = 8192\npricing = {{ prompt = 1.0, completion = 1.0 }}\n"
            ),
            &|_: &str| None,
        )
    };
    let ok =
        load("records_url = \"postgres://u:pw@db:5432/turnout\"\nrecords_buffer = 10").unwrap();
    assert_eq!(ok.server.records_buffer, 10);
    assert!(!format!("{:?}", ok.server).contains("pw@"));
    for (server, wanted) in [
        (
            "records_url = \"postgres://db/x\"\nrecords_path = \"x.sqlite\"",
            "server.records_url",
        ),
        (
            "records_url = \"mysql://db/x\"",
            "must start with `postgres://`",
        ),
        (
            "records_url = \"postgres://db:notaport/x\"",
            "server.records_url",
        ),
        ("records_buffer = 0", "server.records_buffer"),
    ] {
        let err = load(server).unwrap_err().to_string();
        assert!(err.contains(wanted), "{server}: {err}");
    }
}

/// Config for two replicas sharing `redis`: cool-downs after one failure, lasting ten minutes
/// (longer than any test), the refresh of shared cool-downs at its default.
fn shared_health(redis: &Redis) -> String {
    format!(
        "[routing.health]\nfailures_to_cool_down = 1\ncooldown_ms = 600000\n\n\
         [redis]\nurl = \"{}\"\ntimeout_ms = 2000\nretry_ms = 60000\n",
        redis.url()
    )
}

/// Waits (a bounded number of tries) until server `idx`'s metrics show alpha's endpoint of
/// `test/chat` cooling down.
async fn wait_until_alpha_cools_down_on(replicas: &Replicas, idx: usize) {
    let line = "turnout_endpoint_health{model=\"test/chat\",provider=\"alpha\"} 3";
    for _ in 0..500 {
        if replicas.metrics(idx).await.lines().any(|it| it == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("alpha never cooled down on server {idx}");
}

/// The upstream models alpha was called for.
fn alpha_calls(replicas: &Replicas) -> Vec<String> {
    replicas
        .alpha
        .calls()
        .into_iter()
        .map(|it| it.model)
        .collect()
}

#[tokio::test]
async fn an_endpoint_cooled_down_by_failures_on_one_replica_is_skipped_by_the_other() {
    let mut redis = Redis::start().await;
    let replicas = Replicas::start("", &shared_health(&redis), 2).await;
    replicas.alpha.set_behavior(
        "chat-alpha",
        Behavior {
            fail: Some(Failure::status(500)),
            ..Behavior::default()
        },
    );
    // A failure on A (answered by beta after the fallback) cools alpha down.
    let (status, answer) = replicas.chat(0, "fail on A").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["provider"], "beta", "{answer}");
    assert_eq!(alpha_calls(&replicas), ["chat-alpha"]);
    wait_until_alpha_cools_down_on(&replicas, 1).await;

    // Alpha would answer now, but B skips it: the mock sees no call.
    replicas
        .alpha
        .set_behavior("chat-alpha", Behavior::default());
    replicas.alpha.reset_calls();
    for _ in 0..3 {
        let (status, answer) = replicas.chat(1, "B follows A").await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["provider"], "beta", "{answer}");
    }
    assert!(
        alpha_calls(&replicas).is_empty(),
        "{:?}",
        alpha_calls(&replicas)
    );

    // Redis stops: health stays local, and every request is still answered on both.
    redis.stop();
    for idx in [0, 1, 0, 1] {
        let (status, answer) = replicas.chat(idx, "no redis").await;
        assert_eq!(status, 200, "{answer}");
    }
}

#[tokio::test]
async fn a_retry_after_on_one_replica_keeps_the_other_away_too() {
    let redis = Redis::start().await;
    let replicas = Replicas::start("", &shared_health(&redis), 2).await;
    replicas.alpha.set_behavior(
        "chat-alpha",
        Behavior {
            fail: Some(Failure::rate_limit(Some(600))),
            ..Behavior::default()
        },
    );
    let (status, answer) = replicas.chat(0, "429 on A").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["provider"], "beta", "{answer}");
    wait_until_alpha_cools_down_on(&replicas, 1).await;
    replicas
        .alpha
        .set_behavior("chat-alpha", Behavior::default());
    replicas.alpha.reset_calls();
    let (status, answer) = replicas.chat(1, "B waits for the Retry-After").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["provider"], "beta", "{answer}");
    assert!(alpha_calls(&replicas).is_empty());
}

#[tokio::test]
async fn without_redis_health_is_local_and_every_request_answered_and_its_return_shares_again() {
    let mut redis = Redis::start().await;
    // Redis is retried a tenth of a second after a failure, so its return is seen soon; no
    // pins, which would put the endpoint B used during the outage first whatever its health.
    let extra = format!(
        "{}
[sessions]
enabled = false
",
        shared_health(&redis).replace("retry_ms = 60000", "retry_ms = 100")
    );
    let replicas = Replicas::start("", &extra, 2).await;
    redis.stop();

    // A sees alpha fail while Redis is down: the cool-down is A's own.
    replicas.alpha.set_behavior(
        "chat-alpha",
        Behavior {
            fail: Some(Failure::status(500)),
            ..Behavior::default()
        },
    );
    let (status, answer) = replicas.chat(0, "fail on A, no redis").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["provider"], "beta", "{answer}");
    wait_until_alpha_cools_down_on(&replicas, 0).await;
    replicas
        .alpha
        .set_behavior("chat-alpha", Behavior::default());
    replicas.alpha.reset_calls();
    for idx in [1, 0, 1, 0] {
        let (status, answer) = replicas.chat(idx, "no redis").await;
        assert_eq!(status, 200, "{answer}");
        // B never heard of it and calls alpha; A keeps skipping it.
        let wanted = if idx == 1 { "alpha" } else { "beta" };
        assert_eq!(answer["provider"], wanted, "server {idx}: {answer}");
    }
    assert_eq!(alpha_calls(&replicas), ["chat-alpha", "chat-alpha"]);

    // Redis returns, empty: A writes the cool-down it could not, and B skips alpha again,
    // neither replica restarted.
    redis.resume().await;
    wait_until_alpha_cools_down_on(&replicas, 1).await;
    replicas.alpha.reset_calls();
    for _ in 0..3 {
        let (status, answer) = replicas.chat(1, "redis is back").await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["provider"], "beta", "{answer}");
    }
    assert!(
        alpha_calls(&replicas).is_empty(),
        "{:?}",
        alpha_calls(&replicas)
    );
}

#[tokio::test]
async fn a_key_made_through_one_replica_works_on_the_other_and_its_deletion_follows() {
    const PROVISIONING: &str = "sk-provisioning-replicas";
    let postgres = Postgres::start().await;
    let replicas = Replicas::start(
        &format!("records_url = \"{}\"", postgres.url()),
        &format!("[keys_api]\nprovisioning_key = \"{PROVISIONING}\"\n"),
        2,
    )
    .await;
    let keys = |idx: usize| format!("{}/api/v1/keys", replicas.servers[idx].url());
    let created: Value = replicas
        .client
        .post(keys(0))
        .bearer_auth(PROVISIONING)
        .json(&json!({"name": "shared-team"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["key"].as_str().unwrap().to_owned();
    let hash = created["data"]["hash"].as_str().unwrap().to_owned();
    let chat = |idx: usize| {
        replicas
            .client
            .post(format!(
                "{}/api/v1/chat/completions",
                replicas.servers[idx].url()
            ))
            .bearer_auth(&secret)
            .json(&json!({
                "model": "test/chat",
                "messages": [{"role": "user", "content": "hello"}],
            }))
            .send()
    };
    // B never saw the key: it reads the database when the key is first presented (at most
    // once a second, so a few tries may be needed right after B started).
    let mut status = 0;
    for _ in 0..50 {
        status = chat(1).await.unwrap().status().as_u16();
        if status == 200 {
            break;
        }
        assert_eq!(status, 401);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "the key made through A never worked on B");
    // B lists it, and deletes it; A, which made it, follows.
    let listed: Value = replicas
        .client
        .get(keys(1))
        .bearer_auth(PROVISIONING)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed.to_string().contains(&hash), "{listed}");
    assert!(!listed.to_string().contains(&secret), "{listed}");
    let deleted = replicas
        .client
        .delete(format!("{}/{hash}", keys(1)))
        .bearer_auth(PROVISIONING)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    for _ in 0..50 {
        status = chat(0).await.unwrap().status().as_u16();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 401, "A kept accepting a key deleted through B");
}
