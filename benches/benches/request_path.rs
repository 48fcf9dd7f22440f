//! Criterion benches of the request path, stage by stage: parsing the client's body, building
//! the plan, rendering the OpenRouter-shaped answer, and parsing a provider's stream.
//!
//! Run with `cargo bench -p benches` (or `cargo xtask bench`, which adds the load test).

use std::borrow::Cow;
use std::hint::black_box;

use benches::{
    catalog, chat_response, chunk_choices, model_id, provider_stream,
    request_body_with_prompt_tokens, small_request_body, usage,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use router_core::catalog::Pricing;
use router_core::plan::{self, PlanOptions, PlanRequest};
use router_core::pricing::cost;
use router_core::render::{self, ChunkPrefix, Generation};
use router_core::request::ChatRequest;
use router_upstream::sse::SseParser;

/// `ChatRequest::parse` (and the routing features) on a small body and a 4k-token conversation.
fn parse_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_request");
    for (name, body) in [
        ("small", small_request_body(false)),
        ("4k_tokens", request_body_with_prompt_tokens(4096, false)),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse", name), &body, |b, body| {
            b.iter(|| ChatRequest::parse(black_box(body)).map(|it| it.messages.len()));
        });
        group.bench_with_input(
            BenchmarkId::new("parse+features", name),
            &body,
            |b, body| {
                b.iter(|| ChatRequest::parse(black_box(body)).map(|it| it.features()));
            },
        );
    }
    group.finish();
}

/// Plan building for catalogs of growing size: `plan::for_model` (one explicit model) and
/// `plan::build` (a model and two fallback models, with the request's feature checks).
fn build_plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    let body = small_request_body(false);
    let request = match ChatRequest::parse(&body) {
        Ok(request) => request,
        Err(err) => panic!("the bench request does not parse: {err}"),
    };
    let features = request.features();
    for n_models in [12, 1_000] {
        let catalog = catalog(n_models);
        let model = model_id(n_models - 1);
        group.bench_with_input(
            BenchmarkId::new("for_model", n_models),
            &model,
            |b, model| {
                b.iter(|| plan::for_model(black_box(&catalog), black_box(model)));
            },
        );
        let fallbacks: Vec<Cow<'_, str>> = vec![model_id(0).into(), model_id(1).into()];
        let plan_request = PlanRequest {
            model: Some(&model),
            models: &fallbacks,
            features,
            options: PlanOptions::default(),
        };
        group.bench_with_input(
            BenchmarkId::new("build_3_models", n_models),
            &plan_request,
            |b, plan_request| {
                b.iter(|| plan::build(black_box(&catalog), black_box(plan_request)));
            },
        );
    }
    group.finish();
}

/// Rendering what the client receives: a completion with its cost, stream chunks, the model
/// list.
fn render_response(c: &mut Criterion) {
    let generation = Generation {
        id: "gen-1763000000-Zx81Kd9sLq2Vb7Pw",
        created: 1_763_000_000,
        model: "openai/gpt-5.1",
        provider: "OpenAI",
    };
    let pricing = Pricing {
        prompt: 1.25e-6,
        completion: 1e-5,
        cache_read: Some(1.25e-7),
        ..Pricing::default()
    };
    let mut group = c.benchmark_group("render");

    let response = chat_response(600);
    group.bench_function("completion", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            let cost = cost(black_box(&pricing), &response.usage);
            render::completion(&mut out, black_box(&generation), &response, &cost);
            out.len()
        });
    });

    group.bench_function("chunk_prefix", |b| {
        b.iter(|| ChunkPrefix::new(black_box(&generation)));
    });

    let prefix = ChunkPrefix::new(&generation);
    let choices = chunk_choices();
    group.bench_function("chunk", |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            out.clear();
            prefix.chunk(&mut out, black_box(&choices));
            out.len()
        });
    });

    let usage = usage();
    group.bench_function("usage_chunk", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            let cost = cost(&pricing, black_box(&usage));
            prefix.usage_chunk(&mut out, &usage, &cost);
            out.len()
        });
    });

    let models = catalog(12);
    group.bench_function("models_list_12", |b| {
        b.iter(|| render::models_list(black_box(&models)).len());
    });
    group.finish();
}

/// The provider-neutral SSE parser on a 200-chunk stream, fed in TCP-segment-sized pieces.
fn parse_provider_stream(c: &mut Criterion) {
    let stream = provider_stream(200);
    let mut group = c.benchmark_group("upstream_sse");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("200_chunks", |b| {
        b.iter(|| {
            let mut parser = SseParser::new();
            let mut n_events = 0usize;
            for segment in black_box(&stream).chunks(1460) {
                parser.push(segment);
                while let Ok(Some(event)) = parser.next_event() {
                    n_events += event.data().len().min(1);
                }
            }
            n_events
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    parse_request,
    build_plan,
    render_response,
    parse_provider_stream
);
criterion_main!(benches);
