//! Criterion benches of the Auto Router: one routing decision (prompt analysis plus selection)
//! for a 4,000-token conversation over 300 candidate models, with the demo profile's nine task
//! clusters and with a calibrated-style profile that also holds 2,000 labelled examples.
//!
//! Run with `cargo bench -p benches --bench auto_router`.

use std::collections::BTreeMap;
use std::hint::black_box;

use benches::{catalog, model_id, request_body_with_prompt_tokens};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use router_core::analysis::{self, Conversation};
use router_core::auto::profile::{ExampleRow, ExamplesData, ModelData, Profile, ProfileData};
use router_core::auto::select::{self, SelectParams};
use router_core::patterns::ModelFilter;
use router_core::request::ChatRequest;

const N_MODELS: usize = 300;

/// The demo profile's data with its twelve models' numbers spread over `n_models` bench ids.
fn profile_data(n_models: usize) -> ProfileData {
    let demo = match Profile::demo() {
        Ok(profile) => profile.data().clone(),
        Err(err) => panic!("demo profile: {err}"),
    };
    let originals: Vec<ModelData> = demo.models.values().cloned().collect();
    let models: BTreeMap<String, ModelData> = (0..n_models)
        .map(|idx| (model_id(idx), originals[idx % originals.len()].clone()))
        .collect();
    ProfileData { models, ..demo }
}

/// `n` labelled examples over the bench models, from varied synthetic prompts.
fn examples(n: usize, n_models: usize, bits: u8) -> ExamplesData {
    const TOPICS: [&str; 8] = [
        "fix the python function that raises an error",
        "prove the inequality for every positive integer",
        "write a short poem about the sea at night",
        "summarize the attached meeting notes in bullet points",
        "translate the paragraph into german",
        "extract the invoice fields as json",
        "what is the history of the roman empire",
        "compare the tradeoffs of these two database designs",
    ];
    let rows = (0..n)
        .map(|idx| {
            let text = format!(
                "{} number {idx} with detail {} and more {}",
                TOPICS[idx % TOPICS.len()],
                idx * 7919 % 1000,
                TOPICS[(idx / 8) % TOPICS.len()]
            );
            let mut vector = analysis::raw_features(&Conversation::user(&text), bits);
            vector.prune(64);
            vector.normalize();
            ExampleRow {
                vector: vector.entries().to_vec(),
                quality: (0..n_models)
                    .map(|m| Some(((idx * 31 + m * 17) % 100) as f32 / 100.0))
                    .collect(),
            }
        })
        .collect();
    ExamplesData {
        models: (0..n_models).map(model_id).collect(),
        rows,
    }
}

fn route(c: &mut Criterion) {
    let catalog = catalog(N_MODELS);
    let body = request_body_with_prompt_tokens(4_000, false);
    let request = match ChatRequest::parse(&body) {
        Ok(request) => request,
        Err(err) => panic!("bench body: {err}"),
    };
    let features = request.features();
    let filter = ModelFilter::permit_all();
    let params = SelectParams {
        filter: &filter,
        tradeoff: 7,
        top_k: 3,
    };
    let demo = profile_data(N_MODELS);
    let mut with_examples = demo.clone();
    with_examples.classifier.neighbours = 64;
    with_examples.examples = Some(examples(2_000, N_MODELS, demo.features.bits));
    let profiles = [
        ("demo_profile", demo),
        ("with_2000_examples", with_examples),
    ];

    let mut group = c.benchmark_group("auto_router_4k_tokens_300_models");
    for (name, data) in profiles {
        let profile = match Profile::from_data(data) {
            Ok(profile) => profile,
            Err(err) => panic!("bench profile: {err}"),
        };
        group.bench_with_input(
            BenchmarkId::new("analysis+selection", name),
            &profile,
            |b, profile| {
                b.iter(|| {
                    let conversation = Conversation::from_request(black_box(&request));
                    let analysis = profile.analyze(&conversation, &features);
                    select::select(&catalog, profile, &analysis, &params).map(|it| it.picks[0])
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("analysis", name),
            &profile,
            |b, profile| {
                b.iter(|| {
                    let conversation = Conversation::from_request(black_box(&request));
                    profile.analyze(&conversation, &features).task
                });
            },
        );
        let analysis = profile.analyze(&Conversation::from_request(&request), &features);
        group.bench_with_input(
            BenchmarkId::new("selection", name),
            &profile,
            |b, profile| {
                b.iter(|| {
                    select::select(&catalog, profile, black_box(&analysis), &params)
                        .map(|it| it.picks[0])
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, route);
criterion_main!(benches);
