//! `POST /api/v1/responses`: OpenAI's Responses API in front of the same routing as chat
//! completions: the response object, its typed event stream and its errors, over real HTTP,
//! and the official `openai` Python package's `responses.create`, `responses.parse` and
//! `responses.stream` with text, a function tool and `text.format` json_schema.

use std::path::Path;
use std::process::Command;

use router_mock::Behavior;
use serde_json::{Value, json};

use crate::messages::gateway;
use crate::support::{self, CLIENT_KEY, Gateway, assert_no_secret};

/// The JSON `test/agent` answers with in the SDK script.
const WEATHER: &str = r#"{"city": "Paris", "celsius": 21}"#;

async fn post(gateway: &Gateway, body: &Value) -> reqwest::Response {
    gateway
        .client
        .post(format!("{}/api/v1/responses", gateway.server.url()))
        .bearer_auth(CLIENT_KEY)
        .json(body)
        .send()
        .await
        .expect("request failed")
}

/// The events of a Responses stream (comments left out), checking that each is named after
/// its `type` and numbered in order.
fn typed_events(text: &str) -> Vec<Value> {
    assert_no_secret(text);
    let events: Vec<Value> = text
        .split_terminator("\n\n")
        .filter(|event| !event.starts_with(':'))
        .map(|event| {
            let (name, data) = event.split_once("\ndata: ").unwrap();
            let data: Value = serde_json::from_str(data).unwrap();
            assert_eq!(
                Some(data["type"].as_str().unwrap()),
                name.strip_prefix("event: ")
            );
            data
        })
        .collect();
    for (idx, event) in events.iter().enumerate() {
        assert_eq!(event["sequence_number"], idx, "{event}");
    }
    events
}

#[tokio::test]
async fn a_response_object_answers_a_string_input() {
    let gateway = gateway().await;
    let response = post(&gateway, &json!({"model": "test/two", "input": "Hello"})).await;
    assert_eq!(response.status(), 200);
    let generation_id = response.headers()["x-generation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "response");
    assert_eq!(body["id"], generation_id);
    assert_eq!(body["status"], "completed");
    assert_eq!(body["model"], "test/two");
    assert_eq!(body["output"][0]["type"], "message");
    assert_eq!(body["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(
        body["output"][0]["content"][0]["text"],
        "Mock reply to: Hello"
    );
    assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let call = gateway.alpha.calls().pop().unwrap();
    assert_eq!(
        call.body["messages"],
        json!([{"role": "user", "content": "Hello"}])
    );
}

#[tokio::test]
async fn a_stream_is_the_typed_event_sequence() {
    let gateway = gateway().await;
    let response = post(
        &gateway,
        &json!({"model": "test/two", "input": "Hello", "stream": true}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = typed_events(&response.text().await.unwrap());
    let kinds: Vec<&str> = events
        .iter()
        .map(|it| it["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        &kinds[..4],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"
        ]
    );
    assert_eq!(
        &kinds[kinds.len() - 4..],
        [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let text: String = events
        .iter()
        .filter(|it| it["type"] == "response.output_text.delta")
        .map(|it| it["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Mock reply to: Hello");
    let completed = &events.last().unwrap()["response"];
    assert_eq!(completed["output"][0]["content"][0]["text"], text);
    assert!(completed["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_stream_failing_after_its_first_token_ends_with_response_failed() {
    let gateway = gateway().await;
    gateway.behave(
        "two-alpha",
        Behavior {
            reply: Some("one two three".to_owned()),
            fail_after_chunks: Some(1),
            ..Behavior::default()
        },
    );
    let response = post(
        &gateway,
        &json!({"model": "test/two", "input": "Hello", "stream": true}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = typed_events(&response.text().await.unwrap());
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.failed", "{last}");
    assert_eq!(last["response"]["status"], "failed");
    assert!(last["response"]["error"]["message"].is_string());
}

#[tokio::test]
async fn errors_are_in_openais_shape() {
    let gateway = gateway().await;
    let response = post(
        &gateway,
        &json!({"model": "test/two", "input": "Hello", "previous_response_id": "resp_1"}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error_type"], "invalid_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("previous_response_id"),
        "{body}"
    );
}

#[tokio::test]
async fn the_openai_python_sdk_uses_the_responses_api() {
    let gateway = gateway().await;
    gateway.alpha.set_behavior(
        "caller",
        Behavior {
            tool_call: Some("get_weather".to_owned()),
            ..Behavior::default()
        },
    );
    gateway.alpha.set_behavior(
        "agent-alpha",
        Behavior {
            reply: Some(WEATHER.to_owned()),
            ..Behavior::default()
        },
    );
    run_sdk_script(&gateway, "responses").await;
}

/// Runs `openai_front_sdk.py` in `mode` against `gateway`.
pub(crate) async fn run_sdk_script(gateway: &Gateway, mode: &'static str) {
    let base_url = format!("{}/api/v1", gateway.server.url());
    let output = tokio::task::spawn_blocking(move || {
        let python = support::sdk_python();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/openai_front_sdk.py");
        support::run(
            Command::new(python)
                .arg(script)
                .arg(base_url)
                .arg(CLIENT_KEY)
                .arg(mode),
        )
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the openai SDK script ({mode}) failed:\n{}",
        support::describe(&output)
    );
}
