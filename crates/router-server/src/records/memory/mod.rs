//! The in-memory record store: the newest records in arrival order, indexed by id, and every
//! key's spending since the server started.
//!
//! Without a file there is nothing to persist, so there is no writer thread and no database:
//! a record is inserted under a mutex on the request path, which must cost little however
//! many records are kept. So the store is laid out for the cache, not for the reader:
//!
//! - Records are kept packed ([`packed`]) in a ring of bytes ([`ring`]): a record is one
//!   contiguous write after the previous one, and dropping the oldest frees nothing. Kept as
//!   structs, each record owned five allocations, and evicting the oldest freed cold memory
//!   that the next requests' allocations then reused: at 100,000 records that cost about
//!   4 µs a request against a store of 1,000.
//! - The index of ids is a plain array by each id's arrival number ([`crate::ids::arrival`]):
//!   consecutive requests touch neighbouring slots, where a hash table by id touched a cold
//!   slot at random. Ids this process did not mint (none on the request path) and records
//!   displaced from their slot (one whose request outlasted the array's length of later
//!   ones) are kept in a small hash map of 64-bit id hashes instead.
//! - Reads unpack what they return; scans read the leading fields in place ([`packed::Peek`]).
//!
//! When the store is full, the oldest record makes room, but its cost stays counted: each
//! key's spending is kept apart from the records, as a total and a sum per recent UTC day, so
//! `GET /api/v1/key` stays right however many records were dropped.

mod packed;
mod ring;

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use foldhash::fast::RandomState;

use self::packed::{Peek, pack, unpack};
use self::ring::Ring;
use super::calendar::{MS_PER_DAY, period_starts};
use super::{GenerationRecord, KeyUsage};
use crate::ids;

/// How many days of per-day sums a key keeps: enough for the longest period asked (a month).
const DAYS_KEPT: u64 = 40;

/// How many records an in-memory store keeps by default: without a file, the store is a
/// recent history, not an archive, and must not grow with every request.
pub(super) const DEFAULT_LIMIT: usize = 100_000;

/// The ring's bytes per record of the limit: a record packs into about 230 bytes for one
/// model, about 310 for a fallback from a second (two models, two attempts), so the default
/// store holds its 100,000 records in 38.4 MB; when records are larger on average (long model
/// lists, many attempts), it holds fewer.
const BYTES_PER_RECORD: usize = 384;

/// The newest `limit` records.
#[derive(Debug)]
pub(super) struct MemoryStore {
    /// The records, packed; a record's sequence number is its number in the ring.
    ring: Ring,
    index: Index,
    /// Each key's spending, by key name.
    spending: HashMap<String, Spending, RandomState>,
    /// The record being packed (kept, so packing allocates nothing).
    scratch: Vec<u8>,
}

/// Where each kept record is, by its id.
#[derive(Debug)]
struct Index {
    /// By arrival number modulo its length (a power of two, at least twice the limit): one
    /// more than the sequence number of the record whose id has that number, 0 for none.
    by_arrival: Box<[u64]>,
    /// The sequence numbers of records not in `by_arrival`, by the hash of their id. Only
    /// lookups take ids from clients, so a fast seeded hash is enough; a lookup checks the
    /// record's id, so two ids with one hash (about one chance in 10^9 over 100,000 records)
    /// cost the older record its lookup, never a wrong answer.
    by_hash: HashMap<u64, u64, RandomState>,
    /// The seed of the id hashes.
    hasher: RandomState,
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
    /// An empty store that keeps at most `limit` records (at least one). Its memory is
    /// reserved up front (address space only, until used), so no insert ever copies the
    /// whole history to grow.
    pub(super) fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            ring: Ring::new(limit, limit.saturating_mul(BYTES_PER_RECORD).max(64 << 10)),
            index: Index {
                by_arrival: vec![0; limit.saturating_mul(2).next_power_of_two()].into_boxed_slice(),
                by_hash: HashMap::default(),
                hasher: RandomState::default(),
            },
            spending: HashMap::default(),
            scratch: Vec::new(),
        }
    }

    /// Adds `record`, dropping the oldest ones if the store is full. A record whose id exists
    /// replaces it. A record too large for the whole store is not kept (its cost is counted).
    pub(super) fn insert(&mut self, record: GenerationRecord) {
        let arrival = ids::arrival(&record.id);
        if let Some(old_seq) = self.index.find(&record.id, arrival, &self.ring) {
            // The old copy no longer counts: its spending is taken back.
            let old = self.ring.get(old_seq).and_then(unpack);
            self.index.remove(old_seq, arrival, record.id.as_bytes());
            self.ring.remove(old_seq);
            if let Some(old) = old {
                self.spend(&old.key_name, old.created_at_ms, -old.cost_usd);
            }
        }
        self.spend(&record.key_name, record.created_at_ms, record.cost_usd);
        self.scratch.clear();
        pack(&record, &mut self.scratch);
        let index = &mut self.index;
        let pushed = self
            .ring
            .push(&self.scratch, Index::tag(arrival), |seq, tag, bytes| {
                index.remove(seq, Index::untag(tag), packed::id_bytes(bytes));
            });
        if let Some(seq) = pushed {
            self.index.add(&record.id, arrival, seq, &self.ring);
        }
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
            .ring
            .newest_first()
            .filter(|bytes| {
                Peek::of(bytes)
                    .is_some_and(|it| it.key_name == key_name && it.session_id == Some(session_id))
            })
            .filter_map(unpack)
            .take(limit)
            .collect();
        found.reverse();
        found
    }

    /// The record `id` if `key_name` made it.
    pub(super) fn get(&self, id: &str, key_name: &str) -> Option<GenerationRecord> {
        let seq = self.index.find(id, ids::arrival(id), &self.ring)?;
        let bytes = self.ring.get(seq)?;
        if Peek::of(bytes)?.key_name != key_name {
            return None;
        }
        unpack(bytes)
    }

    /// The newest records (of `key_name`, or of every key) made at `since_ms` or later, newest
    /// first, at most `limit`.
    pub(super) fn recent(
        &self,
        key_name: Option<&str>,
        since_ms: u64,
        limit: usize,
    ) -> Vec<GenerationRecord> {
        self.ring
            .newest_first()
            .filter_map(|bytes| Some((Peek::of(bytes)?, bytes)))
            .filter(|(peek, _)| key_name.is_none_or(|key| peek.key_name == key))
            .take_while(|(peek, _)| peek.created_at_ms >= since_ms)
            .filter_map(|(_, bytes)| unpack(bytes))
            .take(limit)
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
}

impl Index {
    /// The ring's tag of a record with `arrival`: the number, or `u64::MAX` for none (arrival
    /// numbers stay below 2^59).
    fn tag(arrival: Option<u64>) -> u64 {
        arrival.unwrap_or(u64::MAX)
    }

    /// The arrival number a ring tag holds.
    fn untag(tag: u64) -> Option<u64> {
        (tag != u64::MAX).then_some(tag)
    }

    /// The sequence number of the kept record `id`, whose arrival number is `arrival`.
    fn find(&self, id: &str, arrival: Option<u64>, ring: &Ring) -> Option<u64> {
        let is_it = |seq: &u64| {
            ring.get(*seq)
                .is_some_and(|bytes| packed::id_bytes(bytes) == id.as_bytes())
        };
        if let Some(seq) = arrival
            .and_then(|arrival| self.by_arrival[self.slot(arrival)].checked_sub(1))
            .filter(is_it)
        {
            return Some(seq);
        }
        if self.by_hash.is_empty() {
            return None;
        }
        self.by_hash
            .get(&self.hash(id.as_bytes()))
            .copied()
            .filter(is_it)
    }

    /// Indexes record `seq`, whose id is `id` and arrival number `arrival`. A record still
    /// kept whose arrival number shares the slot moves to the hash map.
    fn add(&mut self, id: &str, arrival: Option<u64>, seq: u64, ring: &Ring) {
        match arrival {
            Some(arrival) => {
                let slot = self.slot(arrival);
                if let Some(displaced_seq) = self.by_arrival[slot].checked_sub(1)
                    && let Some(displaced) = ring.get(displaced_seq)
                {
                    let hash = self.hash(packed::id_bytes(displaced));
                    self.by_hash.insert(hash, displaced_seq);
                }
                self.by_arrival[slot] = seq + 1;
            }
            None => {
                let hash = self.hash(id.as_bytes());
                self.by_hash.insert(hash, seq);
            }
        }
    }

    /// Removes the entry of record `seq` (arrival number `arrival`, id `id`), if it is still
    /// its own.
    fn remove(&mut self, seq: u64, arrival: Option<u64>, id: &[u8]) {
        if let Some(arrival) = arrival {
            let slot = self.slot(arrival);
            if self.by_arrival[slot] == seq + 1 {
                self.by_arrival[slot] = 0;
                return;
            }
        }
        if self.by_hash.is_empty() {
            return;
        }
        let hash = self.hash(id);
        if self.by_hash.get(&hash) == Some(&seq) {
            self.by_hash.remove(&hash);
        }
    }

    /// The slot of `arrival` in `by_arrival`.
    fn slot(&self, arrival: u64) -> usize {
        // The length is a power of two, so the mask keeps the number's low bits.
        (arrival as usize) & (self.by_arrival.len() - 1)
    }

    /// The hash map's key for an id.
    fn hash(&self, id: &[u8]) -> u64 {
        self.hasher.hash_one(id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;
    use crate::ids::GenerationStamp;

    #[test]
    fn keeps_only_the_newest_records() {
        let mut store = MemoryStore::new(3);
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
        assert_eq!(store.index.by_hash.len(), 3);
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
    fn minted_ids_are_found_by_their_arrival_number() {
        let mut store = MemoryStore::new(3);
        let minted: Vec<String> = (0..5).map(|_| GenerationStamp::new().id).collect();
        for (idx, id) in minted.iter().enumerate() {
            store.insert(record(id, "team", idx as u64, 1.0));
        }
        let kept: Vec<bool> = minted
            .iter()
            .map(|id| store.get(id, "team").is_some())
            .collect();
        assert_eq!(kept, [false, false, true, true, true]);
        assert!(store.get(&minted[4], "another key").is_none());
        assert!(
            store.index.by_hash.is_empty(),
            "minted ids need no hash map"
        );
        assert_eq!(
            store.index.by_arrival.iter().filter(|it| **it != 0).count(),
            3,
            "evicted records leave their slots"
        );
        // The same id again replaces the record and its spending.
        store.insert(record(&minted[4], "team", 9, 4.0));
        assert_eq!(
            store.get(&minted[4], "team").map(|it| it.created_at_ms),
            Some(9)
        );
        assert_eq!(store.key_usage("team", 10).total, 8.0);
    }

    #[test]
    fn a_record_that_outlasts_the_array_moves_to_the_hash_map() {
        // Two records: an array of 4 slots, so arrival numbers 10 and 14 share one.
        let mut store = MemoryStore::new(2);
        assert_eq!(store.index.by_arrival.len(), 4);
        let (early, late) = (ids::id_with_arrival(10), ids::id_with_arrival(14));
        // The later request finishes first; the early one, finishing after it, takes the slot.
        store.insert(record(&late, "team", 14, 1.0));
        store.insert(record(&early, "team", 10, 1.0));
        assert_eq!(
            store.get(&late, "team").map(|it| it.created_at_ms),
            Some(14)
        );
        assert_eq!(
            store.get(&early, "team").map(|it| it.created_at_ms),
            Some(10)
        );
        assert_eq!(store.index.by_hash.len(), 1);
        // Evicting both leaves both indexes empty.
        store.insert(record(&ids::id_with_arrival(20), "team", 20, 1.0));
        store.insert(record(&ids::id_with_arrival(21), "team", 21, 1.0));
        assert!(store.get(&late, "team").is_none());
        assert!(store.get(&early, "team").is_none());
        assert!(store.index.by_hash.is_empty());
        assert_eq!(
            store.index.by_arrival.iter().filter(|it| **it != 0).count(),
            2
        );
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
