//! Property tests of the plan builder, the fallback policy and pricing, through the public API.
//!
//! Every property compares the code under test with a small reference written here (what the
//! issue says the behaviour is), over random catalogs, requests, policies and usages.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns unwrap what the strategies guarantee"
)]

use std::borrow::Cow;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use router_core::catalog::{Capabilities, Catalog, Endpoint, Model, ModelIdx, Pricing};
use router_core::fallback::{FailureClass, FallbackPolicy};
use router_core::plan::{self, Plan, PlanError, PlanOptions, PlanRequest, SkipReason, Step};
use router_core::pricing::{self, Usage};
use router_core::request::RequestFeatures;
use router_core::response::FinishReason;

// === strategies ===

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (
        prop::sample::select(vec![50u32, 100, 200, 400, 1000]),
        any::<[bool; 3]>(),
    )
        .prop_map(
            |(context_length, [tools, vision, structured_output])| Endpoint {
                provider: format!("p{context_length}"),
                upstream_model: "m".to_owned(),
                pricing: Pricing::default(),
                context_length,
                max_output: None,
                supported_parameters: Vec::new(),
                capabilities: Capabilities {
                    tools,
                    vision,
                    structured_output,
                },
                traits: Default::default(),
            },
        )
}

fn catalog() -> impl Strategy<Value = Catalog> {
    prop::collection::vec(prop::collection::vec(endpoint(), 1..4), 1..6).prop_map(|models| {
        let models = models
            .into_iter()
            .enumerate()
            .map(|(idx, endpoints)| Model {
                id: format!("a/m{idx}").into(),
                name: format!("M{idx}"),
                created: 0,
                description: String::new(),
                endpoints,
            })
            .collect();
        Catalog::new(models).unwrap()
    })
}

/// Prompt estimate and `max_tokens`: random, or exactly at (or one over) a context length.
fn sizes() -> impl Strategy<Value = (u32, Option<u32>)> {
    prop_oneof![
        (0u32..1200, prop::option::of(1u32..400)),
        (
            prop::sample::select(vec![50u32, 100, 200, 400, 1000]),
            1u32..10,
            any::<bool>()
        )
            .prop_map(|(context, output, over)| (context - output + u32::from(over), Some(output))),
    ]
}

fn features() -> impl Strategy<Value = RequestFeatures> {
    (any::<[bool; 3]>(), sizes()).prop_map(
        |([needs_tools, needs_vision, needs_structured_output], (prompt, max_output))| {
            RequestFeatures {
                needs_tools,
                needs_vision,
                needs_structured_output,
                prompt_tokens_estimate: prompt,
                max_output_tokens: max_output,
            }
        },
    )
}

/// Model ids as a client might send them: mostly `a/m0`..`a/m5` (some of which may not exist in
/// a small catalog), sometimes something unknown.
fn model_id() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0usize..6).prop_map(|idx| format!("a/m{idx}")),
        1 => Just("x/unknown".to_owned()),
    ]
}

#[derive(Debug, Clone)]
struct Input {
    model: Option<String>,
    models: Vec<String>,
    features: RequestFeatures,
    options: PlanOptions,
}

fn input() -> impl Strategy<Value = Input> {
    (
        prop::option::of(model_id()),
        prop::collection::vec(model_id(), 0..6),
        features(),
        0usize..5,
        1u32..40,
    )
        .prop_map(
            |(model, models, features, max_models, default_output_tokens)| Input {
                model,
                models,
                features,
                options: PlanOptions {
                    max_models,
                    default_output_tokens,
                },
            },
        )
}

fn class_set() -> impl Strategy<Value = Vec<FailureClass>> {
    prop::collection::vec(prop::sample::select(FailureClass::ALL.to_vec()), 0..6)
}

fn pricing() -> impl Strategy<Value = Pricing> {
    let price = || 0.0f64..1e-3;
    (
        price(),
        price(),
        prop::option::of(price()),
        prop::option::of(price()),
        prop::option::of(price()),
        price(),
    )
        .prop_map(
            |(prompt, completion, cache_read, cache_write, reasoning, request)| Pricing {
                prompt,
                completion,
                cache_read,
                cache_write,
                reasoning,
                request,
            },
        )
}

fn usage() -> impl Strategy<Value = Usage> {
    let count = || 0u64..100_000;
    (count(), count(), count(), count(), count()).prop_map(
        |(
            prompt_tokens,
            completion_tokens,
            cached_tokens,
            cache_write_tokens,
            reasoning_tokens,
        )| {
            Usage {
                prompt_tokens,
                completion_tokens,
                total_tokens: prompt_tokens + completion_tokens,
                cached_tokens,
                cache_write_tokens,
                reasoning_tokens,
            }
        },
    )
}

fn finish_reason() -> impl Strategy<Value = Option<FinishReason>> {
    prop::option::of(prop::sample::select(vec![
        FinishReason::Stop,
        FinishReason::Length,
        FinishReason::ToolCalls,
        FinishReason::ContentFilter,
        FinishReason::Error,
    ]))
}

// === reference model of the plan ===

/// Whether the endpoint can take the request, written from the words.
fn reference_can_take(input: &Input, endpoint: &Endpoint) -> bool {
    let features = &input.features;
    let caps = &endpoint.capabilities;
    let capable = (!features.needs_tools || caps.tools)
        && (!features.needs_vision || caps.vision)
        && (!features.needs_structured_output || caps.structured_output);
    let output = features
        .max_output_tokens
        .unwrap_or(input.options.default_output_tokens);
    let needed = u64::from(features.prompt_tokens_estimate) + u64::from(output);
    capable && needed <= u64::from(endpoint.context_length)
}

fn build(catalog: &Catalog, input: &Input) -> Result<Plan, PlanError> {
    let models: Vec<Cow<'_, str>> = input
        .models
        .iter()
        .map(|it| Cow::from(it.as_str()))
        .collect();
    plan::build(
        catalog,
        &PlanRequest {
            model: input.model.as_deref(),
            models: &models,
            features: input.features,
            options: input.options,
        },
    )
}

fn check_plan(catalog: &Catalog, input: &Input) -> Result<(), TestCaseError> {
    let result = build(catalog, input);
    prop_assert_eq!(&result, &build(catalog, input), "not deterministic");

    let named: Vec<&str> = input
        .model
        .iter()
        .chain(&input.models)
        .map(String::as_str)
        .collect();
    if input.models.len() > input.options.max_models {
        prop_assert!(
            matches!(result, Err(PlanError::TooManyModels { .. })),
            "{result:?}"
        );
        return Ok(());
    }
    if let Some(unknown) = named.iter().find(|id| catalog.find(id).is_none()) {
        prop_assert_eq!(result, Err(PlanError::UnknownModel((*unknown).to_owned())));
        return Ok(());
    }
    if named.is_empty() {
        prop_assert_eq!(result, Err(PlanError::NoModel));
        return Ok(());
    }
    let plan = result.map_err(|err| TestCaseError::fail(format!("unexpected {err}")))?;

    // `requested`: the named models, first occurrence wins, order kept, never over the limit.
    let mut expected_requested: Vec<ModelIdx> = Vec::new();
    for id in &named {
        let idx = catalog.find(id).unwrap();
        if !expected_requested.contains(&idx) {
            expected_requested.push(idx);
        }
    }
    prop_assert_eq!(&plan.requested, &expected_requested);
    prop_assert!(plan.requested.len() <= input.options.max_models + 1);

    // Steps, in order: for each requested model, its usable endpoints in configured order, or one
    // skip if it has none. That is order kept, no duplicates, only configured models/endpoints.
    let mut expected_steps = Vec::new();
    for &model_idx in &expected_requested {
        let endpoints = &catalog.model(model_idx).endpoints;
        let usable: Vec<usize> = (0..endpoints.len())
            .filter(|idx| reference_can_take(input, &endpoints[*idx]))
            .collect();
        if usable.is_empty() {
            expected_steps.push((model_idx, None));
        }
        expected_steps.extend(usable.into_iter().map(|idx| (model_idx, Some(idx))));
    }
    let steps: Vec<(ModelIdx, Option<usize>)> = plan
        .steps()
        .map(|step| match step {
            Step::Call(attempt) => (attempt.model, Some(attempt.endpoint.0)),
            Step::Skip(skipped) => (skipped.model, None),
        })
        .collect();
    prop_assert_eq!(&steps, &expected_steps);
    prop_assert_eq!(plan.len(), steps.len());
    let calls: Vec<_> = steps.iter().filter(|it| it.1.is_some()).copied().collect();
    let attempts: Vec<_> = plan
        .attempts
        .iter()
        .map(|it| (it.model, Some(it.endpoint.0)))
        .collect();
    prop_assert_eq!(attempts, calls, "`attempts` are the calls of `steps()`");

    // A skip's reason: context length when some endpoint has the capabilities, with the largest
    // such limit; a missing capability otherwise.
    for skipped in &plan.skipped {
        let endpoints = &catalog.model(skipped.model).endpoints;
        let capable_limit = endpoints
            .iter()
            .filter(|endpoint| {
                let relaxed = Input {
                    features: RequestFeatures {
                        prompt_tokens_estimate: 0,
                        max_output_tokens: Some(0),
                        ..input.features
                    },
                    ..input.clone()
                };
                reference_can_take(&relaxed, endpoint)
            })
            .map(|endpoint| endpoint.context_length)
            .max();
        match (skipped.reason, capable_limit) {
            (SkipReason::ContextLength { limit, needed }, Some(expected)) => {
                prop_assert_eq!(limit, expected);
                prop_assert!(needed > u64::from(limit));
            }
            (SkipReason::MissingCapability(_), None) => {}
            (reason, limit) => {
                return Err(TestCaseError::fail(format!("{reason:?} with {limit:?}")));
            }
        }
        prop_assert_eq!(
            plan.requested[skipped.position],
            skipped.model,
            "position is in `requested`"
        );
    }
    Ok(())
}

// === properties ===

proptest! {
    #[test]
    fn plan_matches_the_reference(catalog in catalog(), input in input()) {
        check_plan(&catalog, &input)?;
    }

    #[test]
    fn default_policy_falls_back_on_every_class(class in prop::sample::select(FailureClass::ALL.to_vec())) {
        prop_assert!(FallbackPolicy::default().should_fall_back(class));
    }

    #[test]
    fn except_removes_exactly_the_named_classes(named in class_set()) {
        let json = serde_json::json!({ "except": named.iter().map(|it| it.as_str()).collect::<Vec<_>>() });
        let parsed = FallbackPolicy::parse_json(&json.to_string()).unwrap();
        prop_assert_eq!(parsed, FallbackPolicy::except(named.iter().copied()));
        for class in FailureClass::ALL {
            prop_assert_eq!(parsed.should_fall_back(class), !named.contains(&class), "{}", class);
        }
    }

    #[test]
    fn on_keeps_exactly_the_named_classes(named in class_set()) {
        let json = serde_json::json!({ "on": named.iter().map(|it| it.as_str()).collect::<Vec<_>>() });
        let parsed = FallbackPolicy::parse_json(&json.to_string()).unwrap();
        for class in FailureClass::ALL {
            prop_assert_eq!(parsed.should_fall_back(class), named.contains(&class), "{}", class);
        }
    }

    #[test]
    fn cost_is_non_negative_and_insured_cases_are_free(
        pricing in pricing(),
        usage in usage(),
        finish in finish_reason(),
    ) {
        let cost = pricing::cost(&pricing, &usage);
        prop_assert!(cost.total >= 0.0 && cost.prompt >= 0.0 && cost.completion >= 0.0);
        prop_assert!((cost.total - (cost.prompt + cost.completion)).abs() <= 1e-12 * cost.total.max(1.0));
        let billed = pricing::billed_cost(&pricing, &usage, finish.as_ref());
        if usage.completion_tokens == 0 || finish == Some(FinishReason::Error) {
            prop_assert_eq!(billed.total, 0.0);
            prop_assert_eq!(billed.prompt, 0.0);
            prop_assert_eq!(billed.completion, 0.0);
        } else {
            prop_assert_eq!(billed, cost);
        }
    }

    #[test]
    fn cost_is_monotone_in_tokens(
        pricing in pricing(),
        usage in usage(),
        more_prompt in 0u64..10_000,
        more_completion in 0u64..10_000,
    ) {
        let base = pricing::billed_cost(&pricing, &usage, Some(&FinishReason::Stop)).total;
        let bigger = Usage {
            prompt_tokens: usage.prompt_tokens + more_prompt,
            completion_tokens: usage.completion_tokens + more_completion,
            ..usage
        };
        let grown = pricing::billed_cost(&pricing, &bigger, Some(&FinishReason::Stop)).total;
        prop_assert!(grown >= base, "{} < {}", grown, base);
    }
}

// === provider selection ===

mod selection {
    use std::borrow::Cow;

    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use router_core::catalog::{
        Capabilities, Catalog, DataCollection, Endpoint, EndpointIdx, EndpointTraits, Model,
        ModelIdx, Pricing,
    };
    use router_core::health::{Observed, Status};
    use router_core::plan::{
        self, AttemptReason, ExcludeReason, HealthView, PlanError, PlanOptions, PlanRequest,
        Preference, Selection,
    };
    use router_core::provider::{self, Preferences};
    use router_core::request::RequestFeatures;

    const PROVIDERS: [&str; 4] = ["alpha", "beta", "gamma", "delta/turbo"];

    fn endpoint(provider: &str, price: f64) -> Endpoint {
        Endpoint {
            provider: provider.to_owned(),
            upstream_model: "m".to_owned(),
            pricing: Pricing {
                prompt: price / 1e6,
                completion: price / 1e6,
                ..Pricing::default()
            },
            context_length: 1000,
            max_output: None,
            supported_parameters: Vec::new(),
            capabilities: Capabilities::default(),
            traits: EndpointTraits::default(),
        }
    }

    /// Statuses by (model, endpoint), row by row.
    struct Table(Vec<Vec<Status>>);

    impl HealthView for Table {
        fn observe(&self, model: ModelIdx, endpoint: EndpointIdx) -> Observed {
            Observed {
                status: self.0[model.0][endpoint.0],
                ..Observed::default()
            }
        }
    }

    #[test]
    fn load_balancing_picks_by_inverse_square_price_and_never_puts_the_failing_one_first() {
        let catalog = Catalog::new(vec![Model {
            id: "a/m".into(),
            name: "M".to_owned(),
            created: 0,
            description: String::new(),
            endpoints: vec![
                endpoint("one", 1.0),
                endpoint("two", 2.0),
                endpoint("three", 3.0),
            ],
        }])
        .unwrap();
        let health = Table(vec![vec![
            Status::Healthy,
            Status::Unstable,
            Status::Healthy,
        ]]);
        let preferences = Preferences::default();
        let request = PlanRequest {
            model: Some("a/m"),
            models: &[],
            features: RequestFeatures::default(),
            options: PlanOptions::default(),
        };
        const N: u64 = 10_000;
        let mut first_one = 0u64;
        for seed in 0..N {
            let selection = Selection {
                preferences: &preferences,
                parameters: &[],
                health: &health,
                seed: seed.wrapping_mul(0x2545_F491_4F6C_DD1D),
                load_balance: true,
            };
            let plan = plan::build_with(&catalog, &request, &selection).unwrap();
            let order: Vec<usize> = plan.attempts.iter().map(|it| it.endpoint.0).collect();
            // The failing endpoint is never before a healthy one: it is last.
            assert_eq!(order.len(), 3);
            assert_eq!(order[2], 1, "{order:?}");
            if order[0] == 0 {
                first_one += 1;
            }
        }
        // Weights 1/1² and 1/3²: P($1 first) = 1 / (1 + 1/9) = 0.9. Five standard deviations of
        // the count's binomial distribution.
        let p = 0.9;
        let expected = p * N as f64;
        let tolerance = 5.0 * (N as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (first_one as f64 - expected).abs() <= tolerance,
            "{first_one} of {N} plans put $1 first; expected {expected} ± {tolerance}"
        );
    }

    #[derive(Debug, Clone)]
    struct Case {
        catalog: Catalog,
        statuses: Vec<Vec<Status>>,
        preferences: serde_json::Value,
        models: Vec<String>,
        seed: u64,
    }

    fn traits() -> impl Strategy<Value = EndpointTraits> {
        (
            prop::option::of(prop::sample::select(vec!["fp8", "bf16"])),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(quantization, deny, zdr)| EndpointTraits {
                quantization: quantization.map(str::to_owned),
                data_collection: if deny {
                    DataCollection::Deny
                } else {
                    DataCollection::Allow
                },
                zdr,
                ..EndpointTraits::default()
            })
    }

    fn case() -> impl Strategy<Value = Case> {
        let one_endpoint = (
            prop::sample::select(PROVIDERS.to_vec()),
            0u32..5,
            traits(),
            prop::sample::select(vec![
                Status::Healthy,
                Status::Unstable,
                Status::CoolingDown,
                Status::Probe,
            ]),
        );
        let model = prop::collection::vec(one_endpoint, 1..5);
        let names = || {
            prop::collection::vec(
                prop::sample::select(vec!["alpha", "BETA", "gamma", "delta"]),
                0..3,
            )
        };
        let preferences = (
            prop::option::of(names()),
            prop::option::of(names()),
            prop::option::of(names()),
            prop::option::of(any::<bool>()),
            prop::option::of(prop::sample::select(vec!["price", "throughput", "latency"])),
            prop::option::of(any::<bool>()),
            prop::option::of(0u32..5),
            any::<bool>(),
        )
            .prop_map(
                |(order, only, ignore, allow_fallbacks, sort, none, max_price, deny)| {
                    let mut prefs = serde_json::Map::new();
                    if let Some(it) = order {
                        prefs.insert("order".into(), it.into());
                    }
                    if let Some(it) = only {
                        prefs.insert("only".into(), it.into());
                    }
                    if let Some(it) = ignore {
                        prefs.insert("ignore".into(), it.into());
                    }
                    if let Some(it) = allow_fallbacks {
                        prefs.insert("allow_fallbacks".into(), it.into());
                    }
                    if let Some(by) = sort {
                        let partition = if none == Some(true) { "none" } else { "model" };
                        prefs.insert(
                            "sort".into(),
                            serde_json::json!({"by": by, "partition": partition}),
                        );
                    }
                    if let Some(it) = max_price {
                        prefs.insert(
                            "max_price".into(),
                            serde_json::json!({"prompt": it.to_string()}),
                        );
                    }
                    if deny {
                        prefs.insert("data_collection".into(), "deny".into());
                    }
                    serde_json::Value::Object(prefs)
                },
            );
        (
            prop::collection::vec(model, 1..4),
            preferences,
            prop::collection::vec(0usize..4, 1..4),
            any::<u64>(),
        )
            .prop_map(|(models, preferences, named, seed)| {
                let statuses = models
                    .iter()
                    .map(|endpoints| endpoints.iter().map(|it| it.3).collect())
                    .collect();
                let n_models = models.len();
                let models: Vec<Model> = models
                    .into_iter()
                    .enumerate()
                    .map(|(idx, endpoints)| Model {
                        id: format!("a/m{idx}").into(),
                        name: format!("M{idx}"),
                        created: 0,
                        description: String::new(),
                        endpoints: endpoints
                            .into_iter()
                            .enumerate()
                            .map(|(at, (provider, price, traits, _))| Endpoint {
                                upstream_model: format!("m{at}"),
                                traits,
                                ..endpoint(provider, f64::from(price))
                            })
                            .collect(),
                    })
                    .collect();
                Case {
                    catalog: Catalog::new(models).unwrap(),
                    statuses,
                    preferences,
                    models: named
                        .into_iter()
                        .map(|idx| format!("a/m{}", idx % n_models))
                        .collect(),
                    seed,
                }
            })
    }

    /// Whether the preferences let `endpoint` through, from the words.
    fn reference_allows(prefs: &Preferences, endpoint: &Endpoint) -> bool {
        let names = |list: &Option<Vec<String>>| {
            list.as_ref().map(|list| {
                list.iter()
                    .any(|name| provider::names_endpoint(name, endpoint))
            })
        };
        names(&prefs.only) != Some(false)
            && names(&prefs.ignore) != Some(true)
            && (prefs.data_collection != Some(DataCollection::Deny)
                || endpoint.traits.data_collection == DataCollection::Deny)
            && prefs
                .max_price
                .and_then(|it| it.prompt)
                .is_none_or(|max| endpoint.pricing.prompt <= max * (1.0 + 1e-9))
    }

    fn check(case: &Case) -> Result<(), TestCaseError> {
        let prefs = Preferences::parse(&case.preferences.to_string()).unwrap();
        let health = Table(case.statuses.clone());
        let fallbacks: Vec<Cow<'_, str>> = case.models[1..]
            .iter()
            .map(|it| Cow::from(it.as_str()))
            .collect();
        let request = PlanRequest {
            model: Some(&case.models[0]),
            models: &fallbacks,
            features: RequestFeatures::default(),
            options: PlanOptions::default(),
        };
        let selection = Selection {
            preferences: &prefs,
            parameters: &[],
            health: &health,
            seed: case.seed,
            load_balance: true,
        };
        let result = plan::build_with(&case.catalog, &request, &selection);
        prop_assert_eq!(
            &result,
            &plan::build_with(&case.catalog, &request, &selection)
        );
        let plan = match result {
            Ok(plan) => plan,
            Err(PlanError::NoEndpointsMatch(_)) => {
                // Then no endpoint of any named model passes the preferences (or
                // `allow_fallbacks: false` with an order that names none of them).
                for id in &case.models {
                    let model = case.catalog.model(case.catalog.find(id).unwrap());
                    let passing = model
                        .endpoints
                        .iter()
                        .filter(|it| reference_allows(&prefs, it));
                    let ordered_only =
                        prefs.allow_fallbacks == Some(false) && prefs.order.is_some();
                    for endpoint in passing {
                        prop_assert!(
                            ordered_only
                                && !prefs
                                    .order
                                    .as_ref()
                                    .unwrap()
                                    .iter()
                                    .any(|name| provider::names_endpoint(name, endpoint)),
                            "{} passes",
                            endpoint.provider
                        );
                    }
                }
                return Ok(());
            }
            Err(err) => return Err(TestCaseError::fail(format!("unexpected {err}"))),
        };
        let mut seen = Vec::new();
        for attempt in &plan.attempts {
            let endpoint = case.catalog.model(attempt.model).endpoint(attempt.endpoint);
            prop_assert!(
                reference_allows(&prefs, endpoint),
                "{} should be filtered",
                endpoint.provider
            );
            prop_assert!(
                !seen.contains(&(attempt.model, attempt.endpoint)),
                "duplicate attempt"
            );
            seen.push((attempt.model, attempt.endpoint));
            prop_assert!(
                !plan
                    .excluded
                    .iter()
                    .any(|it| it.model == attempt.model && it.endpoint == attempt.endpoint),
                "an excluded endpoint is tried"
            );
        }
        for excluded in &plan.excluded {
            let endpoint = case
                .catalog
                .model(excluded.model)
                .endpoint(excluded.endpoint);
            if let ExcludeReason::Preference(
                Preference::Only
                | Preference::Ignore
                | Preference::MaxPrice
                | Preference::DataCollection,
            ) = excluded.reason
            {
                prop_assert!(!reference_allows(&prefs, endpoint));
            }
        }
        let partition_none =
            case.preferences["sort"]["partition"] == "none" && prefs.order.is_none();
        if !partition_none {
            // Each model's attempts are one run, and in it nothing healthy follows a cool-down.
            let mut last_model = None;
            let mut cooling_seen = false;
            let mut finished: Vec<ModelIdx> = Vec::new();
            for attempt in &plan.attempts {
                if last_model != Some(attempt.model) {
                    prop_assert!(
                        !finished.contains(&attempt.model),
                        "a model's attempts are split"
                    );
                    finished.extend(last_model);
                    last_model = Some(attempt.model);
                    cooling_seen = false;
                    prop_assert!(attempt.reason != AttemptReason::FallbackProvider);
                }
                let cooling =
                    case.statuses[attempt.model.0][attempt.endpoint.0] == Status::CoolingDown;
                prop_assert!(
                    !cooling_seen || cooling,
                    "a healthy endpoint after one in cool-down"
                );
                cooling_seen |= cooling;
            }
        }
        if prefs.allow_fallbacks == Some(false) && prefs.order.is_none() && !partition_none {
            for model in &plan.requested {
                prop_assert!(plan.attempts.iter().filter(|it| it.model == *model).count() <= 1);
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn selection_keeps_its_promises(case in case()) {
            check(&case)?;
        }
    }
}
