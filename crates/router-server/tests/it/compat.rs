//! The compatibility table of `docs/api.md` stays true: every request field it lists is sent to
//! the server in front of a mock provider, and each does what its row says (acted on by the
//! router, forwarded to the provider, or accepted and ignored); endpoints listed as absent answer
//! 404 in OpenRouter's error shape.

use serde_json::{Value, json};

use crate::support::{CLIENT_KEY, Gateway, chat_body};

/// What the table says about a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    /// The router acts on it and does not forward it.
    Router,
    /// Forwarded to the provider as sent.
    Forwarded,
    /// Accepted, neither acted on nor forwarded.
    Ignored,
    /// Forwarded, and only endpoints with the capability are tried (`test/one` has none: 404).
    NeedsCapability,
    /// Forwarded in another form (`user`: as a stable hash, never as sent).
    Translated,
}

/// The table's rows: each field with a valid value.
fn fields() -> Vec<(&'static str, Value, Row)> {
    vec![
        ("models", json!(["test/two"]), Row::Router),
        ("stream", json!(false), Row::Router),
        (
            "fallback_policy",
            json!({"except": ["moderation"]}),
            Row::Router,
        ),
        (
            "plugins",
            json!([{"id": "auto-router", "cost_quality_tradeoff": 3}]),
            Row::Router,
        ),
        ("usage", json!({"include": true}), Row::Router),
        (
            "stream_options",
            json!({"include_usage": true}),
            Row::Router,
        ),
        ("temperature", json!(0.5), Row::Forwarded),
        (
            "tools",
            json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]),
            Row::NeedsCapability,
        ),
        ("max_tokens", json!(64), Row::Forwarded),
        ("max_completion_tokens", json!(64), Row::Forwarded),
        ("top_p", json!(0.9), Row::Forwarded),
        ("stop", json!(["\n\n"]), Row::Forwarded),
        ("seed", json!(7), Row::Forwarded),
        (
            "response_format",
            json!({"type": "json_object"}),
            Row::Forwarded,
        ),
        ("user", json!("someone"), Row::Translated),
        ("provider", json!({"order": ["alpha"]}), Row::Router),
        ("session_id", json!("s-1"), Row::Router),
        ("route", json!("fallback"), Row::Ignored),
        ("transforms", json!(["middle-out"]), Row::Ignored),
        ("preset", json!("p"), Row::Ignored),
        ("debug", json!({"echo_upstream_body": true}), Row::Ignored),
    ]
}

#[tokio::test]
async fn every_listed_field_does_what_the_table_says() {
    let gateway = Gateway::start().await;
    let doc = include_str!("../../../../docs/api.md");
    for (field, value, row) in fields() {
        assert!(
            doc.contains(&format!("| `{field}` |")),
            "`{field}` has no row in docs/api.md's compatibility table"
        );
        gateway.alpha.reset_calls();
        let mut body = chat_body("test/one", false);
        body[field] = value.clone();
        let response = gateway.chat(&body).await;
        if row == Row::NeedsCapability {
            assert_eq!(response.status(), 404, "{field}");
            assert!(gateway.alpha.calls().is_empty(), "{field}");
            continue;
        }
        assert_eq!(response.status(), 200, "{field}");
        let _ = response.bytes().await.unwrap();
        let calls = gateway.alpha.calls();
        let sent = &calls
            .last()
            .unwrap_or_else(|| panic!("{field}: no call"))
            .body;
        match row {
            Row::Forwarded => {
                // `test/one`'s endpoint lists `temperature` and `tools`: tuning parameters it
                // does not list are left out, as the table says.
                let supported = ["temperature".to_owned(), "tools".to_owned()];
                let expected =
                    router_core::parameters::forwarded(field, &supported).then_some(&value);
                assert_eq!(sent.get(field), expected, "{field}");
            }
            Row::NeedsCapability => {}
            Row::Translated => {
                let sent = sent
                    .get(field)
                    .unwrap_or_else(|| panic!("{field} was not sent"));
                assert_ne!(sent, &value, "{field} was forwarded as sent");
            }
            Row::Router | Row::Ignored => {
                if !matches!(field, "stream" | "stream_options" | "max_tokens") {
                    assert_eq!(sent.get(field), None, "{field} was forwarded");
                }
            }
        }
    }
}

#[tokio::test]
async fn endpoints_listed_as_absent_are_404_in_our_shape() {
    let gateway = Gateway::start().await;
    for path in ["/api/v1/embeddings", "/v1/embeddings"] {
        let response = gateway
            .client
            .post(format!("{}{path}", gateway.server.url()))
            .bearer_auth(CLIENT_KEY)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], 404, "{path}");
    }
}
