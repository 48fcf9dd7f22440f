//! The in-memory record store: the newest records in arrival order, indexed by id, and every
//! key's spending since the server started.
//!
//! Without a file there is nothing to persist, so there is no writer thread and no database:
//! a record is inserted under a mutex on the request path, which costs a hash-map insert and
//! never wakes another thread. The index maps a 64-bit hash of each id, not a copy of it: one
//! allocation less per request, and a smaller table, whose slots are cold when touched. When the store is full, the oldest record makes room, but its
//! cost stays counted: each key's spending is kept apart from the records, as a total and a
//! sum per recent UTC day, so `GET /api/v1/key` stays right however many records were dropped.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasher;

use foldhash::fast::RandomState;

use super::calendar::{MS_PER_DAY, period_starts};
use super::{GenerationRecord, KeyUsage};

/// How many days of per-day sums a key keeps: enough for the longest period asked (a month).
const DAYS_KEPT: u64 = 40;

/// How many records an in-memory store keeps by default (about 35 MB): without a file, the
/// store is a recent history, not an archive, and must not grow with every request.
pub(super) const DEFAULT_LIMIT: usize = 100_000;

/// The newest `limit` records.
#[derive(Debug)]
pub(super) struct MemoryStore {
    /// Records, oldest first; the record at index `i` has sequence number `first_seq + i`.
    records: VecDeque<GenerationRecord>,
    /// Each kept record's sequence number, by the hash of its id ([`MemoryStore::id_hash`]).
    /// Ids are ours and random, and only lookups take ids from clients, so a fast seeded hash
    /// is enough; a lookup checks the record's id, so two ids with one hash (about one chance
    /// in 10^9 over 100,000 records) cost the older record its lookup, never a wrong answer.
    by_id: HashMap<u64, u64, RandomState>,
    /// The seed of the id hashes.
    ids: RandomState,
    /// The sequence number of `records[0]`.
    first_seq: u64,
    limit: usize,
    /// Each key's spending, by key name.
    spending: HashMap<String, Spending, RandomState>,
}

/// What one key has spent: in total, and per UTC day (by the day's first millisecond) for the
/// last [`DAYS_KEPT`] days.
#[derive(Debug, Default)]
struct Spending {
    total: f64,
    by_day: BTreeMap<u64, f64>,
}

impl Spending {
    fn add(&mut self, created_at_ms: u64, cost: f64) {
        self.total += cost;
        let day = created_at_ms - created_at_ms % MS_PER_DAY;
        *self.by_day.entry(day).or_default() += cost;
        if let Some((&newest, _)) = self.by_day.last_key_value() {
            let cutoff = newest.saturating_sub(DAYS_KEPT * MS_PER_DAY);
            while let Some(entry) = self.by_day.first_entry()
                && *entry.key() < cutoff
            {
                entry.remove();
            }
        }
    }

    /// The sum of the days from `start_ms` on.
    fn since(&self, start_ms: u64) -> f64 {
        self.by_day.range(start_ms..).map(|(_, cost)| cost).sum()
    }
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
            ids: RandomState::default(),
            first_seq: 0,
            limit,
            spending: HashMap::default(),
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
            let oldest_seq = self.first_seq;
            self.first_seq += 1;
            let hash = self.id_hash(&oldest.id);
            // Unless the id was taken over by a newer record (the same id, or one of its hash).
            if let Entry::Occupied(entry) = self.by_id.entry(hash)
                && *entry.get() == oldest_seq
            {
                entry.remove();
            }
        }
        let seq = self.first_seq + self.records.len() as u64;
        let hash = self.id_hash(&record.id);
        if let Some(old_seq) = self.by_id.insert(hash, seq)
            && let Some(old) = self.slot_mut(old_seq)
            && old.id == record.id
        {
            // The old copy stays in its slot to keep the sequence dense, but no longer counts:
            // an empty id is never looked up, and its spending is taken back.
            old.id.clear();
            let (key_name, created_at_ms, cost) = (
                std::mem::take(&mut old.key_name),
                old.created_at_ms,
                old.cost_usd,
            );
            self.spend(&key_name, created_at_ms, -cost);
        }
        self.spend(&record.key_name, record.created_at_ms, record.cost_usd);
        self.records.push_back(record);
    }

    /// The newest `limit` records of `session_id` by `key_name`, oldest first (a scan: the
    /// sessions API is not on the request path).
    pub(super) fn session(
        &self,
        key_name: &str,
        session_id: &str,
        limit: usize,
    ) -> Vec<GenerationRecord> {
        let mut found: Vec<GenerationRecord> = self
            .records
            .iter()
            .rev()
            .filter(|it| *it.key_name == *key_name && it.session_id.as_deref() == Some(session_id))
            .take(limit)
            .cloned()
            .collect();
        found.reverse();
        found
    }

    /// The record `id` if `key_name` made it.
    pub(super) fn get(&self, id: &str, key_name: &str) -> Option<GenerationRecord> {
        let seq = *self.by_id.get(&self.id_hash(id))?;
        let index = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.records
            .get(index)
            .filter(|record| record.id == id && *record.key_name == *key_name)
            .cloned()
    }

    /// The newest records (of `key_name`, or of every key) made at `since_ms` or later, newest
    /// first, at most `limit`.
    pub(super) fn recent(
        &self,
        key_name: Option<&str>,
        since_ms: u64,
        limit: usize,
    ) -> Vec<GenerationRecord> {
        self.records
            .iter()
            .rev()
            .filter(|it| key_name.is_none_or(|key| *it.key_name == *key))
            .take_while(|it| it.created_at_ms >= since_ms)
            .take(limit)
            .cloned()
            .collect()
    }

    /// What `key_name` spent in total and in the day, week and month of `now_ms`, counting
    /// records that were already dropped.
    pub(super) fn key_usage(&self, key_name: &str, now_ms: u64) -> KeyUsage {
        let Some(spending) = self.spending.get(key_name) else {
            return KeyUsage::default();
        };
        let starts = period_starts(now_ms);
        KeyUsage {
            total: spending.total,
            daily: spending.since(starts.day),
            weekly: spending.since(starts.week),
            monthly: spending.since(starts.month),
        }
    }

    fn spend(&mut self, key_name: &str, created_at_ms: u64, cost: f64) {
        match self.spending.get_mut(key_name) {
            Some(spending) => spending.add(created_at_ms, cost),
            None => {
                let mut spending = Spending::default();
                spending.add(created_at_ms, cost);
                self.spending.insert(key_name.to_owned(), spending);
            }
        }
    }

    /// The index's key for `id`.
    fn id_hash(&self, id: &str) -> u64 {
        self.ids.hash_one(id)
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
        // Dropped records still count toward what the key spent.
        assert_eq!(store.key_usage("team", 10).total, 2.5);
        assert_eq!(store.key_usage("team", 10).daily, 2.5);
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
        assert_eq!(store.key_usage("team", 10).daily, 6.0);
        // Evicting the stale copy must not forget the live one.
        let mut small = MemoryStore::new(2);
        small.insert(record("gen-a", "team", 1, 1.0));
        small.insert(record("gen-a", "team", 2, 1.0));
        small.insert(record("gen-b", "team", 3, 1.0));
        assert_eq!(small.get("gen-a", "team").map(|r| r.created_at_ms), Some(2));
    }

    #[test]
    fn per_day_sums_cover_a_month_and_forget_older_days() {
        let mut spending = Spending::default();
        let day = |n: u64| n * MS_PER_DAY + 1_000;
        spending.add(day(100), 1.0);
        spending.add(day(131), 2.0);
        assert_eq!(
            spending.since(day(100) - 1_000),
            3.0,
            "31 days apart: both kept"
        );
        spending.add(day(100 + DAYS_KEPT + 1), 4.0);
        assert_eq!(
            spending.since(0),
            6.0,
            "day 100 fell out of the per-day sums"
        );
        assert_eq!(spending.total, 7.0, "but not out of the total");
    }
}
