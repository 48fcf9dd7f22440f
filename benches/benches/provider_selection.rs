//! Criterion benches of provider selection: parsing a full `provider` object and planning with
//! it over a catalog of 300 models with 4 endpoints each (`plan::build_with`).
//!
//! Run with `cargo bench -p benches --bench provider_selection`.

use std::borrow::Cow;
use std::hint::black_box;

use benches::{
    BALANCED_PROVIDER_OBJECT, FULL_PROVIDER_OBJECT, model_id, selection_catalog, small_request_body,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use router_core::plan::{self, AllHealthy, PlanOptions, PlanRequest, Selection};
use router_core::provider::Preferences;
use router_core::request::ChatRequest;

const N_MODELS: usize = 300;
const N_ENDPOINTS: usize = 4;

fn provider_selection(c: &mut Criterion) {
    let mut group = c.benchmark_group("provider_selection");
    let catalog = selection_catalog(N_MODELS, N_ENDPOINTS);
    let body = small_request_body(false);
    let request = match ChatRequest::parse(&body) {
        Ok(request) => request,
        Err(err) => panic!("the bench request does not parse: {err}"),
    };
    let features = request.features();
    let primary = model_id(N_MODELS - 1);
    let fallbacks: Vec<Cow<'_, str>> = vec![model_id(0).into(), model_id(150).into()];
    let plan_request = PlanRequest {
        model: Some(&primary),
        models: &fallbacks,
        features,
        options: PlanOptions::default(),
    };
    group.bench_function("parse_full_provider_object", |b| {
        b.iter(|| Preferences::parse(black_box(FULL_PROVIDER_OBJECT)));
    });
    for (name, object) in [
        ("ordered_and_sorted", FULL_PROVIDER_OBJECT),
        ("load_balanced", BALANCED_PROVIDER_OBJECT),
    ] {
        // Parsing the object is part of planning a request.
        group.bench_with_input(
            BenchmarkId::new("parse_and_plan_3_models_300x4", name),
            &object,
            |b, object| {
                let mut seed = 0u64;
                b.iter(|| {
                    seed = seed.wrapping_add(1);
                    let preferences = Preferences::parse(black_box(object)).ok()?;
                    let selection = Selection {
                        preferences: &preferences,
                        parameters: &request.passthrough,
                        health: &AllHealthy,
                        seed,
                        load_balance: true,
                    };
                    plan::build_with(black_box(&catalog), black_box(&plan_request), &selection).ok()
                });
            },
        );
    }
    // Every one of the 300 models planned in turn with the full object.
    let preferences = match Preferences::parse(FULL_PROVIDER_OBJECT) {
        Ok(it) => it,
        Err(err) => panic!("the bench provider object does not parse: {err}"),
    };
    let ids: Vec<String> = (0..N_MODELS).map(model_id).collect();
    group.bench_function("plan_each_of_300_models_x4", |b| {
        b.iter(|| {
            let mut attempts = 0;
            for id in &ids {
                let request = PlanRequest {
                    model: Some(id),
                    models: &[],
                    features,
                    options: PlanOptions::default(),
                };
                let selection = Selection {
                    preferences: &preferences,
                    parameters: &[],
                    health: &AllHealthy,
                    seed: 7,
                    load_balance: true,
                };
                if let Ok(plan) = plan::build_with(&catalog, &request, &selection) {
                    attempts += plan.attempts.len();
                }
            }
            attempts
        });
    });
    group.finish();
}

criterion_group!(benches, provider_selection);
criterion_main!(benches);
