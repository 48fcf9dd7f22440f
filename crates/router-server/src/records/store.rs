//! The SQLite side of the records: schema, batched inserts, lookups and usage sums.
//!
//! One table, `generations`, one row per request. Scalars are columns (so the store can be
//! queried with plain SQL); the two lists (`requested_models`, `attempts`) are JSON text. Unsigned
//! counters are stored as SQLite integers (signed 64-bit), saturating at `i64::MAX`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::backend::Backend;
use super::calendar::period_starts;
use super::row::{self, Columns, RowRecord};
use super::{GenerationRecord, KeyUsage, RecordsError};

/// Bumped when the schema changes; older files are migrated ([`MIGRATIONS`]).
const SCHEMA_VERSION: i64 = 2;

/// What brings a file of version `n` (index `n - 1`) to the next version.
const MIGRATIONS: &[&str] = &[
    // 1 -> 2: sticky sessions.
    "ALTER TABLE generations ADD COLUMN session_id TEXT;
     ALTER TABLE generations ADD COLUMN cache_savings_usd REAL NOT NULL DEFAULT 0;",
];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS generations (
    id                     TEXT PRIMARY KEY NOT NULL,
    key_name               TEXT NOT NULL,
    created_at_ms          INTEGER NOT NULL,
    requested_models       TEXT NOT NULL,
    model                  TEXT,
    provider               TEXT,
    attempts               TEXT NOT NULL,
    prompt_tokens          INTEGER NOT NULL,
    completion_tokens      INTEGER NOT NULL,
    cached_tokens          INTEGER NOT NULL,
    reasoning_tokens       INTEGER NOT NULL,
    cost_usd               REAL NOT NULL,
    latency_ms             INTEGER NOT NULL,
    time_to_first_token_ms INTEGER,
    finish_reason          TEXT,
    streamed               INTEGER NOT NULL,
    cancelled              INTEGER NOT NULL,
    router                 TEXT,
    upstream_id            TEXT,
    session_id             TEXT,
    cache_savings_usd      REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS generations_by_key_time ON generations (key_name, created_at_ms);
";

/// Indexes over columns added by a migration (created once the columns exist).
const LATE_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS generations_by_session ON generations (key_name, session_id, created_at_ms);
";

const COLUMNS: &str = "id, key_name, created_at_ms, requested_models, model, provider, attempts, \
    prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_usd, latency_ms, \
    time_to_first_token_ms, finish_reason, streamed, cancelled, router, upstream_id, session_id, \
    cache_savings_usd";

/// An open records database.
#[derive(Debug)]
pub(super) struct Store {
    conn: Connection,
}

impl Store {
    /// Opens the file at `path` (created if missing) in WAL mode and creates the schema if
    /// missing.
    pub(super) fn open(path: &Path) -> Result<Self, RecordsError> {
        let location = path.display().to_string();
        let open_err = |source| RecordsError::Open {
            location: location.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_err)?;
        if version > SCHEMA_VERSION {
            return Err(RecordsError::NewerSchema {
                location,
                found: version,
            });
        }
        // A new file gets the current schema; an older one each migration since its version.
        let fresh: bool = conn
            .query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'generations')",
                [],
                |row| row.get(0),
            )
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        if !fresh {
            for migration in MIGRATIONS
                .iter()
                .skip(usize::try_from(version.max(1) - 1).unwrap_or(0))
            {
                conn.execute_batch(migration).map_err(open_err)?;
            }
        }
        conn.execute_batch(LATE_INDEXES)
            .and_then(|()| conn.pragma_update(None, "user_version", SCHEMA_VERSION))
            .map_err(open_err)?;
        Ok(Self { conn })
    }

    /// Inserts `records` in one transaction. A record whose id exists replaces it.
    pub(super) fn insert(&mut self, records: &[GenerationRecord]) -> Result<(), RecordsError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO generations ({COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                 ?18, ?19, ?20, ?21)"
            ))?;
            for record in records {
                let requested = to_json(&record.id, &record.requested_models)?;
                let attempts = to_json(&record.id, &record.attempts)?;
                insert.execute(params![
                    record.id,
                    record.key_name,
                    to_sql(record.created_at_ms),
                    requested,
                    record.model,
                    record.provider,
                    attempts,
                    to_sql(record.prompt_tokens),
                    to_sql(record.completion_tokens),
                    to_sql(record.cached_tokens),
                    to_sql(record.reasoning_tokens),
                    record.cost_usd,
                    to_sql(record.latency_ms),
                    record.time_to_first_token_ms.map(to_sql),
                    record.finish_reason,
                    record.streamed,
                    record.cancelled,
                    record.router,
                    record.upstream_id,
                    record.session_id,
                    record.cache_savings_usd,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The record `id` if `key_name` made it.
    pub(super) fn get(
        &self,
        id: &str,
        key_name: &str,
    ) -> Result<Option<GenerationRecord>, RecordsError> {
        let mut query = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM generations WHERE id = ?1 AND key_name = ?2"
        ))?;
        let Some(row) = query
            .query_row(params![id, key_name], |it: &Row<'_>| row::read(it))
            .optional()?
        else {
            return Ok(None);
        };
        row.into_record().map(Some)
    }

    /// The newest `limit` records of `session_id` by `key_name`, oldest first.
    pub(super) fn session(
        &self,
        key_name: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<GenerationRecord>, RecordsError> {
        let mut query = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM generations WHERE key_name = ?1 AND session_id = ?2 \
             ORDER BY created_at_ms DESC, rowid DESC LIMIT ?3"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query
            .query_map(params![key_name, session_id, limit], |it: &Row<'_>| {
                row::read(it)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut records = rows
            .into_iter()
            .map(RowRecord::into_record)
            .collect::<Result<Vec<_>, _>>()?;
        records.reverse();
        Ok(records)
    }

    /// The newest records (of `key_name`, or of every key) made at `since_ms` or later, newest
    /// first, at most `limit`.
    pub(super) fn recent(
        &self,
        key_name: Option<&str>,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<GenerationRecord>, RecordsError> {
        let mut query = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM generations
             WHERE (?1 IS NULL OR key_name = ?1) AND created_at_ms >= ?2
             ORDER BY created_at_ms DESC LIMIT ?3"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query
            .query_map(
                params![key_name, to_sql(since_ms), limit],
                |it: &Row<'_>| row::read(it),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(RowRecord::into_record).collect()
    }

    /// What `key_name` spent in total and in the day, week and month of `now_ms`.
    pub(super) fn key_usage(&self, key_name: &str, now_ms: u64) -> Result<KeyUsage, RecordsError> {
        let starts = period_starts(now_ms);
        let mut query = self.conn.prepare_cached(
            "SELECT COALESCE(SUM(cost_usd), 0.0),
                    COALESCE(SUM(CASE WHEN created_at_ms >= ?2 THEN cost_usd END), 0.0),
                    COALESCE(SUM(CASE WHEN created_at_ms >= ?3 THEN cost_usd END), 0.0),
                    COALESCE(SUM(CASE WHEN created_at_ms >= ?4 THEN cost_usd END), 0.0)
             FROM generations WHERE key_name = ?1",
        )?;
        let usage = query.query_row(
            params![
                key_name,
                to_sql(starts.day),
                to_sql(starts.week),
                to_sql(starts.month)
            ],
            |row| {
                Ok(KeyUsage {
                    total: row.get(0)?,
                    daily: row.get(1)?,
                    weekly: row.get(2)?,
                    monthly: row.get(3)?,
                })
            },
        )?;
        Ok(usage)
    }
}

impl Backend for Store {
    fn insert(&mut self, records: &[GenerationRecord]) -> Result<(), RecordsError> {
        Store::insert(self, records)
    }

    fn get(&mut self, id: &str, key_name: &str) -> Result<Option<GenerationRecord>, RecordsError> {
        Store::get(self, id, key_name)
    }

    fn session(
        &mut self,
        key_name: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<GenerationRecord>, RecordsError> {
        Store::session(self, key_name, session_id, limit)
    }

    fn recent(
        &mut self,
        key_name: Option<&str>,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<GenerationRecord>, RecordsError> {
        Store::recent(self, key_name, since_ms, limit)
    }

    fn key_usage(&mut self, key_name: &str, now_ms: u64) -> Result<KeyUsage, RecordsError> {
        Store::key_usage(self, key_name, now_ms)
    }
}

/// Connection settings: a busy timeout, and WAL with `synchronous = NORMAL`.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // WAL keeps readers and the writer out of each other's way and makes batched commits
    // cheap; NORMAL sync is durable across process crashes in WAL mode.
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
}

impl Columns for Row<'_> {
    type Error = rusqlite::Error;

    fn text(&self, idx: usize) -> rusqlite::Result<String> {
        self.get(idx)
    }

    fn optional_text(&self, idx: usize) -> rusqlite::Result<Option<String>> {
        self.get(idx)
    }

    fn integer(&self, idx: usize) -> rusqlite::Result<i64> {
        self.get(idx)
    }

    fn optional_integer(&self, idx: usize) -> rusqlite::Result<Option<i64>> {
        self.get(idx)
    }

    fn real(&self, idx: usize) -> rusqlite::Result<f64> {
        self.get(idx)
    }

    fn flag(&self, idx: usize) -> rusqlite::Result<bool> {
        self.get(idx)
    }
}

pub(super) fn to_json(id: &str, value: &impl serde::Serialize) -> Result<String, RecordsError> {
    serde_json::to_string(value).map_err(|err| RecordsError::Corrupt {
        id: id.to_owned(),
        message: err.to_string(),
    })
}

pub(super) fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_use_wal_and_record_the_schema_version() {
        let path = super::super::tests::TempPath::new("wal");
        let store = Store::open(path.as_ref()).unwrap();
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_version_1_file_is_migrated_and_keeps_its_rows() {
        let path = super::super::tests::TempPath::new("v1");
        {
            let conn = Connection::open(path.as_ref() as &Path).unwrap();
            let v1 = SCHEMA.replace(
                "upstream_id            TEXT,\n    session_id             TEXT,\n    cache_savings_usd      REAL NOT NULL DEFAULT 0",
                "upstream_id            TEXT",
            );
            assert_ne!(v1, SCHEMA);
            conn.execute_batch(&v1).unwrap();
            conn.execute(
                "INSERT INTO generations VALUES ('gen-old', 'k', 1, '[]', NULL, NULL, '[]', \
                 0, 0, 0, 0, 0.5, 0, NULL, NULL, 0, 0, NULL, NULL)",
                [],
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let mut store = Store::open(path.as_ref()).unwrap();
        let old = store.get("gen-old", "k").unwrap().unwrap();
        assert_eq!((old.session_id, old.cost_usd), (None, 0.5));
        let mut record = super::super::tests::record("gen-new", "k", 2, 0.1);
        record.session_id = Some("s".to_owned());
        store.insert(&[record.clone()]).unwrap();
        assert_eq!(store.session("k", "s", 10).unwrap(), [record]);
        assert!(store.session("other", "s", 10).unwrap().is_empty());
    }

    #[test]
    fn refuses_a_newer_schema() {
        let path = super::super::tests::TempPath::new("newer");
        {
            let store = Store::open(path.as_ref()).unwrap();
            store
                .conn
                .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let err = Store::open(path.as_ref()).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
    }
}
