//! What the Auto Router chooses: patterns restrict the model, exclusions win, bad patterns and
//! dial values are 400s, different prompts and dial values pick different models.

use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn documented_patterns_restrict_the_chosen_model() {
    // The same prompt again and again would read the mock's cache and pin its model.
    let fleet = DemoFleet::start_with(crate::sessions::NO_STICKINESS).await;
    let cases: [(&[&str], &Admits); 5] = [
        (&["anthropic/*"], &|id| author(id) == "anthropic"),
        (&["openai/gpt-5*"], &|id| {
            author(id) == "openai" && slug(id).starts_with("gpt-5")
        }),
        (&["*/claude-*"], &|id| slug(id).starts_with("claude-")),
        (&["openai/gpt-5.1"], &|id| id == "openai/gpt-5.1"),
        (&["anthropic/*", "openai/gpt-5.1"], &|id| {
            author(id) == "anthropic" || id == "openai/gpt-5.1"
        }),
    ];
    for (patterns, admits) in cases {
        for dial in [0, 7, 10] {
            let body = auto_body(
                PYTHON_BUG,
                Some(json!({"allowed_models": patterns, "cost_quality_tradeoff": dial})),
            );
            let response = fleet.chat(&body).await;
            assert_eq!(response.status(), 200, "{patterns:?} at {dial}");
            let picks = requested(&response);
            let model = header(&response, "x-turnout-served-model")
                .unwrap()
                .to_owned();
            println!("{patterns:?} at {dial}: {model} (picks {picks:?})");
            assert!(admits(&model), "{patterns:?} at {dial} chose {model}");
            assert!(picks.iter().all(|it| admits(it)), "{patterns:?}: {picks:?}");
        }
    }
    // Without patterns, the same prompt goes elsewhere at some dial: the patterns did the work.
    let mut unrestricted = Vec::new();
    for dial in [0, 7, 10] {
        let body = auto_body(PYTHON_BUG, Some(json!({"cost_quality_tradeoff": dial})));
        unrestricted.push(served(&fleet, &body).await);
    }
    assert!(
        unrestricted.iter().any(|it| author(it) != "anthropic"),
        "{unrestricted:?}"
    );
    assert!(
        unrestricted.iter().any(|it| it != "openai/gpt-5.1"),
        "{unrestricted:?}"
    );
}

#[tokio::test]
async fn patterns_match_whole_ids_case_sensitively_and_stars_stop_at_slashes() {
    let fleet = DemoFleet::start().await;
    // At dial 10 the cheapest model wins, and `openaix/gpt-5` is the cheapest of all...
    let cheapest = auto_body(LIMERICK, Some(json!({"cost_quality_tradeoff": 10})));
    assert_eq!(served(&fleet, &cheapest).await, "openaix/gpt-5");
    let its_own = auto_body(
        LIMERICK,
        Some(json!({"allowed_models": ["openaix/*"], "cost_quality_tradeoff": 10})),
    );
    assert_eq!(served(&fleet, &its_own).await, "openaix/gpt-5");
    // ...but `openai/*` never admits it: the pattern is anchored to the whole `author/slug`.
    let openai = json!({"allowed_models": ["openai/*"], "cost_quality_tradeoff": 10});
    let body = auto_body(LIMERICK, Some(openai));
    let model = served(&fleet, &body).await;
    assert!(model.starts_with("openai/"), "{model}");
    let (status, route) = fleet.route(&body).await;
    assert_eq!(status, 200);
    let lookalike = candidate(&route, "openaix/gpt-5");
    assert_eq!(lookalike["status"], "dropped");
    assert_eq!(lookalike["reason"], "not matched by allowed_models");
    // Case matters, and `*` does not cross `/`.
    fleet.mocks.iter().for_each(|(_, mock)| mock.reset_calls());
    for pattern in ["OpenAI/*", "openai*", "*", "*/*/*", "anthropic"] {
        let body = auto_body(LIMERICK, Some(json!({"allowed_models": [pattern]})));
        let error = assert_error(&fleet, &body, 404, NO_MODELS).await;
        assert_eq!(error["error"]["message"], NO_MODELS);
        assert_eq!(error["error"]["metadata"]["error_type"], "not_found");
    }
}

#[tokio::test]
async fn exclusions_win_over_allowed_patterns() {
    let fleet = DemoFleet::start().await;
    let allowed = json!({"allowed_models": ["anthropic/*"], "cost_quality_tradeoff": 0});
    // The control: at dial 0 on Anthropic's models, the Python bug goes to Opus.
    let best = served(&fleet, &auto_body(PYTHON_BUG, Some(allowed))).await;
    assert_eq!(best, "anthropic/claude-opus-4.5");
    for dial in 0..=10 {
        let body = auto_body(
            PYTHON_BUG,
            Some(json!({
                "allowed_models": ["anthropic/*"],
                "excluded_models": ["anthropic/claude-opus*"],
                "cost_quality_tradeoff": dial,
            })),
        );
        let response = fleet.chat(&body).await;
        assert_eq!(response.status(), 200);
        let picks = requested(&response);
        assert!(!picks.is_empty());
        assert!(
            picks
                .iter()
                .all(|it| it.starts_with("anthropic/") && !it.contains("opus")),
            "dial {dial}: {picks:?}"
        );
        let (_, route) = fleet.route(&body).await;
        let opus = candidate(&route, "anthropic/claude-opus-4.5");
        assert_eq!(opus["status"], "dropped");
        assert_eq!(opus["reason"], "matched by excluded_models");
    }
    // An exclusion that covers the whole allow list leaves nothing.
    fleet.mocks.iter().for_each(|(_, mock)| mock.reset_calls());
    let nothing = auto_body(
        PYTHON_BUG,
        Some(json!({"allowed_models": ["anthropic/*"], "excluded_models": ["*/claude-*"]})),
    );
    assert_error(&fleet, &nothing, 404, NO_MODELS).await;
}

#[tokio::test]
async fn no_model_left_is_a_404_with_openrouters_message() {
    let fleet = DemoFleet::start().await;
    for plugin in [
        json!({"allowed_models": ["nobody/*"]}),
        json!({"allowed_models": ["openai/gpt-4o"]}),
        json!({"excluded_models": ["*/*"]}),
    ] {
        for stream in [false, true] {
            let mut body = auto_body(TRANSLATION, Some(plugin.clone()));
            body["stream"] = json!(stream);
            let error = assert_error(&fleet, &body, 404, NO_MODELS).await;
            assert_eq!(error["error"]["message"], NO_MODELS, "{error}");
            assert_eq!(
                error["error"]["metadata"]["availability"]["code"],
                "no_models_match"
            );
            let (status, route) = fleet.route(&body).await;
            assert_eq!(status, 404);
            assert_eq!(route["error"]["message"], NO_MODELS);
        }
    }
}

#[tokio::test]
async fn invalid_patterns_are_a_400_that_names_them() {
    let fleet = DemoFleet::start().await;
    for (key, pattern) in [
        ("allowed_models", "openai/[gpt"),
        ("allowed_models", "anthropic/{claude"),
        ("excluded_models", "openai/gpt-5[]"),
        ("allowed_models", ""),
    ] {
        let body = auto_body(LIMERICK, Some(json!({ key: ["anthropic/*", pattern] })));
        let error = assert_error(&fleet, &body, 400, &format!("`{pattern}`")).await;
        assert_eq!(error["error"]["metadata"]["pattern"], pattern, "{error}");
        assert_eq!(error["error"]["metadata"]["error_type"], "invalid_request");
    }
    // Not a list, or not strings: the field is named.
    for (plugin, field) in [
        (
            json!({"allowed_models": "openai/*"}),
            "plugins[0].allowed_models",
        ),
        (
            json!({"excluded_models": ["a/*", 3]}),
            "plugins[0].excluded_models[1]",
        ),
    ] {
        let body = auto_body(LIMERICK, Some(plugin));
        let error = assert_error(&fleet, &body, 400, &format!("`{field}`")).await;
        assert_eq!(error["error"]["metadata"]["field"], field);
    }
}

#[tokio::test]
async fn bad_dial_values_are_a_400_that_names_the_field() {
    let fleet = DemoFleet::start().await;
    for value in [
        json!(11),
        json!("x"),
        json!(2.5),
        json!(-1),
        json!("7"),
        json!(true),
    ] {
        let body = auto_body(LIMERICK, Some(json!({"cost_quality_tradeoff": value})));
        let error = assert_error(&fleet, &body, 400, "`plugins[0].cost_quality_tradeoff`").await;
        assert_eq!(
            error["error"]["metadata"]["field"],
            "plugins[0].cost_quality_tradeoff"
        );
    }
    // The index is the plugin's position; other plugins are left alone.
    let mut body = auto_body(LIMERICK, None);
    body["plugins"] = json!([{"id": "web"}, {"id": "auto-router", "cost_tier": "cheap"}]);
    let error = assert_error(&fleet, &body, 400, "`plugins[1].cost_tier`").await;
    assert_eq!(error["error"]["metadata"]["field"], "plugins[1].cost_tier");
    // An explicit model does not read the plugin.
    let mut explicit = body.clone();
    explicit["model"] = json!("openai/gpt-5-mini");
    assert_eq!(fleet.chat(&explicit).await.status(), 200);
}

#[tokio::test]
async fn cost_tier_is_accepted_as_a_shorthand_for_the_dial() {
    let fleet = DemoFleet::start().await;
    for (tier, dial) in [
        ("low", 9),
        ("medium", 7),
        ("high", 5),
        ("xhigh", 3),
        ("max", 1),
    ] {
        let body = auto_body(PROOF, Some(json!({"cost_tier": tier})));
        let (status, route) = fleet.route(&body).await;
        assert_eq!(status, 200, "{route}");
        assert_eq!(route["settings"]["cost_quality_tradeoff"], dial);
        let response = fleet.chat(&body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "x-turnout-auto-tradeoff"),
            Some(dial.to_string().as_str())
        );
        assert_eq!(requested(&response)[0], route["requested_models"][0]);
    }
    // The tier wins over a number in the same plugin (OpenRouter's current rule).
    let both = auto_body(
        PROOF,
        Some(json!({"cost_tier": "max", "cost_quality_tradeoff": 10})),
    );
    let (_, route) = fleet.route(&both).await;
    assert_eq!(route["settings"]["cost_quality_tradeoff"], 1);
}

#[tokio::test]
async fn different_prompts_pick_different_models_at_the_default_dial() {
    let fleet = DemoFleet::start().await;
    let mut chosen = Vec::new();
    for (prompt, task) in [
        (PYTHON_BUG, "code"),
        (LIMERICK, "creative_writing"),
        (PROOF, "math"),
        (TRANSLATION, "translation"),
    ] {
        let response = fleet.chat(&auto_body(prompt, None)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-turnout-auto-tradeoff"), Some("7"));
        assert_eq!(header(&response, "x-turnout-auto-task"), Some(task));
        let model = header(&response, "x-turnout-served-model")
            .unwrap()
            .to_owned();
        println!("{task:>16}: {model}");
        chosen.push(model);
    }
    let mut distinct = chosen.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() > 1, "every prompt got {chosen:?}");
}

#[tokio::test]
async fn dial_zero_picks_the_best_model_and_dial_ten_the_cheapest() {
    // The same prompt again and again would read the mock's cache and pin its model.
    let fleet = DemoFleet::start_with(crate::sessions::NO_STICKINESS).await;
    for prompt in [PYTHON_BUG, LIMERICK, PROOF, TRANSLATION] {
        let mut previous_cost = f64::INFINITY;
        for dial in 0..=10 {
            let body = auto_body(prompt, Some(json!({"cost_quality_tradeoff": dial})));
            let (status, route) = fleet.route(&body).await;
            assert_eq!(status, 200);
            let kept = kept(&route);
            let model = served(&fleet, &body).await;
            let chosen = candidate(&route, &model);
            assert_eq!(chosen["rank"], 1, "{model}: {route}");
            let quality = number(&chosen["expected_quality"]);
            let cost = number(&chosen["expected_cost_usd"]);
            if dial == 0 {
                let best = kept
                    .iter()
                    .map(|it| number(&it["expected_quality"]))
                    .fold(f64::MIN, f64::max);
                assert_eq!(quality, best, "dial 0 chose {model}");
            }
            if dial == 10 {
                let cheapest = kept
                    .iter()
                    .map(|it| number(&it["expected_cost_usd"]))
                    .fold(f64::MAX, f64::min);
                assert_eq!(cost, cheapest, "dial 10 chose {model}");
                assert_eq!(route["settings"]["lambda"], Value::Null);
            }
            // Raising the dial never picks a more expensive model.
            assert!(cost <= previous_cost, "dial {dial} chose {model} at {cost}");
            previous_cost = cost;
        }
    }
}
