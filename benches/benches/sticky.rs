//! Criterion benches of sticky sessions: what the lookup adds to a request with the in-process
//! store (resolving the conversation key, hashing its scope, reading the pin), and one Redis
//! round trip on loopback (a `redis-server` this bench starts on a free port; skipped with a
//! note when the binary is missing).
//!
//! Run with `cargo bench -p benches --bench sticky`.

use std::hint::black_box;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use benches::{RedisServer, catalog, request_body_with_prompt_tokens};
use criterion::{Criterion, criterion_group, criterion_main};
use router_core::catalog::{EndpointIdx, ModelIdx};
use router_core::request::ChatRequest;
use router_session::{
    ConversationKey, Lookup, MemoryStore, PinStore, PinnedRoute, RedisLink, RedisOptions,
    RedisStore, Scope,
};

const PIN: PinnedRoute = PinnedRoute {
    model: ModelIdx(0),
    endpoint: EndpointIdx(1),
};
const TTL: Duration = Duration::from_secs(300);

/// A body with `session_id`, and one without (the implicit fingerprint), of about 4k tokens.
fn bodies() -> [(&'static str, Vec<u8>); 2] {
    let implicit = request_body_with_prompt_tokens(4096, false);
    let text = String::from_utf8(implicit.clone()).unwrap_or_default();
    let explicit = text.replacen('{', r#"{"session_id":"conversation-1234567890","#, 1);
    [
        ("explicit", explicit.into_bytes()),
        ("implicit_4k", implicit),
    ]
}

/// Resolve the key, hash the scope, look the pin up (a hit): what each request adds.
fn lookup_in_process(c: &mut Criterion) {
    let mut group = c.benchmark_group("sticky_lookup");
    let store = MemoryStore::new(100_000, Duration::from_secs(3600));
    // A store with other conversations in it, as a busy server has.
    for idx in 0..10_000u32 {
        store.store(
            &Scope(*blake3::hash(&idx.to_le_bytes()).as_bytes()),
            PIN,
            TTL,
            0,
        );
    }
    for (name, body) in bodies() {
        let request = ChatRequest::parse(&body).unwrap_or_else(|err| panic!("{err}"));
        let key = ConversationKey::resolve(&request, None).unwrap_or_else(|err| panic!("{err}"));
        store.store(&Scope::new("team-a", "openai/gpt-5.1", &key), PIN, TTL, 0);
        // The conversation key alone (for `implicit`, the fingerprint).
        group.bench_function(format!("key_only/{name}"), |b| {
            b.iter(|| ConversationKey::resolve(black_box(&request), None).is_ok());
        });
        group.bench_function(format!("memory/{name}"), |b| {
            b.iter(|| {
                let key = ConversationKey::resolve(black_box(&request), None).ok()?;
                let scope = Scope::new("team-a", black_box("openai/gpt-5.1"), &key);
                Some(poll_once(store.get(&scope, 1000)))
            });
        });
    }
    group.finish();
}

/// One `GET` of a pin from a `redis-server` on loopback.
#[expect(
    clippy::print_stderr,
    reason = "a bench run says why it skipped a group"
)]
fn redis_round_trip(c: &mut Criterion) {
    let Some(mut server) = RedisServer::start() else {
        eprintln!(
            "redis-server not found (apt-get install redis-server): skipping redis_round_trip"
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("{err}"));
    let options = RedisOptions {
        url: format!("redis://127.0.0.1:{}/0", server.port()),
        timeout: Duration::from_secs(1),
        retry_after: Duration::from_secs(1),
    };
    let link = RedisLink::new(options).unwrap_or_else(|err| panic!("{err}"));
    let store = RedisStore::new(std::sync::Arc::new(link), &catalog(4));
    let scope = Scope([9; 32]);
    assert!(runtime.block_on(store.put(&scope, PIN, TTL, 0)));
    assert_eq!(runtime.block_on(store.get(&scope, 1)), Lookup::Hit(PIN));
    let mut group = c.benchmark_group("sticky_redis");
    group.bench_function("get_hit", |b| {
        b.iter(|| runtime.block_on(store.get(black_box(&scope), 1)));
    });
    group.bench_function("put", |b| {
        b.iter(|| runtime.block_on(store.put(black_box(&scope), PIN, TTL, 1)));
    });
    group.finish();
    server.stop();
}

/// Polls a future that is ready at once (the in-process store's).
fn poll_once<T>(mut future: router_session::StoreFuture<'_, T>) -> Option<T> {
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(it) => Some(it),
        Poll::Pending => None,
    }
}

criterion_group!(benches, lookup_in_process, redis_round_trip);
criterion_main!(benches);
