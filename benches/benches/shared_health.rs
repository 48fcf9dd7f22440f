//! Criterion benches of endpoint health shared by replicas (`[redis]`): what the planner's read
//! of one endpoint costs with and without a shared cool-down (the server's `HealthBoard` takes
//! the endpoint's mutex, and with sharing also loads one atomic and calls
//! `EndpointHealth::observe_shared`), and what one refresh costs, off the request path: one
//! pipeline of `PTTL`s for every endpoint to a `redis-server` on loopback (started on a free
//! port; skipped with a note when the binary is missing).
//!
//! Run with `cargo bench -p benches --bench shared_health`.

use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use benches::RedisServer;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use router_core::health::{EndpointHealth, HealthSettings, Outcome};
use router_session::{RedisLink, RedisOptions};

/// One endpoint's read as the planner does it, local only and with the shared cool-down.
fn observe(c: &mut Criterion) {
    let settings = HealthSettings::default();
    let health = Mutex::new(EndpointHealth::default());
    // An endpoint with a few answers recorded, as a busy one has.
    for at in 0..32 {
        health.lock().unwrap_or_else(|err| panic!("{err}")).record(
            at,
            Outcome::Answered {
                latency: Some(0.2),
                throughput: Some(80.0),
            },
            &settings,
        );
    }
    let shared_until = AtomicU64::new(0);
    let mut group = c.benchmark_group("health_observe");
    group.bench_function("local", |b| {
        b.iter(|| {
            let mut it = health.lock().unwrap_or_else(|err| err.into_inner());
            it.observe(black_box(1_000), &settings)
        });
    });
    group.bench_function("shared", |b| {
        b.iter(|| {
            let shared = black_box(&shared_until).load(Ordering::Relaxed);
            let mut it = health.lock().unwrap_or_else(|err| err.into_inner());
            it.observe_shared(black_box(1_000), shared, &settings)
        });
    });
    group.finish();
}

/// One refresh: a pipeline of `PTTL`s for every endpoint, some of them cooling down.
#[expect(
    clippy::print_stderr,
    reason = "a bench run says why it skipped a group"
)]
fn refresh(c: &mut Criterion) {
    let Some(mut server) = RedisServer::start() else {
        eprintln!("redis-server not found (apt-get install redis-server): skipping health_refresh");
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("{err}"));
    let link = RedisLink::new(RedisOptions {
        url: format!("redis://127.0.0.1:{}/0", server.port()),
        timeout: Duration::from_secs(1),
        retry_after: Duration::from_secs(1),
    })
    .unwrap_or_else(|err| panic!("{err}"));
    let mut group = c.benchmark_group("health_refresh");
    for endpoints in [8usize, 64, 512] {
        let keys: Vec<String> = (0..endpoints)
            .map(|idx| format!("turnout:health:bench/model-{idx}|provider|upstream-{idx}"))
            .collect();
        // Every eighth endpoint cools down.
        for key in keys.iter().step_by(8) {
            let command = redis::cmd("SET")
                .arg(key)
                .arg("failures")
                .arg("PX")
                .arg(600_000)
                .clone();
            runtime
                .block_on(link.run(|mut connection| async move {
                    command.query_async::<()>(&mut connection).await
                }))
                .unwrap_or_else(|| panic!("SET failed"));
        }
        let mut pipeline = redis::pipe();
        for key in &keys {
            pipeline.cmd("PTTL").arg(key);
        }
        group.bench_with_input(
            BenchmarkId::new("pttl_pipeline", endpoints),
            &pipeline,
            |b, pipeline| {
                b.iter(|| {
                    let pipeline = pipeline.clone();
                    runtime.block_on(link.run(|mut connection| async move {
                        pipeline.query_async::<Vec<i64>>(&mut connection).await
                    }))
                });
            },
        );
    }
    group.finish();
    server.stop();
}

criterion_group!(benches, observe, refresh);
criterion_main!(benches);
