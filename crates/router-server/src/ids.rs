//! Generation ids (`gen-<unix seconds>-<20 base62 characters>`) and the `created` timestamp of
//! each generation.
//!
//! Ids are unique, not secret: a process-wide random seed (from the standard library's hasher
//! keys) is mixed with a counter through splitmix64, which is a bijection, so ids never repeat
//! within a process. The same bijection can be undone: from one id (which keeps all but about
//! four bits of each word) a client can work out the seed by trying the few missing values, and
//! then compute the ids that follow. Nothing relies on their secrecy: a generation is read back
//! only with the key that made it (`GET /api/v1/generation`).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The id and creation time of one generation: the `id` and `created` of its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GenerationStamp {
    /// `gen-…`.
    pub(crate) id: String,
    /// Unix seconds when the request arrived.
    pub(crate) created: u64,
}

impl GenerationStamp {
    /// A fresh id, stamped with the current time.
    pub(crate) fn new() -> Self {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |it| it.as_secs());
        Self {
            id: generation_id(created, next_random()),
            created,
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 digits written per 64-bit random word (62^10 < 2^64).
const DIGITS_PER_WORD: usize = 10;

/// `gen-<created>-<20 base62 characters drawn from random>`.
fn generation_id(created: u64, random: [u64; 2]) -> String {
    let mut digits = [0_u8; 2 * DIGITS_PER_WORD];
    for (word, out) in random
        .into_iter()
        .zip(digits.chunks_exact_mut(DIGITS_PER_WORD))
    {
        let mut word = word;
        for digit in out {
            *digit = BASE62[(word % 62) as usize];
            word /= 62;
        }
    }
    let mut id = String::with_capacity(4 + 20 + 1 + 2 * DIGITS_PER_WORD);
    id.push_str("gen-");
    id.push_str(itoa::Buffer::new().format(created));
    id.push('-');
    // Base62 digits are ASCII.
    id.extend(digits.iter().map(|digit| char::from(*digit)));
    id
}

/// Two fresh pseudo-random words.
fn next_random() -> [u64; 2] {
    static SEED: LazyLock<u64> = LazyLock::new(|| RandomState::new().hash_one(0_u64));
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(2, Ordering::Relaxed);
    [
        splitmix64(*SEED ^ n),
        splitmix64(SEED.rotate_left(32) ^ (n + 1)),
    ]
}

/// splitmix64's finalizer: a bijection on `u64` with good avalanche.
fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_have_the_documented_shape_and_do_not_repeat() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let stamp = GenerationStamp::new();
            let rest = stamp.id.strip_prefix("gen-").unwrap();
            let (secs, random) = rest.split_once('-').unwrap();
            assert_eq!(secs, stamp.created.to_string());
            assert_eq!(random.len(), 20);
            assert!(
                random.bytes().all(|it| it.is_ascii_alphanumeric()),
                "{}",
                stamp.id
            );
            assert!(seen.insert(stamp.id));
        }
    }

    #[test]
    fn encodes_each_word_in_base62() {
        let id = generation_id(7, [0, 61]);
        assert_eq!(id, "gen-7-0000000000z000000000");
    }
}
