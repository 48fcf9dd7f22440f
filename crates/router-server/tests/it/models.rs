//! `GET /api/v1/models`, the endpoints page each of its rows links to, and `GET /health`.

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

/// GETs `path_and_query` and returns the status and JSON body.
async fn get(gateway: &Gateway, path_and_query: &str) -> (u16, Value) {
    let response = gateway
        .client
        .get(format!("{}{path_and_query}", gateway.server.url()))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn ids(body: &Value) -> Vec<&str> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_list_filters_and_sorts_as_asked() {
    let gateway = Gateway::start().await;
    let (status, body) = get(&gateway, "/api/v1/models?supported_parameters=tools").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), ["test/one", "openrouter/auto"]);
    assert_eq!(body["total_count"], 2);
    let (_, body) = get(&gateway, "/api/v1/models?supported_parameters=tools,seed").await;
    assert_eq!(body["total_count"], 0);
    assert_eq!(body["data"], json!([]));
    let (_, body) = get(&gateway, "/api/v1/models?output_modalities=image").await;
    assert_eq!(body["total_count"], 0);
    let (_, body) = get(&gateway, "/api/v1/models?output_modalities=text,image").await;
    assert_eq!(body["total_count"], 3);
    let (_, body) = get(&gateway, "/v1/models?sort=pricing-low-to-high").await;
    assert_eq!(ids(&body), ["test/two", "test/one", "openrouter/auto"]);
    let (_, body) = get(&gateway, "/api/v1/models?category=programming").await;
    assert_eq!(
        body["total_count"], 3,
        "an unknown category filters nothing"
    );
}

#[tokio::test]
async fn pages_link_to_the_next_one_until_the_last() {
    let gateway = Gateway::start().await;
    let mut seen = Vec::new();
    let mut link = "/api/v1/models?sort=newest&limit=1".to_owned();
    loop {
        let (status, body) = get(&gateway, &link).await;
        assert_eq!(status, 200, "{link}");
        assert_eq!(body["total_count"], 3);
        seen.extend(ids(&body).into_iter().map(str::to_owned));
        match body["links"]["next"].as_str() {
            Some(next) => link = next.to_owned(),
            None => break,
        }
        assert!(seen.len() < 10, "the pages never end");
    }
    // `test/one` is the newer; `test/two` has no date.
    assert_eq!(seen, ["test/one", "test/two", "openrouter/auto"]);
    assert_eq!(
        get(&gateway, "/api/v1/models?limit=2").await.1["links"]["next"],
        "/api/v1/models?offset=2&limit=2"
    );
}

#[tokio::test]
async fn bad_list_parameters_are_a_400_naming_them() {
    let gateway = Gateway::start().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=x", "offset"),
        ("sort=cheapest", "sort"),
    ] {
        let (status, body) = get(&gateway, &format!("/api/v1/models?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"]["code"], 400);
        assert_eq!(body["error"]["metadata"]["field"], field, "{query}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
}

#[tokio::test]
async fn every_model_row_links_to_its_endpoints() {
    let gateway = Gateway::start().await;
    let (_, list) = get(&gateway, "/api/v1/models").await;
    let mut followed = 0;
    for row in list["data"].as_array().unwrap() {
        if row["id"] == "openrouter/auto" {
            continue;
        }
        let link = row["links"]["details"].as_str().unwrap();
        let (status, body) = get(&gateway, link).await;
        assert_eq!(status, 200, "{link}");
        assert_eq!(body["data"]["id"], row["id"], "{link}");
        followed += 1;
    }
    assert_eq!(followed, 2);
}

#[tokio::test]
async fn lists_a_models_endpoints_in_configured_order() {
    let gateway = Gateway::start().await;
    for path in [
        "/api/v1/models/test/two/endpoints",
        "/v1/models/test/two/endpoints",
    ] {
        let (status, body) = get(&gateway, path).await;
        assert_eq!(status, 200);
        let data = &body["data"];
        assert_eq!(data["id"], "test/two");
        assert_eq!(data["name"], "Test: Two");
        let endpoints = data["endpoints"].as_array().unwrap();
        let providers: Vec<_> = endpoints
            .iter()
            .map(|it| (it["tag"].clone(), it["provider_name"].clone()))
            .collect();
        assert_eq!(
            providers,
            [
                (json!("alpha"), json!("Alpha AI")),
                (json!("beta"), json!("Beta Cloud"))
            ]
        );
        assert_eq!(endpoints[1]["context_length"], 16384);
        assert_eq!(endpoints[1]["pricing"]["prompt"], "0.0000005");
        assert_eq!(endpoints[1]["pricing"]["input_cache_read"], "0.0000005");
        assert_eq!(endpoints[1]["supports_implicit_caching"], true);
        assert_eq!(endpoints[0]["supports_implicit_caching"], false);
    }
}

#[tokio::test]
async fn endpoints_of_an_unknown_model_or_a_router_are_a_404_in_our_shape() {
    let gateway = Gateway::start().await;
    for (path, id) in [
        ("/api/v1/models/test/nope/endpoints", "test/nope"),
        (
            "/api/v1/models/openrouter/auto/endpoints",
            "openrouter/auto",
        ),
    ] {
        let (status, body) = get(&gateway, path).await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], 404);
        assert_eq!(body["error"]["message"], format!("model `{id}` not found"));
        assert_eq!(
            body["error"]["metadata"]["availability"]["code"],
            "model_not_found"
        );
    }
}

#[tokio::test]
async fn health_is_ok() {
    let gateway = Gateway::start().await;
    assert_eq!(
        get(&gateway, "/health").await,
        (200, json!({"status": "ok"}))
    );
}
