//! One row of the `generations` table back into a [`GenerationRecord`], for both databases.
//!
//! SQLite and PostgreSQL select the same columns in the same order (each store's `COLUMNS`);
//! each implements [`Columns`] for its row type, and [`read`] does the rest. The two lists are
//! JSON text and are decoded by [`RowRecord::into_record`], apart from the read: SQLite's row
//! mapper may only fail with its own error.

use super::store::from_sql;
use super::{GenerationRecord, RecordsError};

/// A row's typed values by column index, as a database client reads them.
pub(super) trait Columns {
    /// The client's error.
    type Error;
    /// A `TEXT` column.
    fn text(&self, idx: usize) -> Result<String, Self::Error>;
    /// A nullable `TEXT` column.
    fn optional_text(&self, idx: usize) -> Result<Option<String>, Self::Error>;
    /// An integer column (64-bit).
    fn integer(&self, idx: usize) -> Result<i64, Self::Error>;
    /// A nullable integer column.
    fn optional_integer(&self, idx: usize) -> Result<Option<i64>, Self::Error>;
    /// A floating-point column.
    fn real(&self, idx: usize) -> Result<f64, Self::Error>;
    /// A boolean column.
    fn flag(&self, idx: usize) -> Result<bool, Self::Error>;
}

/// A row as read, before its JSON columns are decoded.
pub(super) struct RowRecord {
    record: GenerationRecord,
    requested_models: String,
    attempts: String,
}

/// The record of a row selected with the store's `COLUMNS`.
pub(super) fn read<R: Columns>(row: &R) -> Result<RowRecord, R::Error> {
    Ok(RowRecord {
        record: GenerationRecord {
            id: row.text(0)?,
            key_name: row.text(1)?.into(),
            created_at_ms: from_sql(row.integer(2)?),
            requested_models: Vec::new(),
            model: row.optional_text(4)?.map(Into::into),
            provider: row.optional_text(5)?.map(Into::into),
            attempts: Vec::new(),
            prompt_tokens: from_sql(row.integer(7)?),
            completion_tokens: from_sql(row.integer(8)?),
            cached_tokens: from_sql(row.integer(9)?),
            reasoning_tokens: from_sql(row.integer(10)?),
            cost_usd: row.real(11)?,
            latency_ms: from_sql(row.integer(12)?),
            time_to_first_token_ms: row.optional_integer(13)?.map(from_sql),
            finish_reason: row.optional_text(14)?.map(Into::into),
            streamed: row.flag(15)?,
            cancelled: row.flag(16)?,
            router: row.optional_text(17)?.map(Into::into),
            upstream_id: row.optional_text(18)?,
            session_id: row.optional_text(19)?,
            cache_savings_usd: row.real(20)?,
        },
        requested_models: row.text(3)?,
        attempts: row.text(6)?,
    })
}

impl RowRecord {
    /// The record with its JSON columns decoded; a column that is not the JSON we wrote is
    /// [`RecordsError::Corrupt`].
    pub(super) fn into_record(self) -> Result<GenerationRecord, RecordsError> {
        let corrupt = |err: serde_json::Error| RecordsError::Corrupt {
            id: self.record.id.clone(),
            message: err.to_string(),
        };
        let requested_models = serde_json::from_str(&self.requested_models).map_err(corrupt)?;
        let attempts = serde_json::from_str(&self.attempts).map_err(corrupt)?;
        Ok(GenerationRecord {
            requested_models,
            attempts,
            ..self.record
        })
    }
}
