//! Provider selection in plans: preferences, variants, health and load balancing.

use std::cell::Cell;

use super::*;
use crate::catalog::{Capabilities, DataCollection, EndpointTraits, Model, Pricing};
use crate::health::{Observed, Status};
use crate::request::ChatRequest;

/// An endpoint of `provider` (display name `Provider`) at `price` USD per million prompt and
/// completion tokens.
fn endpoint(provider: &str, price: f64) -> Endpoint {
    let mut display = provider.to_owned();
    display[..1].make_ascii_uppercase();
    Endpoint {
        provider: provider.to_owned(),
        upstream_model: format!("{provider}-m"),
        pricing: Pricing {
            prompt: price / 1e6,
            completion: price / 1e6,
            ..Pricing::default()
        },
        context_length: 10_000,
        max_output: Some(1_000),
        supported_parameters: vec!["temperature".to_owned(), "max_tokens".to_owned()],
        capabilities: Capabilities::default(),
        traits: EndpointTraits {
            provider_name: display,
            ..EndpointTraits::default()
        },
    }
}

fn catalog() -> Catalog {
    let mut cheap = endpoint("cheap", 1.0);
    cheap.traits.quantization = Some("fp8".to_owned());
    cheap.traits.throughput = Some(20.0);
    cheap.traits.latency = Some(0.2);
    let mut mid = endpoint("mid", 2.0);
    mid.traits.data_collection = DataCollection::Deny;
    mid.traits.throughput = Some(90.0);
    mid.traits.latency = Some(0.9);
    let mut dear = endpoint("dear/turbo", 3.0);
    dear.traits.zdr = true;
    dear.traits.data_collection = DataCollection::Deny;
    dear.traits.throughput = Some(50.0);
    dear.traits.latency = Some(0.5);
    dear.supported_parameters.push("top_k".to_owned());
    let model = |id: &str, endpoints| Model {
        id: id.into(),
        name: id.to_owned(),
        created: 0,
        description: String::new(),
        endpoints,
    };
    Catalog::new(vec![
        model("a/three", vec![mid, cheap, dear]),
        model("a/free", vec![endpoint("paid", 1.0), endpoint("gift", 0.0)]),
        model("a/other", vec![endpoint("solo", 0.5)]),
    ])
    .unwrap()
}

struct Health(Vec<(&'static str, Observed)>, Cell<usize>);

impl HealthView for Health {
    fn observe(&self, model: ModelIdx, endpoint: EndpointIdx) -> Observed {
        self.1.set(self.1.get() + 1);
        let catalog = catalog();
        let provider = &catalog.model(model).endpoint(endpoint).provider;
        self.0
            .iter()
            .find(|(name, _)| name == provider)
            .map_or_else(Observed::default, |(_, observed)| *observed)
    }
}

fn plan_with(
    model: &str,
    prefs: &str,
    seed: u64,
    health: &dyn HealthView,
) -> Result<Vec<String>, PlanError> {
    let catalog = catalog();
    let preferences = Preferences::parse(prefs).unwrap();
    let request = PlanRequest {
        model: Some(model),
        models: &[],
        features: RequestFeatures::default(),
        options: PlanOptions::default(),
    };
    let selection = Selection {
        preferences: &preferences,
        parameters: &[],
        health,
        seed,
        load_balance: true,
    };
    let plan = build_with(&catalog, &request, &selection)?;
    Ok(plan
        .attempts
        .iter()
        .map(|it| {
            catalog
                .model(it.model)
                .endpoint(it.endpoint)
                .provider
                .clone()
        })
        .collect())
}

fn plan(model: &str, prefs: &str) -> Result<Vec<String>, PlanError> {
    plan_with(model, prefs, 7, &AllHealthy)
}

#[test]
fn sort_orders_by_price_throughput_and_latency() {
    assert_eq!(
        plan("a/three", r#"{"sort":"price"}"#).unwrap(),
        ["cheap", "mid", "dear/turbo"]
    );
    assert_eq!(
        plan("a/three", r#"{"sort":"throughput"}"#).unwrap(),
        ["mid", "dear/turbo", "cheap"]
    );
    assert_eq!(
        plan("a/three", r#"{"sort":{"by":"latency"}}"#).unwrap(),
        ["cheap", "dear/turbo", "mid"]
    );
    assert_eq!(
        plan("a/three:nitro", "{}").unwrap(),
        ["mid", "dear/turbo", "cheap"]
    );
    assert_eq!(
        plan("a/three:floor", "{}").unwrap(),
        ["cheap", "mid", "dear/turbo"]
    );
}

#[test]
fn measured_speed_wins_over_configured() {
    let health = Health(
        vec![(
            "cheap",
            Observed {
                throughput: Some([500.0; 4]),
                ..Observed::default()
            },
        )],
        Cell::new(0),
    );
    assert_eq!(
        plan_with("a/three", r#"{"sort":"throughput"}"#, 1, &health).unwrap(),
        ["cheap", "mid", "dear/turbo"]
    );
}

#[test]
fn order_puts_named_providers_first_by_slug_or_display_name() {
    assert_eq!(
        plan("a/three", r#"{"order":["DEAR","Mid"]}"#).unwrap(),
        ["dear/turbo", "mid", "cheap"]
    );
    assert_eq!(
        plan("a/three", r#"{"order":["mid"],"allow_fallbacks":false}"#).unwrap(),
        ["mid"]
    );
    assert_eq!(
        plan("a/three", r#"{"sort":"price","allow_fallbacks":false}"#).unwrap(),
        ["cheap"]
    );
}

#[test]
fn filters_remove_endpoints() {
    assert_eq!(
        plan("a/three", r#"{"sort":"price","only":["cheap","dear"]}"#).unwrap(),
        ["cheap", "dear/turbo"]
    );
    assert_eq!(
        plan("a/three", r#"{"sort":"price","ignore":["Cheap"]}"#).unwrap(),
        ["mid", "dear/turbo"]
    );
    assert_eq!(
        plan("a/three", r#"{"quantizations":["fp8"]}"#).unwrap(),
        ["cheap"]
    );
    assert_eq!(
        plan("a/three", r#"{"sort":"price","quantizations":["unknown"]}"#).unwrap(),
        ["mid", "dear/turbo"]
    );
    assert_eq!(
        plan("a/three", r#"{"sort":"price","data_collection":"deny"}"#).unwrap(),
        ["mid", "dear/turbo"]
    );
    assert_eq!(plan("a/three", r#"{"zdr":true}"#).unwrap(), ["dear/turbo"]);
    assert_eq!(
        plan(
            "a/three",
            r#"{"sort":"price","max_price":{"prompt":"2","completion":2}}"#
        )
        .unwrap(),
        ["cheap", "mid"]
    );
    assert_eq!(plan("a/free:free", "{}").unwrap(), ["gift"]);
}

#[test]
fn filters_that_leave_nothing_say_which_removed_what() {
    let err = plan("a/three", r#"{"only":["solo"]}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "No endpoints found that match your provider preferences for a/three: \
         `provider.only` removed mid, cheap, dear/turbo."
    );
    let err = plan("a/three", r#"{"zdr":true,"ignore":["dear"]}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "No endpoints found that match your provider preferences for a/three: \
         `provider.zdr: true` removed mid, cheap; `provider.ignore` removed dear/turbo."
    );
    assert!(matches!(
        plan("a/other:free", "{}"),
        Err(PlanError::NoEndpointsMatch(_))
    ));
}

#[test]
fn unsupported_variants_are_named() {
    for variant in ["online", "thinking", "exacto", "extended"] {
        let err = plan(&format!("a/three:{variant}"), "{}").unwrap_err();
        assert_eq!(
            err,
            PlanError::UnsupportedVariant {
                model: format!("a/three:{variant}"),
                variant: variant.to_owned()
            }
        );
    }
    assert_eq!(
        plan("a/nope:free", "{}"),
        Err(PlanError::UnknownModel("a/nope:free".to_owned()))
    );
}

#[test]
fn cooling_down_goes_last_and_unstable_after_stable() {
    let observed = |status| Observed {
        status,
        ..Observed::default()
    };
    let health = Health(
        vec![
            ("cheap", observed(Status::CoolingDown)),
            ("mid", observed(Status::Unstable)),
        ],
        Cell::new(0),
    );
    for seed in 0..50 {
        assert_eq!(
            plan_with("a/three", "{}", seed, &health).unwrap(),
            ["dear/turbo", "mid", "cheap"]
        );
    }
    assert_eq!(
        plan_with("a/three", r#"{"sort":"price"}"#, 0, &health).unwrap(),
        ["mid", "dear/turbo", "cheap"]
    );
}

#[test]
fn soft_preferences_move_slow_endpoints_back() {
    assert_eq!(
        plan(
            "a/three",
            r#"{"sort":"price","preferred_min_throughput":40}"#
        )
        .unwrap(),
        ["mid", "dear/turbo", "cheap"]
    );
    assert_eq!(
        plan(
            "a/three",
            r#"{"sort":"price","preferred_max_latency":{"p50":0.6}}"#
        )
        .unwrap(),
        ["cheap", "dear/turbo", "mid"]
    );
}

#[test]
fn request_checks_skip_endpoints_with_their_reason() {
    let catalog = catalog();
    let preferences = Preferences::parse(r#"{"require_parameters":true,"sort":"price"}"#).unwrap();
    let body = br#"{"model":"a/three","messages":[{"role":"user","content":"hi"}],"top_k":3,"max_tokens":500}"#;
    let chat = ChatRequest::parse(body).unwrap();
    let request = PlanRequest::from_chat(&chat, PlanOptions::default());
    let selection = Selection {
        preferences: &preferences,
        parameters: &chat.passthrough,
        health: &AllHealthy,
        seed: 0,
        load_balance: true,
    };
    let plan = build_with(&catalog, &request, &selection).unwrap();
    assert_eq!(plan.attempts.len(), 1);
    assert_eq!(plan.excluded.len(), 2);
    assert_eq!(
        plan.excluded[0].reason,
        ExcludeReason::Request(SkipReason::UnsupportedParameter("top_k"))
    );
    assert_eq!(plan.excluded[0].reason.code(), "require_parameters");

    // `max_tokens` above every endpoint's output limit skips the model.
    let body =
        br#"{"model":"a/three","messages":[{"role":"user","content":"hi"}],"max_tokens":5000}"#;
    let chat = ChatRequest::parse(body).unwrap();
    let request = PlanRequest::from_chat(&chat, PlanOptions::default());
    let plan = build_with(&catalog, &request, &Selection::configured()).unwrap();
    assert!(plan.attempts.is_empty());
    assert_eq!(
        plan.skipped[0].reason,
        SkipReason::MaxOutput {
            requested: 5000,
            limit: 1000
        }
    );
    assert_eq!(plan.skipped[0].reason.status(), 400);
}

#[test]
fn partition_none_sorts_every_model_together() {
    let catalog = catalog();
    let preferences = Preferences::parse(r#"{"sort":{"by":"price","partition":"none"}}"#).unwrap();
    let models = [Cow::from("a/other")];
    let request = PlanRequest {
        model: Some("a/three"),
        models: &models,
        features: RequestFeatures::default(),
        options: PlanOptions::default(),
    };
    let selection = Selection {
        preferences: &preferences,
        ..Selection::configured()
    };
    let plan = build_with(&catalog, &request, &selection).unwrap();
    let steps: Vec<_> = plan
        .attempts
        .iter()
        .map(|it| {
            (
                catalog
                    .model(it.model)
                    .endpoint(it.endpoint)
                    .provider
                    .as_str(),
                it.reason,
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("solo", AttemptReason::FallbackModel { position: 1 }),
            ("cheap", AttemptReason::Requested),
            ("mid", AttemptReason::FallbackProvider),
            ("dear/turbo", AttemptReason::FallbackProvider),
        ]
    );
    // With the default partition, the primary's endpoints come first.
    let preferences = Preferences::parse(r#"{"sort":"price"}"#).unwrap();
    let selection = Selection {
        preferences: &preferences,
        ..Selection::configured()
    };
    let plan = build_with(&catalog, &request, &selection).unwrap();
    assert_eq!(
        plan.attempts[3].reason,
        AttemptReason::FallbackModel { position: 1 }
    );
}

#[test]
fn load_balancing_draws_with_the_seed() {
    let first = |seed| plan_with("a/three", "{}", seed, &AllHealthy).unwrap();
    assert_eq!(first(3), first(3));
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let plan = first(seed);
        // After the draw, the rest by price.
        let mut rest = plan[1..].to_vec();
        let by_price = ["cheap", "mid", "dear/turbo"];
        rest.sort_by_key(|it| by_price.iter().position(|p| p == it));
        assert_eq!(plan[1..], rest[..]);
        seen.insert(plan[0].clone());
    }
    assert_eq!(seen.len(), 3, "every endpoint is drawn first sometimes");
}
