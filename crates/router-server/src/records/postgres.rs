//! The PostgreSQL side of the records (`server.records_url`): schema migrations under an
//! advisory lock, batched inserts, lookups and usage sums, and reconnection.
//!
//! Client: the blocking `postgres` crate (tokio-postgres driven by its own small runtime), because
//! the records writer is a thread that blocks on its store as it does with SQLite; the request
//! path's runtime never waits on the database.
//!
//! The table has the SQLite store's columns with PostgreSQL's types (`BIGINT` counters and
//! milliseconds, `DOUBLE PRECISION` dollars, `BOOLEAN` flags, the two lists as `JSONB`), plus
//! `seq`, the insertion order that breaks ties between records of the same millisecond. Several
//! replicas share it: each writes its own records and reads everyone's.
//!
//! # Migrations
//!
//! [`MIGRATIONS`] are applied in order at connection, inside one transaction holding
//! `pg_advisory_xact_lock(`[`MIGRATION_LOCK`]`)`, so replicas starting together migrate one at a
//! time and the others find the work done. Each step is additive (`CREATE … IF NOT EXISTS`,
//! `ADD COLUMN IF NOT EXISTS`) and recorded in `turnout_records_migrations`; a database migrated
//! by a newer Turnout (a step this one does not know) is refused rather than written.
//!
//! # Unreachable
//!
//! When the connection drops or cannot be made, every call answers
//! [`RecordsError::Unreachable`] at once and [`Backend::ready`] says false until
//! [`RECONNECT_AFTER`] has passed; then the next write connects again (and migrates if needed).

use std::time::{Duration, Instant};

use postgres::config::Host;
use postgres::{Client, Config, NoTls, Row};

use super::backend::Backend;
use super::calendar::period_starts;
use super::row::{self, Columns};
use super::store::{to_json, to_sql};
use super::{GenerationRecord, KeyUsage, RecordsError};

/// The advisory lock key held while migrating (`turnout` in ASCII).
pub(super) const MIGRATION_LOCK: i64 = 0x0074_7572_6e6f_7574;

/// How long an unreachable database is left alone before the writer connects again.
const RECONNECT_AFTER: Duration = Duration::from_millis(500);

/// The connection timeout when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Schema steps; step `n` (index `n - 1`) brings a database from version `n - 1` to `n`.
const MIGRATIONS: &[&str] = &[
    // 1: the generations table and its indexes.
    "CREATE TABLE IF NOT EXISTS generations (
        id                     TEXT PRIMARY KEY NOT NULL,
        key_name               TEXT NOT NULL,
        created_at_ms          BIGINT NOT NULL,
        requested_models       JSONB NOT NULL,
        model                  TEXT,
        provider               TEXT,
        attempts               JSONB NOT NULL,
        prompt_tokens          BIGINT NOT NULL,
        completion_tokens      BIGINT NOT NULL,
        cached_tokens          BIGINT NOT NULL,
        reasoning_tokens       BIGINT NOT NULL,
        cost_usd               DOUBLE PRECISION NOT NULL,
        latency_ms             BIGINT NOT NULL,
        time_to_first_token_ms BIGINT,
        finish_reason          TEXT,
        streamed               BOOLEAN NOT NULL,
        cancelled              BOOLEAN NOT NULL,
        router                 TEXT,
        upstream_id            TEXT,
        session_id             TEXT,
        cache_savings_usd      DOUBLE PRECISION NOT NULL DEFAULT 0,
        seq                    BIGSERIAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS generations_by_key_time ON generations (key_name, created_at_ms);
    CREATE INDEX IF NOT EXISTS generations_by_session
        ON generations (key_name, session_id, created_at_ms);
    CREATE INDEX IF NOT EXISTS generations_by_time ON generations (created_at_ms);",
    // 2: the keys made through the provisioning API (`crate::keys::postgres`).
    "CREATE TABLE IF NOT EXISTS api_keys (
        hash          TEXT PRIMARY KEY NOT NULL,
        name          TEXT NOT NULL UNIQUE,
        label         TEXT NOT NULL,
        limit_usd     DOUBLE PRECISION,
        limit_reset   TEXT,
        disabled      BOOLEAN NOT NULL,
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT
    );",
];

const COLUMNS: &str = "id, key_name, created_at_ms, requested_models::text, model, provider, \
    attempts::text, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_usd, \
    latency_ms, time_to_first_token_ms, finish_reason, streamed, cancelled, router, upstream_id, \
    session_id, cache_savings_usd";

const INSERT: &str = "INSERT INTO generations (id, key_name, created_at_ms, requested_models, \
    model, provider, attempts, prompt_tokens, completion_tokens, cached_tokens, \
    reasoning_tokens, cost_usd, latency_ms, time_to_first_token_ms, finish_reason, streamed, \
    cancelled, router, upstream_id, session_id, cache_savings_usd) VALUES ($1, $2, $3, \
    $4::text::jsonb, $5, $6, $7::text::jsonb, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
    $18, $19, $20, $21) ON CONFLICT (id) DO UPDATE SET key_name = EXCLUDED.key_name, \
    created_at_ms = EXCLUDED.created_at_ms, requested_models = EXCLUDED.requested_models, \
    model = EXCLUDED.model, provider = EXCLUDED.provider, attempts = EXCLUDED.attempts, \
    prompt_tokens = EXCLUDED.prompt_tokens, completion_tokens = EXCLUDED.completion_tokens, \
    cached_tokens = EXCLUDED.cached_tokens, reasoning_tokens = EXCLUDED.reasoning_tokens, \
    cost_usd = EXCLUDED.cost_usd, latency_ms = EXCLUDED.latency_ms, \
    time_to_first_token_ms = EXCLUDED.time_to_first_token_ms, \
    finish_reason = EXCLUDED.finish_reason, streamed = EXCLUDED.streamed, \
    cancelled = EXCLUDED.cancelled, router = EXCLUDED.router, upstream_id = EXCLUDED.upstream_id, \
    session_id = EXCLUDED.session_id, cache_savings_usd = EXCLUDED.cache_savings_usd";

/// A new connection to the records database at `url`, migrated: for the other tables kept in it
/// (the API keys). Blocks: call it off the runtime's threads.
pub(crate) fn connect_migrated(url: &str) -> Result<Client, RecordsError> {
    let database = Postgres::new(url)?;
    let mut client = database
        .config
        .connect(NoTls)
        .map_err(|err| RecordsError::Unreachable(format!("{}: {err}", database.location)))?;
    migrate(&mut client, &database.location)?;
    Ok(client)
}

/// A PostgreSQL records database, connected or waiting to reconnect.
pub(super) struct Postgres {
    config: Config,
    /// `host:port/database`, for errors and logs (never the password).
    location: String,
    client: Option<Client>,
    /// While unreachable: when to try again.
    retry_at: Option<Instant>,
}

impl Postgres {
    /// Parses `url` (`postgres://user:password@host:port/database`); does not connect.
    pub(super) fn new(url: &str) -> Result<Self, RecordsError> {
        let mut config: Config = url.parse().map_err(|err: postgres::Error| {
            RecordsError::Unreachable(format!("invalid PostgreSQL URL: {err}"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("turnout");
        let location = location(&config);
        Ok(Self {
            config,
            location,
            client: None,
            retry_at: None,
        })
    }

    /// Connects and migrates now. [`RecordsError::NewerSchema`] is final; any other error
    /// leaves the database to be tried again by the next write.
    pub(super) fn connect(&mut self) -> Result<(), RecordsError> {
        self.client().map(drop)
    }

    /// The connection: the open one, or a new one (migrated) unless the database is being left
    /// alone after a failure.
    fn client(&mut self) -> Result<&mut Client, RecordsError> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            if self.retry_at.is_some_and(|at| Instant::now() < at) {
                return Err(self.unreachable("waiting to reconnect"));
            }
            let connected = self
                .config
                .connect(NoTls)
                .map_err(|err| self.unreachable(&err.to_string()))
                .and_then(|mut client| {
                    migrate(&mut client, &self.location)?;
                    Ok(client)
                });
            match connected {
                Ok(client) => {
                    if self.retry_at.take().is_some() {
                        tracing::info!(database = %self.location, "records database reachable again");
                    }
                    self.client = Some(client);
                }
                Err(err) => {
                    self.left_alone(&err);
                    return Err(err);
                }
            }
        }
        self.client.as_mut().ok_or(RecordsError::Closed)
    }

    /// Runs `op` on the connection, dropping it when the failure says it is gone. A connection
    /// that was open but turns out stale (the server restarted since) is replaced once at once.
    fn with<T>(
        &mut self,
        op: impl Fn(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, RecordsError> {
        let was_open = self.client.is_some();
        let mut answer = self.try_with(&op);
        if matches!(answer, Err(RecordsError::Unreachable(_)))
            && was_open
            && self.retry_at.is_none()
        {
            answer = self.try_with(&op);
        }
        if let Err(err) = &answer
            && matches!(err, RecordsError::Unreachable(_))
        {
            self.left_alone(err);
        }
        answer
    }

    /// One try of [`Postgres::with`]; a transient failure drops the connection.
    fn try_with<T>(
        &mut self,
        op: &impl Fn(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, RecordsError> {
        let client = self.client()?;
        match op(client) {
            Ok(answer) => Ok(answer),
            Err(err) if is_transient(&err) || client.is_closed() => {
                self.client = None;
                Err(self.unreachable(&err.to_string()))
            }
            Err(err) => Err(RecordsError::Postgres(err)),
        }
    }

    fn unreachable(&self, why: &str) -> RecordsError {
        RecordsError::Unreachable(format!("{}: {why}", self.location))
    }

    /// Starts the wait before the next connection attempt (warning on the first), or starts it
    /// again after an attempt that failed. A call refused while the wait runs leaves it as it
    /// is: readers asking more often than [`RECONNECT_AFTER`] must not put off the reconnection
    /// for ever.
    fn left_alone(&mut self, err: &RecordsError) {
        let now = Instant::now();
        match self.retry_at {
            None => {
                tracing::warn!(
                    error = %err,
                    "the records database is unreachable: keeping records in memory until it returns"
                );
                self.retry_at = Some(now + RECONNECT_AFTER);
            }
            Some(at) if now >= at => self.retry_at = Some(now + RECONNECT_AFTER),
            Some(_) => {}
        }
    }
}

impl Backend for Postgres {
    fn ready(&mut self) -> bool {
        self.client.as_ref().is_some_and(|it| !it.is_closed())
            || self.retry_at.is_none_or(|at| Instant::now() >= at)
    }

    fn insert(&mut self, records: &[GenerationRecord]) -> Result<(), RecordsError> {
        // Encode first: a record that cannot be encoded fails the batch before any I/O.
        let encoded = records
            .iter()
            .map(|record| {
                Ok((
                    to_json(&record.id, &record.requested_models)?,
                    to_json(&record.id, &record.attempts)?,
                ))
            })
            .collect::<Result<Vec<_>, RecordsError>>()?;
        self.with(|client| {
            let mut tx = client.transaction()?;
            let insert = tx.prepare(INSERT)?;
            for (record, (requested, attempts)) in records.iter().zip(&encoded) {
                tx.execute(
                    &insert,
                    &[
                        &record.id,
                        &&*record.key_name,
                        &to_sql(record.created_at_ms),
                        requested,
                        &record.model.as_deref(),
                        &record.provider.as_deref(),
                        attempts,
                        &to_sql(record.prompt_tokens),
                        &to_sql(record.completion_tokens),
                        &to_sql(record.cached_tokens),
                        &to_sql(record.reasoning_tokens),
                        &record.cost_usd,
                        &to_sql(record.latency_ms),
                        &record.time_to_first_token_ms.map(to_sql),
                        &record.finish_reason.as_deref(),
                        &record.streamed,
                        &record.cancelled,
                        &record.router.as_deref(),
                        &record.upstream_id,
                        &record.session_id,
                        &record.cache_savings_usd,
                    ],
                )?;
            }
            tx.commit()
        })
    }

    fn get(&mut self, id: &str, key_name: &str) -> Result<Option<GenerationRecord>, RecordsError> {
        let row = self.with(|client| {
            client.query_opt(
                &format!("SELECT {COLUMNS} FROM generations WHERE id = $1 AND key_name = $2"),
                &[&id, &key_name],
            )
        })?;
        row.map(|row| read(&row)).transpose()
    }

    fn session(
        &mut self,
        key_name: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<GenerationRecord>, RecordsError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.with(|client| {
            client.query(
                &format!(
                    "SELECT {COLUMNS} FROM generations WHERE key_name = $1 AND session_id = $2 \
                     ORDER BY created_at_ms DESC, seq DESC LIMIT $3"
                ),
                &[&key_name, &session_id, &limit],
            )
        })?;
        let mut records = rows.iter().map(read).collect::<Result<Vec<_>, _>>()?;
        records.reverse();
        Ok(records)
    }

    fn recent(
        &mut self,
        key_name: Option<&str>,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<GenerationRecord>, RecordsError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let since = to_sql(since_ms);
        let rows = self.with(|client| {
            client.query(
                &format!(
                    "SELECT {COLUMNS} FROM generations
                     WHERE ($1::text IS NULL OR key_name = $1) AND created_at_ms >= $2
                     ORDER BY created_at_ms DESC, seq DESC LIMIT $3"
                ),
                &[&key_name, &since, &limit],
            )
        })?;
        rows.iter().map(read).collect()
    }

    fn key_usage(&mut self, key_name: &str, now_ms: u64) -> Result<KeyUsage, RecordsError> {
        let starts = period_starts(now_ms);
        let row = self.with(|client| {
            client.query_one(
                "SELECT COALESCE(SUM(cost_usd), 0.0),
                        COALESCE(SUM(CASE WHEN created_at_ms >= $2 THEN cost_usd END), 0.0),
                        COALESCE(SUM(CASE WHEN created_at_ms >= $3 THEN cost_usd END), 0.0),
                        COALESCE(SUM(CASE WHEN created_at_ms >= $4 THEN cost_usd END), 0.0)
                 FROM generations WHERE key_name = $1",
                &[
                    &key_name,
                    &to_sql(starts.day),
                    &to_sql(starts.week),
                    &to_sql(starts.month),
                ],
            )
        })?;
        Ok(KeyUsage {
            total: row.try_get(0)?,
            daily: row.try_get(1)?,
            weekly: row.try_get(2)?,
            monthly: row.try_get(3)?,
        })
    }
}

/// Applies the missing [`MIGRATIONS`] under the advisory lock, in one transaction.
fn migrate(client: &mut Client, location: &str) -> Result<(), RecordsError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS turnout_records_migrations (
            version    BIGINT PRIMARY KEY NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )?;
    let found: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM turnout_records_migrations",
            &[],
        )?
        .try_get(0)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if found > known {
        return Err(RecordsError::NewerSchema {
            location: location.to_owned(),
            found,
        });
    }
    for (version, step) in (1_i64..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(step)?;
        tx.execute(
            "INSERT INTO turnout_records_migrations (version) VALUES ($1)",
            &[&version],
        )?;
        tracing::info!(database = location, version, "records database migrated");
    }
    tx.commit()?;
    Ok(())
}

/// Whether `err` says the database is (for now) unreachable rather than refusing the query:
/// connection failures, and the SQLSTATE classes 08 (connection), 53 (resources), 57 (operator
/// intervention: shutting down) and 40 (a transaction rolled back to be tried again).
fn is_transient(err: &postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    match err.code() {
        None => err.as_db_error().is_none(),
        Some(code) => ["08", "53", "57", "40"]
            .iter()
            .any(|class| code.code().starts_with(class)),
    }
}

/// `host:port/database` of `config`, for messages.
fn location(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("postgres://{host}:{port}/{database}")
}

/// A row selected with [`COLUMNS`].
fn read(row: &Row) -> Result<GenerationRecord, RecordsError> {
    row::read(row)?.into_record()
}

impl Columns for Row {
    type Error = postgres::Error;

    fn text(&self, idx: usize) -> Result<String, postgres::Error> {
        self.try_get(idx)
    }

    fn optional_text(&self, idx: usize) -> Result<Option<String>, postgres::Error> {
        self.try_get(idx)
    }

    fn integer(&self, idx: usize) -> Result<i64, postgres::Error> {
        self.try_get(idx)
    }

    fn optional_integer(&self, idx: usize) -> Result<Option<i64>, postgres::Error> {
        self.try_get(idx)
    }

    fn real(&self, idx: usize) -> Result<f64, postgres::Error> {
        self.try_get(idx)
    }

    fn flag(&self, idx: usize) -> Result<bool, postgres::Error> {
        self.try_get(idx)
    }
}
