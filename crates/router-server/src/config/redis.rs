//! The `[redis]` section: the one Redis that several replicas share state through.
//!
//! Kept apart from `raw` and `validate` so the section reads in one place; its raw struct
//! follows the same rules (unknown keys refused, numbers may be strings). Without the section
//! every replica keeps its state to itself (the defaults for one process).

use std::time::Duration;

use serde::Deserialize;

use super::problems::{Problems, join_key};
use super::raw::{Deferred, number};

/// `[redis]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRedis {
    /// `redis://host:port/db`. Required.
    url: String,
    /// Longest wait for one Redis operation (or a connection attempt), in milliseconds.
    /// Default 10.
    #[serde(default = "default_timeout_ms", deserialize_with = "number")]
    timeout_ms: u64,
    /// How long an unreachable Redis is left alone before it is tried again, in milliseconds.
    /// Default 1000.
    #[serde(default = "default_retry_ms", deserialize_with = "number")]
    retry_ms: u64,
    /// How often each replica reads the endpoint cool-downs shared in Redis, in milliseconds.
    /// Default 250.
    #[serde(default = "default_health_refresh_ms", deserialize_with = "number")]
    health_refresh_ms: u64,
}

/// The validated `[redis]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://…`.
    pub url: String,
    /// Longest wait for one operation.
    pub timeout: Duration,
    /// How long an unreachable Redis is left alone.
    pub retry_after: Duration,
    /// How often the endpoint cool-downs shared in Redis are read.
    pub health_refresh: Duration,
}

impl RedisSettings {
    /// The options of a [`router_session::RedisLink`] to this Redis.
    pub fn link_options(&self) -> router_session::RedisOptions {
        router_session::RedisOptions {
            url: self.url.clone(),
            timeout: self.timeout,
            retry_after: self.retry_after,
        }
    }
}

/// Validates `[redis]` when it is present.
pub(super) fn validate(
    raw: Option<Deferred<RawRedis>>,
    problems: &mut Problems,
) -> Option<Option<RedisSettings>> {
    const PATH: &str = "redis";
    let Some(raw) = raw else {
        return Some(None);
    };
    let raw: RawRedis = raw.parse(PATH, problems)?;
    let mut valid = true;
    if !raw.url.starts_with("redis://") {
        problems.push(
            join_key(PATH, "url"),
            "must start with `redis://` (for example `redis://127.0.0.1:6379/0`)",
        );
        valid = false;
    }
    for (key, ms) in [
        ("timeout_ms", raw.timeout_ms),
        ("retry_ms", raw.retry_ms),
        ("health_refresh_ms", raw.health_refresh_ms),
    ] {
        if ms == 0 {
            problems.push(join_key(PATH, key), "must be at least 1");
            valid = false;
        }
    }
    valid.then(|| {
        Some(RedisSettings {
            url: raw.url,
            timeout: Duration::from_millis(raw.timeout_ms),
            retry_after: Duration::from_millis(raw.retry_ms),
            health_refresh: Duration::from_millis(raw.health_refresh_ms),
        })
    })
}

fn default_timeout_ms() -> u64 {
    10
}

fn default_retry_ms() -> u64 {
    1000
}

fn default_health_refresh_ms() -> u64 {
    250
}
