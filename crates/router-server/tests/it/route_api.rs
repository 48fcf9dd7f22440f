//! `POST /api/v1/route`: the plan of a chat request, explained, for every way of naming models
//! (explicit, a `models` list, the Auto Router), with chat's authentication and errors, and
//! never a provider call.

use serde_json::{Value, json};

use crate::auto_router::{DEMO_KEY, DemoFleet, PYTHON_BUG, auto_body};
use crate::support::error_response;

/// `[(model, provider, reason)]` of a `/route` answer's attempts.
fn attempts(route: &Value) -> Vec<(String, String, String)> {
    route["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            let text = |key: &str| it[key].as_str().unwrap().to_owned();
            (text("model"), text("provider"), text("reason"))
        })
        .collect()
}

fn triple(model: &str, provider: &str, reason: &str) -> (String, String, String) {
    (model.to_owned(), provider.to_owned(), reason.to_owned())
}

/// A user message with an image (models without vision cannot take it).
fn image_message() -> Value {
    json!({"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]})
}

#[tokio::test]
async fn an_explicit_model_lists_its_providers_in_order() {
    let fleet = DemoFleet::start().await;
    // `order` as configured (without it, load balancing draws the first provider by price).
    let body = json!({
        "model": "deepseek/deepseek-v3.2",
        "messages": [{"role": "user", "content": "Hello"}],
        "provider": {"order": ["deepseek", "deepinfra"]},
    });
    for path in ["/api/v1/route", "/v1/route"] {
        let response = fleet.post_as(DEMO_KEY, path, &body).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{path}"
        );
        let route: Value = response.json().await.unwrap();
        assert_eq!(route["model_kind"], "explicit");
        assert_eq!(route["router"], Value::Null);
        assert_eq!(route["analysis"], Value::Null);
        assert_eq!(route["settings"], Value::Null);
        assert_eq!(route["requested_models"], json!(["deepseek/deepseek-v3.2"]));
        assert_eq!(
            attempts(&route),
            [
                triple("deepseek/deepseek-v3.2", "deepseek", "primary"),
                triple("deepseek/deepseek-v3.2", "deepinfra", "fallback_provider"),
            ]
        );
        assert_eq!(route["attempts"][0]["provider_name"], "DeepSeek");
        assert_eq!(route["candidates"][0]["model"], "deepseek/deepseek-v3.2");
        assert_eq!(route["candidates"][0]["status"], "kept");
        assert_eq!(route["skipped"], json!([]));
    }
    assert_eq!(fleet.provider_calls(), 0);
}

#[tokio::test]
async fn a_models_list_lists_each_model_and_the_ones_it_skips() {
    let fleet = DemoFleet::start().await;
    let body = json!({
        "model": "deepseek/deepseek-v3.2",
        "models": ["anthropic/claude-haiku-4.5", "deepseek/deepseek-v3.2", "openai/gpt-5-mini"],
        "messages": [image_message()],
    });
    let (status, route) = fleet.route(&body).await;
    assert_eq!(status, 200, "{route}");
    assert_eq!(route["model_kind"], "fallbacks");
    assert_eq!(
        route["requested_models"],
        json!([
            "deepseek/deepseek-v3.2",
            "anthropic/claude-haiku-4.5",
            "openai/gpt-5-mini"
        ])
    );
    // DeepSeek takes no images: it is skipped before any call, as chat would.
    assert_eq!(
        route["skipped"],
        json!([{
            "model": "deepseek/deepseek-v3.2",
            "position": 0,
            "reason": "No endpoints found that support image input.",
            "status": 404,
            "error_type": "not_found",
        }])
    );
    assert_eq!(
        attempts(&route),
        [
            triple("anthropic/claude-haiku-4.5", "anthropic", "fallback_model"),
            triple("openai/gpt-5-mini", "openai", "fallback_model"),
        ]
    );
    let statuses: Vec<&Value> = route["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| &it["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!("dropped"), &json!("kept"), &json!("kept")]
    );
    assert_eq!(fleet.provider_calls(), 0);
    // The plan is what chat runs: the first call goes to the first attempt.
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-turnout-attempts"],
        "deepseek/deepseek-v3.2@-=404:not_found;anthropic/claude-haiku-4.5@anthropic=200"
    );
}

#[tokio::test]
async fn the_auto_router_explains_its_analysis_candidates_and_attempts() {
    let fleet = DemoFleet::start().await;
    let body = auto_body(PYTHON_BUG, None);
    let (status, route) = fleet.route(&body).await;
    assert_eq!(status, 200, "{route}");
    assert_eq!(route["model_kind"], "auto");
    assert_eq!(route["router"], "openrouter/auto");
    let analysis = &route["analysis"];
    assert_eq!(analysis["task"], "code");
    assert_eq!(analysis["language"], "en");
    assert!((0.0..=1.0).contains(&analysis["difficulty"].as_f64().unwrap()));
    assert_eq!(analysis["capabilities"]["tools"], false);
    assert!(analysis["prompt_tokens_estimate"].as_u64().unwrap() > 10);
    assert!(analysis["expected_completion_tokens"].as_f64().unwrap() > 0.0);
    assert_eq!(analysis["task_scores"][0]["task"], "code");
    assert_eq!(route["settings"]["cost_quality_tradeoff"], 7);
    assert_eq!(route["settings"]["plugin"], "absent");
    // Every catalog model is a candidate, with its numbers when kept.
    let candidates = route["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), fleet.config.catalog.len());
    for candidate in candidates {
        assert_eq!(candidate["status"], "kept", "{candidate}");
        assert!(candidate["expected_quality"].as_f64().unwrap() > 0.0);
        assert!(candidate["expected_cost_usd"].as_f64().unwrap() > 0.0);
        assert!(candidate["score"].is_number());
        assert!(candidate["reason"].is_string());
    }
    // The picks are the top three by rank, and the attempts run through them in order.
    let picks = route["requested_models"].as_array().unwrap();
    assert_eq!(picks.len(), 3);
    for (rank, pick) in picks.iter().enumerate() {
        let candidate = candidates.iter().find(|it| it["model"] == *pick).unwrap();
        assert_eq!(candidate["rank"], rank + 1);
    }
    let attempt_models: Vec<String> = attempts(&route)
        .into_iter()
        .map(|(model, _, _)| model)
        .fold(Vec::new(), |mut models, model| {
            if models.last() != Some(&model) {
                models.push(model);
            }
            models
        });
    assert_eq!(json!(attempt_models), json!(picks));
    assert_eq!(route["attempts"][0]["reason"], "primary");
    assert_eq!(fleet.provider_calls(), 0);
}

#[tokio::test]
async fn auto_candidates_that_cannot_take_the_request_are_dropped_with_the_reason() {
    let fleet = DemoFleet::start().await;
    let body = json!({
        "model": "openrouter/auto",
        "messages": [image_message()],
        "plugins": [{"id": "auto-router", "cost_quality_tradeoff": 10}],
    });
    let (status, route) = fleet.route(&body).await;
    assert_eq!(status, 200, "{route}");
    assert_eq!(route["analysis"]["capabilities"]["images"], true);
    let deepseek = route["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|it| it["model"] == "deepseek/deepseek-v3.2")
        .unwrap();
    assert_eq!(deepseek["status"], "dropped");
    assert_eq!(deepseek["reason"], "no endpoint accepts images");
    assert_eq!(deepseek["expected_quality"], Value::Null);
    for pick in route["requested_models"].as_array().unwrap() {
        assert_ne!(pick, "deepseek/deepseek-v3.2");
        assert_ne!(pick, "openaix/gpt-5");
    }
    assert_eq!(fleet.provider_calls(), 0);
}

#[tokio::test]
async fn route_errors_are_chats_errors() {
    let fleet = DemoFleet::start().await;
    let cases = [
        json!({"model": "x/unknown", "messages": [{"role": "user", "content": "Hi"}]}),
        json!({"model": "openai/gpt-5.1"}),
        auto_body(PYTHON_BUG, Some(json!({"cost_quality_tradeoff": 11}))),
        auto_body(PYTHON_BUG, Some(json!({"allowed_models": ["openai/[x"]}))),
        auto_body(PYTHON_BUG, Some(json!({"allowed_models": ["nobody/*"]}))),
    ];
    for body in cases {
        let chat = error_response(fleet.chat(&body).await).await;
        let route = error_response(fleet.post_as(DEMO_KEY, "/api/v1/route", &body).await).await;
        assert_eq!(route, chat, "{body}");
        assert!(route.0 == 400 || route.0 == 404, "{route:?}");
    }
    // The same authentication.
    let response = fleet
        .client
        .post(format!("{}/api/v1/route", fleet.server.url()))
        .json(&auto_body(PYTHON_BUG, None))
        .send()
        .await
        .unwrap();
    let (status, _) = error_response(response).await;
    assert_eq!(status, 401);
    let response = fleet
        .post_as("sk-wrong", "/api/v1/route", &auto_body(PYTHON_BUG, None))
        .await;
    assert_eq!(error_response(response).await.0, 401);
    assert_eq!(fleet.provider_calls(), 0);
}

#[tokio::test]
async fn route_answers_carry_no_receipt_and_make_no_generation() {
    let fleet = DemoFleet::start().await;
    let response = fleet
        .post_as(DEMO_KEY, "/api/v1/route", &auto_body(PYTHON_BUG, None))
        .await;
    assert_eq!(response.status(), 200);
    let names: Vec<&str> = response.headers().keys().map(|it| it.as_str()).collect();
    assert!(
        names
            .iter()
            .all(|it| !it.starts_with("x-turnout-") && *it != "x-generation-id"),
        "{names:?}"
    );
    assert_eq!(fleet.provider_calls(), 0);
}
