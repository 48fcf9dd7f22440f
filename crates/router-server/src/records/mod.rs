//! Generation records: one per request, written off the request path to an embedded store.
//!
//! [`Records::record`] never blocks the request: it hands the record to a dedicated writer
//! thread, which batches inserts into one SQLite transaction (up to
//! [`RecordsOptions::max_batch`] records or [`RecordsOptions::max_delay`] after the first one).
//! Reads ([`Records::get`], [`Records::key_usage`]) go through the same thread, which first
//! writes whatever is still pending, so a record is readable as soon as `record` returned.
//! Dropping the last clone of [`Records`] writes the pending batch and stops the thread.
//!
//! The store is a SQLite file in WAL mode (the schema is created when missing), so records
//! survive a restart; without a path it is an in-memory database of the newest 100,000 records
//! that lives as long as the [`Records`].
//!
//! # Layout
//!
//! - `store`: the SQLite schema, inserts and queries.
//! - `writer`: the writer thread and its batching.
//! - `calendar`: UTC day, week (Monday–Sunday) and month boundaries, ISO-8601 timestamps.
//! - [`render`]: the OpenRouter-shaped `GET /api/v1/generation` and `GET /api/v1/key` bodies.

mod calendar;
pub mod render;
mod store;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::store::Store;
use self::writer::Command;

/// Everything Turnout remembers about one request.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRecord {
    /// Our generation id (`gen-…`), as returned to the client.
    pub id: String,
    /// Name of the client key that made the request; only that key may read the record.
    pub key_name: String,
    /// Unix milliseconds when the request arrived.
    pub created_at_ms: u64,
    /// The models the client asked for, in order (`model` then `models`; for the Auto Router, its ranked picks).
    pub requested_models: Vec<String>,
    /// The model that answered; `None` when every attempt failed.
    pub model: Option<String>,
    /// Display name of the provider that answered (`OpenAI`); `None` when every attempt failed.
    pub provider: Option<String>,
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
    pub finish_reason: Option<String>,
    /// Whether the client asked for a stream.
    pub streamed: bool,
    /// Whether the client went away before the end.
    pub cancelled: bool,
    /// The router the client named, such as `openrouter/auto`; `None` for explicit models.
    pub router: Option<String>,
    /// The provider's own id for the generation.
    pub upstream_id: Option<String>,
}

/// One attempt of a request's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// Public id of the model tried.
    pub model: String,
    /// Display name of the provider called; `None` when the model was skipped without a call.
    pub provider: Option<String>,
    /// The HTTP status the attempt ended with: the provider's, or the status a skipped model
    /// counts as; `None` when there was none (connection failure, timeout before headers).
    pub status: Option<u16>,
    /// OpenRouter's `error_type` of the failure; `None` for the attempt that answered.
    pub error_type: Option<String>,
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

/// How the writer thread batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordsOptions {
    /// The most records written in one transaction.
    pub max_batch: usize,
    /// The longest a record waits for its batch to fill before it is written.
    pub max_delay: Duration,
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
        /// The file path.
        location: String,
        /// The version found in the file.
        found: i64,
    },
    /// The writer thread could not be started.
    #[error("cannot start the records writer thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// A query or insert failed.
    #[error("records store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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

/// The generation record store. Cheap to clone; every clone talks to the same writer thread.
#[derive(Debug, Clone)]
pub struct Records {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    commands: mpsc::Sender<Command>,
    writer: Option<JoinHandle<()>>,
}

// === impl Records ===

impl Records {
    /// Opens (creating it if missing) the store at `path`, or an in-memory store for `None`,
    /// with the default batching.
    pub fn open(path: Option<&Path>) -> Result<Self, RecordsError> {
        Self::open_with(path, RecordsOptions::default())
    }

    /// Opens the store with explicit batching options.
    pub fn open_with(path: Option<&Path>, options: RecordsOptions) -> Result<Self, RecordsError> {
        let store = Store::open(path)?;
        let (commands, writer) = writer::spawn(store, options).map_err(RecordsError::Spawn)?;
        Ok(Self {
            inner: Arc::new(Inner {
                commands,
                writer: Some(writer),
            }),
        })
    }

    /// Queues `record` for writing. Never blocks; if the writer is gone the record is dropped
    /// and a warning logged.
    pub fn record(&self, record: GenerationRecord) {
        if self
            .inner
            .commands
            .send(Command::Record(Box::new(record)))
            .is_err()
        {
            tracing::warn!("records writer has stopped; a generation record was dropped");
        }
    }

    /// The record `id`, if it exists and was made by `key_name` (another key gets `None`).
    /// Sees records still waiting in the batch.
    ///
    /// Blocks until the writer thread answers: call it from `spawn_blocking` in async code.
    pub fn get(&self, id: &str, key_name: &str) -> Result<Option<GenerationRecord>, RecordsError> {
        self.ask(|reply| Command::Get {
            id: id.to_owned(),
            key_name: key_name.to_owned(),
            reply,
        })?
    }

    /// What `key_name` has spent: in total, today, this week (Monday–Sunday) and this month,
    /// all in UTC relative to `now_ms` (Unix milliseconds).
    ///
    /// Blocks until the writer thread answers: call it from `spawn_blocking` in async code.
    pub fn key_usage(&self, key_name: &str, now_ms: u64) -> Result<KeyUsage, RecordsError> {
        self.ask(|reply| Command::KeyUsage {
            key_name: key_name.to_owned(),
            now_ms,
            reply,
        })?
    }

    /// Writes every queued record now and waits until they are committed.
    pub fn flush(&self) -> Result<(), RecordsError> {
        self.ask(|reply| Command::Flush { reply })?
    }

    /// Sends the command `make(reply)` and waits for its answer.
    fn ask<T>(&self, make: impl FnOnce(mpsc::SyncSender<T>) -> Command) -> Result<T, RecordsError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.inner
            .commands
            .send(make(reply))
            .map_err(|_| RecordsError::Closed)?;
        answer.recv().map_err(|_| RecordsError::Closed)
    }
}

impl Drop for Inner {
    /// Writes what is pending and stops the writer thread.
    fn drop(&mut self) {
        // If the writer already stopped there is nothing left to flush.
        let _ = self.commands.send(Command::Shutdown);
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
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
        }
    }
}

#[cfg(test)]
mod tests;
