//! Criterion benches of answer translation: the per-chunk cost of reading a provider's stream
//! into canonical chunks, for each wire format (OpenAI-compatible, Anthropic, Gemini), from the
//! SSE bytes (fed in TCP-segment-sized pieces) to the OpenAI-shaped `choices`.
//!
//! Run with `cargo bench -p benches --bench translate`.

use std::hint::black_box;

use benches::{anthropic_stream, gemini_stream, provider_stream};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use router_upstream::ProviderKind;
use router_upstream::replay::read_stream;

/// Words per stream.
const N_CHUNKS: usize = 200;

fn translate_streams(c: &mut Criterion) {
    let mut group = c.benchmark_group("translate_stream");
    // Per chunk: the reported time is divided by the number of words.
    group.throughput(Throughput::Elements(N_CHUNKS as u64));
    for (name, kind, wire) in [
        (
            "openai",
            ProviderKind::OpenAiCompatible,
            provider_stream(N_CHUNKS),
        ),
        (
            "anthropic",
            ProviderKind::Anthropic,
            anthropic_stream(N_CHUNKS),
        ),
        ("gemini", ProviderKind::Gemini, gemini_stream(N_CHUNKS)),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut bytes = 0usize;
                let read = read_stream(kind, black_box(&wire), 1460, |chunk| {
                    bytes += chunk.choices.get().len();
                });
                (read, bytes)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, translate_streams);
criterion_main!(benches);
