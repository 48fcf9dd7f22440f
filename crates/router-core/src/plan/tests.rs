//! Plan building: model fallbacks, skips before any call, capability and context checks.

use super::*;
use crate::catalog::{Capabilities, Model, Pricing};
use crate::request::ChatRequest;

fn endpoint(provider: &str, context_length: u32, capabilities: Capabilities) -> Endpoint {
    Endpoint {
        provider: provider.to_owned(),
        upstream_model: "m".to_owned(),
        pricing: Pricing::default(),
        context_length,
        max_output: None,
        supported_parameters: Vec::new(),
        capabilities,
        traits: Default::default(),
    }
}

fn model(id: &str, endpoints: Vec<Endpoint>) -> Model {
    Model {
        id: id.into(),
        name: id.to_owned(),
        created: 0,
        description: String::new(),
        endpoints,
    }
}

const TOOLS: Capabilities = Capabilities {
    tools: true,
    vision: false,
    structured_output: false,
};

fn catalog() -> Catalog {
    Catalog::new(vec![
        model(
            "a/big",
            vec![
                endpoint("p1", 10_000, TOOLS),
                endpoint("p2", 10_000, Capabilities::default()),
            ],
        ),
        model("a/small", vec![endpoint("p3", 100, TOOLS)]),
        model(
            "a/plain",
            vec![endpoint("p4", 10_000, Capabilities::default())],
        ),
    ])
    .unwrap()
}

fn request<'a>(model: Option<&'a str>, models: &'a [Cow<'a, str>]) -> PlanRequest<'a> {
    PlanRequest {
        model,
        models,
        features: RequestFeatures::default(),
        options: PlanOptions::default(),
    }
}

fn providers(catalog: &Catalog, plan: &Plan) -> Vec<String> {
    plan.steps()
        .map(|step| match step {
            Step::Call(it) => catalog
                .model(it.model)
                .endpoint(it.endpoint)
                .provider
                .clone(),
            Step::Skip(it) => format!("skip {}", catalog.model(it.model).id),
        })
        .collect()
}

#[test]
fn one_model_tries_each_endpoint_in_order() {
    let catalog = catalog();
    let plan = for_model(&catalog, "a/big").unwrap();
    assert_eq!(providers(&catalog, &plan), ["p1", "p2"]);
    assert_eq!(
        plan.attempts.iter().map(|it| it.reason).collect::<Vec<_>>(),
        [AttemptReason::Requested, AttemptReason::FallbackProvider]
    );
    assert_eq!(
        for_model(&catalog, "a/c"),
        Err(PlanError::UnknownModel("a/c".to_owned()))
    );
}

#[test]
fn model_first_then_models_without_duplicates() {
    let catalog = catalog();
    let models = [
        Cow::from("a/plain"),
        Cow::from("a/big"),
        Cow::from("a/plain"),
    ];
    let plan = build(&catalog, &request(Some("a/big"), &models)).unwrap();
    assert_eq!(providers(&catalog, &plan), ["p1", "p2", "p4"]);
    assert_eq!(plan.requested, [ModelIdx(0), ModelIdx(2)]);
    assert_eq!(
        plan.attempts[2].reason,
        AttemptReason::FallbackModel { position: 1 }
    );

    let plan = build(&catalog, &request(None, &models)).unwrap();
    assert_eq!(providers(&catalog, &plan), ["p4", "p1", "p2"]);
    assert_eq!(plan.attempts[0].reason, AttemptReason::Requested);
}

#[test]
fn limits_and_unknown_models_are_errors() {
    let catalog = catalog();
    let three = [
        Cow::from("a/plain"),
        Cow::from("a/small"),
        Cow::from("a/plain"),
    ];
    assert!(build(&catalog, &request(Some("a/big"), &three)).is_ok());
    let four = [
        Cow::from("a/plain"),
        Cow::from("a/small"),
        Cow::from("a/plain"),
        Cow::from("a/big"),
    ];
    let err = build(&catalog, &request(None, &four)).unwrap_err();
    assert_eq!(err, PlanError::TooManyModels { max: 3, given: 4 });
    assert_eq!(
        err.to_string(),
        "'models' array must have 3 items or fewer."
    );
    assert_eq!(
        build(&catalog, &request(None, &[])),
        Err(PlanError::NoModel)
    );
    assert_eq!(
        build(&catalog, &request(Some("a/big"), &[Cow::from("x/y")])),
        Err(PlanError::UnknownModel("x/y".to_owned()))
    );
}

#[test]
fn skips_models_that_cannot_take_the_request() {
    let catalog = catalog();
    let models = [Cow::from("a/big"), Cow::from("a/plain")];
    let mut req = request(Some("a/small"), &models);
    req.features.prompt_tokens_estimate = 90;
    req.features.max_output_tokens = Some(50);
    req.features.needs_tools = true;
    let plan = build(&catalog, &req).unwrap();
    // a/small is too small; a/big's second endpoint and a/plain lack tools.
    assert_eq!(
        providers(&catalog, &plan),
        ["skip a/small", "p1", "skip a/plain"]
    );
    assert_eq!(
        plan.skipped[0].reason,
        SkipReason::ContextLength {
            needed: 140,
            limit: 100
        }
    );
    assert_eq!(
        plan.skipped[1].reason,
        SkipReason::MissingCapability(Capability::Tools)
    );
    assert_eq!(plan.skipped[1].before_attempt, 1);
    // The first usable endpoint of the second model is a model fallback, not a provider one.
    assert_eq!(
        plan.attempts[0].reason,
        AttemptReason::FallbackModel { position: 1 }
    );
    assert_eq!(plan.len(), 3);
    assert_eq!(
        plan.skipped[0].reason.failure_class(),
        FailureClass::ContextLength
    );
    assert_eq!(plan.skipped[1].reason.status(), 404);
    assert_eq!(
        plan.skipped[1].reason.to_string(),
        "No endpoints found that support tool use."
    );
}

#[test]
fn without_max_tokens_the_prompt_must_fit() {
    let catalog = catalog();
    let mut req = request(Some("a/small"), &[]);
    req.features.prompt_tokens_estimate = 99;
    assert_eq!(build(&catalog, &req).unwrap().attempts.len(), 1);
    req.features.prompt_tokens_estimate = 100;
    let plan = build(&catalog, &req).unwrap();
    assert!(plan.attempts.is_empty());
    assert_eq!(
        plan.skipped[0].reason,
        SkipReason::ContextLength {
            needed: 101,
            limit: 100
        }
    );
}

#[test]
fn plans_from_a_parsed_request() {
    let catalog = catalog();
    let body =
        br#"{"model":"a/plain","models":["a/big"],"messages":[{"role":"user","content":"hi"}]}"#;
    let chat = ChatRequest::parse(body).unwrap();
    let plan = build(
        &catalog,
        &PlanRequest::from_chat(&chat, PlanOptions::default()),
    )
    .unwrap();
    assert_eq!(providers(&catalog, &plan), ["p4", "p1", "p2"]);
}
