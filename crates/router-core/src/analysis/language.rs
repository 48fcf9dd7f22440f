//! Script-based language detection.
//!
//! Counts letters per Unicode script; Latin text is told apart by counting common function words
//! of a few languages. Cheap and good enough to route on (a model weak in Thai should not get the
//! Thai prompts); not a general language identifier.

use serde::Serialize;

/// The language a conversation is written in, as an ISO 639-1 code (`und` when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Language(pub &'static str);

impl Language {
    /// Unknown (no letters, or a script without a mapping).
    pub const UNDETERMINED: Language = Language("und");

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        self.0
    }

    /// Whether this is English (or undetermined, which routing treats alike).
    pub fn is_english(self) -> bool {
        matches!(self.0, "en" | "und")
    }
}

/// Letter counts per script and function-word counts per Latin-script language.
#[derive(Debug, Clone, Default)]
pub struct LanguageCounts {
    scripts: [u32; SCRIPTS.len()],
    latin_words: [u32; LATIN.len()],
}

const SCRIPTS: [&str; 11] = [
    "latin", "ru", "el", "ar", "he", "hi", "th", "zh", "ja", "ko", "other",
];
const LATIN_SCRIPT: usize = 0;
const HAN: usize = 7;
const KANA: usize = 8;

/// The Latin-script languages told apart by function words, in the order of `latin_words`.
const LATIN: [&str; 6] = ["en", "es", "fr", "de", "pt", "it"];

/// Which Latin-script languages use `word` (ASCII lower-cased) as a common function word, as a
/// bit set over [`LATIN`].
fn function_word(word: &[u8]) -> u8 {
    const EN: u8 = 1;
    const ES: u8 = 2;
    const FR: u8 = 4;
    const DE: u8 = 8;
    const PT: u8 = 16;
    const IT: u8 = 32;
    match word {
        b"the" | b"and" | b"is" | b"of" | b"to" | b"what" | b"how" | b"you" | b"this" | b"with" => {
            EN
        }
        b"el" | b"los" | b"y" | b"es" | b"del" | b"las" => ES,
        b"le" | b"les" | b"et" | b"est" | b"des" | b"dans" | b"pas" | b"vous" => FR,
        b"der" | b"die" | b"das" | b"und" | b"ist" | b"nicht" | b"ein" | b"eine" | b"ich"
        | b"mit" => DE,
        b"os" | b"com" | b"n\xc3\xa3o" | b"como" | b"mais" | b"ser" => PT,
        b"il" | b"di" | b"che" | b"non" | b"gli" | b"sono" | b"della" | b"questo" => IT,
        b"que" => ES | FR | PT,
        b"por" => ES | PT,
        b"para" => ES | PT,
        b"una" => ES | IT,
        b"uma" => PT,
        b"per" => IT,
        b"pour" => FR,
        b"une" => FR,
        _ => 0,
    }
}

impl LanguageCounts {
    /// Counts the letters and Latin function words of `text`.
    pub fn add(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut latin = 0u32;
        if bytes.is_ascii() {
            latin = bytes.iter().filter(|b| b.is_ascii_alphabetic()).count() as u32;
        } else {
            for ch in text.chars() {
                match script_of(ch) {
                    Some(LATIN_SCRIPT) => latin += 1,
                    Some(script) => self.scripts[script] += 1,
                    None => {}
                }
            }
        }
        self.scripts[LATIN_SCRIPT] += latin;
        if latin == 0 {
            return;
        }
        let mut lowered = [0u8; 8];
        for word in bytes.split(|b| !(b.is_ascii_alphabetic() || *b >= 0x80)) {
            if word.is_empty() || word.len() > lowered.len() {
                continue;
            }
            for (to, from) in lowered.iter_mut().zip(word) {
                *to = from.to_ascii_lowercase();
            }
            let set = function_word(&lowered[..word.len()]);
            if set == 0 {
                continue;
            }
            for (idx, count) in self.latin_words.iter_mut().enumerate() {
                if set & (1 << idx) != 0 {
                    *count += 1;
                }
            }
        }
    }

    /// The most likely language.
    pub fn language(&self) -> Language {
        let Some((script, &count)) = self
            .scripts
            .iter()
            .enumerate()
            .max_by_key(|(idx, count)| (**count, std::cmp::Reverse(*idx)))
        else {
            return Language::UNDETERMINED;
        };
        if count == 0 {
            return Language::UNDETERMINED;
        }
        // Japanese mixes kana and Han: any real share of kana means Japanese.
        if (script == HAN || script == KANA) && self.scripts[KANA] * 10 >= self.scripts[HAN] {
            return Language("ja");
        }
        match SCRIPTS[script] {
            "latin" => {
                let (best, hits) = self
                    .latin_words
                    .iter()
                    .enumerate()
                    .max_by_key(|(idx, hits)| (**hits, std::cmp::Reverse(*idx)))
                    .map_or((0, 0), |(idx, hits)| (idx, *hits));
                if hits == 0 {
                    Language("en")
                } else {
                    Language(LATIN[best])
                }
            }
            "other" => Language::UNDETERMINED,
            code => Language(code),
        }
    }
}

fn script_of(ch: char) -> Option<usize> {
    let c = ch as u32;
    let script = match c {
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F => 0,
        0x400..=0x4FF => 1,
        0x370..=0x3FF => 2,
        0x600..=0x6FF | 0x750..=0x77F => 3,
        0x590..=0x5FF => 4,
        0x900..=0x97F => 5,
        0xE00..=0xE7F => 6,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF => 7,
        0x3040..=0x30FF => 8,
        0xAC00..=0xD7AF | 0x1100..=0x11FF => 9,
        _ if ch.is_alphabetic() => 10,
        _ => return None,
    };
    Some(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(text: &str) -> &'static str {
        let mut counts = LanguageCounts::default();
        counts.add(text);
        counts.language().code()
    }

    #[test]
    fn detects_scripts_and_common_latin_languages() {
        assert_eq!(detect("What is the capital of France?"), "en");
        assert_eq!(
            detect("¿Cuál es la capital de Francia y por qué es la más grande?"),
            "es"
        );
        assert_eq!(
            detect("Quelle est la capitale de la France? Je ne sais pas."),
            "fr"
        );
        assert_eq!(
            detect("Was ist die Hauptstadt von Deutschland? Ich weiß es nicht."),
            "de"
        );
        assert_eq!(detect("Какая столица Франции?"), "ru");
        assert_eq!(detect("法国的首都是哪里？"), "zh");
        assert_eq!(detect("フランスの首都はどこですか？"), "ja");
        assert_eq!(detect("프랑스의 수도는 어디입니까?"), "ko");
        assert_eq!(detect("ما هي عاصمة فرنسا؟"), "ar");
        assert_eq!(detect("1234 + 5678 = ?"), "und");
    }
}
