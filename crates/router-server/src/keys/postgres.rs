//! API keys in the records' PostgreSQL database (`server.records_url`), table `api_keys`,
//! created by the records' migrations (step 2), so every replica on the database sees the keys
//! any of them made.
//!
//! Same statements as [`super::sqlite`] but for PostgreSQL's placeholders and types. The
//! blocking `postgres` client starts a small runtime of its own for each call, which cannot run
//! on a thread that drives tokio, so every call runs on a short-lived thread of its own (key
//! writes are rare; the request path reads keys from memory, see [`super::ApiKeys`]). A
//! connection that fails is dropped and made again by the next call.

use std::sync::{Mutex, MutexGuard, PoisonError};

use postgres::{Client, Row};

use super::{ApiKey, KeyStore, KeyStoreError};
use crate::config::LimitReset;
use crate::records::postgres_connect;

const COLUMNS: &str =
    "hash, name, label, limit_usd, limit_reset, disabled, created_at_ms, updated_at_ms";

/// The database and, once made, a connection to it.
pub(crate) struct PostgresKeys {
    url: String,
    client: Mutex<Option<Client>>,
}

impl PostgresKeys {
    /// Keys in the database at `url`; the first call connects (and migrates).
    pub(crate) fn open(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            client: Mutex::new(None),
        }
    }

    /// Runs `op` on a thread of its own (see the module docs), on the connection.
    fn run<T: Send>(
        &self,
        op: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, KeyStoreError> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let mut slot = self.lock();
                    if slot.as_ref().is_none_or(Client::is_closed) {
                        let client = postgres_connect(&self.url)
                            .map_err(|err| KeyStoreError::Postgres(err.to_string()))?;
                        *slot = Some(client);
                    }
                    let client = slot
                        .as_mut()
                        .ok_or_else(|| KeyStoreError::Postgres("no connection".to_owned()))?;
                    op(client).map_err(|err| {
                        *slot = None;
                        KeyStoreError::Postgres(err.to_string())
                    })
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(KeyStoreError::Postgres("the key store panicked".to_owned()))
                })
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Client>> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn reset_of(text: Option<String>) -> Option<LimitReset> {
    LimitReset::from_name(text.as_deref()?)
}

fn key_of(row: &Row) -> Result<ApiKey, postgres::Error> {
    Ok(ApiKey {
        hash: row.try_get(0)?,
        name: row.try_get(1)?,
        label: row.try_get(2)?,
        limit: row.try_get(3)?,
        limit_reset: reset_of(row.try_get(4)?),
        disabled: row.try_get(5)?,
        created_at_ms: u64::try_from(row.try_get::<_, i64>(6)?).unwrap_or_default(),
        updated_at_ms: row
            .try_get::<_, Option<i64>>(7)?
            .map(|it| u64::try_from(it).unwrap_or_default()),
    })
}

fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl KeyStore for PostgresKeys {
    fn create(&self, key: &ApiKey) -> Result<(), KeyStoreError> {
        self.run(|client| {
            client
                .execute(
                    &format!(
                        "INSERT INTO api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    ),
                    &[
                        &key.hash,
                        &key.name,
                        &key.label,
                        &key.limit,
                        &key.limit_reset.map(LimitReset::as_str),
                        &key.disabled,
                        &ms(key.created_at_ms),
                        &key.updated_at_ms.map(ms),
                    ],
                )
                .map(drop)
        })
    }

    fn list(&self) -> Result<Vec<ApiKey>, KeyStoreError> {
        self.run(|client| {
            client
                .query(
                    &format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at_ms, hash"),
                    &[],
                )?
                .iter()
                .map(key_of)
                .collect()
        })
    }

    fn get(&self, hash: &str) -> Result<Option<ApiKey>, KeyStoreError> {
        self.run(|client| {
            client
                .query_opt(
                    &format!("SELECT {COLUMNS} FROM api_keys WHERE hash = $1"),
                    &[&hash],
                )?
                .as_ref()
                .map(key_of)
                .transpose()
        })
    }

    fn update(&self, key: &ApiKey) -> Result<bool, KeyStoreError> {
        self.run(|client| {
            client
                .execute(
                    "UPDATE api_keys SET name = $2, limit_usd = $3, limit_reset = $4, \
                     disabled = $5, updated_at_ms = $6 WHERE hash = $1",
                    &[
                        &key.hash,
                        &key.name,
                        &key.limit,
                        &key.limit_reset.map(LimitReset::as_str),
                        &key.disabled,
                        &key.updated_at_ms.map(ms),
                    ],
                )
                .map(|changed| changed > 0)
        })
    }

    fn delete(&self, hash: &str) -> Result<bool, KeyStoreError> {
        self.run(|client| {
            client
                .execute("DELETE FROM api_keys WHERE hash = $1", &[&hash])
                .map(|changed| changed > 0)
        })
    }
}
