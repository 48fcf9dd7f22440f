//! Per-key limits: the models a key may use, its credit in USD per `limit_reset` period, and its
//! requests and tokens per minute (the `[[keys]]` entry's `allowed_models`, `limit`,
//! `limit_reset`, `rpm` and `tpm`).
//!
//! [`Limits::admit`] runs after routing and before any upstream call: a model outside
//! `allowed_models` is a 403, spent credit a 402, a full minute a 429 with `Retry-After`. An
//! admitted request holds its estimated cost and tokens ([`Ask`]: the prompt estimate plus
//! `max_tokens`, or [`COMPLETION_ESTIMATE`] tokens, at the plan's dearest endpoint), so
//! concurrent requests cannot all take the last of a limit; when it ends (answered, failed, or
//! the client gone: the receipt is dropped) [`Limits::settle`] releases the hold and charges the
//! real cost and tokens. Streams settle when they end.
//!
//! Counters are in process ([`local`]) without `[redis]`; with it they are in Redis
//! ([`shared`]), atomic across replicas. While Redis cannot be reached, each replica enforces
//! `[limits] local_share` of every limit on its own counters; the response says
//! `X-Turnout-Limits: local` and `turnout_key_limit_checks_total{mode="local"}` counts it. Time
//! is the app's clock, so tests can let a minute pass.

pub(crate) mod local;
pub(crate) mod shared;
pub(crate) mod window;

use std::sync::Arc;

use axum::http::HeaderValue;
use prometheus_client::metrics::counter::Counter;
use router_core::plan::Step;
use router_core::pricing::{self, Usage};
use router_core::request::ChatRequest;
use router_session::RedisLink;

use self::local::LocalCounts;
use self::window::{Windows, secs_to_next_minute};
use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::chat::route::Route;
use crate::config::{ClientKey, KeyLimits, LimitReset};
use crate::sticky::Clock;

/// Completion tokens a request without `max_tokens` is assumed to produce, for its hold.
pub(crate) const COMPLETION_ESTIMATE: u64 = 256;

/// The key limits of one config: where they are counted, and the clock.
pub(crate) struct Limits {
    counts: Arc<LocalCounts>,
    redis: Option<Arc<RedisLink>>,
    clock: Arc<dyn Clock>,
    local_share: f64,
    shared_checks: Counter,
    local_checks: Counter,
}

/// What one request asks of its key's limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ask {
    /// The windows it counts in.
    pub(crate) windows: Windows,
    /// The key's credit reset.
    pub(crate) reset: Option<LimitReset>,
    /// The key's credit limit, USD.
    pub(crate) limit: Option<f64>,
    /// The key's requests per minute.
    pub(crate) rpm: Option<u64>,
    /// The key's tokens per minute.
    pub(crate) tpm: Option<u64>,
    /// The estimated cost held, USD.
    pub(crate) cost: f64,
    /// The estimated tokens held.
    pub(crate) tokens: u64,
}

/// Which limit a request did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The credit of the period is spent.
    Credit,
    /// The minute's requests are used up.
    Requests,
    /// The minute's tokens are used up.
    Tokens,
}

/// Where a request's limits were counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// In Redis, shared by every replica.
    Shared,
    /// In this process: no `[redis]`, or (with `local_share`) Redis unreachable.
    Local,
}

impl Mode {
    /// The `X-Turnout-Limits` value.
    pub(crate) fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Mode::Shared => "shared",
            Mode::Local => "local",
        })
    }
}

/// An admitted request's hold on its key's limits; [`Limits::settle`] releases it.
#[derive(Debug)]
pub(crate) struct Admission {
    key: Arc<ClientKey>,
    ask: Ask,
    /// Where it was counted.
    pub(crate) mode: Mode,
}

/// A request refused by its key's limits (the message says the limit is this gateway's).
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum LimitError {
    /// 403: the model is outside the key's `allowed_models`.
    #[error("this key may not use `{0}`: it is outside the key's allowed models")]
    ModelNotAllowed(String),
    /// 402: the key's credit limit is spent.
    #[error(
        "Key limit exceeded: this key has spent its credit limit of ${limit}{} set on this \
         gateway (Turnout), not a provider's",
        reset_words(*.reset)
    )]
    Credit {
        /// The limit, USD.
        limit: f64,
        /// When it starts again.
        reset: Option<LimitReset>,
    },
    /// 429: the key's requests per minute are used up.
    #[error(
        "Rate limit exceeded: this key may make {rpm} requests per minute on this gateway \
         (Turnout's key limit, not the provider's); retry in {retry_after} s"
    )]
    Requests {
        /// The limit.
        rpm: u64,
        /// Seconds to the next minute.
        retry_after: u64,
    },
    /// 429: the key's tokens per minute are used up.
    #[error(
        "Rate limit exceeded: this key may use {tpm} tokens per minute on this gateway \
         (Turnout's key limit, not the provider's); retry in {retry_after} s"
    )]
    Tokens {
        /// The limit.
        tpm: u64,
        /// Seconds to the next minute.
        retry_after: u64,
    },
}

impl LimitError {
    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        match self {
            LimitError::ModelNotAllowed(_) => 403,
            LimitError::Credit { .. } => 402,
            LimitError::Requests { .. } | LimitError::Tokens { .. } => 429,
        }
    }

    /// OpenRouter's typed error.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            LimitError::ModelNotAllowed(_) => "permission_denied",
            LimitError::Credit { .. } => "payment_required",
            LimitError::Requests { .. } | LimitError::Tokens { .. } => "rate_limit_exceeded",
        }
    }

    /// `Retry-After`, in seconds, for a rate limit.
    pub(crate) fn retry_after_secs(&self) -> Option<u64> {
        match self {
            LimitError::Requests { retry_after, .. } | LimitError::Tokens { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }
}

fn reset_words(reset: Option<LimitReset>) -> &'static str {
    match reset {
        None => "",
        Some(LimitReset::Daily) => " per day (it resets at midnight UTC)",
        Some(LimitReset::Weekly) => " per week (it resets on Monday, midnight UTC)",
        Some(LimitReset::Monthly) => " per month (it resets on the 1st, midnight UTC)",
    }
}

impl Limits {
    /// The limits of a config, counted in `counts` (kept across reloads) and, with `[redis]`,
    /// in Redis through `redis`.
    pub(crate) fn new(
        counts: Arc<LocalCounts>,
        redis: Option<Arc<RedisLink>>,
        clock: Arc<dyn Clock>,
        local_share: f64,
        telemetry: &crate::metrics::Telemetry,
    ) -> Self {
        let checks = |mode: &str| {
            telemetry
                .limit_checks
                .get_or_create(&vec![("mode", mode.to_owned())])
                .clone()
        };
        Self {
            counts,
            redis,
            clock,
            local_share,
            shared_checks: checks("shared"),
            local_checks: checks("local"),
        }
    }

    /// The in-process counters (kept across reloads).
    pub(crate) fn counts(&self) -> &Arc<LocalCounts> {
        &self.counts
    }

    /// Checks `route` of `request` against the limits of the key of `auth` (see the module docs):
    /// `None` when the key counts nothing.
    pub(crate) async fn admit(
        &self,
        app: &AppState,
        auth: &ClientAuth,
        request: &ChatRequest<'_>,
        route: &Route,
    ) -> Result<Option<Admission>, LimitError> {
        let key = auth.key();
        let limits = &key.limits;
        if let Some(allowed) = &limits.allowed_models {
            for model in &route.plan.requested {
                let id = &app.catalog().model(*model).id;
                if !allowed.is_match(id) {
                    return Err(LimitError::ModelNotAllowed(id.to_string()));
                }
            }
        }
        if !limits.counts() {
            return Ok(None);
        }
        let now_ms = self.clock.now_ms();
        let ask = ask(app, limits, request, route, now_ms);
        let shared = match &self.redis {
            Some(link) => shared::admit(link, &key.name, &ask).await,
            None => None,
        };
        let (mode, answer) = match shared {
            Some(answer) => {
                self.shared_checks.inc();
                if answer.is_ok() {
                    // This replica's own share, for when Redis goes away.
                    _ = self.counts.admit(&key.name, &ask, None);
                }
                (Mode::Shared, answer)
            }
            None => {
                let share = if self.redis.is_some() {
                    self.local_checks.inc();
                    self.local_share
                } else {
                    1.0
                };
                (Mode::Local, self.counts.admit(&key.name, &ask, Some(share)))
            }
        };
        match answer {
            Ok(()) => Ok(Some(Admission {
                key: auth.shared(),
                ask,
                mode,
            })),
            Err(refusal) => Err(refusal_error(key, refusal, now_ms)),
        }
    }

    /// Releases `admission`'s hold and charges the real `cost` (USD) and `tokens`. Never
    /// blocks: the Redis part runs on its own task.
    pub(crate) fn settle(&self, admission: Admission, cost: f64, tokens: u64) {
        let name = &admission.key.name;
        self.counts.settle(name, &admission.ask, cost, tokens);
        if admission.mode == Mode::Local {
            return;
        }
        let (Some(link), Ok(runtime)) = (&self.redis, tokio::runtime::Handle::try_current()) else {
            return;
        };
        let link = link.clone();
        let name = name.clone();
        runtime.spawn(async move {
            if !shared::settle(&link, &name, &admission.ask, cost, tokens).await {
                tracing::warn!(key = %name, "cannot charge a request to the key's shared limits");
            }
        });
    }

    /// USD key `key` spent in its current credit period, as its limit counts it.
    pub(crate) async fn used(&self, key: &ClientKey) -> f64 {
        let period = Windows::at(self.clock.now_ms(), key.limits.limit_reset).period;
        if let Some(link) = &self.redis
            && let Some(used) = shared::used(link, &key.name, period).await
        {
            return used;
        }
        self.counts.used(&key.name, period)
    }
}

/// What `request`, planned as `route`, asks of `limits` at `now_ms`.
fn ask(
    app: &AppState,
    limits: &KeyLimits,
    request: &ChatRequest<'_>,
    route: &Route,
    now_ms: u64,
) -> Ask {
    let prompt = u64::from(route.prompt_tokens_estimate);
    let completion = request.max_tokens.map_or(COMPLETION_ESTIMATE, u64::from);
    let usage = Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        ..Usage::default()
    };
    let cost = if limits.limit.is_some() {
        route
            .plan
            .steps()
            .filter_map(|step| match step {
                Step::Call(attempt) => Some(attempt),
                Step::Skip(_) => None,
            })
            .map(|attempt| pricing::cost(&app.target(attempt).endpoint.pricing, &usage).total)
            .fold(0.0, f64::max)
    } else {
        0.0
    };
    Ask {
        windows: Windows::at(now_ms, limits.limit_reset),
        reset: limits.limit_reset,
        limit: limits.limit,
        rpm: limits.rpm,
        tpm: limits.tpm,
        cost,
        tokens: usage.total_tokens,
    }
}

/// The error for `refusal` of `key` at `now_ms`.
fn refusal_error(key: &ClientKey, refusal: Refusal, now_ms: u64) -> LimitError {
    let retry_after = secs_to_next_minute(now_ms);
    match refusal {
        Refusal::Credit => LimitError::Credit {
            limit: key.limits.limit.unwrap_or_default(),
            reset: key.limits.limit_reset,
        },
        Refusal::Requests => LimitError::Requests {
            rpm: key.limits.rpm.unwrap_or_default(),
            retry_after,
        },
        Refusal::Tokens => LimitError::Tokens {
            tpm: key.limits.tpm.unwrap_or_default(),
            retry_after,
        },
    }
}
