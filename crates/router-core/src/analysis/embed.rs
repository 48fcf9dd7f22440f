//! A learned text representation without a network or a neural network at run time: static token
//! embeddings distilled from a sentence encoder (Model2Vec's method).
//!
//! `cargo xtask distill` passes every token of the teacher's vocabulary through the teacher
//! (all-MiniLM-L6-v2, Apache-2.0), reduces the vectors by PCA, weighs them by the token's Zipf
//! rank and quantizes them to int8 with one scale per token. The table and the teacher's WordPiece
//! vocabulary are compiled into the crate (`data/embed/`), so embedding a text is: BERT's basic
//! tokenization (lower-case, accents folded, punctuation and CJK characters split), greedy
//! longest-match WordPiece against the vocabulary, and the mean of the tokens' vectors, scaled to
//! unit length. It reads at most [`MAX_TOKENS`] tokens and allocates only the output vector (its
//! per-thread buffers grow once).

use std::collections::HashMap;
use std::sync::OnceLock;

use super::features::Window;

/// The distilled table: `TSTE`, version, vocabulary size, dimension, one f32 scale per token, then
/// the int8 values row by row.
static TABLE: &[u8] = include_bytes!("../../data/embed/minilm-static.bin");
/// The teacher's WordPiece vocabulary, one token a line, in id order.
static VOCAB: &str = include_str!("../../data/embed/vocab.txt");

/// At most this many tokens of a conversation are embedded (the teacher's own context).
pub const MAX_TOKENS: usize = 512;
/// A word longer than this (in characters) is one unknown token, as in BERT.
const MAX_WORD_CHARS: usize = 100;

/// The parsed table and vocabulary, shared by every caller.
#[derive(Debug)]
pub struct Embedder {
    dim: usize,
    /// Every token's vector, dequantized once (row-major): f32 rows add up with the vector
    /// instructions every x86-64 has, where int8 rows would need SSE4.1 to widen.
    vectors: Vec<f32>,
    vocab: HashMap<&'static str, u32, foldhash::fast::FixedState>,
    /// Continuation pieces (`##x`) are looked up without their prefix in this map.
    pieces: HashMap<&'static str, u32, foldhash::fast::FixedState>,
    unknown: Option<u32>,
    /// Bytes of the longest token (without `##`).
    longest: usize,
    /// Per ASCII byte that is punctuation: its token (the unknown token when the vocabulary has
    /// none), which [`Embedder::tokenize`] emits without a lookup.
    ascii_punctuation: [Option<u32>; 128],
}

/// The table shipped with the crate, parsed on first use.
pub fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| Embedder::parse(TABLE, VOCAB).unwrap_or_else(|_| Embedder::empty()))
}

/// Why a table could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TableError {
    /// The header is not `TSTE` version 1.
    #[error("not a static embedding table (bad magic or version)")]
    Header,
    /// The sizes in the header do not match the bytes.
    #[error("the table's sizes do not match its length")]
    Size,
    /// The vocabulary has a different number of tokens than the table.
    #[error("the vocabulary has {vocab} tokens, the table {table}")]
    Vocabulary {
        /// Tokens in the vocabulary.
        vocab: usize,
        /// Rows in the table.
        table: usize,
    },
}

impl Embedder {
    /// Parses a table and its vocabulary.
    pub fn parse(table: &'static [u8], vocab: &'static str) -> Result<Self, TableError> {
        let word = |at: usize| -> Result<u32, TableError> {
            let bytes = table.get(at..at + 4).ok_or(TableError::Header)?;
            Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        };
        if table.get(..4) != Some(b"TSTE".as_slice()) || word(4)? != 1 {
            return Err(TableError::Header);
        }
        let rows = word(8)? as usize;
        let dim = word(12)? as usize;
        let scales_at = 16;
        let values_at = scales_at + rows * 4;
        if table.len() != values_at + rows * dim {
            return Err(TableError::Size);
        }
        let scales: Vec<f32> = table[scales_at..values_at]
            .chunks_exact(4)
            .map(|it| f32::from_le_bytes([it[0], it[1], it[2], it[3]]))
            .collect();
        let mut vectors = Vec::with_capacity(rows * dim);
        for (row, scale) in table[values_at..].chunks_exact(dim.max(1)).zip(&scales) {
            vectors.extend(row.iter().map(|&value| scale * f32::from(value as i8)));
        }
        let tokens: Vec<&'static str> = vocab.lines().collect();
        if tokens.len() != rows {
            return Err(TableError::Vocabulary {
                vocab: tokens.len(),
                table: rows,
            });
        }
        let mut words = HashMap::with_capacity_and_hasher(rows, Default::default());
        let mut pieces = HashMap::with_capacity_and_hasher(rows / 4, Default::default());
        for (id, token) in tokens.iter().enumerate() {
            match token.strip_prefix("##") {
                Some(piece) if !piece.is_empty() => pieces.insert(piece, id as u32),
                _ => words.insert(*token, id as u32),
            };
        }
        let unknown = words.get("[UNK]").copied();
        let longest = words
            .keys()
            .chain(pieces.keys())
            .map(|it| it.len())
            .max()
            .unwrap_or(0);
        let mut ascii_punctuation = [None; 128];
        for (byte, id) in (0u8..128).zip(ascii_punctuation.iter_mut()) {
            if byte.is_ascii_punctuation() {
                let text = [byte];
                let token = std::str::from_utf8(&text).ok();
                *id = token.and_then(|it| words.get(it).copied()).or(unknown);
            }
        }
        Ok(Self {
            dim,
            vectors,
            vocab: words,
            pieces,
            unknown,
            longest,
            ascii_punctuation,
        })
    }

    /// A table without tokens: every text embeds to the zero vector.
    fn empty() -> Self {
        Self {
            dim: 0,
            vectors: Vec::new(),
            vocab: HashMap::default(),
            pieces: HashMap::default(),
            unknown: None,
            longest: 0,
            ascii_punctuation: [None; 128],
        }
    }

    /// The vectors' dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_len(&self) -> usize {
        self.vectors.len().checked_div(self.dim).unwrap_or(0)
    }

    /// The token ids of `text` (BERT's uncased basic tokenization, then WordPiece), at most
    /// `limit` of them, passed to `emit`. Returns how many were emitted.
    pub fn tokenize<F: FnMut(u32)>(&self, text: &str, limit: usize, mut emit: F) -> usize {
        let mut count = 0usize;
        let mut word = String::with_capacity(32);
        let flush = |word: &mut String, count: &mut usize, emit: &mut F| {
            if !word.is_empty() && *count < limit {
                *count += self.word_pieces(word, limit - *count, emit);
            }
            word.clear();
        };
        let bytes = text.as_bytes();
        let mut at = 0usize;
        while at < bytes.len() {
            if count >= limit {
                break;
            }
            let b = bytes[at];
            // ASCII, most text: a byte is a character, and every ASCII character is a letter or
            // digit, white space or a control, or punctuation.
            if b.is_ascii() {
                at += 1;
                if b.is_ascii_alphanumeric() {
                    word.push(char::from(b.to_ascii_lowercase()));
                } else if b.is_ascii_punctuation() {
                    flush(&mut word, &mut count, &mut emit);
                    // A punctuation character is one token, looked up once at start-up.
                    if let Some(id) = self.ascii_punctuation[usize::from(b)]
                        && count < limit
                    {
                        emit(id);
                        count += 1;
                    }
                } else {
                    flush(&mut word, &mut count, &mut emit);
                }
                continue;
            }
            let Some(ch) = text[at..].chars().next() else {
                break;
            };
            at += ch.len_utf8();
            if ch.is_whitespace() || ch.is_control() {
                flush(&mut word, &mut count, &mut emit);
            } else if is_punctuation(ch) || is_cjk(ch) {
                flush(&mut word, &mut count, &mut emit);
                let mut buf = [0u8; 4];
                word.push_str(ch.encode_utf8(&mut buf));
                flush(&mut word, &mut count, &mut emit);
            } else {
                for lower in ch.to_lowercase() {
                    if let Some(folded) = fold_accent(lower) {
                        word.push(folded);
                    }
                }
            }
        }
        flush(&mut word, &mut count, &mut emit);
        count
    }

    /// Greedy longest-match-first WordPiece of one word.
    fn word_pieces(&self, word: &str, limit: usize, emit: &mut impl FnMut(u32)) -> usize {
        // A word has at least as many bytes as characters: count them only when it might be long.
        if word.len() > MAX_WORD_CHARS && word.chars().count() > MAX_WORD_CHARS {
            return self.emit_unknown(emit);
        }
        let mut found: [u32; 32] = [0; 32];
        let mut n = 0usize;
        let mut start = 0usize;
        while start < word.len() {
            let map = if start == 0 {
                &self.vocab
            } else {
                &self.pieces
            };
            // No token is longer than the longest in the vocabulary.
            let mut end = word.len().min(start + self.longest);
            let mut hit = None;
            while end > start {
                if word.is_char_boundary(end)
                    && let Some(&id) = map.get(&word[start..end])
                {
                    hit = Some(id);
                    break;
                }
                end -= 1;
            }
            match hit {
                Some(id) if n < found.len() => {
                    found[n] = id;
                    n += 1;
                    start = end;
                }
                // No piece matches (or the word has too many): the whole word is unknown.
                _ => return self.emit_unknown(emit),
            }
        }
        let n = n.min(limit);
        found[..n].iter().for_each(|&id| emit(id));
        n
    }

    /// Emits the unknown token, when the vocabulary has one; returns how many were emitted.
    fn emit_unknown(&self, emit: &mut impl FnMut(u32)) -> usize {
        match self.unknown {
            Some(id) => {
                emit(id);
                1
            }
            None => 0,
        }
    }

    /// Adds `weight ×` token `id`'s vector into `out` (which has [`Embedder::dim`] entries).
    fn add_token(&self, id: u32, weight: f32, out: &mut [f32]) {
        let start = id as usize * self.dim;
        let Some(row) = self.vectors.get(start..start + self.dim) else {
            return;
        };
        for (acc, value) in out.iter_mut().zip(row) {
            *acc += weight * value;
        }
    }

    /// The embedding of some weighted windows of text: the weighted mean of their tokens'
    /// vectors (at most [`MAX_TOKENS`] tokens, windows in order), at unit length. A text without
    /// known tokens embeds to zeros.
    pub fn embed(&self, windows: &[Window<'_>]) -> Vec<f32> {
        let mut out = vec![0.0f32; self.dim];
        TOKEN_WEIGHTS.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let TokenWeights { weights, seen } = &mut *scratch;
            if weights.len() < self.vocab_len() {
                weights.resize(self.vocab_len(), 0.0);
            }
            // Each token's total weight first, then each distinct token's vector once: a text
            // repeats its tokens, and a vector costs `dim` multiply-adds.
            let mut left = MAX_TOKENS;
            for window in windows {
                if left == 0 {
                    break;
                }
                let weight = window.weight;
                left -= self.tokenize(window.text, left, |id| {
                    if let Some(total) = weights.get_mut(id as usize) {
                        if *total == 0.0 {
                            seen.push(id);
                        }
                        *total += weight;
                    }
                });
            }
            for id in seen.drain(..) {
                let total = std::mem::take(&mut weights[id as usize]);
                self.add_token(id, total, &mut out);
            }
        });
        let norm = out.iter().map(|it| it * it).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|it| *it /= norm);
        }
        out
    }

    /// The embedding of one text (weight 1).
    pub fn embed_text(&self, text: &str) -> Vec<f32> {
        self.embed(&[Window { text, weight: 1.0 }])
    }
}

/// Per-thread buffers of [`Embedder::embed`]: each token's summed weight (all zero between
/// calls) and the tokens with a weight, in order of first use.
struct TokenWeights {
    weights: Vec<f32>,
    seen: Vec<u32>,
}

thread_local! {
    static TOKEN_WEIGHTS: std::cell::RefCell<TokenWeights> = const {
        std::cell::RefCell::new(TokenWeights {
            weights: Vec::new(),
            seen: Vec::new(),
        })
    };
}

/// BERT's punctuation: ASCII symbols and the general, CJK and full-width punctuation blocks.
fn is_punctuation(ch: char) -> bool {
    ch.is_ascii_punctuation()
        || matches!(ch as u32,
            0x00A1..=0x00BF | 0x00D7 | 0x00F7 | 0x2000..=0x206F | 0x2190..=0x22FF
            | 0x3000..=0x303F | 0xFF01..=0xFF0F | 0xFF1A..=0xFF20 | 0xFF3B..=0xFF40
            | 0xFF5B..=0xFF65)
}

/// CJK ideographs, which BERT splits into one token each.
fn is_cjk(ch: char) -> bool {
    matches!(ch as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// A lower-case letter without its accent (BERT's uncased models strip accents); `None` for a
/// combining mark, which stripping removes.
fn fold_accent(ch: char) -> Option<char> {
    if ch.is_ascii() {
        return Some(ch);
    }
    Some(match ch {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' => 'h',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' => 's',
        'ţ' | 'ť' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        '\u{0300}'..='\u{036F}' => return None,
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn tokens(text: &str) -> Vec<&'static str> {
        let embedder = embedder();
        let names: Vec<&'static str> = VOCAB.lines().collect();
        let mut out = Vec::new();
        embedder.tokenize(text, usize::MAX, |id| out.push(names[id as usize]));
        out
    }

    #[test]
    fn the_shipped_table_parses() {
        let embedder = embedder();
        assert_eq!(embedder.vocab_len(), 30_522);
        assert!(embedder.dim() >= 64);
    }

    #[test]
    fn word_piece_tokenizes_as_bert_does() {
        assert_eq!(tokens("Hello, World!"), ["hello", ",", "world", "!"]);
        assert_eq!(tokens("unaffable"), ["una", "##ffa", "##ble"]);
        assert_eq!(tokens("Übersetze café"), ["uber", "##set", "##ze", "cafe"]);
        // Each CJK character is a token; the English teacher knows few of them.
        assert_eq!(tokens("中你"), ["中", "[UNK]"]);
        assert_eq!(tokens(&"x".repeat(200)), ["[UNK]"]);
        assert_eq!(tokens(""), Vec::<&str>::new());
    }

    #[test]
    fn similar_texts_embed_closer_than_unrelated_ones() {
        let embedder = embedder();
        let code = embedder.embed_text("Fix the bug in my Python function that sorts a list");
        let code2 = embedder.embed_text("Why does this JavaScript loop throw an exception?");
        let poem = embedder.embed_text("Write a short poem about autumn leaves and the wind");
        assert!(cosine(&code, &code2) > cosine(&code, &poem));
        let norm = cosine(&code, &code).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }

    #[test]
    fn embedding_reads_a_bounded_number_of_tokens() {
        let embedder = embedder();
        let long = "word ".repeat(10_000);
        let mut n = 0;
        embedder.tokenize(&long, MAX_TOKENS, |_| n += 1);
        assert_eq!(n, MAX_TOKENS);
        let nothing = embedder.embed_text("   ");
        assert!(nothing.iter().all(|it| *it == 0.0));
    }

    #[test]
    fn a_damaged_table_is_refused() {
        assert_eq!(
            Embedder::parse(b"nope", "").unwrap_err(),
            TableError::Header
        );
        let mut header = b"TSTE".to_vec();
        header.extend(1u32.to_le_bytes());
        header.extend(2u32.to_le_bytes());
        header.extend(4u32.to_le_bytes());
        let leaked: &'static [u8] = Box::leak(header.into_boxed_slice());
        assert_eq!(
            Embedder::parse(leaked, "a\nb").unwrap_err(),
            TableError::Size
        );
    }
}
