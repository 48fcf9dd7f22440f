//! The mock as a service: API keys, the call record, shutdown and drop, and the binary.

mod support;

use std::process::Command;

use router_mock::{CallOutcome, MockConfig, MockProvider};
use serde_json::{Value, json};
use support::{chat, chat_stream, client, post, spawn_announced};

#[tokio::test]
async fn api_key_is_required_when_configured() {
    let mock = MockProvider::start(MockConfig {
        api_key: Some("sk-mock-secret".to_owned()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let client = client();
    let url = format!("{}/chat/completions", mock.base_url());

    let missing = client
        .post(&url)
        .json(&chat("m", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("didn't provide an API key")
    );

    let wrong = client
        .post(&url)
        .bearer_auth("sk-mock-wrong")
        .json(&chat("m", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let text = wrong.text().await.unwrap();
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error"]["code"], "invalid_api_key");
    assert!(!text.contains("sk-mock"), "keys are never echoed: {text}");

    let right = client
        .post(&url)
        .bearer_auth("sk-mock-secret")
        .json(&chat("m", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);

    let calls = mock.calls();
    let outcomes: Vec<_> = calls.iter().map(|c| c.outcome).collect();
    assert_eq!(
        outcomes,
        [
            CallOutcome::Rejected,
            CallOutcome::Rejected,
            CallOutcome::Completed
        ]
    );
    assert_eq!(calls[0].authorization, None);
    assert_eq!(
        calls[1].authorization.as_deref(),
        Some("Bearer sk-mock-wrong")
    );
    assert_eq!(
        calls[2].authorization.as_deref(),
        Some("Bearer sk-mock-secret")
    );
}

#[tokio::test]
async fn calls_are_recorded_in_order_with_bodies_and_headers() {
    let mock = MockProvider::start(MockConfig::default()).await.unwrap();
    let first =
        json!({"model": "a", "messages": [{"role": "user", "content": "1"}], "temperature": 0.5});
    let second = chat_stream("b", "2", true);
    let response = client()
        .post(format!("{}/chat/completions", mock.base_url()))
        .header("x-trace", "abc")
        .json(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    post(&mock, &second).await.text().await.unwrap();

    let calls = mock.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].model.as_str(), calls[0].stream), ("a", false));
    assert_eq!((calls[1].model.as_str(), calls[1].stream), ("b", true));
    assert_eq!(calls[0].path, "/v1/chat/completions");
    assert_eq!(calls[0].body, first);
    assert_eq!(calls[1].body, second);
    assert!(
        calls[0]
            .headers
            .contains(&("x-trace".to_owned(), "abc".to_owned()))
    );
    assert!(
        calls[0]
            .headers
            .iter()
            .any(|(name, value)| name == "content-type" && value == "application/json")
    );
    assert!(calls.iter().all(|c| c.outcome == CallOutcome::Completed));

    mock.reset_calls();
    assert!(mock.calls().is_empty());
    post(&mock, &chat("c", "3")).await.text().await.unwrap();
    let calls = mock.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].model, "c");
}

#[tokio::test]
async fn recording_can_be_turned_off() {
    let mock = MockProvider::start(MockConfig {
        record_calls: false,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(post(&mock, &chat("m", "x")).await.status(), 200);
    assert!(mock.calls().is_empty());
}

#[tokio::test]
async fn shutdown_and_drop_stop_serving_even_pooled_connections() {
    let client = client();
    for graceful in [true, false] {
        let mock = MockProvider::start(MockConfig::default()).await.unwrap();
        let url = format!("{}/chat/completions", mock.base_url());
        // Leaves a keep-alive connection in the client's pool.
        let ok = client
            .post(&url)
            .json(&chat("m", "x"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        ok.text().await.unwrap();
        match graceful {
            true => mock.shutdown().await,
            false => {
                drop(mock);
                // Aborted tasks close their sockets when the runtime next runs them.
                tokio::task::yield_now().await;
            }
        }
        let after = client
            .post(&url)
            .json(&chat("m", "x"))
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await;
        assert!(after.is_err(), "graceful={graceful}: {after:?}");
    }
}

#[test]
fn binary_serves_a_script_until_killed() {
    let dir = std::env::temp_dir().join(format!("router-mock-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("script.json");
    std::fs::write(
        &script,
        r#"{"default": {"reply": "from the script"},
            "models": {"down": {"fail": {"status": 503, "retry_after": 4}}}}"#,
    )
    .unwrap();
    let (child, base_url) = spawn_announced(
        Command::new(env!("CARGO_BIN_EXE_router-mock"))
            .args(["--addr", "127.0.0.1:0", "--script"])
            .arg(&script),
        "listening on ",
    );
    assert!(base_url.starts_with("http://127.0.0.1:") && base_url.ends_with("/v1"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ok, down) = runtime.block_on(async {
        let client = client();
        let url = format!("{base_url}/chat/completions");
        let ok: Value = client
            .post(&url)
            .json(&chat("any", "x"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let down = client
            .post(&url)
            .json(&chat("down", "x"))
            .send()
            .await
            .unwrap();
        (ok, down)
    });
    drop(child);
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(ok["choices"][0]["message"]["content"], "from the script");
    assert_eq!(down.status(), 503);
    assert_eq!(down.headers()["retry-after"], "4");
}
