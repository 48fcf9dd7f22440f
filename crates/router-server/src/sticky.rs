//! Sticky sessions: keep a conversation on the model and endpoint that served it, so the
//! provider's prompt cache stays warm.
//!
//! For each chat request, [`Session::start`] resolves the conversation key
//! ([`ConversationKey::resolve`]: body `session_id`, `x-session-id`, `prompt_cache_key`, else the
//! implicit fingerprint), and looks up the pin of its [`Scope`] (client key, requested model or
//! router slug, conversation key) in the [`PinStore`]. The pin goes first in the plan
//! ([`put_first`]; for the Auto Router, its model goes first while the request's patterns and
//! capabilities allow it), and the rest of the plan follows, so a failing pin costs one attempt.
//! When the request ends, [`Session::settle`] decides what happens to the pin:
//!
//! | What happened | Pin |
//! | --- | --- |
//! | the pinned route answered | renewed (`ttl` from now) |
//! | the pinned route failed, another attempt answered | left as it was, not renewed |
//! | the pinned endpoint is in cool-down: the plan goes on without it | left as it was |
//! | no pin, explicit key, success | created |
//! | no pin, implicit fingerprint, success with `cached_tokens > 0` | created |
//! | no pin, implicit fingerprint, no cache read | none |
//! | the request failed | left as it was |
//!
//! A lookup never renews a pin. `provider.order` in the request turns stickiness off for it,
//! and `[sessions] enabled = false` for every request. A store that cannot be reached (Redis
//! down) means routing without stickiness, never an error.
//!
//! Time comes from the [`Clock`] in the application state (the system clock unless a test
//! injects a [`ManualClock`]), so tests can let five minutes pass in an instant.
//!
//! The receipt says what happened in `X-Turnout-Session` ([`Session::header_value`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use router_core::catalog::ModelIdx;
use router_core::health::Status;
use router_core::plan::{Attempt, Plan};
use router_core::request::{ChatRequest, RequestError};
use router_session::{
    ConversationKey, Lookup, MAX_SESSION_ID_CHARS, MemoryStore, PinStore, PinnedRoute, Scope,
    SessionKeyError,
};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::chat::route::AUTO_ROUTER_ID;
use crate::config::{Config, SessionStoreKind};

/// The receipt header that says what stickiness did.
pub(crate) const X_SESSION: HeaderName = HeaderName::from_static("x-turnout-session");

/// The header a client may name its conversation with.
const X_SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");

/// A source of the current time, in Unix milliseconds.
pub trait Clock: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |it| u64::try_from(it.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicU64,
}

impl ManualClock {
    /// A clock showing `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self {
            now_ms: AtomicU64::new(now_ms),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }
}

/// Stickiness as the application state holds it: the store, the clock and the TTLs.
pub(crate) struct Sticky {
    /// `None` when `[sessions] enabled = false`.
    store: Option<Arc<dyn PinStore>>,
    clock: Arc<dyn Clock>,
    /// The TTL of each model's pins, by model index.
    ttls: Vec<Duration>,
}

/// Why the pin store could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the Redis session store: {0}")]
pub struct StoreSetupError(String);

impl Sticky {
    /// The clock pins expire on.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Stickiness for `config`, on `clock`; `shared_redis` is the link to `[redis]`, if any.
    pub(crate) fn new(
        config: &Config,
        clock: Arc<dyn Clock>,
        shared_redis: Option<&Arc<router_session::RedisLink>>,
    ) -> Result<Self, StoreSetupError> {
        let settings = &config.sessions;
        let ttls: Vec<Duration> = config
            .catalog
            .models()
            .iter()
            .map(|model| {
                settings
                    .ttl_by_model
                    .get(&*model.id)
                    .copied()
                    .unwrap_or(settings.ttl)
            })
            .collect();
        let max_ttl = ttls.iter().copied().fold(settings.ttl, Duration::max);
        let store: Option<Arc<dyn PinStore>> = match &settings.store {
            _ if !settings.enabled => None,
            SessionStoreKind::Memory => {
                Some(Arc::new(MemoryStore::new(settings.capacity, max_ttl)))
            }
            SessionStoreKind::Redis {
                url,
                timeout,
                retry_after,
            } => {
                let options = router_session::RedisOptions {
                    url: url.clone(),
                    timeout: *timeout,
                    retry_after: *retry_after,
                };
                let link = router_session::RedisLink::new(options)
                    .map_err(|err| StoreSetupError(err.to_string()))?;
                let store = router_session::RedisStore::new(Arc::new(link), &config.catalog);
                Some(Arc::new(store))
            }
            SessionStoreKind::SharedRedis => {
                let link = shared_redis.ok_or_else(|| {
                    StoreSetupError("`[sessions] store = \"redis\"` needs `[redis]`".to_owned())
                })?;
                let store = router_session::RedisStore::new(link.clone(), &config.catalog);
                Some(Arc::new(store))
            }
        };
        Ok(Self { store, clock, ttls })
    }

    /// The store's kind (`memory`, `redis`) and how many operations found it unreachable;
    /// `None` when stickiness is off.
    pub(crate) fn store_status(&self) -> Option<(&'static str, u64)> {
        self.store.as_ref().map(|it| (it.kind(), it.unavailable()))
    }

    /// The pin of `scope` now, without renewing it.
    pub(crate) async fn lookup(&self, scope: &Scope) -> Lookup {
        match &self.store {
            Some(store) => store.get(scope, self.clock.now_ms()).await,
            None => Lookup::Miss,
        }
    }
}

/// The `x-session-id` header, if the request has one that is text.
pub(crate) struct SessionHeader(pub(crate) Option<HeaderValue>);

impl FromRequestParts<AppState> for SessionHeader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(SessionHeader(parts.headers.get(X_SESSION_ID).cloned()))
    }
}

/// The `outcome` labels of `turnout_sticky_sessions_total`, in [`Session::metric_index`]'s
/// order.
pub(crate) const METRIC_LABELS: [&str; 5] = ["pending", "used", "created", "renewed", "ignored"];

/// What stickiness did for one request.
#[derive(Debug)]
pub(crate) struct Session {
    /// How records and `GET /api/v1/sessions/{id}` name the conversation.
    pub(crate) id: String,
    /// The requested model or router slug (the pin's scope, and the session API's listing).
    pub(crate) scope_model: String,
    /// `None` when stickiness is off for this request.
    scope: Option<Scope>,
    explicit: bool,
    /// The pin found, if any.
    found: Option<PinnedRoute>,
    /// Whether it was put first in the plan.
    applied: bool,
    outcome: Outcome,
}

/// What happened to the pin, as `X-Turnout-Session` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// No pin was found; whether one is created depends on the answer.
    Pending,
    /// The pinned route answered; renewed when the request succeeds.
    Used,
    /// A pin was stored for this conversation.
    Created,
    /// The pinned route answered and the pin was renewed.
    Renewed,
    /// Nothing was pinned or renewed, for this reason.
    Ignored(Ignored),
}

/// Why a request did not use or change a pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ignored {
    /// `[sessions] enabled = false`.
    Disabled,
    /// The request has `provider.order`.
    ProviderOrder,
    /// The pinned route is not allowed for this request (its models, patterns or needs).
    Excluded,
    /// The pinned endpoint is in cool-down: the request was routed without the pin, which is
    /// unchanged and applies again once the cool-down ends.
    CoolingDown,
    /// The pinned route failed; another answered. The pin is unchanged.
    PinFailed,
    /// The store could not be reached.
    StoreUnavailable,
    /// An implicit conversation whose answer read nothing from the provider's cache.
    NoCacheRead,
    /// The request failed.
    Failed,
}

impl Session {
    /// Resolves the conversation of `request` and looks up its pin. A `session_id` (body or
    /// header) longer than 256 characters is the client's error.
    pub(crate) async fn start(
        app: &AppState,
        request: &ChatRequest<'_>,
        header: Option<&HeaderValue>,
        auth: &ClientAuth,
    ) -> Result<Session, RequestError> {
        let header = header.and_then(|it| it.to_str().ok());
        let key = ConversationKey::resolve(request, header).map_err(|err| match err {
            SessionKeyError::TooLong { field, chars } => RequestError::Invalid {
                field: field.to_owned(),
                message: format!("must be at most {MAX_SESSION_ID_CHARS} characters (got {chars})"),
            },
        })?;
        let scope_model = scope_model(app, request);
        let mut session = Session {
            id: key.record_id(),
            scope: None,
            explicit: key.is_explicit(),
            found: None,
            applied: false,
            outcome: Outcome::Pending,
            scope_model,
        };
        let sticky = app.sticky();
        if sticky.store.is_none() {
            session.outcome = Outcome::Ignored(Ignored::Disabled);
            return Ok(session);
        }
        if has_provider_order(request) {
            session.outcome = Outcome::Ignored(Ignored::ProviderOrder);
            return Ok(session);
        }
        let scope = Scope::new(&auth.key().name, &session.scope_model, &key);
        match sticky.lookup(&scope).await {
            Lookup::Hit(pin) => session.found = Some(pin),
            Lookup::Miss => {}
            Lookup::Unavailable => {
                session.outcome = Outcome::Ignored(Ignored::StoreUnavailable);
                return Ok(session);
            }
        }
        session.scope = Some(scope);
        Ok(session)
    }

    /// The pin to put first in the plan: none while its endpoint is in cool-down (failures, or
    /// a `Retry-After`), so a conversation is not sent first where the router already knows
    /// requests fail; the pin itself is left as it is.
    pub(crate) fn pin(&mut self, app: &AppState) -> Option<PinnedRoute> {
        let pin = self.found?;
        if app.health().status(pin.model, pin.endpoint) == Status::CoolingDown {
            self.outcome = Outcome::Ignored(Ignored::CoolingDown);
            return None;
        }
        Some(pin)
    }

    /// The plan was built: `applied` says whether the pin went first.
    pub(crate) fn planned(&mut self, applied: bool) {
        self.applied = applied;
        if self.found.is_some() && !applied && self.outcome == Outcome::Pending {
            self.outcome = Outcome::Ignored(Ignored::Excluded);
        }
    }

    /// `attempt` answered (a complete response or a stream's first output).
    pub(crate) fn answered(&mut self, attempt: &Attempt) {
        if !self.applied || self.outcome != Outcome::Pending {
            return;
        }
        self.outcome = if self.found == Some(route_of(attempt)) {
            Outcome::Used
        } else {
            Outcome::Ignored(Ignored::PinFailed)
        };
    }

    /// The request ended: `served` is the attempt that answered and whether the answer was a
    /// success, `cached_tokens` what it read from the provider's cache. Renews, creates or
    /// leaves the pin (see the module docs).
    pub(crate) async fn settle(
        &mut self,
        sticky: &Sticky,
        served: Option<(Attempt, bool)>,
        cached_tokens: u64,
    ) {
        let (Some(scope), Some(store)) = (self.scope, sticky.store.as_ref()) else {
            return;
        };
        let Some((attempt, true)) = served else {
            if matches!(self.outcome, Outcome::Pending | Outcome::Used) {
                self.outcome = Outcome::Ignored(Ignored::Failed);
            }
            return;
        };
        let route = route_of(&attempt);
        let outcome = match (self.found, self.applied) {
            (Some(pin), true) if pin == route => Outcome::Renewed,
            (Some(_), true) => Outcome::Ignored(Ignored::PinFailed),
            // Set aside before the plan ([`Session::pin`]) or left out of it
            // ([`Session::planned`]): that reason stands.
            (Some(_), false) => self.outcome,
            (None, _) if self.explicit || cached_tokens > 0 => Outcome::Created,
            (None, _) => Outcome::Ignored(Ignored::NoCacheRead),
        };
        self.outcome = outcome;
        if matches!(outcome, Outcome::Renewed | Outcome::Created) {
            let ttl = sticky.ttl(route.model);
            if !store.put(&scope, route, ttl, sticky.clock.now_ms()).await {
                self.outcome = Outcome::Ignored(Ignored::StoreUnavailable);
            }
        }
    }

    /// The outcome as `turnout_sticky_sessions_total`'s `outcome` label: its index in
    /// [`METRIC_LABELS`] (`pending` while undecided).
    pub(crate) fn metric_index(&self) -> usize {
        match self.outcome {
            Outcome::Pending => 0,
            Outcome::Used => 1,
            Outcome::Created => 2,
            Outcome::Renewed => 3,
            Outcome::Ignored(_) => 4,
        }
    }

    /// `X-Turnout-Session`: `used`, `created`, `renewed`, `pending`, or `ignored; <reason>`.
    pub(crate) fn header_value(&self) -> HeaderValue {
        HeaderValue::from_static(match self.outcome {
            Outcome::Pending => "pending",
            Outcome::Used => "used",
            Outcome::Created => "created",
            Outcome::Renewed => "renewed",
            Outcome::Ignored(Ignored::Disabled) => "ignored; disabled",
            Outcome::Ignored(Ignored::ProviderOrder) => "ignored; provider-order",
            Outcome::Ignored(Ignored::Excluded) => "ignored; pin-excluded",
            Outcome::Ignored(Ignored::CoolingDown) => "ignored; pin-cooling-down",
            Outcome::Ignored(Ignored::PinFailed) => "ignored; pin-failed",
            Outcome::Ignored(Ignored::StoreUnavailable) => "ignored; store-unavailable",
            Outcome::Ignored(Ignored::NoCacheRead) => "ignored; no-cache-read",
            Outcome::Ignored(Ignored::Failed) => "ignored; request-failed",
        })
    }
}

impl Sticky {
    /// The TTL of pins to `model`.
    fn ttl(&self, model: ModelIdx) -> Duration {
        self.ttls
            .get(model.0)
            .copied()
            .unwrap_or(Duration::from_secs(300))
    }
}

/// Moves the attempt of `pin` to the front of `plan`; `false` when the plan does not have it
/// (the request's models, filters or needs ruled it out). Skips keep their place among the other
/// attempts.
pub(crate) fn put_first(plan: &mut Plan, pin: PinnedRoute) -> bool {
    let Some(idx) = plan.attempts.iter().position(|it| route_of(it) == pin) else {
        return false;
    };
    plan.attempts[..=idx].rotate_right(1);
    for skipped in &mut plan.skipped {
        if skipped.before_attempt <= idx {
            skipped.before_attempt += 1;
        }
    }
    true
}

/// The model and endpoint of `attempt`.
fn route_of(attempt: &Attempt) -> PinnedRoute {
    PinnedRoute {
        model: attempt.model,
        endpoint: attempt.endpoint,
    }
}

/// The requested model or router slug: `openrouter/auto` for any alias of the Auto Router,
/// else `model`, else the first of `models`.
fn scope_model(app: &AppState, request: &ChatRequest<'_>) -> String {
    let named = request.requested_models().next().unwrap_or_default();
    if app
        .config()
        .routing
        .auto
        .aliases
        .iter()
        .any(|it| it == named)
    {
        AUTO_ROUTER_ID.to_owned()
    } else {
        named.to_owned()
    }
}

/// Whether the request's `provider` preferences set `order` (explicit ordering wins over
/// stickiness).
fn has_provider_order(request: &ChatRequest<'_>) -> bool {
    #[derive(Deserialize)]
    struct Order {
        #[serde(default)]
        order: Option<serde::de::IgnoredAny>,
    }
    request.provider.is_some_and(|raw| {
        serde_json::from_str::<Order>(raw.get()).is_ok_and(|it| it.order.is_some())
    })
}

#[cfg(test)]
mod tests {
    use router_core::catalog::EndpointIdx;
    use router_core::plan::{AttemptReason, SkipReason, Skipped};

    use super::*;

    fn attempt(model: usize, endpoint: usize) -> Attempt {
        Attempt {
            model: ModelIdx(model),
            endpoint: EndpointIdx(endpoint),
            reason: AttemptReason::Requested,
        }
    }

    #[test]
    fn the_pinned_attempt_moves_first_and_skips_keep_their_place() {
        let skipped = Skipped {
            model: ModelIdx(9),
            position: 1,
            reason: SkipReason::ContextLength {
                needed: 10,
                limit: 5,
            },
            before_attempt: 1,
        };
        let mut plan = Plan {
            attempts: vec![attempt(0, 0), attempt(0, 1), attempt(1, 0)],
            skipped: vec![skipped],
            requested: vec![ModelIdx(0), ModelIdx(9), ModelIdx(1)],
            excluded: Vec::new(),
        };
        let pin = PinnedRoute {
            model: ModelIdx(0),
            endpoint: EndpointIdx(1),
        };
        assert!(put_first(&mut plan, pin));
        assert_eq!(plan.attempts, [attempt(0, 1), attempt(0, 0), attempt(1, 0)]);
        // The skip stays between the model's endpoints and the next model.
        assert_eq!(plan.skipped[0].before_attempt, 2);
        let absent = PinnedRoute {
            model: ModelIdx(2),
            endpoint: EndpointIdx(0),
        };
        assert!(!put_first(&mut plan, absent));
    }
}
