//! The `[sessions]` section: sticky routing's TTL, its store, and per-model TTLs.
//!
//! Kept apart from `raw` and `validate` so the section reads in one place; its raw struct
//! follows the same rules (unknown keys refused, numbers may be strings).

use std::collections::BTreeMap;
use std::time::Duration;

use router_core::catalog::Catalog;
use serde::Deserialize;

use super::problems::{Problems, join_key};
use super::raw::{Deferred, number};

/// The longest TTL accepted (one day): longer than any provider keeps a prompt cache.
const MAX_TTL_MS: u64 = 86_400_000;

/// `[sessions]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSessions {
    /// Whether requests are pinned at all. Default true.
    #[serde(default = "default_enabled")]
    enabled: bool,
    /// Inactivity TTL of a pin, in milliseconds. Default 300000 (5 minutes).
    #[serde(default = "default_ttl_ms", deserialize_with = "number")]
    ttl_ms: u64,
    /// TTL per model id, in milliseconds, overriding `ttl_ms`.
    #[serde(default)]
    ttl_by_model: BTreeMap<String, u64>,
    /// `memory` or `redis`. Default `memory`.
    #[serde(default)]
    store: SessionStoreName,
    /// Most pins the in-process store keeps. Default 100000.
    #[serde(default = "default_capacity", deserialize_with = "number")]
    capacity: u64,
    /// `redis://host:port/db`; without it `store = "redis"` uses the `[redis]` section.
    #[serde(default)]
    redis_url: Option<String>,
    /// Longest wait for one Redis operation, in milliseconds. Default 10.
    #[serde(default = "default_redis_timeout_ms", deserialize_with = "number")]
    redis_timeout_ms: u64,
    /// How long an unreachable Redis is left alone before it is tried again, in milliseconds.
    /// Default 1000.
    #[serde(default = "default_redis_retry_ms", deserialize_with = "number")]
    redis_retry_ms: u64,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum SessionStoreName {
    #[default]
    Memory,
    Redis,
}

/// The validated `[sessions]` section.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Whether requests are pinned at all.
    pub enabled: bool,
    /// Inactivity TTL of a pin.
    pub ttl: Duration,
    /// TTLs of the models that have their own, by model id.
    pub ttl_by_model: BTreeMap<String, Duration>,
    /// Where pins are kept.
    pub store: SessionStoreKind,
    /// Most pins the in-process store keeps.
    pub capacity: u64,
}

/// Where pins are kept.
#[derive(Debug, Clone)]
pub enum SessionStoreKind {
    /// In this process (moka).
    Memory,
    /// In Redis, shared by every replica that names it.
    Redis {
        /// `redis://…`.
        url: String,
        /// Longest wait for one operation.
        timeout: Duration,
        /// How long an unreachable Redis is left alone.
        retry_after: Duration,
    },
    /// In the Redis of the `[redis]` section, over its one link.
    SharedRedis,
}

impl Default for SessionSettings {
    /// Every default: on, 5 minutes, in memory.
    fn default() -> Self {
        Self {
            enabled: true,
            ttl: Duration::from_millis(default_ttl_ms()),
            ttl_by_model: BTreeMap::new(),
            store: SessionStoreKind::Memory,
            capacity: default_capacity(),
        }
    }
}

/// Validates `[sessions]`; model ids in `ttl_by_model` are checked against `catalog` when it
/// could be built; `has_redis`: the file has a `[redis]` section.
pub(super) fn validate(
    raw: Deferred<RawSessions>,
    catalog: Option<&Catalog>,
    has_redis: bool,
    problems: &mut Problems,
) -> Option<SessionSettings> {
    const PATH: &str = "sessions";
    let raw: RawSessions = raw.parse(PATH, problems)?;
    let ttl = |ms: u64, path: &str, problems: &mut Problems| {
        if (1..=MAX_TTL_MS).contains(&ms) {
            Some(Duration::from_millis(ms))
        } else {
            problems.push(
                path,
                format!("must be between 1 and {MAX_TTL_MS} (one day)"),
            );
            None
        }
    };
    let global = ttl(raw.ttl_ms, &join_key(PATH, "ttl_ms"), problems);
    let mut valid = global.is_some();
    let mut ttl_by_model = BTreeMap::new();
    let by_model_path = join_key(PATH, "ttl_by_model");
    for (model, ms) in raw.ttl_by_model {
        let path = join_key(&by_model_path, &model);
        if let Some(catalog) = catalog
            && catalog.find(&model).is_none()
        {
            problems.push(&path, format!("`{model}` is not a model of `[[models]]`"));
            valid = false;
        }
        match ttl(ms, &path, problems) {
            Some(it) => _ = ttl_by_model.insert(model, it),
            None => valid = false,
        }
    }
    if raw.capacity == 0 {
        problems.push(join_key(PATH, "capacity"), "must be at least 1");
        valid = false;
    }
    for (key, ms) in [
        ("redis_timeout_ms", raw.redis_timeout_ms),
        ("redis_retry_ms", raw.redis_retry_ms),
    ] {
        if ms == 0 {
            problems.push(join_key(PATH, key), "must be at least 1");
            valid = false;
        }
    }
    let store = match (raw.store, raw.redis_url) {
        (SessionStoreName::Memory, _) => SessionStoreKind::Memory,
        (SessionStoreName::Redis, Some(url)) if url.starts_with("redis://") => {
            SessionStoreKind::Redis {
                url,
                timeout: Duration::from_millis(raw.redis_timeout_ms),
                retry_after: Duration::from_millis(raw.redis_retry_ms),
            }
        }
        (SessionStoreName::Redis, Some(_)) => {
            problems.push(
                join_key(PATH, "redis_url"),
                "must start with `redis://` (for example `redis://127.0.0.1:6379/0`)",
            );
            return None;
        }
        (SessionStoreName::Redis, None) if has_redis => SessionStoreKind::SharedRedis,
        (SessionStoreName::Redis, None) => {
            problems.push(
                join_key(PATH, "redis_url"),
                "is required with `store = \"redis\"` unless a `[redis]` section names the Redis",
            );
            return None;
        }
    };
    valid.then_some(SessionSettings {
        enabled: raw.enabled,
        ttl: global?,
        ttl_by_model,
        store,
        capacity: raw.capacity,
    })
}

fn default_enabled() -> bool {
    true
}

fn default_ttl_ms() -> u64 {
    300_000
}

fn default_capacity() -> u64 {
    100_000
}

fn default_redis_timeout_ms() -> u64 {
    10
}

fn default_redis_retry_ms() -> u64 {
    1000
}
