//! `POST /api/v1/completions`: the legacy `prompt` in, `text_completion` out, streaming and
//! not, over real HTTP and through the `openai` Python package's `completions.create`.

use serde_json::{Value, json};

use crate::messages::gateway;
use crate::responses::run_sdk_script;
use crate::support::{CLIENT_KEY, Event, data, read_events};

#[tokio::test]
async fn a_prompt_is_answered_as_a_text_completion() {
    let gateway = gateway().await;
    let url = format!("{}/api/v1/completions", gateway.server.url());
    let body: Value = gateway
        .client
        .post(&url)
        .bearer_auth(CLIENT_KEY)
        .json(&json!({"model": "test/two", "prompt": "Hello", "max_tokens": 32}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "text_completion", "{body}");
    assert_eq!(body["choices"][0]["text"], "Mock reply to: Hello");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["cost"].is_number(), "{body}");
    let call = gateway.alpha.calls().pop().unwrap();
    assert_eq!(
        call.body["messages"],
        json!([{"role": "user", "content": "Hello"}])
    );
    assert_eq!(call.body["max_tokens"], 32);

    let response = gateway
        .client
        .post(&url)
        .bearer_auth(CLIENT_KEY)
        .json(&json!({"model": "test/two", "prompt": ["Hello"], "stream": true}))
        .send()
        .await
        .unwrap();
    let events = read_events(response).await;
    assert_eq!(events.last(), Some(&Event::Done));
    let chunks = data(&events);
    let text: String = chunks
        .iter()
        .flat_map(|chunk| chunk["choices"].as_array().unwrap())
        .map(|choice| choice["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Mock reply to: Hello");
    assert!(
        chunks
            .iter()
            .all(|chunk| chunk["object"] == "text_completion")
    );
    assert!(
        chunks.last().unwrap()["usage"]["completion_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn the_openai_python_sdk_uses_legacy_completions() {
    let gateway = gateway().await;
    run_sdk_script(&gateway, "completions").await;
}
