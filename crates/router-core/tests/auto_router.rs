//! The Auto Router end to end through its public API: the demo profile on the demo catalog, and
//! property tests of the dial (monotone in cost, 0 = best quality, 10 = cheapest capable,
//! deterministic, never an excluded or incapable model).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers build fixed inputs; a failure is a test failure"
)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use router_core::analysis::task::TaskType;
use router_core::analysis::{Analysis, Conversation};
use router_core::auto::explain::CandidateStatus;
use router_core::auto::profile::{
    ClassifierData, CostScale, FORMAT, FeatureData, ModelData, Profile, ProfileData, SelectionData,
    TaskData, VERSION,
};
use router_core::auto::select::{self, SelectError, SelectParams, Selection};
use router_core::auto::settings::{AutoPlugin, AutoSettings};
use router_core::auto::{self, AutoError};
use router_core::catalog::{Capabilities, Catalog, Endpoint, Model, Pricing};
use router_core::patterns::ModelFilter;
use router_core::request::{ChatRequest, RequestFeatures};

/// The demo catalog's models with their list prices (USD per million tokens, as in
/// `config/demo.toml`): (id, prompt, completion, context, tools, vision, structured outputs).
const DEMO: [(&str, f64, f64, u32, bool, bool, bool); 12] = [
    ("openai/gpt-5.1", 1.25, 10.0, 400_000, true, true, true),
    ("openai/gpt-5-mini", 0.25, 2.0, 400_000, true, true, true),
    ("openai/gpt-5-nano", 0.05, 0.4, 400_000, true, true, true),
    (
        "anthropic/claude-opus-4.5",
        5.0,
        25.0,
        200_000,
        true,
        true,
        true,
    ),
    (
        "anthropic/claude-sonnet-4.5",
        3.0,
        15.0,
        200_000,
        true,
        true,
        true,
    ),
    (
        "anthropic/claude-haiku-4.5",
        1.0,
        5.0,
        200_000,
        true,
        true,
        true,
    ),
    (
        "google/gemini-3.1-pro-preview",
        2.0,
        12.0,
        1_048_576,
        true,
        true,
        true,
    ),
    (
        "google/gemini-2.5-flash",
        0.3,
        2.5,
        1_048_576,
        true,
        true,
        true,
    ),
    (
        "deepseek/deepseek-v3.2",
        0.28,
        0.42,
        128_000,
        true,
        false,
        false,
    ),
    (
        "meta-llama/llama-3.3-70b-instruct",
        0.23,
        0.4,
        131_072,
        true,
        false,
        false,
    ),
    ("qwen/qwen3-coder", 0.4, 1.6, 262_144, true, false, false),
    (
        "mistralai/mistral-small-3.2-24b-instruct",
        0.075,
        0.2,
        128_000,
        true,
        true,
        false,
    ),
];

fn endpoint(prompt: f64, completion: f64, context: u32, caps: Capabilities) -> Endpoint {
    Endpoint {
        provider: "mock".to_owned(),
        upstream_model: "m".to_owned(),
        pricing: Pricing {
            prompt: prompt / 1e6,
            completion: completion / 1e6,
            ..Pricing::default()
        },
        context_length: context,
        max_output: None,
        supported_parameters: Vec::new(),
        capabilities: caps,
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

fn demo_catalog() -> Catalog {
    Catalog::new(
        DEMO.iter()
            .map(
                |&(id, prompt, completion, context, tools, vision, structured_output)| {
                    let caps = Capabilities {
                        tools,
                        vision,
                        structured_output,
                    };
                    model(id, vec![endpoint(prompt, completion, context, caps)])
                },
            )
            .collect(),
    )
    .unwrap()
}

fn body(prompt: &str, extra: &str) -> String {
    let content = serde_json::to_string(prompt).unwrap();
    format!(
        r#"{{"model":"openrouter/auto","messages":[{{"role":"user","content":{content}}}]{extra}}}"#
    )
}

fn route_demo<'c>(
    catalog: &'c Catalog,
    profile: &Profile,
    body: &str,
) -> (Analysis, Selection<'c>) {
    let request = ChatRequest::parse(body.as_bytes()).unwrap();
    let plugin = AutoPlugin::from_plugins(request.plugins).unwrap();
    let settings = AutoSettings::resolve(plugin.as_ref(), None, &AutoPlugin::default());
    auto::route(catalog, profile, &request, &settings, 3).unwrap()
}

const PYTHON_BUG: &str = "My Python function crashes with a TypeError: unsupported operand type(s) for +: 'int' and 'str'.\n```python\ndef total(items):\n    s = 0\n    for it in items:\n        s = s + it['price']\n    return s\n```\nHow do I fix the bug?";
const LIMERICK: &str = "Write a limerick about a cat who sails the sea.";
const PROOF: &str = "Prove rigorously that the square root of 2 is irrational, step by step.";
const TRANSLATION: &str = "Translate into Japanese: 'The meeting has been moved to Thursday afternoon. Please bring the quarterly report.'";

#[test]
fn demo_profile_reads_back_and_cites_every_model() {
    let profile = Profile::demo().unwrap();
    let again = Profile::from_json(&profile.to_json()).unwrap();
    assert_eq!(profile.data(), again.data());
    for (id, ..) in DEMO {
        assert!(profile.knows(id), "{id}");
        let data = &profile.data().models[id];
        assert!(data.sources.contains_key("*"), "{id} has no general source");
        assert_eq!(data.quality.len(), TaskType::ALL.len(), "{id}");
    }
}

#[test]
fn different_prompts_pick_different_models_at_the_default_dial() {
    let catalog = demo_catalog();
    let profile = Profile::demo().unwrap();
    let mut primaries = BTreeMap::new();
    for (name, prompt, task) in [
        ("python bug", PYTHON_BUG, TaskType::Code),
        ("limerick", LIMERICK, TaskType::CreativeWriting),
        ("proof", PROOF, TaskType::Math),
        ("translation", TRANSLATION, TaskType::Translation),
    ] {
        let (analysis, selection) = route_demo(&catalog, &profile, &body(prompt, ""));
        assert_eq!(analysis.task, task, "{name}");
        assert_eq!(selection.picks.len(), 3, "{name}");
        let explanation = &selection.explanation;
        assert_eq!(explanation.cost_quality_tradeoff, 7);
        // The default keeps at least 95% of the best candidate's expected quality.
        let best = explanation
            .candidates
            .iter()
            .filter_map(|it| it.expected_quality)
            .fold(0.0, f64::max);
        let primary = explanation
            .candidates
            .iter()
            .find(|it| it.model == explanation.picks[0])
            .unwrap();
        assert!(
            primary.expected_quality.unwrap() >= 0.95 * best,
            "{name}: {explanation:#?}"
        );
        primaries.insert(name, catalog.model(selection.picks[0]).id.clone());
    }
    let distinct: std::collections::BTreeSet<_> = primaries.values().collect();
    assert!(distinct.len() >= 3, "{primaries:?}");
}

#[test]
fn the_dial_moves_along_the_demo_catalog() {
    let catalog = demo_catalog();
    let profile = Profile::demo().unwrap();
    let pick = |dial: u8| {
        let extra =
            format!(r#","plugins":[{{"id":"auto-router","cost_quality_tradeoff":{dial}}}]"#);
        let (_, selection) = route_demo(&catalog, &profile, &body(PROOF, &extra));
        catalog.model(selection.picks[0]).id.clone()
    };
    // The cheapest for a long answer: the lowest completion price.
    assert_eq!(&*pick(10), "mistralai/mistral-small-3.2-24b-instruct");
    let best = pick(0);
    assert!(
        ["openai/gpt-5.1", "google/gemini-3.1-pro-preview"].contains(&&*best),
        "{best}"
    );
}

#[test]
fn capabilities_and_patterns_restrict_candidates() {
    let catalog = demo_catalog();
    let profile = Profile::demo().unwrap();
    let image = r#"{"model":"openrouter/auto","messages":[{"role":"user","content":[{"type":"text","text":"What is in this picture?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],"plugins":[{"id":"auto-router","allowed_models":["deepseek/*","qwen/*","openai/gpt-5-nano"]}]}"#;
    let (analysis, selection) = route_demo(&catalog, &profile, image);
    assert!(analysis.needs.images);
    let picks: Vec<_> = selection
        .picks
        .iter()
        .map(|it| &*catalog.model(*it).id)
        .collect();
    assert_eq!(picks, ["openai/gpt-5-nano"]);
    let reason = |id: &str| {
        let report = selection
            .explanation
            .candidates
            .iter()
            .find(|it| it.model == id)
            .unwrap();
        (report.status, report.reason.to_string())
    };
    assert_eq!(
        reason("deepseek/deepseek-v3.2"),
        (
            CandidateStatus::Dropped,
            "no endpoint accepts images".to_owned()
        )
    );
    assert_eq!(
        reason("openai/gpt-5.1"),
        (
            CandidateStatus::Dropped,
            "not matched by allowed_models".to_owned()
        )
    );

    let request_with = |plugins: &str| body("hello", &format!(r#","plugins":{plugins}"#));
    let route = |text: &str| {
        let request = ChatRequest::parse(text.as_bytes()).unwrap();
        let plugin = AutoPlugin::from_plugins(request.plugins).unwrap();
        let settings = AutoSettings::resolve(plugin.as_ref(), None, &AutoPlugin::default());
        auto::route(&catalog, &profile, &request, &settings, 3).map(|(_, it)| it.picks.len())
    };
    let nothing = request_with(
        r#"[{"id":"auto-router","allowed_models":["anthropic/*"],"excluded_models":["*/claude-*"]}]"#,
    );
    match route(&nothing) {
        Err(AutoError::Select(err @ SelectError::NoModelsMatch(_))) => {
            assert_eq!(
                err.to_string(),
                "No models match your request and model restrictions"
            );
        }
        other => panic!("{other:?}"),
    }
    let invalid = request_with(r#"[{"id":"auto-router","allowed_models":["openai/[gpt"]}]"#);
    match route(&invalid) {
        Err(AutoError::Pattern(err)) => assert_eq!(err.pattern, "openai/[gpt"),
        other => panic!("{other:?}"),
    }
    let too_long = r#"{"model":"openrouter/auto","messages":[{"role":"user","content":"hi"}],"max_tokens":300000,"plugins":[{"id":"auto-router","allowed_models":["deepseek/*"]}]}"#;
    assert!(matches!(
        route(too_long),
        Err(AutoError::Select(SelectError::NoCapableModel { .. }))
    ));
}

#[test]
fn a_model_the_profile_does_not_know_gets_its_price_tiers_quality() {
    use router_core::auto::explain::QualitySource;
    let profile = Profile::demo().unwrap();
    let mut catalog_models: Vec<Model> = demo_catalog().models().to_vec();
    // As dear as the dearest demo model, and as cheap as the cheapest.
    catalog_models.push(model(
        "acme/premium",
        vec![endpoint(5.0, 25.0, 200_000, Capabilities::default())],
    ));
    catalog_models.push(model(
        "acme/budget",
        vec![endpoint(0.01, 0.02, 128_000, Capabilities::default())],
    ));
    let catalog = Catalog::new(catalog_models).unwrap();
    let extra = r#","plugins":[{"id":"auto-router","cost_quality_tradeoff":0}]"#;
    let (_, selection) = route_demo(&catalog, &profile, &body(PROOF, extra));
    let report = |id: &str| {
        selection
            .explanation
            .candidates
            .iter()
            .find(|it| it.model == id)
            .unwrap()
            .clone()
    };
    let premium = report("acme/premium");
    let budget = report("acme/budget");
    assert_eq!(premium.quality_source, Some(QualitySource::PriceTier));
    let (premium_q, budget_q) = (
        premium.expected_quality.unwrap(),
        budget.expected_quality.unwrap(),
    );
    assert!(budget_q > 0.0, "{budget_q}");
    assert!(premium_q > budget_q, "{premium_q} {budget_q}");
    assert_ne!(premium_q, profile.selection().unknown_model_quality);
    // The prior is the mean of the profiled candidates in the tier, for this prompt: between
    // the tier's weakest and strongest.
    let known: Vec<f64> = selection
        .explanation
        .candidates
        .iter()
        .filter(|it| it.quality_source == Some(QualitySource::Profile))
        .filter_map(|it| it.expected_quality)
        .collect();
    let best = known.iter().copied().fold(f64::MIN, f64::max);
    let worst = known.iter().copied().fold(f64::MAX, f64::min);
    assert!(premium_q <= best && budget_q >= worst, "{known:?}");
}

// === properties ===

/// A random model: (quality per task per bucket, endpoints as (prompt, completion, context,
/// tools, vision)).
type ModelSpec = (Vec<[f64; 3]>, Vec<(f64, f64, u32, bool, bool)>);

fn model_spec() -> impl Strategy<Value = ModelSpec> {
    (
        prop::collection::vec(prop::array::uniform3(0.0f64..=1.0), 9),
        prop::collection::vec(
            (
                0.0f64..20.0,
                0.0f64..60.0,
                500u32..200_000,
                any::<bool>(),
                any::<bool>(),
            ),
            1..3,
        ),
    )
}

fn build(specs: &[ModelSpec], scale: f64, cost_scale: CostScale) -> (Catalog, Profile) {
    let mut models = Vec::new();
    let mut quality = BTreeMap::new();
    for (idx, (q, endpoints)) in specs.iter().enumerate() {
        let id = format!("vendor{}/model-{idx}", idx % 3);
        let endpoints = endpoints
            .iter()
            .map(|&(prompt, completion, context, tools, vision)| {
                let caps = Capabilities {
                    tools,
                    vision,
                    structured_output: false,
                };
                endpoint(prompt, completion, context, caps)
            })
            .collect();
        models.push(model(&id, endpoints));
        let per_task = TaskType::ALL
            .iter()
            .zip(q)
            .map(|(task, values)| (task.as_str().to_owned(), values.to_vec()))
            .collect();
        quality.insert(
            id,
            ModelData {
                quality: per_task,
                sources: BTreeMap::new(),
                notes: String::new(),
                // Every estimate is shrunk toward a mean (weight 0.7 below): the dial's
                // properties must hold for shrunk estimates too.
                mean: Some(q[0][1]),
            },
        );
    }
    let data = ProfileData {
        format: FORMAT.to_owned(),
        version: VERSION,
        name: "prop".to_owned(),
        notes: Vec::new(),
        features: FeatureData { bits: 12 },
        classifier: ClassifierData {
            temperature: 0.1,
            rule_weight: 1.0,
            neighbours: 0,
            neighbour_prior: 2.0,
            idf: None,
        },
        selection: SelectionData {
            lambda_scale: scale,
            cost_scale,
            unknown_model_quality: 0.5,
            reference_prompt_tokens: 1000,
            dial_lambdas: None,
            estimate_weight: Some(0.7),
            embedding_weight: None,
        },
        difficulty_buckets: 3,
        tasks: TaskType::ALL
            .iter()
            .map(|task| TaskData {
                id: task.as_str().to_owned(),
                task: Some(*task),
                completion_tokens: 300,
                count: 0,
                centroid: Vec::new(),
                exemplars: Vec::new(),
            })
            .collect(),
        models: quality,
        examples: None,
        predictors: None,
        embedding: None,
    };
    (
        Catalog::new(models).unwrap(),
        Profile::from_data(data).unwrap(),
    )
}

const PROMPTS: [&str; 5] = [
    PYTHON_BUG,
    LIMERICK,
    PROOF,
    TRANSLATION,
    "hey, how are you?",
];

fn cost_scales() -> impl Strategy<Value = CostScale> {
    prop_oneof![
        Just(CostScale::Linear),
        Just(CostScale::Log),
        Just(CostScale::Reference)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_dial_is_monotone_extreme_and_deterministic(
        specs in prop::collection::vec(model_spec(), 1..10),
        prompt in 0..PROMPTS.len(),
        prompt_tokens in 1u32..5_000,
        needs_tools in any::<bool>(),
        needs_images in any::<bool>(),
        excluded in prop::collection::vec(0usize..10, 0..3),
        scale in 0.001f64..5.0,
        cost_scale in cost_scales(),
    ) {
        let (catalog, profile) = build(&specs, scale, cost_scale);
        let features = RequestFeatures {
            needs_tools,
            needs_vision: needs_images,
            prompt_tokens_estimate: prompt_tokens,
            ..RequestFeatures::default()
        };
        let analysis = profile.analyze(&Conversation::user(PROMPTS[prompt]), &features);
        let excluded: Vec<String> = excluded.iter().map(|idx| format!("vendor*/model-{idx}")).collect();
        let no_patterns: Vec<String> = Vec::new();
        let filter = ModelFilter::new(&no_patterns, &excluded).unwrap();

        let mut previous_cost = f64::INFINITY;
        for tradeoff in 0..=10u8 {
            let params = SelectParams { filter: &filter, tradeoff, top_k: 3 };
            let result = select::select(&catalog, &profile, &analysis, &params);
            let again = select::select(&catalog, &profile, &analysis, &params);
            let selection = match (result, again) {
                (Ok(first), Ok(second)) => {
                    prop_assert_eq!(&first.picks, &second.picks);
                    first
                }
                (Err(_), Err(_)) => {
                    // Nothing is capable and permitted: check that this is true.
                    for model in catalog.models() {
                        let permitted = filter.permits(&model.id);
                        let capable = model.endpoints.iter().any(|it| {
                            (!needs_tools || it.capabilities.tools)
                                && (!needs_images || it.capabilities.vision)
                                && prompt_tokens <= it.context_length
                        });
                        prop_assert!(!(permitted && capable), "{} was possible", model.id);
                    }
                    return Ok(());
                }
                _ => return Err(TestCaseError::fail("not deterministic")),
            };
            let explanation = &selection.explanation;
            let kept: Vec<_> = explanation
                .candidates
                .iter()
                .filter(|it| it.status == CandidateStatus::Kept)
                .collect();
            let report = |id: &str| explanation.candidates.iter().find(|it| it.model == id).unwrap();
            for pick in &selection.picks {
                let model = catalog.model(*pick);
                prop_assert!(filter.permits(&model.id), "picked excluded {}", model.id);
                prop_assert!(model.endpoints.iter().any(|it| {
                    (!needs_tools || it.capabilities.tools)
                        && (!needs_images || it.capabilities.vision)
                        && prompt_tokens <= it.context_length
                }), "picked incapable {}", model.id);
                prop_assert_eq!(report(&model.id).status, CandidateStatus::Kept);
            }
            let primary = report(&catalog.model(selection.picks[0]).id);
            let cost = primary.expected_cost.unwrap();
            prop_assert!(cost <= previous_cost, "dial {} picked a dearer model: {} > {}", tradeoff, cost, previous_cost);
            previous_cost = cost;
            if tradeoff == 0 {
                let best = kept.iter().filter_map(|it| it.expected_quality).fold(f64::MIN, f64::max);
                prop_assert_eq!(primary.expected_quality.unwrap(), best);
            }
            if tradeoff == 10 {
                let cheapest = kept.iter().filter_map(|it| it.expected_cost).fold(f64::MAX, f64::min);
                prop_assert_eq!(cost, cheapest);
            }
            // Fallbacks are distinct and ranked.
            let mut unique = selection.picks.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), selection.picks.len());
            prop_assert_eq!(selection.picks.len(), kept.len().min(3));
        }
    }

    #[test]
    fn analysis_is_deterministic_and_bounded(text in "\\PC{0,3000}") {
        let profile = Profile::demo().unwrap();
        let features = RequestFeatures::default();
        let first = profile.analyze(&Conversation::user(&text), &features);
        let second = profile.analyze(&Conversation::user(&text), &features);
        prop_assert_eq!(&first, &second);
        prop_assert!((0.0..=1.0).contains(&first.difficulty));
        let total: f32 = first.task_scores.iter().sum();
        prop_assert!((total - 1.0).abs() < 1e-3);
        let cluster_total: f32 = first.clusters.iter().sum();
        prop_assert!((cluster_total - 1.0).abs() < 1e-3);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A pool whose models all lie on a concave cost/quality frontier (each a hull vertex):
    /// whenever the frontier has a slope between the lambdas of two adjacent dials, moving from
    /// the first to the second moves the decision to a cheaper model. So adjacent dials never
    /// collapse onto one operating point while a model between them differs in quality and cost.
    #[test]
    fn adjacent_dials_spread_on_a_synthetic_pool(
        slopes in prop::collection::vec(0.005f64..30.0, 2..12),
        scale in 0.05f64..2.0,
        prompt in 0..PROMPTS.len(),
    ) {
        let mut slopes = slopes;
        slopes.sort_by(|a, b| b.total_cmp(a));
        slopes.dedup_by(|a, b| (*a - *b).abs() < 1e-3 * b.abs());
        let n = slopes.len() + 1;
        // Normalized costs 1/n, 2/n, ..., 1; quality rises by slope/n a step.
        let rise: f64 = slopes.iter().sum::<f64>() / n as f64;
        let shrink = (0.9 / rise).min(1.0);
        let slopes: Vec<f64> = slopes.iter().map(|it| it * shrink).collect();
        let mut quality = vec![0.05];
        for slope in &slopes {
            let last = quality[quality.len() - 1];
            quality.push(last + slope / n as f64);
        }
        // Model i costs i + 1 (cheapest first) and has quality[i].
        let specs: Vec<ModelSpec> = (0..n)
            .map(|i| {
                let q = quality[i].min(1.0);
                (vec![[q; 3]; 9], vec![(0.0, (i + 1) as f64, 200_000, true, true)])
            })
            .collect();
        // The frontier's slopes, from the cheapest step up (quality[i] - quality[i-1]) * n.
        let steps: Vec<f64> = (1..n).map(|i| (quality[i] - quality[i - 1]) * n as f64).collect();
        let (catalog, profile) = build(&specs, scale, CostScale::Linear);
        let features = RequestFeatures { prompt_tokens_estimate: 100, ..RequestFeatures::default() };
        let analysis = profile.analyze(&Conversation::user(PROMPTS[prompt]), &features);
        let filter = ModelFilter::permit_all();
        let cost_at = |tradeoff: u8| {
            let params = SelectParams { filter: &filter, tradeoff, top_k: 1 };
            let selection = select::select(&catalog, &profile, &analysis, &params).unwrap();
            let id = &catalog.model(selection.picks[0]).id;
            selection.explanation.candidates.iter().find(|it| it.model == &**id).unwrap().expected_cost.unwrap()
        };
        let lambda = |t: u8| profile.selection().lambda(t);
        for dial in 0..10u8 {
            let (low, high) = (lambda(dial), lambda(dial + 1));
            let between = steps.iter().any(|&s| {
                // Margins for the profile's f32 qualities.
                s > low * 1.01 + 1e-3 && (high.is_infinite() || s < high * 0.99)
            });
            if between {
                prop_assert!(
                    cost_at(dial + 1) < cost_at(dial),
                    "dials {} and {} (lambda {} and {}) collapse; frontier slopes {:?}",
                    dial, dial + 1, low, high, steps
                );
            }
        }
    }
}
