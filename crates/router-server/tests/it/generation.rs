//! Generation records: `GET /api/v1/generation` shows a request's record to its key only, the
//! records survive a restart on the same store, a client that goes away leaves a `cancelled`
//! record, and `GET /api/v1/key` sums the key's spending.

use std::time::Duration;

use futures_util::StreamExt;
use router_mock::Behavior;
use serde_json::Value;

use crate::fleet::{
    FALLBACK_PRICES, Fleet, FleetOptions, OTHER_KEY, TempStore, generation_id, routed_body,
};
use crate::support::{CLIENT_KEY, assert_close, error_response, expected_cost};

#[tokio::test]
async fn records_survive_a_restart_on_the_same_store() {
    let store = TempStore::new("restart");
    let fleet = Fleet::start_with(FleetOptions {
        records_path: Some(store.path().to_owned()),
        ..FleetOptions::default()
    })
    .await;
    let response = fleet
        .chat(&routed_body(Some("b/fallback"), &[], false))
        .await;
    assert_eq!(response.status(), 200);
    let id = generation_id(&response);
    let body: Value = response.json().await.unwrap();
    let before = fleet.wait_for_generation(&id).await;

    let fleet = fleet.restart().await;

    let (status, after) = fleet.generation_as(CLIENT_KEY, &id).await;
    assert_eq!(status, 200, "{after}");
    let after = &after["data"];
    assert_eq!(after, &before);
    assert_eq!(after["id"], id.as_str());
    assert_eq!(after["model"], "b/fallback");
    assert_eq!(after["tokens_prompt"], body["usage"]["prompt_tokens"]);
    assert_close(
        &after["total_cost"],
        expected_cost(&body["usage"], FALLBACK_PRICES),
    );
    let (status, _) = fleet.generation_as(OTHER_KEY, &id).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_generation_endpoint_wants_an_id_and_answers_on_every_path() {
    let fleet = Fleet::start().await;
    let response = fleet
        .chat(&routed_body(Some("a/primary"), &[], false))
        .await;
    let id = generation_id(&response);
    let _ = response.text().await.unwrap();
    fleet.wait_for_generation(&id).await;
    for path in ["/api/v1/generation", "/v1/generation"] {
        let response = fleet.get_as(CLIENT_KEY, &format!("{path}?id={id}")).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["id"], id.as_str());

        let (status, error) = error_response(fleet.get_as(CLIENT_KEY, path).await).await;
        assert_eq!(status, 400, "{path}: {error}");
        assert_eq!(
            error["error"]["message"],
            "query parameter `id` is required"
        );
        let (status, _) = error_response(
            fleet
                .get_as(CLIENT_KEY, &format!("{path}?id=gen-0-none"))
                .await,
        )
        .await;
        assert_eq!(status, 404);
    }
    // Without a key there is nothing to see.
    let response = fleet
        .client
        .get(format!("{}/api/v1/generation?id={id}", fleet.server.url()))
        .send()
        .await
        .unwrap();
    let (status, _) = error_response(response).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_stream_the_client_abandons_is_recorded_as_cancelled() {
    let fleet = Fleet::start().await;
    fleet.primary.set_behavior(
        "primary-up",
        Behavior {
            reply: Some("word ".repeat(200)),
            tokens_per_second: Some(20.0),
            ..Behavior::default()
        },
    );
    let response = fleet.chat(&routed_body(Some("a/primary"), &[], true)).await;
    assert_eq!(response.status(), 200);
    let id = generation_id(&response);
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "), "{first:?}");
    drop(body);
    assert!(
        fleet
            .primary
            .wait_for_disconnect(0, Duration::from_secs(10))
            .await,
        "the upstream call was not cancelled"
    );
    let record = fleet.wait_for_generation(&id).await;
    assert_eq!(record["cancelled"], true, "{record}");
    assert_eq!(record["streamed"], true);
    assert_eq!(record["model"], "a/primary");
    assert!(record["time_to_first_token"].is_u64(), "{record}");
    // Billed for what it produced, estimated from the chunks relayed.
    assert!(
        record["tokens_completion"].as_u64().unwrap() >= 1,
        "{record}"
    );
    assert!(record["total_cost"].as_f64().unwrap() > 0.0, "{record}");
}

#[tokio::test]
async fn the_key_endpoint_reports_growing_usage() {
    let fleet = Fleet::start().await;
    let start = fleet.key_usage().await;
    assert_eq!(start, 0.0);
    let mut spent = 0.0;
    for stream in [false, true] {
        let response = fleet
            .chat(&routed_body(Some("b/fallback"), &[], stream))
            .await;
        let id = generation_id(&response);
        let _ = response.text().await.unwrap();
        let record = fleet.wait_for_generation(&id).await;
        let cost = record["total_cost"].as_f64().unwrap();
        assert!(cost > 0.0, "{record}");
        spent += cost;
        let usage = fleet.key_usage().await;
        assert!((usage - spent).abs() < 1e-12, "{usage} != {spent}");
    }
    for path in ["/api/v1/auth/key", "/v1/key"] {
        let response = fleet.get_as(CLIENT_KEY, path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["label"], "test");
        assert!((body["data"]["usage_daily"].as_f64().unwrap() - spent).abs() < 1e-12);
        assert_eq!(body["data"]["rate_limit"]["requests"], -1);
    }
    // Another key has spent nothing.
    let response = fleet.get_as(OTHER_KEY, "/api/v1/key").await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["label"], "other");
    assert_eq!(body["data"]["usage"], 0.0);
}
