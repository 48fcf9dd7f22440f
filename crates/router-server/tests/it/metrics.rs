//! `GET /metrics`: Prometheus text that a Prometheus parser reads, counters that move by the
//! expected amounts after a fallback and a stream abort, and label sets that client input cannot
//! grow.

use router_mock::{Behavior, Failure};
use serde_json::json;

use crate::support::{Gateway, chat_body, read_events};

/// The scrape, parsed.
async fn scrape(gateway: &Gateway) -> prometheus_parse::Scrape {
    let response = gateway
        .client
        .get(format!("{}/metrics", gateway.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|it| Ok(it.to_owned())))
        .unwrap_or_else(|err| panic!("{err}: {text}"))
}

/// The value of the sample `name` whose labels include every `labels` pair (0 when absent).
fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|it| it.metric == name)
        .filter(|it| {
            labels
                .iter()
                .all(|(key, value)| it.labels.get(key) == Some(*value))
        })
        .map(|it| match it.value {
            prometheus_parse::Value::Counter(it)
            | prometheus_parse::Value::Gauge(it)
            | prometheus_parse::Value::Untyped(it) => it,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn counters_move_after_a_fallback_and_a_stream_abort() {
    let gateway = Gateway::start().await;
    let before = scrape(&gateway).await;

    // `test/two` at alpha fails with a 500; beta answers.
    gateway.alpha.set_behavior(
        "two-alpha",
        Behavior {
            fail: Some(Failure::status(500)),
            ..Behavior::default()
        },
    );
    let response = gateway.chat(&chat_body("test/two", false)).await;
    assert_eq!(response.status(), 200);
    let _ = response.bytes().await.unwrap();

    // `test/one` streams three chunks and then fails.
    gateway.behave(
        "one-upstream",
        Behavior {
            reply: Some("one two three four five six".to_owned()),
            fail_after_chunks: Some(3),
            ..Behavior::default()
        },
    );
    let response = gateway.chat(&chat_body("test/one", true)).await;
    assert_eq!(response.status(), 200);
    let _ = read_events(response).await;

    let after = scrape(&gateway).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(
        delta(
            "turnout_requests_total",
            &[("model", "test/two"), ("status", "2xx")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "turnout_fallbacks_total",
            &[("from", "test/two"), ("to", "test/two")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "turnout_attempts_total",
            &[("model", "test/two"), ("provider", "alpha")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "turnout_attempts_total",
            &[
                ("model", "test/two"),
                ("provider", "beta"),
                ("outcome", "ok")
            ]
        ),
        1.0
    );
    assert_eq!(
        delta("turnout_stream_aborts_total", &[("model", "test/one")]),
        1.0
    );
    assert_eq!(
        delta(
            "turnout_request_duration_seconds_count",
            &[("model", "test/two")]
        ),
        1.0
    );
    assert!(
        delta(
            "turnout_tokens_total",
            &[("model", "test/two"), ("kind", "prompt")]
        ) > 0.0
    );
    assert!(delta("turnout_cost_usd_total", &[("model", "test/two")]) > 0.0);
}

#[tokio::test]
async fn unknown_model_names_do_not_grow_the_label_sets() {
    let gateway = Gateway::start().await;
    let response = gateway.chat(&chat_body("no/such-model-0", false)).await;
    assert_eq!(response.status(), 400);
    let before = scrape(&gateway).await;
    for n in 1..1000 {
        let response = gateway
            .chat(&json!({"model": format!("no/such-model-{n}"), "messages": [{"role": "user", "content": "hi"}]}))
            .await;
        assert!(response.status().is_client_error());
    }
    let after = scrape(&gateway).await;
    assert_eq!(after.samples.len(), before.samples.len());
    assert_eq!(
        value(
            &after,
            "turnout_requests_total",
            &[("model", "other"), ("status", "4xx")]
        ) - value(
            &before,
            "turnout_requests_total",
            &[("model", "other"), ("status", "4xx")]
        ),
        999.0
    );
    let text = gateway
        .client
        .get(format!("{}/metrics", gateway.server.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("no/such-model"));
}

#[tokio::test]
async fn sticky_outcomes_and_endpoint_health_are_reported() {
    let gateway = Gateway::start().await;
    let healthy = scrape(&gateway).await;
    // Every configured endpoint has a state, healthy before any traffic.
    for (model, provider) in [
        ("test/one", "alpha"),
        ("test/two", "alpha"),
        ("test/two", "beta"),
    ] {
        let labels = [("model", model), ("provider", provider)];
        assert!(
            healthy
                .samples
                .iter()
                .any(|it| it.metric == "turnout_endpoint_health"
                    && labels.iter().all(|(k, v)| it.labels.get(k) == Some(*v))),
            "{model}@{provider} has no health sample"
        );
        assert_eq!(value(&healthy, "turnout_endpoint_health", &labels), 0.0);
    }

    // A conversation's first request creates its pin, the next one renews it.
    let mut body = chat_body("test/two", false);
    body["session_id"] = json!("metrics-conversation");
    for _ in 0..2 {
        let response = gateway.chat(&body).await;
        assert_eq!(response.status(), 200);
        let _ = response.bytes().await.unwrap();
    }
    // A failing endpoint is reported unstable.
    gateway.alpha.set_behavior(
        "one-upstream",
        Behavior {
            fail: Some(Failure::status(500)),
            ..Behavior::default()
        },
    );
    let response = gateway.chat(&chat_body("test/one", false)).await;
    assert!(response.status().is_server_error());
    let after = scrape(&gateway).await;
    let sticky = |outcome: &str| {
        value(
            &after,
            "turnout_sticky_sessions_total",
            &[("outcome", outcome)],
        ) - value(
            &healthy,
            "turnout_sticky_sessions_total",
            &[("outcome", outcome)],
        )
    };
    assert_eq!(sticky("created"), 1.0);
    assert_eq!(sticky("renewed"), 1.0);
    assert_eq!(
        value(
            &after,
            "turnout_endpoint_health",
            &[("model", "test/one"), ("provider", "alpha")]
        ),
        1.0
    );
}
