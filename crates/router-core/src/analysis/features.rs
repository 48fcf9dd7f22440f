//! Hashed word and character n-gram features of a conversation.
//!
//! Text is lower-cased (ASCII) and cut into word unigrams, word bigrams and byte 4-grams, each
//! hashed into a fixed space of `2^bits` slots ("feature hashing"), with a sublinear term
//! frequency. The result is a sparse vector sorted by slot. Only bounded windows of the
//! conversation are read (see [`Window`]), so the cost does not grow with the conversation.
//!
//! The hashes are fixed (FNV-1a and a multiplicative mix): a profile's weights computed by
//! `cargo xtask calibrate` stay valid across releases and platforms.

/// How many slots a feature space has, as a power of two.
pub const DEFAULT_BITS: u8 = 15;

/// The fewest and most slots a profile may ask for.
pub const BITS_RANGE: std::ops::RangeInclusive<u8> = 10..=20;

/// A piece of conversation text and how much its features weigh.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// The text (already cut to its window).
    pub text: &'a str,
    /// Weight of every feature from this window.
    pub weight: f32,
}

/// A sparse feature vector: `(slot, value)` pairs sorted by slot, without duplicates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    entries: Vec<(u32, f32)>,
}

impl SparseVector {
    /// Builds a vector from pairs in any order; equal slots are summed, zeros dropped.
    pub fn from_pairs(mut pairs: Vec<(u32, f32)>) -> Self {
        pairs.sort_unstable_by_key(|it| it.0);
        let mut entries: Vec<(u32, f32)> = Vec::with_capacity(pairs.len());
        for (slot, value) in pairs {
            match entries.last_mut() {
                Some(last) if last.0 == slot => last.1 += value,
                _ => entries.push((slot, value)),
            }
        }
        entries.retain(|it| it.1 != 0.0 && it.1.is_finite());
        Self { entries }
    }

    /// The `(slot, value)` pairs, sorted by slot.
    pub fn entries(&self) -> &[(u32, f32)] {
        &self.entries
    }

    /// Number of non-zero slots.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether every slot is zero.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Euclidean norm.
    pub fn norm(&self) -> f32 {
        self.entries
            .iter()
            .map(|it| it.1 * it.1)
            .sum::<f32>()
            .sqrt()
    }

    /// Scales the vector to unit length (a zero vector stays zero).
    pub fn normalize(&mut self) {
        let norm = self.norm();
        if norm > 0.0 {
            for entry in &mut self.entries {
                entry.1 /= norm;
            }
        }
    }

    /// Multiplies each slot by `weight(slot)`.
    pub fn reweight(&mut self, weight: impl Fn(u32) -> f32) {
        for entry in &mut self.entries {
            entry.1 *= weight(entry.0);
        }
        self.entries.retain(|it| it.1 != 0.0);
    }

    /// Keeps only the `n` largest-magnitude slots (ties: lower slot first).
    pub fn prune(&mut self, n: usize) {
        if self.entries.len() <= n {
            return;
        }
        self.entries
            .sort_unstable_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        self.entries.truncate(n);
        self.entries.sort_unstable_by_key(|it| it.0);
    }

    /// Dot product with another sparse vector.
    pub fn dot(&self, other: &SparseVector) -> f32 {
        let (mut i, mut j, mut sum) = (0, 0, 0.0);
        let (a, b) = (&self.entries, &other.entries);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    sum += a[i].1 * b[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        sum
    }
}

/// Hashes the windows into a sparse vector of `2^bits` slots with sublinear term frequencies
/// (`1 + ln(tf)`, each occurrence weighted by its window). Not normalized.
pub fn hash_features(windows: &[Window<'_>], bits: u8) -> SparseVector {
    let bits = bits.clamp(*BITS_RANGE.start(), *BITS_RANGE.end());
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let Scratch {
            dense,
            marks,
            lowered,
        } = &mut *scratch;
        let slots = 1usize << bits;
        if dense.len() < slots {
            dense.resize(slots, 0.0);
            marks.resize(slots / 64, 0);
        }
        let mut acc = Accumulator {
            dense: &mut dense[..slots],
            marks: &mut marks[..slots / 64],
            touched: 0,
            mask: (1u32 << bits) - 1,
        };
        for window in windows {
            if window.weight <= 0.0 || window.text.is_empty() {
                continue;
            }
            lowered.clear();
            lowered.extend(window.text.bytes().map(|b| b.to_ascii_lowercase()));
            push_words(lowered, window.weight, &mut acc);
            push_byte_grams(lowered, window.weight * CHAR_GRAM_WEIGHT, &mut acc);
        }
        // The marked slots in ascending order, read off the bitmap a word at a time (cheaper
        // than sorting the touched slots), each cell and word reset as it is read.
        let mut entries = Vec::with_capacity(acc.touched);
        for (word_idx, word) in acc.marks.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let slot = word_idx * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let count = std::mem::take(&mut acc.dense[slot]);
                // Sublinear term frequency: a word said ten times is not ten times as telling.
                let value = if count > 1.0 { 1.0 + count.ln() } else { count };
                if value > 0.0 {
                    entries.push((slot as u32, value));
                }
            }
        }
        SparseVector { entries }
    })
}

/// Per-thread buffers of [`hash_features`]: the dense counts and a bitmap of the slots they
/// touch (both all zero between calls: only the touched cells are written, and they are reset as
/// they are read) and the lower-cased window.
struct Scratch {
    dense: Vec<f32>,
    marks: Vec<u64>,
    lowered: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = const {
        std::cell::RefCell::new(Scratch {
            dense: Vec::new(),
            marks: Vec::new(),
            lowered: Vec::new(),
        })
    };
}

struct Accumulator<'d> {
    dense: &'d mut [f32],
    marks: &'d mut [u64],
    /// How many slots are marked.
    touched: usize,
    mask: u32,
}

impl Accumulator<'_> {
    fn add(&mut self, hash: u64, seed: u64, weight: f32) {
        let mixed = (hash ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = ((mixed >> 32) as u32) & self.mask;
        let cell = &mut self.dense[slot as usize];
        if *cell == 0.0 {
            self.marks[slot as usize / 64] |= 1 << (slot % 64);
            self.touched += 1;
        }
        *cell += weight;
    }
}

/// Character grams are many and individually weak: they weigh less than words.
const CHAR_GRAM_WEIGHT: f32 = 0.5;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;
const SEED_WORD: u64 = 0x9e37_79b9_7f4a_7c15;
const SEED_BIGRAM: u64 = 0xc2b2_ae3d_27d4_eb4f;
const SEED_GRAM: u64 = 0x1656_67b1_9e37_79f9;

/// FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// Whether a (lower-cased) byte belongs to a word: ASCII letters and digits, and any non-ASCII
/// byte (so words of other scripts stay whole).
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

fn push_words(text: &[u8], weight: f32, acc: &mut Accumulator<'_>) {
    let mut previous: Option<u64> = None;
    let mut start = None;
    for (idx, &b) in text.iter().chain(std::iter::once(&b' ')).enumerate() {
        if is_word_byte(b) {
            start.get_or_insert(idx);
            continue;
        }
        let Some(begin) = start.take() else {
            continue;
        };
        let word = fnv1a(&text[begin..idx]);
        acc.add(word, SEED_WORD, weight);
        if let Some(previous) = previous {
            let pair = previous.rotate_left(21) ^ word;
            acc.add(pair, SEED_BIGRAM, weight * 0.7);
        }
        previous = Some(word);
    }
}

fn push_byte_grams(text: &[u8], weight: f32, acc: &mut Accumulator<'_>) {
    let mut last_space = false;
    let mut gram: u32 = 0;
    let mut filled = 0;
    for &b in text {
        // Runs of whitespace count as one space, so layout does not change the grams.
        let b = if b.is_ascii_whitespace() { b' ' } else { b };
        if b == b' ' && last_space {
            continue;
        }
        last_space = b == b' ';
        gram = (gram << 8) | u32::from(b);
        filled += 1;
        if filled >= 4 {
            acc.add(u64::from(gram), SEED_GRAM, weight);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(text: &str) -> SparseVector {
        let mut vector = hash_features(&[Window { text, weight: 1.0 }], DEFAULT_BITS);
        vector.normalize();
        vector
    }

    #[test]
    fn similar_texts_are_closer_than_unrelated_ones() {
        let a = features("Fix the bug in this Python function that sorts a list");
        let b = features("There is a bug in my python function sorting the list");
        let c = features("Write a limerick about a cat who loves the sea");
        assert!(a.dot(&b) > 0.3, "{}", a.dot(&b));
        assert!(a.dot(&b) > 2.0 * a.dot(&c).max(0.01));
    }

    #[test]
    fn hashing_is_case_and_whitespace_insensitive_and_stable() {
        assert_eq!(features("Hello   World"), features("hello world"));
        assert_eq!(features("abc def"), features("abc def"));
        assert!(features("").is_empty());
        assert!((features("some words here").norm() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn sparse_vectors_merge_prune_and_dot() {
        let mut v = SparseVector::from_pairs(vec![(5, 1.0), (2, 2.0), (5, 1.0), (9, 0.0)]);
        assert_eq!(v.entries(), &[(2, 2.0), (5, 2.0)]);
        let w = SparseVector::from_pairs(vec![(5, 3.0), (7, 1.0)]);
        assert_eq!(v.dot(&w), 6.0);
        v.prune(1);
        assert_eq!(v.entries(), &[(2, 2.0)]);
    }
}
