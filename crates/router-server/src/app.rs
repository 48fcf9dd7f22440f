//! The application: [`AppState`] (the config, one pooled client per provider, the precomputed
//! `/models` body, the Auto Router's quality profile, the generation records) and the axum
//! [`Router`] with its routes, fallbacks and panic handling.
//!
//! Everything the request path needs is resolved here once at start-up, so a request copies no
//! config strings: endpoints point at their provider by index, and `/models` is a ready body.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use router_core::auto::profile::{Profile, ProfileError};
use router_core::catalog::{Catalog, Endpoint, EndpointIdx, Model, ModelIdx};
use router_core::plan::Attempt;
use router_core::render;
use router_session::RedisLink;
use router_upstream::{ClientConfigError, ProviderClient};
use tower_http::catch_panic::CatchPanicLayer;

use crate::api;
use crate::chat;
use crate::chat::receipt::CatalogHeaders;
use crate::config::{ClientKey, Config, RedisSettings};
use crate::error::ApiError;
use crate::front;
use crate::health_board::HealthBoard;
use crate::keys::{ApiKeys, KeyStoreError, open_store};
use crate::limits::Limits;
use crate::limits::local::LocalCounts;
use crate::metrics::{Handles, Telemetry};
use crate::records::{Name, Records, RecordsError, RecordsTarget};
use crate::serve::Stopping;
use crate::sticky::{Clock, Sticky};
use crate::web::store::SettingsStore;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A provider's settings are unusable (for example a malformed base URL).
    #[error("provider `{provider}` cannot be used")]
    Provider {
        /// The provider's name.
        provider: String,
        /// What is wrong with it.
        #[source]
        source: Box<ClientConfigError>,
    },
    /// `[redis]` cannot be used (its URL is not one the client understands).
    #[error("`[redis]` cannot be used: {0}")]
    Redis(String),
    /// A model's endpoint names a provider that is not configured.
    #[error("model `{model}` names provider `{provider}`, which is not configured")]
    UnknownProvider {
        /// The model's id.
        model: String,
        /// The missing provider.
        provider: String,
    },
    /// The Auto Router's quality profile file (`routing.auto.profile`) could not be read.
    #[error("cannot read the quality profile `{}`", path.display())]
    ProfileUnreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The quality profile is not a valid profile (`None`: the built-in demo profile).
    #[error("the quality profile {} is invalid", profile_name(.path.as_deref()))]
    Profile {
        /// The file; `None` for the built-in demo profile.
        path: Option<PathBuf>,
        /// What is wrong with it.
        #[source]
        source: ProfileError,
    },
    /// The generation record store could not be opened (`server.records_path`).
    #[error("cannot open the generation records")]
    Records(#[from] RecordsError),
    /// The settings store could not be opened (`server.settings_path`).
    #[error("cannot open the settings store")]
    Settings(#[from] crate::web::store::StoreError),
    /// The OTLP exporter could not be set up (`telemetry.otlp_endpoint`).
    #[error(transparent)]
    Otlp(#[from] crate::otlp::OtlpError),
    /// The listener failed.
    #[error("cannot listen")]
    Io(#[from] std::io::Error),
    /// `server.tls` names files that are not a usable certificate chain and key.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The API key store could not be opened (`server.records_path`).
    #[error("cannot open the API keys")]
    Keys(#[from] KeyStoreError),
    /// The session store (`[sessions]`) cannot be used.
    #[error(transparent)]
    Sessions(#[from] crate::sticky::StoreSetupError),
}

/// State shared by every request; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    providers: Vec<Provider>,
    /// For each model (by index), for each of its endpoints: the index of its provider.
    endpoint_providers: Vec<Box<[usize]>>,
    /// The `GET /models` body, rendered once.
    models_body: Bytes,
    /// The receipt header values that depend only on the catalog, rendered once.
    catalog_headers: CatalogHeaders,
    /// The Auto Router's quality profile.
    profile: Profile,
    /// Where every request leaves its generation record.
    records: Records,
    /// Whether the server is stopping, and whether streams must end now.
    stopping: Arc<Stopping>,
    /// Every endpoint's live health.
    health: HealthBoard,
    /// Sticky sessions: the pin store, the clock and the TTLs.
    sticky: Arc<Sticky>,
    /// The link to `[redis]`, when replicas share state there.
    redis: Option<SharedRedis>,
    /// This config's metric handles.
    metrics: Handles,
    /// The settings saved on the pages.
    settings: SettingsStore,
    /// The keys' limits and their counters.
    limits: Limits,
    /// `config.keys`, shared with the requests that authenticate with them.
    config_keys: Vec<Arc<ClientKey>>,
    /// The API keys made through `/api/v1/keys`.
    api_keys: Arc<ApiKeys>,
}

/// What outlives one config across reloads: the metrics registry, the generation records, the
/// settings saved on the pages, the sticky pins, whether the server is stopping, the link to
/// `[redis]`, the key limits' in-process counters and the API keys.
#[derive(Clone)]
pub(crate) struct Lasting {
    /// The metrics registry.
    pub(crate) telemetry: Arc<Telemetry>,
    /// The generation records.
    pub(crate) records: Records,
    /// The saved settings.
    pub(crate) settings: SettingsStore,
    /// The sticky sessions (their store, clock and TTLs); `None` makes them anew for the new
    /// config (a reload that changes the catalog or `[sessions]`: pins name routes by index).
    pub(crate) sticky: Option<Arc<Sticky>>,
    /// The clock sticky sessions expire on.
    pub(crate) clock: Arc<dyn Clock>,
    /// Whether the server is stopping.
    pub(crate) stopping: Arc<Stopping>,
    /// The link to `[redis]` (kept while `[redis]` stays the same).
    pub(crate) redis: Option<SharedRedis>,
    /// The in-process counters of key limits.
    pub(crate) limit_counts: Arc<LocalCounts>,
    /// The API keys.
    pub(crate) api_keys: Arc<ApiKeys>,
}

/// The link to the `[redis]` of a config, with the settings it was made for.
#[derive(Clone)]
pub(crate) struct SharedRedis {
    /// The settings it was made for.
    pub(crate) settings: RedisSettings,
    /// The connection and its circuit.
    pub(crate) link: Arc<RedisLink>,
}

/// One configured provider, ready to call.
pub(crate) struct Provider {
    /// The pooled client.
    pub(crate) client: ProviderClient,
    /// The name shown to clients (`provider` of responses), shared by the generation records
    /// that name it.
    pub(crate) display_name: Name,
    /// How long a stream may take to its first output token before the next attempt is tried.
    pub(crate) first_token_timeout: Duration,
    /// The longest one call may take, stream included (`providers.*.total_timeout_ms`).
    pub(crate) total_timeout: Duration,
}

/// Everything one attempt of a plan needs, borrowed from the state.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The model, for its public id.
    pub(crate) model: &'a Model,
    /// The endpoint, for the upstream model name and the prices.
    pub(crate) endpoint: &'a Endpoint,
    /// The provider serving the endpoint.
    pub(crate) provider: &'a Provider,
}

// === impl AppState ===

impl AppState {
    /// Builds the provider clients, resolves every endpoint to its provider, and opens the
    /// generation records (`server.records_path`, or in memory).
    /// Sticky sessions expire on `clock` (the system clock unless a test moves its own).
    pub(crate) fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        Self::build(config, None, clock)
    }

    /// [`AppState::with_clock`], keeping what `lasting` holds (a reload) instead of opening it
    /// anew (its clock replaces `clock`).
    pub(crate) fn build(
        config: Config,
        lasting: Option<Lasting>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        let providers = config
            .providers
            .iter()
            .map(|it| {
                let client = ProviderClient::new(it.settings.clone()).map_err(|source| {
                    StartError::Provider {
                        provider: it.settings.name.clone(),
                        source: Box::new(source),
                    }
                })?;
                Ok(Provider {
                    client,
                    display_name: Name::from(it.display_name.as_str()),
                    first_token_timeout: it.first_token_timeout,
                    total_timeout: it.settings.total_timeout,
                })
            })
            .collect::<Result<Vec<_>, StartError>>()?;
        let endpoint_providers = config
            .catalog
            .models()
            .iter()
            .map(|model| {
                model
                    .endpoints
                    .iter()
                    .map(|endpoint| {
                        config
                            .providers
                            .iter()
                            .position(|it| it.settings.name == endpoint.provider)
                            .ok_or_else(|| StartError::UnknownProvider {
                                model: model.id.to_string(),
                                provider: endpoint.provider.clone(),
                            })
                    })
                    .collect::<Result<Box<[usize]>, StartError>>()
            })
            .collect::<Result<Vec<_>, StartError>>()?;
        let models_body = Bytes::from(render::models_list_with_routers(
            &config.catalog,
            &config.routing.auto.aliases,
        ));
        let catalog_headers = CatalogHeaders::new(&config.catalog);
        let profile = load_profile(config.routing.auto.profile.as_deref())?;
        for missing in router_core::auto::coverage::uncovered(&profile, &config.catalog) {
            tracing::warn!(
                model = missing.model,
                assumed_quality = missing.assumed_quality,
                price_tier = missing.tier,
                "the Auto Router's quality profile does not cover this catalog model; it assumes \
                 the mean quality of the profiled models in its price tier for it"
            );
        }
        let mut health = HealthBoard::new(&config.catalog, config.routing.health);
        let lasting = match lasting {
            Some(lasting) => lasting,
            None => {
                let records = {
                    let (target, options) = RecordsTarget::of(&config.server);
                    Records::open_target(target, options)?
                };
                let api_keys = Arc::new(ApiKeys::load(open_store(
                    config.server.records_path.as_deref(),
                    config
                        .server
                        .records_url
                        .as_ref()
                        .map(router_core::secret::Secret::expose),
                )?)?);
                // A restarted process goes on from what the records say each key spent.
                let limit_counts = Arc::new(LocalCounts::default());
                let api = api_keys.enabled();
                limit_counts.seed_from_records(
                    &records,
                    config.keys.iter().chain(api.iter().map(|it| &**it)),
                    crate::records::calendar::system_now_ms(),
                    clock.now_ms(),
                );
                Lasting {
                    telemetry: Arc::new(Telemetry::new(config.telemetry.otlp_endpoint.as_deref())?),
                    records,
                    settings: SettingsStore::open(&config)?,
                    sticky: None,
                    clock,
                    stopping: Arc::new(Stopping::default()),
                    redis: None,
                    limit_counts,
                    api_keys,
                }
            }
        };
        let Lasting {
            telemetry,
            records,
            settings,
            sticky,
            clock,
            stopping,
            redis,
            limit_counts,
            api_keys,
        } = lasting;
        let redis = match (redis, &config.redis) {
            (Some(kept), Some(settings)) if kept.settings == *settings => Some(kept),
            (_, Some(settings)) => Some(SharedRedis {
                settings: settings.clone(),
                link: Arc::new(
                    RedisLink::new(settings.link_options())
                        .map_err(|err| StartError::Redis(err.to_string()))?,
                ),
            }),
            (_, None) => None,
        };
        if let Some(redis) = &redis {
            health.share_through(
                Arc::clone(&redis.link),
                &config.catalog,
                redis.settings.health_refresh,
            );
        }
        let sticky = match sticky {
            Some(sticky) => sticky,
            None => Arc::new(Sticky::new(
                &config,
                clock,
                redis.as_ref().map(|it| &it.link),
            )?),
        };
        let limits = Limits::new(
            limit_counts,
            redis.as_ref().map(|it| it.link.clone()),
            sticky.clock().clone(),
            config.limits.local_share,
            &telemetry,
        );
        let metrics = Handles::new(telemetry, &config.catalog);
        let config_keys = config.keys.iter().cloned().map(Arc::new).collect();
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                providers,
                endpoint_providers,
                models_body,
                catalog_headers,
                profile,
                records,
                stopping,
                health,
                sticky,
                redis,
                metrics,
                settings,
                limits,
                config_keys,
                api_keys,
            }),
        })
    }

    /// The validated config.
    pub(crate) fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The model catalog.
    pub(crate) fn catalog(&self) -> &Catalog {
        &self.shared.config.catalog
    }

    /// The receipt header values of the catalog.
    pub(crate) fn catalog_headers(&self) -> &CatalogHeaders {
        &self.shared.catalog_headers
    }

    /// What `attempt` calls. Plans are built from this state's catalog, so their indices are
    /// valid by construction.
    pub(crate) fn target(&self, attempt: &Attempt) -> Target<'_> {
        let model = self.catalog().model(attempt.model);
        Target {
            model,
            endpoint: model.endpoint(attempt.endpoint),
            provider: self.provider(attempt.model, attempt.endpoint),
        }
    }

    /// What a pin to `model`'s `endpoint` names (indices from this state's catalog).
    pub(crate) fn target_of(&self, model: ModelIdx, endpoint: EndpointIdx) -> Target<'_> {
        let model_ref = self.catalog().model(model);
        Target {
            model: model_ref,
            endpoint: model_ref.endpoint(endpoint),
            provider: self.provider(model, endpoint),
        }
    }

    /// The provider serving `model`'s `endpoint` (indices from this state's catalog).
    pub(crate) fn provider(&self, model: ModelIdx, endpoint: EndpointIdx) -> &Provider {
        &self.shared.providers[self.shared.endpoint_providers[model.0][endpoint.0]]
    }

    /// The public id of `model`, shared (for generation records).
    pub(crate) fn model_id(&self, model: ModelIdx) -> &Name {
        &self.catalog().model(model).id
    }

    /// The `GET /models` body.
    pub(crate) fn models_body(&self) -> Bytes {
        self.shared.models_body.clone()
    }

    /// The client key at `key_idx` (from [`crate::auth::ClientAuth`]).
    pub(crate) fn key(&self, key_idx: usize) -> &ClientKey {
        &self.shared.config.keys[key_idx]
    }

    /// The generation records.
    pub(crate) fn records(&self) -> &Records {
        &self.shared.records
    }

    /// The Auto Router's quality profile.
    pub(crate) fn profile(&self) -> &Profile {
        &self.shared.profile
    }

    /// Whether the server is stopping (see [`crate::serve::Stopping`]).
    pub(crate) fn stopping(&self) -> &Stopping {
        &self.shared.stopping
    }

    /// Every endpoint's live health.
    pub(crate) fn health(&self) -> &HealthBoard {
        &self.shared.health
    }

    /// Sticky sessions.
    pub(crate) fn sticky(&self) -> &Sticky {
        &self.shared.sticky
    }
    /// This config's metric handles.
    pub(crate) fn metrics(&self) -> &Handles {
        &self.shared.metrics
    }

    /// The settings saved on the pages.
    pub(crate) fn settings(&self) -> &SettingsStore {
        &self.shared.settings
    }

    /// What a reloaded config keeps.
    pub(crate) fn lasting(&self) -> Lasting {
        Lasting {
            telemetry: self.shared.metrics.telemetry().clone(),
            records: self.shared.records.clone(),
            settings: self.shared.settings.clone(),
            sticky: Some(self.shared.sticky.clone()),
            clock: self.shared.sticky.clock().clone(),
            stopping: self.shared.stopping.clone(),
            redis: self.shared.redis.clone(),
            limit_counts: self.shared.limits.counts().clone(),
            api_keys: self.shared.api_keys.clone(),
        }
    }

    /// The config key at `idx`, shared.
    pub(crate) fn config_key(&self, idx: usize) -> &Arc<ClientKey> {
        &self.shared.config_keys[idx]
    }

    /// The API keys made through `/api/v1/keys`.
    pub(crate) fn api_keys(&self) -> &Arc<ApiKeys> {
        &self.shared.api_keys
    }

    /// The keys' limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.shared.limits
    }
}

/// How start-up errors name a profile.
fn profile_name(path: Option<&Path>) -> String {
    match path {
        Some(path) => format!("`{}`", path.display()),
        None => "built into Turnout (the demo profile)".to_owned(),
    }
}

/// The profile at `path`, or the built-in demo profile.
fn load_profile(path: Option<&Path>) -> Result<Profile, StartError> {
    let Some(path) = path else {
        return Profile::demo().map_err(|source| StartError::Profile { path: None, source });
    };
    let text = std::fs::read_to_string(path).map_err(|source| StartError::ProfileUnreadable {
        path: path.to_owned(),
        source,
    })?;
    Profile::from_json(&text).map_err(|source| StartError::Profile {
        path: Some(path.to_owned()),
        source,
    })
}

/// The HTTP API over `state`.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/chat/completions", post(chat::completions))
        .route("/v1/chat/completions", post(chat::completions))
        .route("/api/v1/route", post(api::route::route))
        .route("/v1/route", post(api::route::route))
        .route("/api/v1/models", get(api::models::list))
        .route("/v1/models", get(api::models::list))
        .route(
            "/api/v1/models/{author}/{slug}/endpoints",
            get(api::models::endpoints),
        )
        .route(
            "/v1/models/{author}/{slug}/endpoints",
            get(api::models::endpoints),
        )
        .route("/api/v1/model/{author}/{slug}", get(api::models::model))
        .route("/v1/model/{author}/{slug}", get(api::models::model))
        .route(
            "/api/v1/models/{author}/{slug}",
            get(api::models::model_openai),
        )
        .route("/v1/models/{author}/{slug}", get(api::models::model_openai))
        // OpenAI's `models.retrieve` sends the id as one segment, its `/` percent-encoded.
        .route(
            "/api/v1/models/{id}",
            get(api::models::model_openai_encoded),
        )
        .route("/v1/models/{id}", get(api::models::model_openai_encoded))
        .route("/api/v1/providers", get(api::models::providers))
        .route("/v1/providers", get(api::models::providers))
        .route("/api/v1/generation", get(api::generation::generation))
        .route("/v1/generation", get(api::generation::generation))
        .route("/api/v1/key", get(api::key::key))
        .route("/v1/key", get(api::key::key))
        .route("/api/v1/auth/key", get(api::key::key))
        .route("/v1/auth/key", get(api::key::key))
        .route("/api/v1/keys", get(api::keys::list).post(api::keys::create))
        .route("/v1/keys", get(api::keys::list).post(api::keys::create))
        .route(
            "/api/v1/keys/{hash}",
            get(api::keys::get_one)
                .patch(api::keys::update)
                .delete(api::keys::delete),
        )
        .route(
            "/v1/keys/{hash}",
            get(api::keys::get_one)
                .patch(api::keys::update)
                .delete(api::keys::delete),
        )
        .route("/health", get(api::health::health))
        .route("/api/v1/sessions/{id}", get(api::sessions::session))
        .route("/v1/sessions/{id}", get(api::sessions::session))
        .route("/api/v1/messages", post(front::messages))
        .route("/v1/messages", post(front::messages))
        .route("/api/v1/responses", post(front::responses))
        .route("/v1/responses", post(front::responses))
        .route("/api/v1/completions", post(front::completions))
        .route("/v1/completions", post(front::completions))
        .route("/metrics", get(crate::metrics::serve))
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// A handler panicked: a generic 500 in our shape; the panic message goes to the log only.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    ApiError::Internal.into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_in_our_shape() {
        let router: Router = Router::new()
            .route("/boom", get(boom))
            .layer(CatchPanicLayer::custom(panic_response));
        let request = Request::get("/boom").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], 500);
        assert_eq!(body["error"]["message"], "internal server error");
        assert!(!body.to_string().contains("boom"), "{body}");
    }
}
