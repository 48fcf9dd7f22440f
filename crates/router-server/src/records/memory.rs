//! The in-memory record store: the newest records in arrival order, indexed by id.
//!
//! Without a file there is nothing to persist, so there is no writer thread and no database:
//! a record is inserted under a mutex on the request path, which costs a hash-map insert and
//! never wakes another thread. When the store is full, the oldest record makes room.

use std::collections::{HashMap, VecDeque};

use foldhash::fast::RandomState;

use super::calendar::period_starts;
use super::{GenerationRecord, KeyUsage};

/// How many records an in-memory store keeps by default (about 35 MB): without a file, the
/// store is a recent history, not an archive, and must not grow with every request.
pub(super) const DEFAULT_LIMIT: usize = 100_000;

/// The newest `limit` records.
#[derive(Debug)]
pub(super) struct MemoryStore {
    /// Records, oldest first; the record at index `i` has sequence number `first_seq + i`.
    records: VecDeque<GenerationRecord>,
    /// Each kept record's sequence number, by id. Ids are ours and random, and only lookups
    /// take ids from clients, so a fast seeded hash is enough.
    by_id: HashMap<String, u64, RandomState>,
    /// The sequence number of `records[0]`.
    first_seq: u64,
    limit: usize,
}

impl MemoryStore {
    /// An empty store that keeps at most `limit` records (at least one). Room for all of them
    /// is reserved up front (address space only, until used), so no insert ever copies the
    /// whole history to grow.
    pub(super) fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            records: VecDeque::with_capacity(limit),
            // Twice the room keeps the table under 40% full, so removing the oldest id almost
            // always frees its slot outright instead of leaving a tombstone; tombstones would
            // pile up and force the table to rehash all its entries at once, stalling a request.
            by_id: HashMap::with_capacity_and_hasher(limit * 2, RandomState::default()),
            first_seq: 0,
            limit,
        }
    }

    /// Adds `record`, dropping the oldest one if the store is full. A record whose id exists
    /// replaces it.
    pub(super) fn insert(&mut self, record: GenerationRecord) {
        // Make room first, so the deque never grows past the capacity reserved for it.
        while self.records.len() >= self.limit {
            let Some(oldest) = self.records.pop_front() else {
                break;
            };
            self.first_seq += 1;
            if !oldest.id.is_empty() {
                self.by_id.remove(&oldest.id);
            }
        }
        let seq = self.first_seq + self.records.len() as u64;
        if let Some(old_seq) = self.by_id.insert(record.id.clone(), seq)
            && let Some(old) = self.slot_mut(old_seq)
        {
            // The old copy stays in its slot to keep the sequence dense, but no longer counts:
            // an empty id is never looked up, and its spending is cleared.
            old.id.clear();
            old.cost_usd = 0.0;
        }
        self.records.push_back(record);
    }

    /// The record `id` if `key_name` made it.
    pub(super) fn get(&self, id: &str, key_name: &str) -> Option<GenerationRecord> {
        let seq = *self.by_id.get(id)?;
        let index = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.records
            .get(index)
            .filter(|record| record.key_name == key_name)
            .cloned()
    }

    /// What `key_name` spent in total and in the day, week and month of `now_ms`.
    pub(super) fn key_usage(&self, key_name: &str, now_ms: u64) -> KeyUsage {
        let starts = period_starts(now_ms);
        let mut usage = KeyUsage::default();
        for record in self.records.iter().filter(|r| r.key_name == key_name) {
            let cost = record.cost_usd;
            usage.total += cost;
            if record.created_at_ms >= starts.month {
                usage.monthly += cost;
            }
            if record.created_at_ms >= starts.week {
                usage.weekly += cost;
            }
            if record.created_at_ms >= starts.day {
                usage.daily += cost;
            }
        }
        usage
    }

    fn slot_mut(&mut self, seq: u64) -> Option<&mut GenerationRecord> {
        let index = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.records.get_mut(index)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;

    #[test]
    fn keeps_only_the_newest_records() {
        let mut store = MemoryStore::new(3);
        let reserved = store.records.capacity();
        for idx in 0..5 {
            store.insert(record(&format!("gen-{idx}"), "team", idx, 0.5));
        }
        let kept: Vec<bool> = (0..5)
            .map(|idx| store.get(&format!("gen-{idx}"), "team").is_some())
            .collect();
        assert_eq!(kept, [false, false, true, true, true]);
        assert_eq!(store.key_usage("team", 10).total, 1.5);
        assert_eq!(store.by_id.len(), 3);
        assert_eq!(store.records.capacity(), reserved, "the deque never grows");
    }

    #[test]
    fn a_repeated_id_replaces_the_record_and_its_spending() {
        let mut store = MemoryStore::new(10);
        store.insert(record("gen-1", "team", 1, 1.0));
        store.insert(record("gen-2", "team", 2, 2.0));
        store.insert(record("gen-1", "team", 3, 4.0));
        let found = store.get("gen-1", "team").map(|r| r.created_at_ms);
        assert_eq!(found, Some(3));
        assert_eq!(store.key_usage("team", 10).total, 6.0);
        // Evicting the stale copy must not forget the live one.
        let mut small = MemoryStore::new(2);
        small.insert(record("gen-a", "team", 1, 1.0));
        small.insert(record("gen-a", "team", 2, 1.0));
        small.insert(record("gen-b", "team", 3, 1.0));
        assert_eq!(small.get("gen-a", "team").map(|r| r.created_at_ms), Some(2));
    }
}
