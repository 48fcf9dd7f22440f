//! Errors in OpenRouter's shape (`status == error.code`, JSON) for bad requests, bad keys and
//! failing providers, never leaking the provider key.

use std::time::Duration;

use router_mock::{Behavior, Failure};
use serde_json::json;

use crate::support::{CLIENT_KEY, Gateway, chat_body, error_response};

async fn post_raw(
    gateway: &Gateway,
    key: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = gateway
        .client
        .post(gateway.chat_url())
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn invalid_bodies_are_400s_that_name_the_field() {
    let gateway = Gateway::start().await;
    let cases = [
        (r#"{"model": "test/one", "messages": ["#, None),
        (r#"{"model":"test/one"}"#, Some("messages")),
        (r#"{"model":"test/one","messages":[]}"#, Some("messages")),
        (
            r#"{"model":"test/one","messages":[{"role":"user","content":"a"}],"stream":"yes"}"#,
            Some("stream"),
        ),
        (
            r#"{"model":"test/one","messages":[{"role":"user","content":7}]}"#,
            Some("messages[0].content"),
        ),
        (
            r#"{"model":5,"messages":[{"role":"user","content":"a"}]}"#,
            Some("model"),
        ),
        (
            r#"{"messages":[{"role":"user","content":"a"}]}"#,
            Some("model"),
        ),
    ];
    for (body, field) in cases {
        let (status, error) =
            error_response(post_raw(&gateway, Some(CLIENT_KEY), body).await).await;
        assert_eq!(status, 400, "{body}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        if let Some(field) = field {
            assert!(message.contains(&format!("`{field}`")), "{body}: {message}");
        }
    }
    assert!(gateway.alpha.calls().is_empty());
}

#[tokio::test]
async fn unknown_models_are_400_model_not_found() {
    let gateway = Gateway::start().await;
    let (status, error) =
        error_response(gateway.chat(&chat_body("nope/missing", false)).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "nope/missing is not a valid model ID"
    );
    assert_eq!(
        error["error"]["metadata"]["availability"]["code"],
        "model_not_found"
    );
}

#[tokio::test]
async fn missing_and_wrong_keys_are_401s() {
    let gateway = Gateway::start().await;
    let body = chat_body("test/one", false).to_string();
    let (status, error) = error_response(post_raw(&gateway, None, body.clone()).await).await;
    assert_eq!(status, 401);
    assert_eq!(error["error"]["message"], "No auth credentials found");

    let wrong = "sk-client-wrong-key";
    let (status, error) = error_response(post_raw(&gateway, Some(wrong), body).await).await;
    assert_eq!(status, 401);
    assert_eq!(error["error"]["message"], "Invalid API key");
    assert!(!error.to_string().contains(wrong));
    assert!(gateway.alpha.calls().is_empty());
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let gateway = Gateway::start().await;
    let body = json!({
        "model": "test/one",
        "messages": [{"role": "user", "content": "x".repeat(8 * 1024)}],
    });
    let (status, _) =
        error_response(post_raw(&gateway, Some(CLIENT_KEY), body.to_string()).await).await;
    assert_eq!(status, 413);
    // Without a Content-Length (chunked), the limit applies while reading.
    let chunks: Vec<Result<String, std::io::Error>> = vec![Ok(body.to_string())];
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (status, _) = error_response(post_raw(&gateway, Some(CLIENT_KEY), streamed).await).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_our_shape() {
    let gateway = Gateway::start().await;
    let url = gateway.server.url();
    let response = gateway
        .client
        .get(format!("{url}/api/v1/nothing"))
        .send()
        .await
        .unwrap();
    let (status, _) = error_response(response).await;
    assert_eq!(status, 404);
    let response = gateway.client.get(gateway.chat_url()).send().await.unwrap();
    let (status, _) = error_response(response).await;
    assert_eq!(status, 405);
}

/// Sets `behavior` for `test/one`'s upstream model and returns the (status, body) of a
/// non-streaming request.
async fn upstream_error(gateway: &Gateway, behavior: Behavior) -> (u16, serde_json::Value) {
    gateway.behave("one-upstream", behavior);
    error_response(gateway.chat(&chat_body("test/one", false)).await).await
}

#[tokio::test]
async fn upstream_failures_become_502_or_408_without_leaking_details() {
    let gateway = Gateway::start().await;

    let (status, error) = upstream_error(
        &gateway,
        Behavior {
            fail: Some(Failure::status(500)),
            ..Behavior::default()
        },
    )
    .await;
    assert_eq!(status, 502, "{error}");
    let metadata = &error["error"]["metadata"];
    assert_eq!(metadata["error_type"], "provider_unavailable");
    assert_eq!(metadata["provider_name"], "Alpha AI");
    assert_eq!(metadata["attempts"][0]["provider"], "alpha");
    assert_eq!(metadata["attempts"][0]["model"], "test/one");
    assert_eq!(metadata["attempts"][0]["status"], 500);

    let (status, error) = upstream_error(
        &gateway,
        Behavior {
            non_json: true,
            ..Behavior::default()
        },
    )
    .await;
    assert_eq!(status, 502, "{error}");
    assert!(!error.to_string().contains("oops"), "{error}");

    // The providers' first-byte timeout is 1 s in the test config.
    let (status, error) = upstream_error(
        &gateway,
        Behavior {
            hang: true,
            ..Behavior::default()
        },
    )
    .await;
    assert_eq!(status, 408, "{error}");
    assert_eq!(error["error"]["metadata"]["error_type"], "timeout");
    assert!(
        gateway
            .alpha
            .wait_for_disconnect(2, Duration::from_secs(10))
            .await,
        "the hung upstream call was not closed"
    );
}

#[tokio::test]
async fn rate_limits_keep_their_status_and_retry_after() {
    let gateway = Gateway::start().await;
    gateway.behave(
        "one-upstream",
        Behavior {
            fail: Some(Failure::rate_limit(Some(7))),
            ..Behavior::default()
        },
    );
    let response = gateway.chat(&chat_body("test/one", false)).await;
    assert_eq!(response.headers()["retry-after"], "7");
    let (status, error) = error_response(response).await;
    assert_eq!(status, 429);
    assert_eq!(
        error["error"]["metadata"]["error_type"],
        "rate_limit_exceeded"
    );
}
