//! API keys in the records' SQLite file, table `api_keys` (created if missing; never dropped
//! or altered destructively). Plain SQL, so a PostgreSQL store can use the same statements.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension as _, Row, params};

use super::{ApiKey, KeyStore, KeyStoreError};
use crate::config::LimitReset;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS api_keys (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    limit_usd REAL,
    limit_reset TEXT,
    disabled INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER
)";

const COLUMNS: &str =
    "hash, name, label, limit_usd, limit_reset, disabled, created_at_ms, updated_at_ms";

/// One connection to the file.
pub(crate) struct SqliteKeys {
    conn: Mutex<Connection>,
}

impl SqliteKeys {
    /// Opens `path` (the records file) and makes the table if it is missing.
    pub(crate) fn open(path: &Path) -> Result<Self, KeyStoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute(SCHEMA, [])?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn reset_text(reset: Option<LimitReset>) -> Option<&'static str> {
    reset.map(LimitReset::as_str)
}

fn reset_of(text: Option<String>) -> Option<LimitReset> {
    LimitReset::from_name(text.as_deref()?)
}

fn key_of(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        hash: row.get(0)?,
        name: row.get(1)?,
        label: row.get(2)?,
        limit: row.get(3)?,
        limit_reset: reset_of(row.get(4)?),
        disabled: row.get::<_, i64>(5)? != 0,
        created_at_ms: u64::try_from(row.get::<_, i64>(6)?).unwrap_or_default(),
        updated_at_ms: row
            .get::<_, Option<i64>>(7)?
            .map(|it| u64::try_from(it).unwrap_or_default()),
    })
}

fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl KeyStore for SqliteKeys {
    fn create(&self, key: &ApiKey) -> Result<(), KeyStoreError> {
        self.lock().execute(
            &format!("INSERT INTO api_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                key.hash,
                key.name,
                key.label,
                key.limit,
                reset_text(key.limit_reset),
                i64::from(key.disabled),
                ms(key.created_at_ms),
                key.updated_at_ms.map(ms),
            ],
        )?;
        Ok(())
    }

    fn list(&self) -> Result<Vec<ApiKey>, KeyStoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM api_keys ORDER BY created_at_ms, hash"
        ))?;
        let keys = statement
            .query_map([], key_of)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(keys)
    }

    fn get(&self, hash: &str) -> Result<Option<ApiKey>, KeyStoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM api_keys WHERE hash = ?1"),
                [hash],
                key_of,
            )
            .optional()?)
    }

    fn update(&self, key: &ApiKey) -> Result<bool, KeyStoreError> {
        let changed = self.lock().execute(
            "UPDATE api_keys SET name = ?2, limit_usd = ?3, limit_reset = ?4, disabled = ?5, \
             updated_at_ms = ?6 WHERE hash = ?1",
            params![
                key.hash,
                key.name,
                key.limit,
                reset_text(key.limit_reset),
                i64::from(key.disabled),
                key.updated_at_ms.map(ms),
            ],
        )?;
        Ok(changed > 0)
    }

    fn delete(&self, hash: &str) -> Result<bool, KeyStoreError> {
        Ok(self
            .lock()
            .execute("DELETE FROM api_keys WHERE hash = ?1", [hash])?
            > 0)
    }
}
