//! Fallback between the endpoints of one model: an attempt that fails before any output moves
//! on to the next endpoint, invisibly to the client.

use router_mock::{Behavior, Failure};
use serde_json::Value;

use crate::support::{
    Gateway, TWO_BETA_PRICES, assert_close, chat_body, data, error_response, expected_cost,
    read_events,
};

fn unavailable() -> Behavior {
    Behavior {
        fail: Some(Failure::overloaded()),
        ..Behavior::default()
    }
}

#[tokio::test]
async fn the_second_endpoint_answers_when_the_first_fails() {
    let gateway = Gateway::start().await;
    gateway.alpha.set_behavior("two-alpha", unavailable());
    let response = gateway
        .chat(&in_configured_order(chat_body("test/two", false)))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "test/two");
    assert_eq!(body["provider"], "Beta Cloud");
    assert_close(
        &body["usage"]["cost"],
        expected_cost(&body["usage"], TWO_BETA_PRICES),
    );
    assert_eq!(gateway.alpha.calls().len(), 1);
    let beta_calls = gateway.beta.calls();
    assert_eq!(beta_calls.len(), 1);
    assert_eq!(beta_calls[0].model, "two-beta");
}

#[tokio::test]
async fn a_stream_falls_back_before_its_first_token() {
    let gateway = Gateway::start().await;
    gateway.alpha.set_behavior("two-alpha", unavailable());
    let response = gateway
        .chat(&in_configured_order(chat_body("test/two", true)))
        .await;
    assert_eq!(response.status(), 200);
    let events = read_events(response).await;
    let chunks = data(&events);
    assert!(
        chunks.iter().all(|chunk| chunk["provider"] == "Beta Cloud"),
        "{events:?}"
    );
    assert!(
        chunks.iter().all(|chunk| chunk.get("error").is_none()),
        "{events:?}"
    );
    let usage = &chunks.last().unwrap()["usage"];
    assert_close(&usage["cost"], expected_cost(usage, TWO_BETA_PRICES));
    assert_eq!(gateway.alpha.calls().len(), 1);
    assert_eq!(gateway.beta.calls().len(), 1);
}

#[tokio::test]
async fn when_every_endpoint_fails_the_last_error_is_returned_with_the_attempts() {
    let gateway = Gateway::start().await;
    gateway.alpha.set_behavior("two-alpha", unavailable());
    gateway.beta.set_behavior(
        "two-beta",
        Behavior {
            fail: Some(Failure::rate_limit(Some(3))),
            ..Behavior::default()
        },
    );
    let (status, error) = error_response(
        gateway
            .chat(&in_configured_order(chat_body("test/two", false)))
            .await,
    )
    .await;
    assert_eq!(status, 429, "{error}");
    let metadata = &error["error"]["metadata"];
    assert_eq!(metadata["provider_name"], "Beta Cloud");
    let attempts = metadata["attempts"].as_array().unwrap();
    let providers: Vec<_> = attempts.iter().map(|it| it["provider"].clone()).collect();
    assert_eq!(providers, ["alpha", "beta"]);
    assert_eq!(attempts[0]["status"], 503);
    assert_eq!(attempts[1]["status"], 429);
}

/// `body` with `provider.order` naming alpha then beta, as `test/two` lists them (without it,
/// load balancing would try the cheaper beta first most of the time).
fn in_configured_order(mut body: Value) -> Value {
    body["provider"] = serde_json::json!({"order": ["alpha", "beta"]});
    body
}
