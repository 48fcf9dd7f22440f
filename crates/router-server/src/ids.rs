//! Generation ids (`gen-<unix seconds>-<20 base62 characters>`) and the `created` timestamp of
//! each generation.
//!
//! Ids need to be unique, not secret. Each id carries its arrival number: the process counts
//! the ids it mints, and the first ten characters are that count mixed with a process-wide
//! random seed (from the standard library's hasher keys) by a bijection on 59 bits, which ten
//! base62 digits hold exactly; the last ten are the count and a second seed through splitmix64.
//! So ids never repeat within a process, and the process reads an id's arrival number back
//! ([`arrival`]): the in-memory record store finds a record by it without a hash table. The
//! last ten characters confirm that this process minted the id. The scheme is invertible: from
//! a few ids, a client can work out the seeds and the count, and so the ids of other requests
//! to the same process. Nothing relies on an id being unpredictable: a generation record is
//! answered only to the key that made it (`GET /api/v1/generation`), and an id gives no access
//! to anything else.

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
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |it| it.as_secs());
        let arrival = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self {
            id: generation_id(created, arrival, *SEEDS),
            created,
        }
    }
}

/// The arrival number of an id this process minted (0 for its first id, then 1, 2, …);
/// `None` for any other string, another process's ids included.
pub(crate) fn arrival(id: &str) -> Option<u64> {
    arrival_with(id, *SEEDS)
}

/// An id of this process with the given arrival number, for tests that need two ids whose
/// numbers are a set distance apart.
#[cfg(test)]
pub(crate) fn id_with_arrival(arrival: u64) -> String {
    generation_id(1_790_000_000, arrival, *SEEDS)
}

/// The process's two seeds: one for each half of the random part.
static SEEDS: LazyLock<Seeds> = LazyLock::new(|| {
    let hasher = RandomState::new();
    Seeds {
        order: hasher.hash_one(0_u64) & LOW_59,
        check: hasher.hash_one(1_u64),
    }
});

/// The seeds an id is minted with.
#[derive(Debug, Clone, Copy)]
struct Seeds {
    /// Mixed with the arrival number in the first half (59 bits).
    order: u64,
    /// Mixed with it in the second half, which confirms the first.
    check: u64,
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 digits written per half of the random part (62^10 > 2^59).
const DIGITS_PER_WORD: usize = 10;

/// The low 59 bits: the first half's words, which ten base62 digits hold exactly.
const LOW_59: u64 = (1 << 59) - 1;

/// `gen-<created>-<10 base62 digits of the mixed arrival number><10 of its check word>`.
fn generation_id(created: u64, arrival: u64, seeds: Seeds) -> String {
    let mut digits = [0_u8; 2 * DIGITS_PER_WORD];
    let words = [
        mix_59(seeds.order ^ (arrival & LOW_59)),
        splitmix64(seeds.check ^ arrival),
    ];
    for (word, out) in words
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

/// [`arrival`] with explicit seeds.
fn arrival_with(id: &str, seeds: Seeds) -> Option<u64> {
    let rest = id.strip_prefix("gen-")?;
    let (created, random) = rest.split_once('-')?;
    if created.is_empty() || !created.bytes().all(|it| it.is_ascii_digit()) {
        return None;
    }
    let random = random.as_bytes();
    if random.len() != 2 * DIGITS_PER_WORD {
        return None;
    }
    let (order, check) = random.split_at(DIGITS_PER_WORD);
    let order = base62_word(order)?;
    if order > LOW_59 {
        return None;
    }
    let arrival = unmix_59(order) ^ seeds.order;
    (base62_word(check)? == splitmix64(seeds.check ^ arrival) % 62_u64.pow(10)).then_some(arrival)
}

/// The number ten base62 digits write, least significant first.
fn base62_word(digits: &[u8]) -> Option<u64> {
    digits.iter().rev().try_fold(0_u64, |word, &digit| {
        let value = match digit {
            b'0'..=b'9' => digit - b'0',
            b'A'..=b'Z' => digit - b'A' + 10,
            b'a'..=b'z' => digit - b'a' + 36,
            _ => return None,
        };
        Some(word * 62 + u64::from(value))
    })
}

/// Odd multipliers of [`mix_59`] (splitmix64's), and their inverses modulo 2^64 (so also
/// modulo 2^59).
const MIX_1: u64 = 0xbf58_476d_1ce4_e5b9;
const MIX_2: u64 = 0x94d0_49bb_1331_11eb;
const UNMIX_1: u64 = inverse(MIX_1);
const UNMIX_2: u64 = inverse(MIX_2);

/// A bijection on `[0, 2^59)` with good avalanche: xor-shifts by at least half the width
/// (each its own inverse) and odd multiplications modulo 2^59.
fn mix_59(state: u64) -> u64 {
    let mut z = state & LOW_59;
    z ^= z >> 31;
    z = z.wrapping_mul(MIX_1) & LOW_59;
    z ^= z >> 30;
    z = z.wrapping_mul(MIX_2) & LOW_59;
    z ^ (z >> 31)
}

/// The inverse of [`mix_59`].
fn unmix_59(mixed: u64) -> u64 {
    let mut z = mixed & LOW_59;
    z ^= z >> 31;
    z = z.wrapping_mul(UNMIX_2) & LOW_59;
    z ^= z >> 30;
    z = z.wrapping_mul(UNMIX_1) & LOW_59;
    z ^ (z >> 31)
}

/// The inverse of odd `m` modulo 2^64 (Newton's iteration: each step doubles the correct bits).
const fn inverse(m: u64) -> u64 {
    let mut x = m;
    let mut step = 0;
    while step < 6 {
        x = x.wrapping_mul(2_u64.wrapping_sub(m.wrapping_mul(x)));
        step += 1;
    }
    x
}

/// splitmix64's finalizer: a bijection on `u64` with good avalanche.
fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(MIX_1);
    z = (z ^ (z >> 27)).wrapping_mul(MIX_2);
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
    fn an_id_gives_back_its_arrival_number() {
        let first = arrival(&GenerationStamp::new().id).unwrap();
        let next: Vec<u64> = (0..1_000)
            .map(|_| arrival(&GenerationStamp::new().id).unwrap())
            .collect();
        // Other tests mint ids at the same time, so the numbers only grow.
        assert!(next.windows(2).all(|it| it[0] < it[1]));
        assert!(next[0] > first);
        let seeds = Seeds {
            order: 0x0123_4567_89ab_cdef & LOW_59,
            check: 0xfedc_ba98_7654_3210,
        };
        for number in [0, 1, 2, 61, 62, 1 << 20, u64::from(u32::MAX), LOW_59] {
            let id = generation_id(1_790_000_000, number, seeds);
            assert_eq!(arrival_with(&id, seeds), Some(number), "{id}");
        }
    }

    #[test]
    fn only_ids_this_process_minted_have_an_arrival_number() {
        let seeds = Seeds {
            order: 42,
            check: 7,
        };
        let other = Seeds {
            order: 43,
            check: 7,
        };
        let id = generation_id(1_790_000_000, 5, seeds);
        assert_eq!(arrival_with(&id, seeds), Some(5));
        assert_eq!(arrival_with(&id, other), None, "another process's id");
        // Any one character of the random part changed.
        let random_start = id.len() - 2 * DIGITS_PER_WORD;
        for at in random_start..id.len() {
            let mut changed = id.clone().into_bytes();
            changed[at] = if changed[at] == b'1' { b'2' } else { b'1' };
            let changed = String::from_utf8(changed).unwrap();
            assert_eq!(arrival_with(&changed, seeds), None, "{changed}");
        }
        for bad in [
            "",
            "gen-",
            "gen-1",
            "gen-1-",
            "gen--AAAAAAAAAAAAAAAAAAAA",
            "gen-x-AAAAAAAAAAAAAAAAAAAA",
            "gen-1-AAAAAAAAAAAAAAAAAAA!",
            "gen-1-zzzzzzzzzzzzzzzzzzzz",
            "chatcmpl-1",
        ] {
            assert_eq!(arrival_with(bad, seeds), None, "{bad}");
        }
    }

    #[test]
    fn no_guessed_id_has_an_arrival_number() {
        // Ids of the right shape with random characters, and random strings: a client may send
        // any of them to `GET /api/v1/generation`, and none may read as one of ours.
        let seeds = Seeds {
            order: 0x0123_4567_89ab_cdef & LOW_59,
            check: 0xfedc_ba98_7654_3210,
        };
        let mut state = 7_u64;
        let mut next = || {
            state = splitmix64(state);
            state
        };
        for _ in 0..100_000 {
            let random: String = (0..20)
                .map(|_| char::from(BASE62[(next() % 62) as usize]))
                .collect();
            let id = format!("gen-{}-{random}", next() % 2_000_000_000);
            assert_eq!(arrival_with(&id, seeds), None, "{id}");
            let bytes: Vec<u8> = (0..next() % 48).map(|_| next() as u8).collect();
            let text = String::from_utf8_lossy(&bytes);
            assert_eq!(arrival_with(&text, seeds), None, "{text:?}");
        }
    }

    #[test]
    fn the_first_half_is_a_bijection_on_59_bits() {
        assert_eq!(MIX_1.wrapping_mul(UNMIX_1), 1);
        assert_eq!(MIX_2.wrapping_mul(UNMIX_2), 1);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..100_000 {
            state = splitmix64(state);
            let x = state & LOW_59;
            let mixed = mix_59(x);
            assert!(mixed <= LOW_59);
            assert_eq!(unmix_59(mixed), x);
        }
        // Neighbouring numbers look unrelated.
        let (a, b) = (mix_59(1000), mix_59(1001));
        assert!((a ^ b).count_ones() > 15, "{a:x} {b:x}");
    }

    #[test]
    fn encodes_each_word_in_base62() {
        let seeds = Seeds { order: 0, check: 0 };
        let id = generation_id(7, 0, seeds);
        let random = id.rsplit('-').next().unwrap();
        assert_eq!(base62_word(&random.as_bytes()[..10]), Some(mix_59(0)));
        assert_eq!(
            base62_word(&random.as_bytes()[10..]),
            Some(splitmix64(0) % 62_u64.pow(10))
        );
        assert_eq!(base62_word(b"z000000000"), Some(61));
        assert_eq!(base62_word(b"0z00000000"), Some(61 * 62));
    }
}
