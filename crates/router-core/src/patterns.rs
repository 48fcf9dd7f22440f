//! Model patterns: `allowed_models` / `excluded_models` globs over `author/slug` ids.
//!
//! One matcher type, [`ModelPatterns`], serves every place a pattern is used. The syntax is a
//! glob anchored to the whole id:
//!
//! - `*` matches any run of characters **except `/`**, so `openai/*` matches every OpenAI model
//!   but never `openaix/gpt` and `openai*` never matches `openai/gpt-5`;
//! - `?` matches one character (not `/`), `[abc]` one of a set, `{a,b}` either alternative;
//! - everything else is literal and case-sensitive (`OpenAI/*` matches nothing of `openai`).
//!
//! ```
//! use router_core::patterns::ModelPatterns;
//!
//! let anthropic = ModelPatterns::new(&["anthropic/*"]).unwrap();
//! assert!(anthropic.is_match("anthropic/claude-sonnet-4.5"));
//! assert!(!anthropic.is_match("openai/gpt-5.1"));
//!
//! // Several patterns: any of them may match.
//! let mixed = ModelPatterns::new(&["openai/gpt-5*", "*/claude-*"]).unwrap();
//! assert!(mixed.is_match("openai/gpt-5-mini"));
//! assert!(mixed.is_match("anthropic/claude-haiku-4.5"));
//! assert!(!mixed.is_match("openai/o3"));
//!
//! // `*` does not cross `/`.
//! assert!(!ModelPatterns::new(&["openai*"]).unwrap().is_match("openai/gpt-5"));
//! ```
//!
//! [`ModelFilter`] combines an allow list and a deny list; the deny list always wins:
//!
//! ```
//! use router_core::patterns::ModelFilter;
//!
//! let filter = ModelFilter::new(&["anthropic/*", "openai/gpt-5.1"], &["*/claude-opus-*"]).unwrap();
//! assert!(filter.permits("anthropic/claude-sonnet-4.5"));
//! assert!(filter.permits("openai/gpt-5.1"));
//! assert!(!filter.permits("anthropic/claude-opus-4.5"));
//! assert!(!filter.permits("openai/gpt-5.1-mini"));
//! // No allow list means every model is allowed.
//! assert!(ModelFilter::new::<&str>(&[], &[]).unwrap().permits("any/model"));
//! ```

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;

/// A pattern that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid model pattern `{pattern}`: {reason}")]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it and how to fix it.
    pub reason: String,
}

/// A compiled set of model patterns; an id matches when any pattern matches it.
#[derive(Debug, Clone)]
pub struct ModelPatterns {
    patterns: Vec<String>,
    set: GlobSet,
}

impl ModelPatterns {
    /// Compiles patterns. An empty list matches nothing.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            let invalid = |reason: &str| PatternError {
                pattern: pattern.to_owned(),
                reason: reason.to_owned(),
            };
            if pattern.is_empty() {
                return Err(invalid("a pattern must not be empty"));
            }
            if pattern.len() > MAX_PATTERN_LEN {
                return Err(invalid("a pattern must be at most 1024 bytes"));
            }
            if pattern.chars().any(char::is_whitespace) {
                return Err(invalid("a pattern must not contain whitespace"));
            }
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .case_insensitive(false)
                .backslash_escape(true)
                .empty_alternates(false)
                .build()
                .map_err(|err| invalid(&err.kind().to_string()))?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|err| PatternError {
            pattern: err.glob().unwrap_or_default().to_owned(),
            reason: err.kind().to_string(),
        })?;
        Ok(Self {
            patterns: patterns.iter().map(|it| it.as_ref().to_owned()).collect(),
            set,
        })
    }

    /// Whether `id` matches any pattern.
    pub fn is_match(&self, id: &str) -> bool {
        !self.patterns.is_empty() && self.set.is_match(id)
    }

    /// The patterns, as given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// Why a [`ModelFilter`] rejects a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterVerdict {
    /// The model may be used.
    Permitted,
    /// An allow list is set and no allowed pattern matches.
    NotAllowed,
    /// An excluded pattern matches (exclusion wins over any allowed pattern).
    Excluded,
}

/// An allow list (empty: everything) and a deny list; the deny list always wins.
#[derive(Debug, Clone)]
pub struct ModelFilter {
    allowed: ModelPatterns,
    excluded: ModelPatterns,
}

impl ModelFilter {
    /// Compiles both lists.
    pub fn new<S: AsRef<str>>(allowed: &[S], excluded: &[S]) -> Result<Self, PatternError> {
        Ok(Self {
            allowed: ModelPatterns::new(allowed)?,
            excluded: ModelPatterns::new(excluded)?,
        })
    }

    /// A filter that permits every model.
    pub fn permit_all() -> Self {
        let none = ModelPatterns {
            patterns: Vec::new(),
            set: GlobSet::empty(),
        };
        Self {
            allowed: none.clone(),
            excluded: none,
        }
    }

    /// What the filter says about `id`.
    pub fn verdict(&self, id: &str) -> FilterVerdict {
        if self.excluded.is_match(id) {
            FilterVerdict::Excluded
        } else if !self.allowed.is_empty() && !self.allowed.is_match(id) {
            FilterVerdict::NotAllowed
        } else {
            FilterVerdict::Permitted
        }
    }

    /// Whether `id` may be used.
    pub fn permits(&self, id: &str) -> bool {
        self.verdict(id) == FilterVerdict::Permitted
    }

    /// The allow list.
    pub fn allowed(&self) -> &ModelPatterns {
        &self.allowed
    }

    /// The deny list.
    pub fn excluded(&self) -> &ModelPatterns {
        &self.excluded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: [&str; 12] = [
        "openai/gpt-5.1",
        "openai/gpt-5-mini",
        "openai/gpt-5-nano",
        "anthropic/claude-opus-4.5",
        "anthropic/claude-sonnet-4.5",
        "anthropic/claude-haiku-4.5",
        "google/gemini-3.1-pro-preview",
        "google/gemini-2.5-flash",
        "deepseek/deepseek-v3.2",
        "meta-llama/llama-3.3-70b-instruct",
        "qwen/qwen3-coder",
        "mistralai/mistral-small-3.2-24b-instruct",
    ];

    fn matching(patterns: &[&str]) -> Vec<&'static str> {
        let patterns = ModelPatterns::new(patterns).unwrap();
        DEMO.into_iter()
            .filter(|id| patterns.is_match(id))
            .collect()
    }

    #[test]
    fn every_documented_example() {
        assert_eq!(
            matching(&["anthropic/*"]),
            [
                "anthropic/claude-opus-4.5",
                "anthropic/claude-sonnet-4.5",
                "anthropic/claude-haiku-4.5"
            ]
        );
        assert_eq!(
            matching(&["openai/gpt-5*"]),
            ["openai/gpt-5.1", "openai/gpt-5-mini", "openai/gpt-5-nano"]
        );
        assert_eq!(
            matching(&["google/*"]),
            ["google/gemini-3.1-pro-preview", "google/gemini-2.5-flash"]
        );
        assert_eq!(matching(&["openai/gpt-5.1"]), ["openai/gpt-5.1"]);
        assert_eq!(
            matching(&["*/claude-*"]),
            [
                "anthropic/claude-opus-4.5",
                "anthropic/claude-sonnet-4.5",
                "anthropic/claude-haiku-4.5"
            ]
        );
        assert_eq!(
            matching(&["anthropic/*", "openai/gpt-5.1"]),
            [
                "openai/gpt-5.1",
                "anthropic/claude-opus-4.5",
                "anthropic/claude-sonnet-4.5",
                "anthropic/claude-haiku-4.5"
            ]
        );
    }

    #[test]
    fn negative_cases() {
        let openai = ModelPatterns::new(&["openai/*"]).unwrap();
        assert!(!openai.is_match("openaix/gpt"));
        assert!(!openai.is_match("xopenai/gpt"));
        assert!(
            !ModelPatterns::new(&["OpenAI/*"])
                .unwrap()
                .is_match("openai/gpt-5.1")
        );
        assert!(
            !ModelPatterns::new(&["openai*"])
                .unwrap()
                .is_match("openai/gpt-5")
        );
        assert!(!ModelPatterns::new(&["*"]).unwrap().is_match("openai/gpt-5"));
        // Exact ids are anchored at both ends: no prefix or suffix matches.
        let exact = ModelPatterns::new(&["openai/gpt-5.1"]).unwrap();
        assert!(!exact.is_match("openai/gpt-5.1-mini"));
        assert!(!exact.is_match("x-openai/gpt-5.1"));
        // `.` is literal.
        assert!(!exact.is_match("openai/gpt-5x1"));
        assert!(
            ModelPatterns::new::<&str>(&[])
                .unwrap()
                .patterns()
                .is_empty()
        );
        assert!(
            !ModelPatterns::new::<&str>(&[])
                .unwrap()
                .is_match("openai/gpt-5.1")
        );
    }

    #[test]
    fn exclusion_wins_and_may_leave_nothing() {
        let filter = ModelFilter::new(&["anthropic/*"], &["anthropic/claude-opus-4.5"]).unwrap();
        assert_eq!(
            filter.verdict("anthropic/claude-opus-4.5"),
            FilterVerdict::Excluded
        );
        assert_eq!(
            filter.verdict("anthropic/claude-haiku-4.5"),
            FilterVerdict::Permitted
        );
        assert_eq!(filter.verdict("openai/gpt-5.1"), FilterVerdict::NotAllowed);
        let nothing = ModelFilter::new(&["openai/*"], &["openai/*"]).unwrap();
        assert!(DEMO.iter().all(|id| !nothing.permits(id)));
        let excluded_only = ModelFilter::new(&[], &["*/claude-*"]).unwrap();
        assert_eq!(
            DEMO.iter().filter(|id| excluded_only.permits(id)).count(),
            9
        );
        assert!(ModelFilter::permit_all().permits("a/b"));
    }

    #[test]
    fn invalid_patterns_are_named() {
        for bad in ["openai/[gpt", "", "a/{b", "open ai/*"] {
            let err = ModelPatterns::new(&["anthropic/*", bad]).unwrap_err();
            assert_eq!(err.pattern, bad);
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
        let long = "a".repeat(MAX_PATTERN_LEN + 1);
        assert_eq!(
            ModelPatterns::new(&[long.as_str()]).unwrap_err().pattern,
            long
        );
    }
}
