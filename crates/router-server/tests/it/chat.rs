//! Non-streaming chat completions in OpenRouter's shape.

use serde_json::Value;

use crate::support::{
    Gateway, ONE_PRICES, assert_close, assert_no_secret, chat_body, expected_cost,
};

#[tokio::test]
async fn answers_in_openrouter_shape_with_model_provider_and_cost() {
    let gateway = Gateway::start().await;
    let response = gateway.chat(&chat_body("test/one", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let generation_id = response.headers()["x-generation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_no_secret(&format!("{:?}", response.headers()));
    let text = response.text().await.unwrap();
    assert_no_secret(&text);
    let body: Value = serde_json::from_str(&text).unwrap();

    assert_eq!(body["id"], generation_id.as_str());
    assert!(generation_id.starts_with("gen-"), "{generation_id}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "test/one");
    assert_eq!(body["provider"], "Alpha AI");
    assert!(body["created"].as_u64().unwrap() > 1_700_000_000);
    assert!(
        body.as_object().unwrap().contains_key("system_fingerprint"),
        "{body}"
    );
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        choice["message"]["content"],
        router_mock::default_reply("Hello")
    );
    assert_eq!(choice["finish_reason"], "stop");

    let usage = &body["usage"];
    let prompt = usage["prompt_tokens"].as_u64().unwrap();
    let completion = usage["completion_tokens"].as_u64().unwrap();
    assert!(completion > 0);
    assert_eq!(usage["total_tokens"].as_u64().unwrap(), prompt + completion);
    assert!(usage["prompt_tokens_details"]["cached_tokens"].is_u64());
    assert!(usage["completion_tokens_details"]["reasoning_tokens"].is_u64());
    assert_eq!(usage["is_byok"], false);
    assert_close(&usage["cost"], expected_cost(usage, ONE_PRICES));
    let details = &usage["cost_details"];
    assert_close(
        &details["upstream_inference_prompt_cost"],
        prompt as f64 * ONE_PRICES.0 / 1e6,
    );
    assert_close(
        &details["upstream_inference_completions_cost"],
        completion as f64 * ONE_PRICES.1 / 1e6,
    );

    let calls = gateway.alpha.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].model, "one-upstream");
    assert!(!calls[0].stream);
    assert!(gateway.beta.calls().is_empty());
}

#[tokio::test]
async fn serves_the_v1_alias_and_forwards_unknown_fields() {
    let gateway = Gateway::start().await;
    let body = serde_json::json!({
        "model": "test/one",
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.25,
        "top_k": 40,
        "x_vendor_flag": {"keep": [1, 2]},
    });
    let response = gateway
        .client
        .post(format!("{}/v1/chat/completions", gateway.server.url()))
        .bearer_auth(crate::support::CLIENT_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model"], "test/one");
    let forwarded = &gateway.alpha.calls()[0].body;
    assert_eq!(forwarded["temperature"], 0.25);
    // test/one's endpoint lists its parameters without top_k: left out, as OpenRouter does.
    assert!(forwarded.get("top_k").is_none(), "{forwarded}");
    assert_eq!(
        forwarded["x_vendor_flag"],
        serde_json::json!({"keep": [1, 2]})
    );
    assert_eq!(forwarded["model"], "one-upstream");
}

#[tokio::test]
async fn generation_ids_differ_between_requests() {
    let gateway = Gateway::start().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let body: Value = gateway
            .chat(&chat_body("test/one", false))
            .await
            .json()
            .await
            .unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "{ids:?}");
}

#[tokio::test]
async fn an_endpoint_that_lists_no_parameters_gets_every_field() {
    let gateway = Gateway::start().await;
    let mut body = chat_body("test/two", false);
    body["top_k"] = serde_json::json!(40);
    body["provider"] = serde_json::json!({"order": ["alpha"]});
    let response = gateway.chat(&body).await;
    assert_eq!(response.status(), 200);
    let forwarded = &gateway.alpha.calls()[0].body;
    assert_eq!(forwarded["model"], "two-alpha");
    assert_eq!(forwarded["top_k"], 40);
}
