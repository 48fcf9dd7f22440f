//! The route receipt: `X-Turnout-*` headers on every routed response (answer, error, stream) and
//! `_metadata.openRouter.modelRouting` in the body or the last chunk; and a stream that fails
//! after it started, which ends with its chunks, one error chunk and `[DONE]`.

use router_mock::{Behavior, Failure};
use serde_json::{Value, json};

use crate::fleet::{FALLBACK_PRICES, Fleet, PRIMARY_PRICES, generation_id, header, routed_body};
use crate::support::{
    Event, assert_close, content, data, error_response, expected_cost, read_events,
};

#[tokio::test]
async fn an_answer_from_the_primary_has_depth_zero_and_its_own_price() {
    let fleet = Fleet::start().await;
    let response = fleet
        .chat(&routed_body(Some("a/primary"), &["b/fallback"], false))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-turnout-requested-models"),
        Some("a/primary,b/fallback")
    );
    assert_eq!(
        header(&response, "x-turnout-served-model"),
        Some("a/primary")
    );
    assert_eq!(
        header(&response, "x-turnout-served-provider"),
        Some("primary")
    );
    assert_eq!(header(&response, "x-turnout-fallback-depth"), Some("0"));
    assert_eq!(
        header(&response, "x-turnout-attempts"),
        Some("a/primary@primary=200")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "a/primary");
    assert_eq!(body["provider"], "Primary AI");
    assert_close(
        &body["usage"]["cost"],
        expected_cost(&body["usage"], PRIMARY_PRICES),
    );
    assert_eq!(
        body["_metadata"],
        json!({"openRouter": {"modelRouting": {
            "requested": ["a/primary", "b/fallback"],
            "actual": "a/primary",
        }}})
    );
    assert!(fleet.fallback.calls().is_empty());
}

#[tokio::test]
async fn a_stream_carries_the_receipt_in_its_headers_and_last_chunk() {
    let fleet = Fleet::start().await;
    fleet.primary.set_behavior(
        "primary-up",
        Behavior {
            fail: Some(Failure::overloaded()),
            ..Behavior::default()
        },
    );
    let response = fleet
        .chat(&routed_body(Some("a/primary"), &["b/fallback"], true))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    assert_eq!(
        header(&response, "x-turnout-served-model"),
        Some("b/fallback")
    );
    assert_eq!(
        header(&response, "x-turnout-served-provider"),
        Some("fallback")
    );
    assert_eq!(header(&response, "x-turnout-fallback-depth"), Some("1"));
    assert_eq!(
        header(&response, "x-turnout-attempts"),
        Some("a/primary@primary=503:provider_overloaded;b/fallback@fallback=200")
    );
    let events = read_events(response).await;
    assert_eq!(events.last(), Some(&Event::Done));
    let chunks = data(&events);
    // The client sees only the fallback's stream: its reply, from its first chunk on.
    assert_eq!(content(&chunks), router_mock::default_reply("Hello"));
    let (last, rest) = chunks.split_last().unwrap();
    assert!(rest.iter().all(|chunk| chunk.get("_metadata").is_none()));
    assert_eq!(last["choices"], json!([]));
    assert_close(
        &last["usage"]["cost"],
        expected_cost(&last["usage"], FALLBACK_PRICES),
    );
    assert_eq!(
        last["_metadata"]["openRouter"]["modelRouting"],
        json!({"requested": ["a/primary", "b/fallback"], "actual": "b/fallback"})
    );
}

#[tokio::test]
async fn an_error_carries_the_receipt_without_a_served_model() {
    let fleet = Fleet::start().await;
    fleet.primary.set_behavior(
        "primary-up",
        Behavior {
            fail: Some(Failure::status(500)),
            ..Behavior::default()
        },
    );
    let response = fleet
        .chat(&routed_body(Some("a/primary"), &[], false))
        .await;
    assert_eq!(
        header(&response, "x-turnout-requested-models"),
        Some("a/primary")
    );
    assert_eq!(
        header(&response, "x-turnout-attempts"),
        Some("a/primary@primary=500:provider_unavailable")
    );
    for absent in [
        "x-turnout-served-model",
        "x-turnout-served-provider",
        "x-turnout-fallback-depth",
    ] {
        assert_eq!(header(&response, absent), None, "{absent}");
    }
    assert!(generation_id(&response).starts_with("gen-"));
    let (status, _) = error_response(response).await;
    assert_eq!(status, 502);
}

#[tokio::test]
async fn a_stream_that_fails_after_three_chunks_ends_with_one_error_chunk_and_done() {
    let fleet = Fleet::start().await;
    fleet.primary.set_behavior(
        "primary-up",
        Behavior {
            reply: Some("one two three four five six".to_owned()),
            fail_after_chunks: Some(3),
            ..Behavior::default()
        },
    );
    let response = fleet
        .chat(&routed_body(Some("a/primary"), &["b/fallback"], true))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-turnout-served-model"),
        Some("a/primary")
    );
    let id = generation_id(&response);
    let events = read_events(response).await;
    assert_eq!(events.len(), 5, "{events:?}");
    assert_eq!(events[4], Event::Done);
    let chunks = data(&events);
    assert_eq!(chunks.len(), 4, "{events:?}");
    assert_eq!(content(&chunks[..3]), "one two three ");
    for chunk in &chunks[..3] {
        assert!(chunk.get("error").is_none(), "{chunk}");
        assert_eq!(chunk["model"], "a/primary");
    }
    let error_chunk = chunks[3];
    assert_eq!(error_chunk["error"]["code"], 502, "{error_chunk}");
    assert_eq!(
        error_chunk["error"]["metadata"]["error_type"],
        "provider_unavailable"
    );
    assert_eq!(error_chunk["choices"][0]["finish_reason"], "error");
    assert_eq!(error_chunk["model"], "a/primary");
    assert_eq!(
        error_chunk["_metadata"]["openRouter"]["modelRouting"]["actual"],
        "a/primary"
    );
    // No fallback after output reached the client.
    assert!(fleet.fallback.calls().is_empty());

    // Zero Completion Insurance: a generation that ended in an error costs nothing.
    let record = fleet.wait_for_generation(&id).await;
    assert_eq!(record["finish_reason"], "error");
    assert_eq!(record["total_cost"], 0.0);
    assert_eq!(record["cancelled"], false);
    assert_eq!(record["provider_responses"][0]["status"], 200);
    assert_eq!(
        record["provider_responses"][0]["error_type"],
        "provider_unavailable"
    );
}
