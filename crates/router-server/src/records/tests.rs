//! Tests of the record store through its public API: visibility per key, pending records,
//! batching, restart, usage periods and the rendered bodies.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::render::{generation_json, key_json};
use super::*;

/// A unique database path under the system temp dir, removed (with its WAL files) on drop.
pub(super) struct TempPath(PathBuf);

impl TempPath {
    pub(super) fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("turnout-records-{}-{label}-{n}.sqlite", std::process::id());
        let path = std::env::temp_dir().join(name);
        let this = Self(path);
        this.remove();
        this
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.0.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        self.remove();
    }
}

pub(super) fn record(
    id: &str,
    key_name: &str,
    created_at_ms: u64,
    cost_usd: f64,
) -> GenerationRecord {
    GenerationRecord {
        id: id.to_owned(),
        key_name: key_name.into(),
        created_at_ms,
        requested_models: vec!["openai/gpt-5.1".into(), "anthropic/claude-haiku-4.5".into()],
        model: Some("anthropic/claude-haiku-4.5".into()),
        provider: Some("Anthropic".into()),
        attempts: vec![
            AttemptRecord {
                model: "openai/gpt-5.1".into(),
                provider: Some("OpenAI".into()),
                status: Some(429),
                error_type: Some("rate_limit_exceeded".into()),
                elapsed_ms: 12,
            },
            AttemptRecord {
                model: "anthropic/claude-haiku-4.5".into(),
                provider: Some("Anthropic".into()),
                status: Some(200),
                error_type: None,
                elapsed_ms: 340,
            },
        ],
        prompt_tokens: 120,
        completion_tokens: 30,
        cached_tokens: 100,
        reasoning_tokens: 5,
        cost_usd,
        latency_ms: 360,
        time_to_first_token_ms: Some(150),
        finish_reason: Some("stop".into()),
        streamed: true,
        cancelled: false,
        router: None,
        upstream_id: Some("chatcmpl-upstream".to_owned()),
        session_id: Some("conversation-1".to_owned()),
        cache_savings_usd: 0.000_09,
    }
}

/// A record with every list empty and every option unset.
pub(super) fn bare_record(id: &str, key_name: &str, created_at_ms: u64) -> GenerationRecord {
    GenerationRecord {
        requested_models: Vec::new(),
        model: None,
        provider: None,
        attempts: Vec::new(),
        time_to_first_token_ms: None,
        finish_reason: None,
        streamed: false,
        upstream_id: None,
        session_id: None,
        ..record(id, key_name, created_at_ms, 0.0)
    }
}

/// Options that never write on their own within a test: only reads, flushes and drops do.
fn slow_batches() -> RecordsOptions {
    RecordsOptions {
        max_batch: 10_000,
        max_delay: Duration::from_secs(3600),
        ..RecordsOptions::default()
    }
}

#[test]
fn records_are_shareable_across_threads() {
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<Records>();
}

/// Runs `check` against an in-memory store and a file store (with batches that never write
/// on their own).
fn on_both_stores(check: impl Fn(&Records)) {
    check(&Records::open_with(None, slow_batches()).unwrap());
    let path = TempPath::new("both");
    check(&Records::open_with(Some(path.as_ref()), slow_batches()).unwrap());
}

#[test]
fn a_record_is_visible_only_to_its_key_even_while_pending() {
    on_both_stores(|records| {
        let rec = record("gen-1", "alice", 1_000, 0.25);
        records.record(rec.clone());
        // No flush: a file batch would wait an hour, but reads see pending records.
        assert_eq!(records.get("gen-1", "alice").unwrap(), Some(rec));
        assert_eq!(records.get("gen-1", "bob").unwrap(), None);
        assert_eq!(records.get("gen-2", "alice").unwrap(), None);
    });
}

#[test]
fn every_record_of_many_batches_is_written() {
    let options = RecordsOptions {
        max_batch: 7,
        max_delay: Duration::from_millis(5),
        ..RecordsOptions::default()
    };
    let path = TempPath::new("batches");
    let records = Records::open_with(Some(path.as_ref()), options).unwrap();
    let clones: Vec<_> = (0..4).map(|_| records.clone()).collect();
    std::thread::scope(|scope| {
        for (thread_idx, records) in clones.iter().enumerate() {
            scope.spawn(move || {
                for n in 0..25 {
                    records.record(record(&format!("gen-{thread_idx}-{n}"), "k", 1, 1.0));
                }
            });
        }
    });
    records.flush().unwrap();
    assert_eq!(records.key_usage("k", 1).unwrap().total, 100.0);
    let last = records.get("gen-3-24", "k").unwrap().unwrap();
    assert_eq!(last.attempts.len(), 2);
}

#[test]
fn a_full_batch_is_written_without_waiting_for_the_timer() {
    let path = TempPath::new("full-batch");
    let options = RecordsOptions {
        max_batch: 3,
        max_delay: Duration::from_secs(3600),
        ..RecordsOptions::default()
    };
    let records = Records::open_with(Some(path.as_ref()), options).unwrap();
    let rows_on_disk = || -> i64 {
        let conn = rusqlite::Connection::open(path.as_ref()).unwrap();
        conn.query_row("SELECT COUNT(*) FROM generations", [], |row| row.get(0))
            .unwrap()
    };
    for idx in 0..2 {
        records.record(record(&format!("gen-{idx}"), "k", 1, 1.0));
    }
    // Two records wait for the batch (reading through `records` would write them first).
    assert_eq!(rows_on_disk(), 0);
    records.record(record("gen-2", "k", 1, 1.0));
    // The third fills the batch and wakes the writer; the hour-long timer never fires here.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while rows_on_disk() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rows_on_disk(), 3);
}

#[test]
fn records_survive_a_restart() {
    let path = TempPath::new("restart");
    let rec = record("gen-restart", "alice", 5_000, 0.5);
    let mut empty = bare_record("gen-empty", "alice", 5_001);
    empty.router = Some("openrouter/auto".into());
    {
        let records = Records::open_with(Some(path.as_ref()), slow_batches()).unwrap();
        records.record(rec.clone());
        records.record(empty.clone());
        // Dropped without a flush: dropping writes the pending batch.
    }
    let reopened = Records::open(Some(path.as_ref())).unwrap();
    assert_eq!(reopened.get("gen-restart", "alice").unwrap(), Some(rec));
    assert_eq!(reopened.get("gen-empty", "alice").unwrap(), Some(empty));
    assert_eq!(reopened.get("gen-restart", "mallory").unwrap(), None);
}

#[test]
fn key_usage_sums_by_utc_day_monday_week_and_month() {
    on_both_stores(key_usage_sums_by_period);
}

fn key_usage_sums_by_period(records: &Records) {
    // "Now" is Wednesday 2025-01-15 12:00 UTC; costs are powers of two so sums are exact.
    let now = 1_736_942_400_000;
    let at = [
        (1_736_938_800_000, 1.0),  // Wednesday 11:00: today.
        (1_736_899_200_000, 2.0),  // Wednesday 00:00: today, at its first millisecond.
        (1_736_730_000_000, 4.0),  // Monday 01:00: this week.
        (1_736_722_800_000, 8.0),  // Sunday 23:00: last week, this month.
        (1_735_689_540_000, 16.0), // 2024-12-31 23:59: last month.
    ];
    for (idx, (created_at_ms, cost)) in at.into_iter().enumerate() {
        records.record(record(&format!("gen-{idx}"), "alice", created_at_ms, cost));
    }
    records.record(record("gen-bob", "bob", now, 32.0));
    let usage = records.key_usage("alice", now).unwrap();
    assert_eq!(
        usage,
        KeyUsage {
            total: 31.0,
            daily: 3.0,
            weekly: 7.0,
            monthly: 15.0,
        }
    );
    assert_eq!(
        records.key_usage("carol", now).unwrap(),
        KeyUsage::default()
    );
}

#[test]
fn generation_json_has_every_key_the_sdks_require() {
    let body: serde_json::Value = serde_json::from_str(&generation_json(&record(
        "gen-9",
        "alice",
        1_736_942_400_000,
        0.125,
    )))
    .unwrap();
    let data = &body["data"];
    let required_non_null = [
        "id",
        "total_cost",
        "created_at",
        "model",
        "origin",
        "usage",
        "is_byok",
    ];
    for key in required_non_null {
        assert!(!data[key].is_null(), "{key} is null or missing");
    }
    let nullable = [
        "upstream_id",
        "cache_discount",
        "upstream_inference_cost",
        "app_id",
        "streamed",
        "cancelled",
        "provider_name",
        "latency",
        "moderation_latency",
        "generation_time",
        "finish_reason",
        "tokens_prompt",
        "tokens_completion",
        "native_tokens_prompt",
        "native_tokens_completion",
        "native_tokens_completion_images",
        "native_tokens_reasoning",
        "native_tokens_cached",
        "num_media_prompt",
        "num_input_audio_prompt",
        "num_media_completion",
        "num_search_results",
        "native_finish_reason",
        "external_user",
        "api_type",
        "router",
        "provider_responses",
    ];
    let object = data.as_object().unwrap();
    for key in nullable {
        assert!(object.contains_key(key), "{key} missing");
    }
    assert_eq!(data["id"], "gen-9");
    assert_eq!(data["created_at"], "2025-01-15T12:00:00.000Z");
    assert_eq!(data["model"], "anthropic/claude-haiku-4.5");
    assert_eq!(data["provider_name"], "Anthropic");
    assert_eq!(data["total_cost"], 0.125);
    assert_eq!(data["native_tokens_cached"], 100);
    assert_eq!(data["generation_time"], 340);
    assert_eq!(data["router"], serde_json::Value::Null);
    let attempts = data["provider_responses"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["provider_name"], "OpenAI");
    assert_eq!(attempts[0]["status"], 429);
    assert_eq!(attempts[0]["model_permaslug"], "openai/gpt-5.1");
    assert_eq!(attempts[0]["latency"], 12);
}

#[test]
fn generation_json_of_a_failed_request_still_names_a_model() {
    let mut rec = record("gen-failed", "alice", 0, 0.0);
    rec.model = None;
    rec.provider = None;
    rec.attempts = vec![AttemptRecord {
        model: "openai/gpt-5.1".into(),
        provider: None,
        status: Some(400),
        error_type: Some("context_length_exceeded".into()),
        elapsed_ms: 0,
    }];
    let body: serde_json::Value = serde_json::from_str(&generation_json(&rec)).unwrap();
    let data = &body["data"];
    assert_eq!(data["model"], "openai/gpt-5.1");
    assert!(data["provider_name"].is_null());
    assert!(data["generation_time"].is_null());
    let attempt = data["provider_responses"][0].as_object().unwrap();
    // Optional-but-not-nullable in the SDK: absent, never null.
    assert!(!attempt.contains_key("provider_name"));
    assert_eq!(attempt["status"], 400);
}

#[test]
fn key_json_has_the_usage_and_the_deprecated_rate_limit() {
    let usage = KeyUsage {
        total: 25.5,
        daily: 1.5,
        weekly: 3.0,
        monthly: 12.25,
    };
    let body: serde_json::Value =
        serde_json::from_str(&key_json("team-a", &usage, &Default::default())).unwrap();
    let data = &body["data"];
    assert_eq!(data["label"], "team-a");
    assert_eq!(data["usage"], 25.5);
    assert_eq!(data["usage_daily"], 1.5);
    assert_eq!(data["usage_weekly"], 3.0);
    assert_eq!(data["usage_monthly"], 12.25);
    assert!(data["limit"].is_null() && data["limit_remaining"].is_null());
    for key in [
        "limit_reset",
        "include_byok_in_limit",
        "byok_usage",
        "byok_usage_daily",
        "byok_usage_weekly",
        "byok_usage_monthly",
        "is_free_tier",
        "is_provisioning_key",
    ] {
        assert!(data.as_object().unwrap().contains_key(key), "{key} missing");
    }
    assert!(data["rate_limit"]["requests"].is_i64());
    assert!(data["rate_limit"]["interval"].is_string());
    assert!(data["rate_limit"]["note"].is_string());
}
