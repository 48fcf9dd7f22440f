//! The settings saved on the pages, and the pages' sign-in sessions.
//!
//! Saved Auto Router settings live in a SQLite table (`auto_router_settings`, one row per
//! client key name, the settings as JSON) in `server.settings_path`, else in the records file
//! beside the generation records, else in an in-memory database. Every saved row is also kept in
//! memory, so the request path reads a map under a read lock and never touches the database.
//!
//! Sessions are in memory only (a restart signs everyone out): a random token in an HttpOnly,
//! SameSite=Strict cookie maps to who signed in and the session's CSRF token.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use router_core::auto::settings::AutoPlugin;
use rusqlite::{Connection, params};

use crate::config::Config;

/// How long a session lasts after sign-in.
pub(crate) const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The most sessions kept at once; the oldest go first.
const MAX_SESSIONS: usize = 10_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS auto_router_settings (
    key_name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);";

/// Why the settings store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("settings store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A saved row is not valid settings.
    #[error("saved settings of `{key_name}` are corrupt: {message}")]
    Corrupt {
        /// The key whose row it is.
        key_name: String,
        /// What is wrong.
        message: String,
    },
}

/// The saved settings and the sessions; cheap to clone, every clone shares the same store.
#[derive(Clone)]
pub(crate) struct SettingsStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    saved: RwLock<HashMap<String, Arc<AutoPlugin>>>,
    sessions: Mutex<HashMap<String, Session>>,
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A client key, by name: sees and edits its own settings and activity.
    Key(String),
    /// The admin key of `[settings]`: sees every key.
    Admin,
}

/// One signed-in browser.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Who signed in.
    pub(crate) principal: Principal,
    /// The token every form of this session carries.
    pub(crate) csrf: String,
    created: Instant,
}

// === impl SettingsStore ===

impl SettingsStore {
    /// Opens the store `config` names (see the module docs) and loads every saved row.
    pub(crate) fn open(config: &Config) -> Result<Self, StoreError> {
        let path = config
            .server
            .settings_path
            .as_deref()
            .or(config.server.records_path.as_deref());
        Self::open_at(path)
    }

    /// Opens the store at `path`, or in memory.
    pub(crate) fn open_at(path: Option<&Path>) -> Result<Self, StoreError> {
        let conn = match path {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let mut saved = HashMap::new();
        {
            let mut query = conn.prepare("SELECT key_name, settings FROM auto_router_settings")?;
            let rows = query.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            for row in rows {
                let (key_name, json) = row?;
                let plugin: AutoPlugin =
                    serde_json::from_str(&json).map_err(|err| StoreError::Corrupt {
                        key_name: key_name.clone(),
                        message: err.to_string(),
                    })?;
                saved.insert(key_name, Arc::new(plugin));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                saved: RwLock::new(saved),
                sessions: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The settings saved for `key_name`, if any (a map lookup: the request path calls it).
    pub(crate) fn saved(&self, key_name: &str) -> Option<Arc<AutoPlugin>> {
        self.inner
            .saved
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key_name)
            .cloned()
    }

    /// Saves `settings` for `key_name` (blocks on SQLite: call from `spawn_blocking`).
    pub(crate) fn save(
        &self,
        key_name: &str,
        settings: AutoPlugin,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(&settings).map_err(|err| StoreError::Corrupt {
            key_name: key_name.to_owned(),
            message: err.to_string(),
        })?;
        self.inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .execute(
                "INSERT INTO auto_router_settings (key_name, settings, updated_at_ms)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (key_name) DO UPDATE SET settings = ?2, updated_at_ms = ?3",
                params![key_name, json, i64::try_from(now_ms).unwrap_or(i64::MAX)],
            )?;
        self.inner
            .saved
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key_name.to_owned(), Arc::new(settings));
        Ok(())
    }

    /// Starts a session for `principal`; returns its cookie token.
    pub(crate) fn sign_in(&self, principal: Principal) -> String {
        let token = random_token();
        let session = Session {
            principal,
            csrf: random_token(),
            created: Instant::now(),
        };
        let mut sessions = self.sessions();
        sessions.retain(|_, it| it.created.elapsed() < SESSION_LIFETIME);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, it)| it.created)
                .map(|(token, _)| token.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(token.clone(), session);
        token
    }

    /// The live session of cookie `token`.
    pub(crate) fn session(&self, token: &str) -> Option<Session> {
        let sessions = self.sessions();
        sessions
            .get(token)
            .filter(|it| it.created.elapsed() < SESSION_LIFETIME)
            .cloned()
    }

    /// Ends the session of `token`.
    pub(crate) fn sign_out(&self, token: &str) {
        self.sessions().remove(token);
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// `saved` over `configured`, field by field: the key's layer as routing uses it.
pub(crate) fn layer(saved: &AutoPlugin, configured: Option<&AutoPlugin>) -> AutoPlugin {
    let under = configured.cloned().unwrap_or_default();
    let tradeoff_saved = saved.cost_quality_tradeoff.is_some() || saved.cost_tier.is_some();
    AutoPlugin {
        enabled: None,
        allowed_models: saved.allowed_models.clone().or(under.allowed_models),
        excluded_models: saved.excluded_models.clone().or(under.excluded_models),
        cost_quality_tradeoff: if tradeoff_saved {
            saved.cost_quality_tradeoff
        } else {
            under.cost_quality_tradeoff
        },
        cost_tier: if tradeoff_saved {
            saved.cost_tier
        } else {
            under.cost_tier
        },
        pin_model: saved.pin_model.or(under.pin_model),
    }
}

/// 32 random bytes from the operating system, as hex; falls back to the process's random
/// hasher keys mixed with the clock if the OS source fails.
pub(crate) fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        use std::hash::BuildHasher as _;
        let state = std::collections::hash_map::RandomState::new();
        for (idx, chunk) in bytes.chunks_mut(8).enumerate() {
            let word = state.hash_one((idx, Instant::now()));
            chunk.copy_from_slice(&word.to_le_bytes());
        }
    }
    let mut token = String::with_capacity(64);
    for byte in bytes {
        token.push(char::from(HEX[usize::from(byte >> 4)]));
        token.push(char::from(HEX[usize::from(byte & 15)]));
    }
    token
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_settings_survive_a_reopen_and_layer_over_the_key_s() {
        let path = std::env::temp_dir().join(format!("turnout-settings-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store = SettingsStore::open_at(Some(&path)).unwrap();
        assert!(store.saved("a").is_none());
        let saved = AutoPlugin {
            allowed_models: Some(vec!["anthropic/*".to_owned()]),
            cost_quality_tradeoff: Some(2),
            ..AutoPlugin::default()
        };
        store.save("a", saved.clone(), 1).unwrap();
        drop(store);
        let store = SettingsStore::open_at(Some(&path)).unwrap();
        assert_eq!(store.saved("a").as_deref(), Some(&saved));
        let configured = AutoPlugin {
            excluded_models: Some(vec!["x/*".to_owned()]),
            cost_quality_tradeoff: Some(9),
            ..AutoPlugin::default()
        };
        let layered = layer(&saved, Some(&configured));
        assert_eq!(layered.cost_quality_tradeoff, Some(2));
        assert_eq!(layered.excluded_models, configured.excluded_models);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn sessions_carry_their_principal_and_end_on_sign_out() {
        let store = SettingsStore::open_at(None).unwrap();
        let token = store.sign_in(Principal::Admin);
        let session = store.session(&token).unwrap();
        assert_eq!(session.principal, Principal::Admin);
        assert_eq!(session.csrf.len(), 64);
        assert_ne!(session.csrf, token);
        store.sign_out(&token);
        assert!(store.session(&token).is_none());
    }
}
