//! The demo answers the README's curl line.

use std::time::Duration;

use router_server::demo::{DEMO_KEY, Demo};
use serde_json::{Value, json};

use crate::support::client;

#[tokio::test]
async fn the_demo_answers_the_readme_curl_line() {
    let demo = Demo::start(Some("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let response = client()
        .post(format!("{}/api/v1/chat/completions", demo.server().url()))
        .header("Authorization", format!("Bearer {DEMO_KEY}"))
        .header("Content-Type", "application/json")
        .body(r#"{"model":"openai/gpt-5.1","messages":[{"role":"user","content":"Hello"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "openai/gpt-5.1");
    assert_eq!(body["provider"], "OpenAI");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        json!(router_mock::default_reply("Hello"))
    );
    assert!(body["usage"]["cost"].as_f64().unwrap() > 0.0);
    demo.shutdown(Duration::from_secs(5)).await.unwrap();
}
