//! What carries and layers the choice: the receipt, body, record and stream, the fallback chain,
//! key defaults under request plugins under `[routing.auto]`, pinning, profiles, the route API.

use router_mock::{Behavior, Failure, MockConfig, MockProvider};
use router_server::config::{self};
use serde_json::{Value, json};

use crate::fleet::TempStore;
use crate::support::{Event, assert_close, data, error_response, read_events};

use super::*;

#[tokio::test]
async fn the_receipt_the_body_and_the_record_carry_the_chosen_model_and_its_price() {
    let fleet = DemoFleet::start().await;
    let mut body = auto_body(PYTHON_BUG, None);
    // Sorted, so that the route shown and the route run pick the same provider (load balancing
    // draws each request's first provider anew).
    body["provider"] = json!({"sort": "price"});
    let (_, route) = fleet.route(&body).await;
    let picks: Vec<&str> = route["requested_models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it.as_str().unwrap())
        .collect();
    assert_eq!(picks.len(), 3);
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-turnout-router"),
        Some("openrouter/auto")
    );
    assert_eq!(header(&response, "x-turnout-auto-task"), Some("code"));
    assert_eq!(header(&response, "x-turnout-auto-language"), Some("en"));
    assert_eq!(header(&response, "x-turnout-auto-tradeoff"), Some("7"));
    let difficulty: f64 = header(&response, "x-turnout-auto-difficulty")
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..=1.0).contains(&difficulty));
    assert_eq!(requested(&response), picks);
    assert_eq!(header(&response, "x-turnout-served-model"), Some(picks[0]));
    assert_eq!(header(&response, "x-turnout-fallback-depth"), Some("0"));
    let provider = header(&response, "x-turnout-served-provider")
        .unwrap()
        .to_owned();
    assert_eq!(provider, route["attempts"][0]["provider"]);
    let id = header(&response, "x-generation-id").unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], picks[0]);
    assert_eq!(
        body["_metadata"],
        json!({"openRouter": {"modelRouting": {"requested": picks, "actual": picks[0]}}})
    );
    // Billed at the chosen model's price at the provider that answered.
    let pricing = fleet.pricing(picks[0], &provider);
    let usage = &body["usage"];
    let expected = number(&usage["prompt_tokens"]) * pricing.prompt
        + number(&usage["completion_tokens"]) * pricing.completion
        + pricing.request;
    assert!(expected > 0.0);
    assert_close(&usage["cost"], expected);
    // The chosen model's upstream name went to that provider, and nothing else was called.
    let (_, mock) = fleet.mocks.iter().find(|(it, _)| *it == provider).unwrap();
    let calls = mock.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(fleet.provider_calls(), 1);
    let catalog = &fleet.config.catalog;
    let model = catalog.model(catalog.find(picks[0]).unwrap());
    let endpoint = model
        .endpoints
        .iter()
        .find(|it| it.provider == provider)
        .unwrap();
    assert_eq!(calls[0].model, endpoint.upstream_model);
    // The record names the router and the chosen model.
    let record = fleet.generation(&id).await;
    assert_eq!(record["router"], "openrouter/auto");
    assert_eq!(record["model"], picks[0]);
    assert_eq!(record["requested_models"], json!(picks));
    assert_close(&record["total_cost"], expected);
}

#[tokio::test]
async fn a_stream_carries_the_auto_receipt() {
    let fleet = DemoFleet::start().await;
    let mut body = auto_body(TRANSLATION, None);
    body["stream"] = json!(true);
    let (_, route) = fleet.route(&body).await;
    let primary = route["requested_models"][0].as_str().unwrap().to_owned();
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-turnout-router"),
        Some("openrouter/auto")
    );
    assert_eq!(
        header(&response, "x-turnout-auto-task"),
        Some("translation")
    );
    assert_eq!(
        header(&response, "x-turnout-served-model"),
        Some(primary.as_str())
    );
    let events = read_events(response).await;
    assert_eq!(events.last(), Some(&Event::Done));
    let chunks = data(&events);
    assert!(chunks.iter().all(|it| it["model"] == primary.as_str()));
    let last = chunks.last().unwrap();
    assert_eq!(
        last["_metadata"]["openRouter"]["modelRouting"],
        json!({"requested": route["requested_models"], "actual": primary})
    );
    assert!(number(&last["usage"]["cost"]) > 0.0);
}

#[tokio::test]
async fn the_ranked_picks_are_the_fallback_chain() {
    let fleet = DemoFleet::start().await;
    let body = auto_body(LIMERICK, None);
    let (_, route) = fleet.route(&body).await;
    let picks = route["requested_models"].as_array().unwrap();
    let (primary, second) = (picks[0].as_str().unwrap(), picks[1].as_str().unwrap());
    // Every endpoint of the primary is down.
    let catalog = &fleet.config.catalog;
    for endpoint in &catalog.model(catalog.find(primary).unwrap()).endpoints {
        let overloaded = Behavior {
            fail: Some(Failure::overloaded()),
            ..Behavior::default()
        };
        for (_, mock) in &fleet.mocks {
            mock.set_behavior(&endpoint.upstream_model, overloaded.clone());
        }
    }
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-turnout-served-model"), Some(second));
    assert_eq!(header(&response, "x-turnout-fallback-depth"), Some("1"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], second);
    assert_eq!(
        body["_metadata"]["openRouter"]["modelRouting"]["actual"],
        second
    );
}

#[tokio::test]
async fn key_defaults_apply_without_a_plugin_and_the_plugin_overrides_them() {
    let fleet = DemoFleet::start().await;
    // The frugal key: Anthropic only, cheapest capable.
    let plain = auto_body(PROOF, None);
    let (_, route) = fleet.route_as(FRUGAL_KEY, &plain).await;
    let sources = &route["settings"]["sources"];
    assert_eq!(sources["allowed_models"], "key");
    assert_eq!(sources["cost_quality_tradeoff"], "key");
    assert_eq!(route["settings"]["cost_quality_tradeoff"], 10);
    assert_eq!(
        served_as(&fleet, FRUGAL_KEY, &plain).await,
        "anthropic/claude-haiku-4.5"
    );
    // The same request with the demo key is routed with the global defaults.
    let (_, demo) = fleet.route(&plain).await;
    assert_eq!(demo["settings"]["sources"]["allowed_models"], "default");
    assert_ne!(served(&fleet, &plain).await, "anthropic/claude-haiku-4.5");
    // The request's plugin overrides a field; the key's other defaults still apply.
    let openai = auto_body(PROOF, Some(json!({"allowed_models": ["openai/*"]})));
    let (_, route) = fleet.route_as(FRUGAL_KEY, &openai).await;
    assert_eq!(route["settings"]["sources"]["allowed_models"], "request");
    assert_eq!(route["settings"]["sources"]["cost_quality_tradeoff"], "key");
    assert_eq!(
        served_as(&fleet, FRUGAL_KEY, &openai).await,
        "openai/gpt-5-nano"
    );
    let best = auto_body(PROOF, Some(json!({"cost_quality_tradeoff": 0})));
    let model = served_as(&fleet, FRUGAL_KEY, &best).await;
    assert!(model.starts_with("anthropic/"), "{model}");
    assert_ne!(model, "anthropic/claude-haiku-4.5");
    // `enabled: false` turns the request's plugin off: the defaults apply.
    let disabled = auto_body(
        PROOF,
        Some(json!({"enabled": false, "allowed_models": ["openai/*"]})),
    );
    let (_, route) = fleet.route_as(FRUGAL_KEY, &disabled).await;
    assert_eq!(route["settings"]["plugin"], "disabled");
    assert_eq!(route["settings"]["sources"]["allowed_models"], "key");
    assert_eq!(
        served_as(&fleet, FRUGAL_KEY, &disabled).await,
        "anthropic/claude-haiku-4.5"
    );
}

#[tokio::test]
async fn routing_auto_sets_global_defaults_aliases_and_the_number_of_picks() {
    let fleet = DemoFleet::start_with(
        r#"
        [routing.auto]
        alias = ["openrouter/auto", "auto"]
        top_k = 2
        excluded_models = ["google/*"]
        cost_quality_tradeoff = 3
        "#,
    )
    .await;
    let mut body = auto_body(TRANSLATION, None);
    body["model"] = json!("auto");
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-turnout-router"),
        Some("openrouter/auto")
    );
    assert_eq!(header(&response, "x-turnout-auto-tradeoff"), Some("3"));
    let picks = requested(&response);
    assert_eq!(picks.len(), 2, "{picks:?}");
    assert!(
        picks.iter().all(|it| !it.starts_with("google/")),
        "{picks:?}"
    );
    let (_, route) = fleet.route(&body).await;
    assert_eq!(route["settings"]["sources"]["excluded_models"], "global");
    assert_eq!(
        route["settings"]["sources"]["cost_quality_tradeoff"],
        "global"
    );
    assert_eq!(route["settings"]["top_k"], 2);
    // The key's dial wins over the global one; the global exclusion still applies.
    let (_, route) = fleet.route_as(FRUGAL_KEY, &body).await;
    assert_eq!(route["settings"]["cost_quality_tradeoff"], 10);
    assert_eq!(route["settings"]["sources"]["excluded_models"], "global");
    // Without the default alias in the list, `openrouter/auto` is not a model.
    let off = DemoFleet::start_with("[routing.auto]\nalias = [\"auto\"]\n").await;
    let (status, error) = error_response(off.chat(&auto_body(TRANSLATION, None)).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "openrouter/auto is not a valid model ID"
    );
}

#[tokio::test]
async fn a_client_models_list_is_ignored_and_the_router_must_be_the_primary() {
    let fleet = DemoFleet::start().await;
    let plain = auto_body(PYTHON_BUG, None);
    let (_, route) = fleet.route(&plain).await;
    let mut with_models = plain.clone();
    with_models["models"] = json!(["mistralai/mistral-small-3.2-24b-instruct", "x/unknown"]);
    let (status, ignored) = fleet.route(&with_models).await;
    assert_eq!(status, 200, "{ignored}");
    assert_eq!(ignored["requested_models"], route["requested_models"]);
    // `models` alone: its first entry is the primary, so the router may be named there.
    let only_models = json!({
        "models": ["openrouter/auto"],
        "messages": [{"role": "user", "content": PYTHON_BUG}],
    });
    let (_, listed) = fleet.route(&only_models).await;
    assert_eq!(listed["model_kind"], "auto");
    assert_eq!(listed["requested_models"], route["requested_models"]);
    // As a fallback it is an error.
    let fallback = json!({
        "model": "openai/gpt-5.1",
        "models": ["openrouter/auto"],
        "messages": [{"role": "user", "content": "Hello"}],
    });
    let error = assert_error(&fleet, &fallback, 400, "can only be the primary model").await;
    assert_eq!(error["error"]["metadata"]["error_type"], "invalid_request");
}

#[tokio::test]
async fn pin_model_reuses_the_model_of_the_last_assistant_message() {
    let fleet = DemoFleet::start().await;
    let mut body = json!({
        "model": "openrouter/auto",
        "messages": [
            {"role": "user", "content": LIMERICK},
            {"role": "assistant", "content": "There once was a cat...", "model": "meta-llama/llama-3.3-70b-instruct"},
            {"role": "user", "content": "Another one, about a dog."},
        ],
        "plugins": [{"id": "auto-router", "pin_model": true}],
    });
    let (_, route) = fleet.route(&body).await;
    assert_eq!(route["pinned_model"], "meta-llama/llama-3.3-70b-instruct");
    assert_eq!(
        route["requested_models"][0],
        "meta-llama/llama-3.3-70b-instruct"
    );
    assert_eq!(route["requested_models"].as_array().unwrap().len(), 3);
    assert_eq!(
        served(&fleet, &body).await,
        "meta-llama/llama-3.3-70b-instruct"
    );
    // Not pinned: the router chooses afresh.
    body["plugins"] = json!([{"id": "auto-router", "pin_model": false}]);
    let (_, route) = fleet.route(&body).await;
    assert_eq!(route["pinned_model"], Value::Null);
    assert_ne!(
        route["requested_models"][0],
        "meta-llama/llama-3.3-70b-instruct"
    );
    // A pinned model the patterns exclude is not pinned.
    body["plugins"] =
        json!([{"id": "auto-router", "pin_model": true, "excluded_models": ["meta-llama/*"]}]);
    let (_, route) = fleet.route(&body).await;
    assert_eq!(route["pinned_model"], Value::Null);
}

#[tokio::test]
async fn routing_auto_profile_points_at_a_quality_profile_file() {
    // The demo profile, except that the small Mistral model is expected to be perfect at
    // everything: at dial 0 it then beats every other model.
    let mut data = router_core::auto::profile::Profile::demo()
        .unwrap()
        .data()
        .clone();
    const MISTRAL: &str = "mistralai/mistral-small-3.2-24b-instruct";
    for values in data.models.get_mut(MISTRAL).unwrap().quality.values_mut() {
        values.iter_mut().for_each(|it| *it = 1.0);
    }
    let profile = router_core::auto::profile::Profile::from_data(data).unwrap();
    let file = TempStore::new("profile");
    std::fs::write(file.path(), profile.to_json()).unwrap();
    let body = auto_body(PYTHON_BUG, Some(json!({"cost_quality_tradeoff": 0})));
    let shipped = DemoFleet::start().await;
    assert_ne!(served(&shipped, &body).await, MISTRAL);
    let path = file.path().display().to_string().replace('\\', "/");
    let custom = DemoFleet::start_with(&format!("[routing.auto]\nprofile = \"{path}\"\n")).await;
    assert_eq!(served(&custom, &body).await, MISTRAL);
}

#[tokio::test]
async fn an_unreadable_or_invalid_profile_stops_the_start() {
    let file = TempStore::new("bad-profile");
    std::fs::write(file.path(), r#"{"format": "something-else", "version": 1}"#).unwrap();
    let mut mocks = Vec::new();
    for _ in DEMO_PROVIDERS {
        mocks.push(MockProvider::start(MockConfig::default()).await.unwrap());
    }
    let vars = |name: &str| {
        name.starts_with("TURNOUT_DEMO_URL_")
            .then(|| mocks[0].base_url())
    };
    let missing = std::env::temp_dir().join("turnout-it-no-such-profile.json");
    for (path, expected) in [
        (file.path().to_owned(), "is invalid"),
        (missing, "cannot read"),
    ] {
        let text = format!(
            "{DEMO_TOML}\n[routing.auto]\nprofile = \"{}\"\n",
            path.display().to_string().replace('\\', "/")
        );
        let config = config::load_str(&text, &vars).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = router_server::spawn(config, listener).await.unwrap_err();
        let message = err.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
}

#[tokio::test]
async fn the_route_api_decides_as_offline_evaluation_does() {
    // `cargo xtask calibrate` and `eval-router` decide a labelled prompt with
    // `analysis::tokens::user_prompt_features` and `Conversation::user`; the server, from the
    // request body. Same prompt, same profile, same catalog: same estimate, same ranking.
    use router_core::analysis::Conversation;
    use router_core::analysis::tokens::user_prompt_features;
    use router_core::auto::profile::Profile;
    use router_core::auto::select::{self, SelectParams};
    use router_core::patterns::ModelFilter;
    let fleet = DemoFleet::start().await;
    let profile = Profile::demo().unwrap();
    let filter = ModelFilter::permit_all();
    let prompts = [
        PYTHON_BUG,
        "Écris un poème sur la mer, s'il te plaît.\n\"Merci\" — 谢谢",
        "Prove that there are infinitely many primes.",
        "hi",
    ];
    for prompt in prompts {
        for dial in [0u8, 3, 7, 10] {
            let body = auto_body(prompt, Some(json!({"cost_quality_tradeoff": dial})));
            let (status, online) = fleet.route(&body).await;
            assert_eq!(status, 200, "{online}");
            let features = user_prompt_features(prompt);
            let analysis = profile.analyze(&Conversation::user(prompt), &features);
            let params = SelectParams {
                filter: &filter,
                tradeoff: dial,
                top_k: fleet.config.routing.auto.top_k,
            };
            let offline = select::select(&fleet.config.catalog, &profile, &analysis, &params)
                .unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(
                online["analysis"]["prompt_tokens_estimate"], features.prompt_tokens_estimate,
                "{prompt:?}"
            );
            let picks: Vec<&str> = offline
                .picks
                .iter()
                .map(|idx| &*fleet.config.catalog.model(*idx).id)
                .collect();
            assert_eq!(
                online["requested_models"],
                json!(picks),
                "{prompt:?} at {dial}"
            );
            for report in &offline.explanation.candidates {
                let row = online["candidates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|it| it["model"] == report.model)
                    .unwrap();
                assert_eq!(row["rank"], json!(report.rank), "{}", report.model);
                let cost = row["expected_cost_usd"].as_f64();
                match (cost, report.expected_cost) {
                    (Some(online), Some(offline)) => {
                        assert!((online - offline).abs() <= 1e-12 * offline.abs());
                    }
                    (online, offline) => assert_eq!(online, offline, "{}", report.model),
                }
            }
        }
    }
}
