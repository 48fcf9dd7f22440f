//! [`RedisStore`]: pins in Redis, shared by every replica that names the same server.
//!
//! Same semantics as the in-process store: a lookup never renews; a put stores the pin with
//! its expiry on the caller's clock (checked on every lookup) and `SET … PX ttl`, so Redis
//! drops it after the TTL of real time too. A pin names its model, provider and upstream model
//! by name (`turnout:pin:<scope hex>` → `<expires_at_ms>\n<model id>\n<provider>\n<upstream
//! model>`), so replicas whose catalogs list them in another order still agree; a pin to
//! something the catalog no longer has is a miss.
//!
//! # Degraded mode
//!
//! Every operation goes through a [`RedisLink`] (the connection and its circuit, shared with
//! the other users of the same Redis): one that cannot reach Redis answers at once without
//! stickiness ([`Lookup::Unavailable`]), never a failed request. [`PinStore::unavailable`]
//! counts the operations that found it unreachable.

mod link;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use router_core::catalog::{Catalog, EndpointIdx, ModelIdx};

pub use self::link::{RedisLink, RedisOptions, RedisUrlError};

use crate::scope::Scope;
use crate::store::{Lookup, PinStore, PinnedRoute, StoreFuture};

/// The Redis pin store (see the module docs).
pub struct RedisStore {
    link: Arc<RedisLink>,
    codec: Codec,
}

/// Pins by name, from and to indices of this replica's catalog.
struct Codec {
    /// By model index: the id, and each endpoint's provider and upstream model.
    models: Vec<(String, Vec<(String, String)>)>,
    by_id: HashMap<String, usize>,
}

impl RedisStore {
    /// A store over `link` naming routes of `catalog`. Does not connect: the first operation
    /// does.
    pub fn new(link: Arc<RedisLink>, catalog: &Catalog) -> Self {
        let models = catalog
            .models()
            .iter()
            .map(|model| {
                let endpoints = model
                    .endpoints
                    .iter()
                    .map(|it| (it.provider.clone(), it.upstream_model.clone()))
                    .collect();
                (model.id.to_string(), endpoints)
            })
            .collect::<Vec<_>>();
        let by_id = models
            .iter()
            .enumerate()
            .map(|(idx, (id, _))| (id.clone(), idx))
            .collect();
        Self {
            link,
            codec: Codec { models, by_id },
        }
    }

    async fn get_pin(&self, scope: &Scope, now_ms: u64) -> Lookup {
        let command = redis::cmd("GET").arg(key(scope)).clone();
        let reply = self
            .link
            .run(|mut connection| async move {
                command.query_async::<Option<String>>(&mut connection).await
            })
            .await;
        match reply {
            Some(Some(value)) => match self.codec.decode(&value) {
                Some((pin, expires_at_ms)) if now_ms < expires_at_ms => Lookup::Hit(pin),
                _ => Lookup::Miss,
            },
            Some(None) => Lookup::Miss,
            None => Lookup::Unavailable,
        }
    }

    async fn put_pin(&self, scope: &Scope, pin: PinnedRoute, ttl: Duration, now_ms: u64) -> bool {
        let Some(value) = self.codec.encode(pin, now_ms, ttl) else {
            return false;
        };
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let command = redis::cmd("SET")
            .arg(key(scope))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms)
            .clone();
        self.link
            .run(|mut connection| async move { command.query_async::<()>(&mut connection).await })
            .await
            .is_some()
    }
}

impl PinStore for RedisStore {
    fn get<'a>(&'a self, scope: &'a Scope, now_ms: u64) -> StoreFuture<'a, Lookup> {
        Box::pin(self.get_pin(scope, now_ms))
    }

    fn put<'a>(
        &'a self,
        scope: &'a Scope,
        pin: PinnedRoute,
        ttl: Duration,
        now_ms: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(self.put_pin(scope, pin, ttl, now_ms))
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    fn unavailable(&self) -> u64 {
        self.link.unavailable()
    }
}

/// The Redis key of `scope`.
fn key(scope: &Scope) -> String {
    format!("turnout:pin:{}", scope.to_hex())
}

impl Codec {
    /// `<expires_at_ms>\n<model id>\n<provider>\n<upstream model>`.
    fn encode(&self, pin: PinnedRoute, now_ms: u64, ttl: Duration) -> Option<String> {
        let (id, endpoints) = self.models.get(pin.model.0)?;
        let (provider, upstream) = endpoints.get(pin.endpoint.0)?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let expires_at_ms = now_ms.saturating_add(ttl_ms);
        Some(format!("{expires_at_ms}\n{id}\n{provider}\n{upstream}"))
    }

    /// The pin and its expiry; `None` when the value is not ours or names a route this catalog
    /// does not have.
    fn decode(&self, value: &str) -> Option<(PinnedRoute, u64)> {
        let mut fields = value.split('\n');
        let expires_at_ms = fields.next()?.parse().ok()?;
        let model = *self.by_id.get(fields.next()?)?;
        let (provider, upstream) = (fields.next()?, fields.next()?);
        let endpoint = self.models[model]
            .1
            .iter()
            .position(|(p, u)| p == provider && u == upstream)?;
        let pin = PinnedRoute {
            model: ModelIdx(model),
            endpoint: EndpointIdx(endpoint),
        };
        Some((pin, expires_at_ms))
    }
}
