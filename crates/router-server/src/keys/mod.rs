//! API keys: client keys made through the provisioning API (`/api/v1/keys`), beside the
//! `[[keys]]` of the config file.
//!
//! A key's secret is shown once, when it is made; only its BLAKE3 hash is kept (the `hash`
//! OpenRouter's API names keys by). [`KeyStore`] persists them beside the generation records:
//! in a table of their PostgreSQL database ([`postgres`], shared by every replica on it), of
//! their SQLite file ([`sqlite`]), or in memory ([`memory`]) without either. [`ApiKeys`] is what the request
//! path reads: every enabled key by its hash, in memory, loaded at start and updated on each
//! write, so authenticating costs a hash and a map lookup, never a query. Another replica's
//! writes are picked up at most once a second: on a miss (a key made there), and in the
//! background when a key is used (one disabled, changed or deleted there).

pub(crate) mod memory;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use router_core::fallback::FallbackPolicy;
use router_core::secret::Secret;

use crate::config::{ClientKey, KeyLimits, LimitReset};

/// One API key as stored (never its secret).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiKey {
    /// The BLAKE3 hash of the secret, in hex: the key's id in the API.
    pub(crate) hash: String,
    /// Its name, unique among every key (records and logs show it).
    pub(crate) name: String,
    /// A recognisable, harmless part of the secret: `sk-tn-v1-abc...xyz`.
    pub(crate) label: String,
    /// Credit limit, USD.
    pub(crate) limit: Option<f64>,
    /// When the limit starts again.
    pub(crate) limit_reset: Option<LimitReset>,
    /// A disabled key authenticates nothing.
    pub(crate) disabled: bool,
    /// When it was made (Unix ms).
    pub(crate) created_at_ms: u64,
    /// When it last changed (Unix ms).
    pub(crate) updated_at_ms: Option<u64>,
}

/// Why the key store failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// SQLite refused.
    #[error("the key store failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused, or could not be reached.
    #[error("the key store failed: {0}")]
    Postgres(String),
}

/// Where API keys are kept. Calls block: run them on the blocking pool.
pub(crate) trait KeyStore: Send + Sync {
    /// Adds `key` (its hash and name are new).
    fn create(&self, key: &ApiKey) -> Result<(), KeyStoreError>;
    /// Every key, oldest first.
    fn list(&self) -> Result<Vec<ApiKey>, KeyStoreError>;
    /// The key with `hash`.
    fn get(&self, hash: &str) -> Result<Option<ApiKey>, KeyStoreError>;
    /// Replaces the key with `key.hash`; `false` when there is none.
    fn update(&self, key: &ApiKey) -> Result<bool, KeyStoreError>;
    /// Removes the key with `hash`; `false` when there is none.
    fn delete(&self, hash: &str) -> Result<bool, KeyStoreError>;
}

/// The store beside the records: their PostgreSQL database (`records_url`), their SQLite file
/// (`records_path`), or memory.
pub(crate) fn open_store(
    records_path: Option<&Path>,
    records_url: Option<&str>,
) -> Result<Arc<dyn KeyStore>, KeyStoreError> {
    Ok(match (records_url, records_path) {
        (Some(url), _) => Arc::new(postgres::PostgresKeys::open(url)),
        (None, Some(path)) => Arc::new(sqlite::SqliteKeys::open(path)?),
        (None, None) => Arc::new(memory::MemoryKeys::default()),
    })
}

/// The BLAKE3 hash of a secret, in hex.
pub(crate) fn hash_hex(secret: &[u8]) -> String {
    blake3::hash(secret).to_hex().to_string()
}

/// The API keys as the request path reads them (see the module docs).
pub(crate) struct ApiKeys {
    store: Arc<dyn KeyStore>,
    enabled: RwLock<HashMap<[u8; 32], Arc<ClientKey>>>,
    /// When the table was last read from the store after a miss (Unix ms).
    last_reload_ms: AtomicU64,
}

impl ApiKeys {
    /// The keys of `store`, loaded now. A PostgreSQL database that cannot be reached does not
    /// stop the server (as with the records): it starts without API keys and reads them when
    /// a key it does not know is first presented.
    pub(crate) fn load(store: Arc<dyn KeyStore>) -> Result<Self, KeyStoreError> {
        let keys = Self {
            store,
            enabled: RwLock::default(),
            last_reload_ms: AtomicU64::new(0),
        };
        match keys.reload() {
            Ok(()) => {}
            Err(KeyStoreError::Postgres(err)) => {
                tracing::warn!(error = %err, "cannot read the API keys yet: starting without them");
            }
            Err(err) => return Err(err),
        }
        Ok(keys)
    }

    /// Every enabled key, in no order.
    pub(crate) fn enabled(&self) -> Vec<Arc<ClientKey>> {
        self.enabled
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    /// The enabled key whose secret is `token`.
    pub(crate) fn find(&self, token: &[u8]) -> Option<Arc<ClientKey>> {
        let hash = blake3::hash(token);
        self.enabled
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(hash.as_bytes())
            .cloned()
    }

    /// Whether a miss at `now_ms` may read the store again (at most once a second).
    pub(crate) fn may_reload(&self, now_ms: u64) -> bool {
        let last = self.last_reload_ms.load(Ordering::Relaxed);
        now_ms.saturating_sub(last) >= 1000
            && self
                .last_reload_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Reads every key from the store again (after a write, or another replica's).
    pub(crate) fn reload(&self) -> Result<(), KeyStoreError> {
        let mut enabled = HashMap::new();
        for key in self.store.list()? {
            let mut hash = [0u8; 32];
            if key.disabled || hex_decode(&key.hash, &mut hash).is_none() {
                continue;
            }
            enabled.insert(hash, Arc::new(client_key(&key)));
        }
        *self.enabled.write().unwrap_or_else(PoisonError::into_inner) = enabled;
        Ok(())
    }
}

/// The client key an API key authenticates as.
pub(crate) fn client_key(key: &ApiKey) -> ClientKey {
    ClientKey {
        name: key.name.as_str().into(),
        // Never compared: API keys are found by their hash.
        key: Secret::new(""),
        fallback_policy: FallbackPolicy::default(),
        auto_router: None,
        provider: Default::default(),
        limits: KeyLimits {
            limit: key.limit,
            limit_reset: key.limit_reset,
            ..KeyLimits::default()
        },
    }
}

/// `text` (64 hex digits) into `out`.
fn hex_decode(text: &str, out: &mut [u8; 32]) -> Option<()> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    for (idx, pair) in bytes.chunks(2).enumerate() {
        let digits = std::str::from_utf8(pair).ok()?;
        out[idx] = u8::from_str_radix(digits, 16).ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hash: &str, disabled: bool) -> ApiKey {
        ApiKey {
            hash: hash.to_owned(),
            name: format!("key-{}", &hash[..4]),
            label: "sk-tn-v1-abc...xyz".to_owned(),
            limit: Some(1.5),
            limit_reset: Some(LimitReset::Daily),
            disabled,
            created_at_ms: 1,
            updated_at_ms: None,
        }
    }

    /// Every store behaves the same.
    fn exercise(store: Arc<dyn KeyStore>) {
        let (one, two) = (hash_hex(b"sk-one"), hash_hex(b"sk-two"));
        store.create(&key(&one, false)).unwrap();
        store.create(&key(&two, true)).unwrap();
        assert_eq!(store.list().unwrap().len(), 2);
        assert_eq!(store.get(&one).unwrap(), Some(key(&one, false)));
        let keys = ApiKeys::load(store.clone()).unwrap();
        assert_eq!(keys.find(b"sk-one").unwrap().limits.limit, Some(1.5));
        assert!(keys.find(b"sk-two").is_none(), "disabled");
        assert!(keys.find(b"sk-three").is_none());
        let mut changed = key(&one, true);
        changed.updated_at_ms = Some(2);
        assert!(store.update(&changed).unwrap());
        keys.reload().unwrap();
        assert!(keys.find(b"sk-one").is_none());
        assert!(store.delete(&one).unwrap());
        assert!(!store.delete(&one).unwrap());
        assert!(!store.update(&changed).unwrap());
        assert_eq!(store.get(&one).unwrap(), None);
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[test]
    fn the_memory_store_keeps_keys() {
        exercise(Arc::new(memory::MemoryKeys::default()));
    }

    #[test]
    fn the_sqlite_store_keeps_keys_across_opens() {
        let dir = std::env::temp_dir().join(format!("turnout-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("records.sqlite3");
        exercise(Arc::new(sqlite::SqliteKeys::open(&path).unwrap()));
        let again = sqlite::SqliteKeys::open(&path).unwrap();
        assert_eq!(again.list().unwrap().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_miss_reloads_at_most_once_a_second() {
        let keys = ApiKeys::load(Arc::new(memory::MemoryKeys::default())).unwrap();
        assert!(keys.may_reload(5_000));
        assert!(!keys.may_reload(5_500));
        assert!(keys.may_reload(6_000));
    }
}
