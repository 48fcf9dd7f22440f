//! Generation records: one per request, kept in memory or written off the request path to a
//! SQLite file or a PostgreSQL database.
//!
//! [`Records::record`] never blocks the request and never wakes another thread per record.
//!
//! - Without a database the store is in memory: the newest 100,000 records (packed into a ring
//!   of 38.4 MB, so fewer if they are large), inserted on the caller's thread under a mutex,
//!   gone when the [`Records`] is dropped.
//! - With a path it is a SQLite file in WAL mode (the schema is created when missing), so
//!   records survive a restart; with a `postgres://` URL it is a PostgreSQL database that several
//!   replicas share (migrated at start-up, one replica at a time). Records queue in a shared
//!   batch that a writer thread inserts in one transaction when it holds
//!   [`RecordsOptions::max_batch`] records, and otherwise every [`RecordsOptions::max_delay`].
//!   Reads ([`Records::get`], [`Records::key_usage`]) go through the writer thread, which first
//!   writes whatever is pending, so a record is readable as soon as `record` returned (on
//!   another replica sharing the database: once its batch is written). Dropping the last clone
//!   writes the pending batch and stops the thread.
//! - While PostgreSQL is unreachable, records wait in the queue, at most
//!   [`RecordsOptions::buffer`] of them ([`Records::dropped`] counts the rest), and are written
//!   when it returns; a request never waits for it.
//!
//! # Layout
//!
//! - `memory`: the in-memory store (records packed in a ring of bytes, indexed by arrival
//!   number).
//! - `backend`: what the writer thread needs from a database.
//! - `store`: the SQLite schema, inserts and queries.
//! - `postgres`: the PostgreSQL schema and its migrations (the `api_keys` table of
//!   `crate::keys` included), inserts, queries and reconnection.
//! - `writer`: the writer thread, its batching and the bounded queue.
//! - `calendar`: UTC day, week (Monday–Sunday) and month boundaries, ISO-8601 timestamps, and
//!   the system clock's now, which records are stamped with.
//! - [`render`]: the OpenRouter-shaped `GET /api/v1/generation` and `GET /api/v1/key` bodies.

mod backend;
pub(crate) mod calendar;
mod memory;
mod postgres;

pub(crate) use self::postgres::connect_migrated as postgres_connect;
pub mod render;
mod row;
mod store;
mod writer;

use std::borrow::Cow;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use router_core::secret::Secret;

use self::memory::MemoryStore;
use self::postgres::Postgres;
use self::store::Store;
use self::writer::{Command, Pending};

/// A name a record shares with the configuration and with every other record that names the
/// same thing (a model id, a provider's display name, a key's name): copying it into a record
/// costs a reference count, not an allocation, and dropping the record frees nothing.
pub type Name = Arc<str>;

/// A word from a fixed vocabulary (a finish reason, an error type, a router id): borrowed
/// while the request runs, owned only when read back from a store.
pub type Word = Cow<'static, str>;

/// Everything Turnout remembers about one request.
///
/// A record is built on every request and dropped after the store has taken it: names are
/// shared ([`Name`]) and words borrowed ([`Word`]), so that a record owns as few allocations
/// as it can, and evicting the oldest frees as few as it can.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRecord {
    /// Our generation id (`gen-…`), as returned to the client.
    pub id: String,
    /// Name of the client key that made the request; only that key may read the record.
    pub key_name: Name,
    /// Unix milliseconds when the request arrived.
    pub created_at_ms: u64,
    /// The models the client asked for, in order (`model` then `models`; for the Auto Router, its ranked picks).
    pub requested_models: Vec<Name>,
    /// The model that answered; `None` when every attempt failed.
    pub model: Option<Name>,
    /// Display name of the provider that answered (`OpenAI`); `None` when every attempt failed.
    pub provider: Option<Name>,
    /// Every attempt of the plan, in order, the successful one last.
    pub attempts: Vec<AttemptRecord>,
    /// Prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Completion tokens, reasoning included.
    pub completion_tokens: u64,
    /// Prompt tokens read from the provider's cache.
    pub cached_tokens: u64,
    /// Completion tokens spent on reasoning.
    pub reasoning_tokens: u64,
    /// What the request was billed, in USD (after Zero Completion Insurance).
    pub cost_usd: f64,
    /// Milliseconds from arrival to the last byte sent.
    pub latency_ms: u64,
    /// Milliseconds from arrival to the first content token; `None` when none came.
    pub time_to_first_token_ms: Option<u64>,
    /// The normalized finish reason (`stop`, `length`, `error`, …).
    pub finish_reason: Option<Word>,
    /// Whether the client asked for a stream.
    pub streamed: bool,
    /// Whether the client went away before the end.
    pub cancelled: bool,
    /// The router the client named, such as `openrouter/auto`; `None` for explicit models.
    pub router: Option<Word>,
    /// The provider's own id for the generation.
    pub upstream_id: Option<String>,
    /// The conversation: the client's `session_id` (body or `x-session-id`), its
    /// `prompt_cache_key`, or `fp-` and the hash of the implicit fingerprint (never the prompt).
    pub session_id: Option<String>,
    /// What the cache reads saved, in USD: the cached tokens at the prompt price minus at the
    /// cache-read price.
    pub cache_savings_usd: f64,
}

/// One attempt of a request's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// Public id of the model tried.
    pub model: Name,
    /// Display name of the provider called; `None` when the model was skipped without a call.
    pub provider: Option<Name>,
    /// The HTTP status the attempt ended with: the provider's, or the status a skipped model
    /// counts as; `None` when there was none (connection failure, timeout before headers).
    pub status: Option<u16>,
    /// OpenRouter's `error_type` of the failure; `None` for the attempt that answered.
    pub error_type: Option<Word>,
    /// Milliseconds the attempt took.
    pub elapsed_ms: u64,
}

/// What a key has spent, in USD, per period (UTC; weeks run Monday to Sunday).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KeyUsage {
    /// Since the first record.
    pub total: f64,
    /// Since midnight UTC today.
    pub daily: f64,
    /// Since Monday 00:00 UTC this week.
    pub weekly: f64,
    /// Since the first of this month, 00:00 UTC.
    pub monthly: f64,
}

impl KeyUsage {
    /// What was spent in the credit period of a limit that resets on `reset` (all time
    /// without one).
    pub fn in_period(&self, reset: Option<crate::config::LimitReset>) -> f64 {
        use crate::config::LimitReset;
        match reset {
            None => self.total,
            Some(LimitReset::Daily) => self.daily,
            Some(LimitReset::Weekly) => self.weekly,
            Some(LimitReset::Monthly) => self.monthly,
        }
    }
}

/// The default [`RecordsOptions::buffer`]: records waiting for the database (a few hundred bytes
/// each, so tens of MiB at most).
pub const DEFAULT_BUFFER: usize = 100_000;

/// How the writer thread batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordsOptions {
    /// The most records written in one transaction.
    pub max_batch: usize,
    /// The longest a record waits for its batch to fill before it is written.
    pub max_delay: Duration,
    /// The most records waiting to be written (while the database is unreachable or slow);
    /// records past it are dropped and counted.
    pub buffer: usize,
}

/// Where records are kept.
#[derive(Debug, Clone)]
pub enum RecordsTarget {
    /// In memory, the newest 100,000.
    Memory,
    /// A SQLite file.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database (`postgres://…`), which several replicas may share.
    Postgres(Secret),
}

/// Why the record store failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The database could not be opened or its schema created.
    #[error("cannot open the records store {location}: {source}")]
    Open {
        /// The file path, or `in memory`.
        location: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The store was written by a newer Turnout with a schema this one does not know.
    #[error("the records store {location} has schema version {found}, newer than this Turnout's")]
    NewerSchema {
        /// The file path or the database.
        location: String,
        /// The version found in the store.
        found: i64,
    },
    /// The writer thread could not be started.
    #[error("cannot start the records writer thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// A query or insert failed.
    #[error("records store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused a query or insert.
    #[error("records database error: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// The database cannot be reached now (records wait in memory), or its URL is unusable.
    #[error("the records database is unreachable: {0}")]
    Unreachable(String),
    /// A stored row could not be read back (its JSON columns are not what we wrote).
    #[error("stored generation record `{id}` is corrupt: {message}")]
    Corrupt {
        /// The record's id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The writer thread is gone (it panicked).
    #[error("the records writer has stopped")]
    Closed,
}

/// The generation record store. Cheap to clone; every clone shares the same store.
#[derive(Debug, Clone)]
pub struct Records {
    inner: Arc<Inner>,
}

#[derive(Debug)]
enum Inner {
    Memory(Mutex<MemoryStore>),
    File(FileWriter),
}

/// The handles of a file store's writer thread.
#[derive(Debug)]
struct FileWriter {
    pending: Arc<Pending>,
    commands: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

// === impl RecordsTarget ===

impl RecordsTarget {
    /// The store `[server]` names (`records_url`, else `records_path`, else memory) and its
    /// options (`records_buffer`).
    pub(crate) fn of(server: &crate::config::ServerSettings) -> (Self, RecordsOptions) {
        let target = match (&server.records_url, &server.records_path) {
            (Some(url), _) => Self::Postgres(url.clone()),
            (None, Some(path)) => Self::Sqlite(path.clone()),
            (None, None) => Self::Memory,
        };
        let options = RecordsOptions {
            buffer: server.records_buffer,
            ..RecordsOptions::default()
        };
        (target, options)
    }
}

// === impl Records ===

impl Records {
    /// Opens (creating it if missing) the store at `path`, or an in-memory store for `None`,
    /// with the default batching.
    pub fn open(path: Option<&Path>) -> Result<Self, RecordsError> {
        Self::open_with(path, RecordsOptions::default())
    }

    /// Opens the store with explicit batching options (used by a file store only).
    pub fn open_with(path: Option<&Path>, options: RecordsOptions) -> Result<Self, RecordsError> {
        let target = path.map_or(RecordsTarget::Memory, |it| {
            RecordsTarget::Sqlite(it.to_owned())
        });
        Self::open_target(target, options)
    }

    /// Opens the store at `target`. A PostgreSQL database is connected and migrated now when it
    /// can be reached; when it cannot, records wait in memory until it can (only a database
    /// migrated by a newer Turnout, or an unusable URL, is an error).
    pub fn open_target(
        target: RecordsTarget,
        options: RecordsOptions,
    ) -> Result<Self, RecordsError> {
        let spawned = match target {
            RecordsTarget::Memory => {
                return Ok(Self {
                    inner: Arc::new(Inner::Memory(Mutex::new(MemoryStore::new(
                        memory::DEFAULT_LIMIT,
                    )))),
                });
            }
            RecordsTarget::Sqlite(path) => writer::spawn(move || Store::open(&path), options)?,
            RecordsTarget::Postgres(url) => {
                let mut database = Postgres::new(url.expose())?;
                writer::spawn(
                    move || match database.connect() {
                        Ok(()) | Err(RecordsError::Unreachable(_) | RecordsError::Postgres(_)) => {
                            Ok(database)
                        }
                        Err(err) => Err(err),
                    },
                    options,
                )?
            }
        };
        Ok(Self {
            inner: Arc::new(Inner::File(FileWriter {
                pending: spawned.pending,
                commands: spawned.commands,
                thread: Some(spawned.handle),
            })),
        })
    }

    /// Records dropped because the queue of records waiting for the database was full.
    pub fn dropped(&self) -> u64 {
        match &*self.inner {
            Inner::Memory(_) => 0,
            Inner::File(file) => file.pending.dropped(),
        }
    }

    /// Records waiting to be written to the database.
    pub fn queued(&self) -> usize {
        match &*self.inner {
            Inner::Memory(_) => 0,
            Inner::File(file) => file.pending.len(),
        }
    }

    /// Keeps `record`. Never blocks on I/O; if a file store's writer is gone the record is
    /// dropped and a warning logged.
    pub fn record(&self, record: GenerationRecord) {
        match &*self.inner {
            Inner::Memory(store) => lock(store).insert(record),
            Inner::File(file) => {
                if file.pending.push(record) && file.commands.send(Command::Write).is_err() {
                    tracing::warn!("records writer has stopped; generation records are not saved");
                }
            }
        }
    }

    /// The record `id`, if it exists and was made by `key_name` (another key gets `None`).
    /// Sees records not yet written to the file.
    ///
    /// May block on the file store's writer thread: call it from `spawn_blocking` in async code.
    pub fn get(&self, id: &str, key_name: &str) -> Result<Option<GenerationRecord>, RecordsError> {
        match &*self.inner {
            Inner::Memory(store) => Ok(lock(store).get(id, key_name)),
            Inner::File(file) => file.ask(|reply| Command::Get {
                id: id.to_owned(),
                key_name: key_name.to_owned(),
                reply,
            })?,
        }
    }

    /// What `key_name` has spent: in total, today, this week (Monday–Sunday) and this month,
    /// all in UTC relative to `now_ms` (Unix milliseconds).
    ///
    /// May block on the file store's writer thread: call it from `spawn_blocking` in async code.
    pub fn key_usage(&self, key_name: &str, now_ms: u64) -> Result<KeyUsage, RecordsError> {
        match &*self.inner {
            Inner::Memory(store) => Ok(lock(store).key_usage(key_name, now_ms)),
            Inner::File(file) => file.ask(|reply| Command::KeyUsage {
                key_name: key_name.to_owned(),
                now_ms,
                reply,
            })?,
        }
    }

    /// The newest `limit` records of conversation `session_id` made by `key_name`, oldest
    /// first. Sees records not yet written to the file.
    ///
    /// May block on the file store's writer thread: call it from `spawn_blocking` in async code.
    pub fn session(
        &self,
        key_name: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<GenerationRecord>, RecordsError> {
        match &*self.inner {
            Inner::Memory(store) => Ok(lock(store).session(key_name, session_id, limit)),
            Inner::File(file) => file.ask(|reply| Command::Session {
                key_name: key_name.to_owned(),
                session_id: session_id.to_owned(),
                limit,
                reply,
            })?,
        }
    }

    /// The newest records of `key_name` (`None`: of every key) made at `since_ms` (Unix
    /// milliseconds) or later, newest first, at most `limit`.
    ///
    /// May block on the file store's writer thread: call it from `spawn_blocking` in async code.
    pub fn recent(
        &self,
        key_name: Option<&str>,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<GenerationRecord>, RecordsError> {
        match &*self.inner {
            Inner::Memory(store) => Ok(lock(store).recent(key_name, since_ms, limit)),
            Inner::File(file) => file.ask(|reply| Command::Recent {
                key_name: key_name.map(str::to_owned),
                since_ms,
                limit,
                reply,
            })?,
        }
    }

    /// Writes every queued record now and waits until they are committed (a no-op in memory).
    pub fn flush(&self) -> Result<(), RecordsError> {
        match &*self.inner {
            Inner::Memory(_) => Ok(()),
            Inner::File(file) => file.ask(|reply| Command::Flush { reply })?,
        }
    }
}

/// Locks the in-memory store. A panic while it was held cannot leave it inconsistent in a way
/// that matters more than losing the records, so a poisoned lock is used as is.
fn lock(store: &Mutex<MemoryStore>) -> std::sync::MutexGuard<'_, MemoryStore> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FileWriter {
    /// Sends the command `make(reply)` and waits for its answer.
    fn ask<T>(&self, make: impl FnOnce(mpsc::SyncSender<T>) -> Command) -> Result<T, RecordsError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.commands
            .send(make(reply))
            .map_err(|_| RecordsError::Closed)?;
        answer.recv().map_err(|_| RecordsError::Closed)
    }
}

impl Drop for FileWriter {
    /// Writes what is pending and stops the writer thread.
    fn drop(&mut self) {
        // If the writer already stopped there is nothing left to flush.
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("records writer thread panicked");
        }
    }
}

impl Default for RecordsOptions {
    fn default() -> Self {
        Self {
            max_batch: 128,
            max_delay: Duration::from_millis(50),
            buffer: DEFAULT_BUFFER,
        }
    }
}

#[cfg(test)]
mod tests;
