//! A key's limits (`limit`, `limit_reset`, `rpm`, `tpm`, `allowed_models` of a `[[keys]]` entry)
//! and the `[limits]` section (how much of each limit a replica may spend on its own while the
//! shared Redis cannot be reached).
//!
//! Kept apart from `raw` and `validate` so the limits read in one place.

use router_core::patterns::ModelPatterns;
use serde::Deserialize;

use super::problems::{Problems, join_index, join_key};
use super::raw::number;

/// When a key's credit limit starts again (UTC; weeks run Monday to Sunday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitReset {
    /// At midnight UTC.
    Daily,
    /// On Monday at midnight UTC.
    Weekly,
    /// On the first of the month at midnight UTC.
    Monthly,
}

impl LimitReset {
    /// `daily`, `weekly` or `monthly`, as OpenRouter writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitReset::Daily => "daily",
            LimitReset::Weekly => "weekly",
            LimitReset::Monthly => "monthly",
        }
    }

    /// The reset [`LimitReset::as_str`] names; `None` for any other text.
    pub fn from_name(name: &str) -> Option<Self> {
        [LimitReset::Daily, LimitReset::Weekly, LimitReset::Monthly]
            .into_iter()
            .find(|it| it.as_str() == name)
    }
}

/// A client key's limits; every one optional.
#[derive(Debug, Clone, Default)]
pub struct KeyLimits {
    /// Credit, in USD, the key may spend per `limit_reset` period (or in all, without one).
    pub limit: Option<f64>,
    /// When the credit limit starts again; `None`: never.
    pub limit_reset: Option<LimitReset>,
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens (prompt and completion) per minute.
    pub tpm: Option<u64>,
    /// The models this key may use (globs, as the Auto Router's `allowed_models`); `None`: all.
    pub allowed_models: Option<ModelPatterns>,
}

impl KeyLimits {
    /// Whether the key has a credit, rate or token limit (something to count).
    pub fn counts(&self) -> bool {
        self.limit.is_some() || self.rpm.is_some() || self.tpm.is_some()
    }
}

/// The limit keys of a `[[keys]]` entry as written.
#[derive(Debug, Default)]
pub(super) struct RawKeyLimits {
    pub(super) limit: Option<f64>,
    pub(super) limit_reset: Option<String>,
    pub(super) rpm: Option<u64>,
    pub(super) tpm: Option<u64>,
    pub(super) allowed_models: Option<Vec<String>>,
}

/// Validates a key's limits; problems are reported under `path` (the key's).
pub(super) fn key_limits(
    raw: RawKeyLimits,
    path: &str,
    problems: &mut Problems,
) -> Option<KeyLimits> {
    let mut valid = true;
    if let Some(limit) = raw.limit
        && !(limit.is_finite() && limit >= 0.0)
    {
        problems.push(
            join_key(path, "limit"),
            "must be a number of USD, 0 or more",
        );
        valid = false;
    }
    let limit_reset = match raw.limit_reset.as_deref() {
        None | Some("none") => None,
        Some("daily") => Some(LimitReset::Daily),
        Some("weekly") => Some(LimitReset::Weekly),
        Some("monthly") => Some(LimitReset::Monthly),
        Some(other) => {
            problems.push(
                join_key(path, "limit_reset"),
                format!("`{other}` is not one of `daily`, `weekly`, `monthly` or `none`"),
            );
            valid = false;
            None
        }
    };
    if limit_reset.is_some() && raw.limit.is_none() {
        problems.push(
            join_key(path, "limit_reset"),
            "resets a credit limit: set `limit` too",
        );
        valid = false;
    }
    for (key, value) in [("rpm", raw.rpm), ("tpm", raw.tpm)] {
        if value == Some(0) {
            problems.push(
                join_key(path, key),
                "must be at least 1 (leave it out for no limit)",
            );
            valid = false;
        }
    }
    let allowed_models = match raw.allowed_models {
        None => None,
        Some(patterns) => {
            let list_path = join_key(path, "allowed_models");
            for (idx, pattern) in patterns.iter().enumerate() {
                if let Err(err) = ModelPatterns::new(&[pattern]) {
                    problems.push(join_index(&list_path, idx), err.to_string());
                    valid = false;
                }
            }
            ModelPatterns::new(&patterns).ok()
        }
    };
    valid.then_some(KeyLimits {
        limit: raw.limit,
        limit_reset,
        rpm: raw.rpm,
        tpm: raw.tpm,
        allowed_models,
    })
}

/// `[limits]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    /// The share of each key limit one replica may spend while Redis cannot be reached.
    /// Default 1.
    #[serde(default = "default_local_share", deserialize_with = "number")]
    local_share: f64,
}

/// The validated `[limits]` section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitSettings {
    /// The share (0 to 1) of every key limit one replica enforces on its own while the shared
    /// counters in Redis cannot be reached: `1 / replicas` keeps the sum of the replicas within
    /// the limit. Default 1 (one replica).
    pub local_share: f64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self { local_share: 1.0 }
    }
}

/// Validates `[limits]`.
pub(super) fn validate(raw: RawLimits, problems: &mut Problems) -> Option<LimitSettings> {
    if !(raw.local_share > 0.0 && raw.local_share <= 1.0) {
        problems.push(
            "limits.local_share",
            "must be a number above 0 and at most 1 (1 / the number of replicas)",
        );
        return None;
    }
    Some(LimitSettings {
        local_share: raw.local_share,
    })
}

fn default_local_share() -> f64 {
    1.0
}

#[cfg(test)]
mod tests {
    use super::super::tests::load_one_model as load;
    use super::*;

    #[test]
    fn reads_a_keys_limits_and_the_local_share() {
        let config = load(
            "[limits]\nlocal_share = 0.5\n[[keys]]\nname = \"k\"\nkey = \"sk\"\nlimit = 2.5\n\
             limit_reset = \"weekly\"\nrpm = 60\ntpm = \"1000\"\nallowed_models = [\"a/*\"]\n",
        )
        .unwrap();
        assert_eq!(config.limits.local_share, 0.5);
        let limits = &config.keys[0].limits;
        assert_eq!(limits.limit, Some(2.5));
        assert_eq!(limits.limit_reset, Some(LimitReset::Weekly));
        assert_eq!((limits.rpm, limits.tpm), (Some(60), Some(1000)));
        assert!(limits.allowed_models.as_ref().unwrap().is_match("a/b"));
        // The Auto Router picks within the key's models.
        let auto = config.keys[0].auto_router.as_ref().unwrap();
        assert_eq!(auto.allowed_models, Some(vec!["a/*".to_owned()]));
        let plain = load("[[keys]]\nname = \"k\"\nkey = \"sk\"\n").unwrap();
        assert!(!plain.keys[0].limits.counts());
        assert_eq!(plain.limits, LimitSettings::default());
    }

    #[test]
    fn refuses_unusable_limits_at_their_paths() {
        let problems = load(
            "[limits]\nlocal_share = 0\n[[keys]]\nname = \"k\"\nkey = \"sk\"\nlimit = -1\n\
             limit_reset = \"hourly\"\nrpm = 0\nallowed_models = [\"a/{\"]\n\
             [[keys]]\nname = \"j\"\nkey = \"sj\"\nlimit_reset = \"daily\"\n",
        )
        .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|it| it.0.as_str()).collect();
        for path in [
            "limits.local_share",
            "keys[0].limit",
            "keys[0].limit_reset",
            "keys[0].rpm",
            "keys[0].allowed_models[0]",
            "keys[1].limit_reset",
        ] {
            assert!(paths.contains(&path), "{path} not in {problems:?}");
        }
    }
}
