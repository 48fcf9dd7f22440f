//! A ring of byte entries of any length, numbered in the order they were pushed: the
//! in-memory store's records, packed. Pushing writes one contiguous run of bytes after the
//! last entry (or, when it would not fit before the end, from the start) and drops the oldest
//! entries it overwrites, so keeping many records costs neither an allocation nor a free per
//! record, and consecutive records sit side by side in memory.

use std::collections::VecDeque;

/// Entries in a fixed buffer, at most `limit` of them.
#[derive(Debug)]
pub(super) struct Ring {
    bytes: Box<[u8]>,
    /// Kept entries, oldest first; entry `i` has sequence number `first_seq + i`.
    entries: VecDeque<Entry>,
    first_seq: u64,
    /// Where the next entry goes, counted in bytes since the ring was made (the buffer's
    /// position is this modulo its length).
    end: u64,
    limit: usize,
}

/// Where one entry's bytes are.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The first byte, counted like [`Ring::end`].
    start: u64,
    len: usize,
    /// What the caller tagged the entry with.
    tag: u64,
    /// `false` once the entry was [`Ring::remove`]d: it keeps its number but is never read.
    live: bool,
}

impl Ring {
    /// An empty ring of `capacity` bytes that keeps at most `limit` entries (at least one).
    /// The buffer is zeroed lazily by the system, so memory is used as entries fill it.
    pub(super) fn new(limit: usize, capacity: usize) -> Self {
        let limit = limit.max(1);
        Self {
            bytes: vec![0; capacity.max(1)].into_boxed_slice(),
            entries: VecDeque::with_capacity(limit),
            first_seq: 0,
            end: 0,
            limit,
        }
    }

    /// Appends `entry`, tagged with `tag`, and returns its number, first dropping the oldest
    /// entries it would overwrite or that exceed the limit; `dropped` sees each dropped entry
    /// still live, with its number, tag and bytes. An entry longer than the buffer is not kept
    /// (`None`).
    pub(super) fn push(
        &mut self,
        entry: &[u8],
        tag: u64,
        mut dropped: impl FnMut(u64, u64, &[u8]),
    ) -> Option<u64> {
        let capacity = self.bytes.len() as u64;
        let len = entry.len() as u64;
        if len > capacity {
            return None;
        }
        let mut start = self.end;
        if start % capacity + len > capacity {
            start = (start / capacity + 1) * capacity;
        }
        let end = start + len;
        // Entries that start before `end - capacity` share bytes with the new one.
        let overwritten = end.saturating_sub(capacity);
        while let Some(&oldest) = self.entries.front()
            && (self.entries.len() >= self.limit || oldest.start < overwritten)
        {
            if oldest.live {
                dropped(self.first_seq, oldest.tag, self.slice(oldest));
            }
            self.entries.pop_front();
            self.first_seq += 1;
        }
        let at = (start % capacity) as usize;
        self.bytes[at..at + entry.len()].copy_from_slice(entry);
        self.end = end;
        self.entries.push_back(Entry {
            start,
            len: entry.len(),
            tag,
            live: true,
        });
        Some(self.first_seq + self.entries.len() as u64 - 1)
    }

    /// The bytes of entry `seq`, if it is kept and live.
    pub(super) fn get(&self, seq: u64) -> Option<&[u8]> {
        let index = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        let entry = self.entries.get(index)?;
        entry.live.then(|| self.slice(*entry))
    }

    /// Marks entry `seq` removed: it keeps its place, so numbers stay dense, but is never read.
    pub(super) fn remove(&mut self, seq: u64) {
        if let Some(index) = seq
            .checked_sub(self.first_seq)
            .and_then(|it| usize::try_from(it).ok())
            && let Some(entry) = self.entries.get_mut(index)
        {
            entry.live = false;
        }
    }

    /// The live entries, newest first.
    pub(super) fn newest_first(&self) -> impl Iterator<Item = &[u8]> {
        self.entries
            .iter()
            .rev()
            .filter(|entry| entry.live)
            .map(|entry| self.slice(*entry))
    }

    /// How many entries are kept (removed ones included).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    fn slice(&self, entry: Entry) -> &[u8] {
        let at = (entry.start % self.bytes.len() as u64) as usize;
        &self.bytes[at..at + entry.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entry `n`: `len` copies of the byte `n`.
    fn entry(n: u8, len: usize) -> Vec<u8> {
        vec![n; len]
    }

    #[test]
    fn keeps_the_newest_entries_within_the_limit() {
        let mut ring = Ring::new(3, 1_000);
        let mut dropped = Vec::new();
        for n in 0..5 {
            let seq = ring.push(&entry(n, 10), u64::from(n) * 2, |seq, tag, bytes| {
                dropped.push((seq, tag, bytes[0]))
            });
            assert_eq!(seq, Some(u64::from(n)));
        }
        assert_eq!(dropped, [(0, 0, 0), (1, 2, 1)]);
        assert_eq!(ring.get(1), None);
        assert_eq!(ring.get(2), Some(&entry(2, 10)[..]));
        assert_eq!(ring.get(5), None);
        let newest: Vec<u8> = ring.newest_first().map(|it| it[0]).collect();
        assert_eq!(newest, [4, 3, 2]);
    }

    #[test]
    fn drops_what_a_wrapped_entry_overwrites_and_never_splits_one() {
        // 100 bytes: entries of 30 fit three to a lap, the fourth starts the next lap.
        let mut ring = Ring::new(100, 100);
        let mut dropped = Vec::new();
        for n in 0..4 {
            ring.push(&entry(n, 30), 0, |seq, _, _| dropped.push(seq));
        }
        // The fourth did not fit in bytes 90..100, so it took 0..30 from the first.
        assert_eq!(dropped, [0]);
        assert_eq!(ring.get(0), None);
        // The fifth takes 30..60 from the second.
        ring.push(&entry(4, 30), 0, |seq, _, _| dropped.push(seq));
        assert_eq!(dropped, [0, 1]);
        for (seq, n) in [(2, 2), (3, 3), (4, 4)] {
            assert_eq!(ring.get(seq), Some(&entry(n, 30)[..]), "entry {seq}");
        }
        // Longer than the whole buffer: not kept, nothing dropped.
        assert_eq!(ring.push(&entry(9, 101), 0, |_, _, _| unreachable!()), None);
        // Exactly the buffer: every other entry goes.
        assert_eq!(
            ring.push(&entry(7, 100), 0, |seq, _, _| dropped.push(seq)),
            Some(5)
        );
        assert_eq!(dropped, [0, 1, 2, 3, 4]);
        assert_eq!(ring.len(), 1);
        assert_eq!(ring.get(5), Some(&entry(7, 100)[..]));
    }

    #[test]
    fn a_removed_entry_keeps_its_number_and_is_never_read() {
        let mut ring = Ring::new(2, 100);
        ring.push(&entry(0, 10), 0, |_, _, _| {});
        ring.push(&entry(1, 10), 0, |_, _, _| {});
        ring.remove(0);
        assert_eq!(ring.get(0), None);
        assert_eq!(ring.newest_first().count(), 1);
        let mut dropped = Vec::new();
        assert_eq!(
            ring.push(&entry(2, 10), 0, |seq, _, _| dropped.push(seq)),
            Some(2)
        );
        assert!(dropped.is_empty(), "a removed entry is dropped silently");
    }

    #[test]
    fn any_sequence_of_pushes_keeps_what_fits_intact() {
        // Entries of many lengths through a small ring: every kept entry reads back as pushed,
        // and the kept ones are always the newest.
        let mut ring = Ring::new(7, 64);
        let mut pushed: Vec<Vec<u8>> = Vec::new();
        let mut state = 12_345_u64;
        for n in 0..2_000_u32 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let len = (state >> 60) as usize * 4 + 1;
            let bytes: Vec<u8> = (0..len).map(|at| (n as usize + at) as u8).collect();
            let seq = ring.push(&bytes, 0, |_, _, _| {}).unwrap();
            assert_eq!(seq, u64::from(n));
            pushed.push(bytes);
            let kept = ring.newest_first().count();
            assert!((1..=7).contains(&kept));
            for back in 0..kept {
                let seq = u64::from(n) - back as u64;
                assert_eq!(
                    ring.get(seq),
                    Some(&pushed[seq as usize][..]),
                    "entry {seq} at push {n}"
                );
            }
        }
    }
}
