//! [`Backend`]: what the records writer thread needs from a database, so the same thread, the
//! same batching and the same reads serve SQLite (`store`) and PostgreSQL (`postgres`).
//!
//! Every method runs on the writer thread only. A backend that cannot reach its database
//! answers [`RecordsError::Unreachable`]: the writer then keeps the batch in memory and tries
//! again later, where any other error drops the batch (a broken row would fail forever).

use super::{GenerationRecord, KeyUsage, RecordsError};

/// A database the writer thread writes records to and reads them from.
pub(super) trait Backend: Send {
    /// Whether a write is worth trying now: false while an unreachable database is left alone
    /// between reconnection attempts, so the writer does not take its pending batch for nothing.
    fn ready(&mut self) -> bool {
        true
    }

    /// Inserts `records` in one transaction; a record whose id exists replaces it.
    fn insert(&mut self, records: &[GenerationRecord]) -> Result<(), RecordsError>;

    /// The record `id` if `key_name` made it.
    fn get(&mut self, id: &str, key_name: &str) -> Result<Option<GenerationRecord>, RecordsError>;

    /// The newest `limit` records of `session_id` by `key_name`, oldest first.
    fn session(
        &mut self,
        key_name: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<GenerationRecord>, RecordsError>;

    /// The newest records (of `key_name`, or of every key) made at `since_ms` or later, newest
    /// first, at most `limit`.
    fn recent(
        &mut self,
        key_name: Option<&str>,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<GenerationRecord>, RecordsError>;

    /// What `key_name` spent in total and in the day, week and month of `now_ms`.
    fn key_usage(&mut self, key_name: &str, now_ms: u64) -> Result<KeyUsage, RecordsError>;
}
