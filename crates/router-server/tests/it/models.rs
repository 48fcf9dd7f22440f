//! `GET /api/v1/models` and `GET /health`.

use serde_json::{Value, json};

use crate::support::Gateway;

#[tokio::test]
async fn lists_models_in_openrouter_shape_with_string_prices() {
    let gateway = Gateway::start().await;
    for path in ["/api/v1/models", "/v1/models"] {
        let response = gateway
            .client
            .get(format!("{}{path}", gateway.server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        // The two catalog models, then the Auto Router so model pickers can offer it.
        assert_eq!(body["total_count"], 3);
        assert_eq!(body["links"]["next"], Value::Null);
        let one = &body["data"][0];
        assert_eq!(one["id"], "test/one");
        assert_eq!(one["name"], "Test: One");
        assert_eq!(one["created"], 1_700_000_000);
        assert_eq!(one["pricing"]["prompt"], "0.000002");
        assert_eq!(one["pricing"]["completion"], "0.000008");
        assert_eq!(one["pricing"]["request"], "0");
        assert_eq!(one["top_provider"]["max_completion_tokens"], 1024);
        assert_eq!(one["supported_parameters"], json!(["temperature", "tools"]));
        assert_eq!(one["links"]["details"], "/api/v1/models/test/one/endpoints");
        let two = &body["data"][1];
        assert_eq!(two["id"], "test/two");
        assert_eq!(two["context_length"], 16384);
        assert_eq!(two["pricing"]["prompt"], "0.000001");
        let auto = &body["data"][2];
        assert_eq!(auto["id"], "openrouter/auto");
        assert_eq!(
            auto["pricing"]["prompt"], "-1",
            "billed at the chosen model's price"
        );
        assert_eq!(auto["context_length"], 16384);
    }
}

#[tokio::test]
async fn health_is_ok() {
    let gateway = Gateway::start().await;
    let response = gateway
        .client
        .get(format!("{}/health", gateway.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": "ok"}));
}
