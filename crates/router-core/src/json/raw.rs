//! JSON text known to be one valid value: borrowed ([`Json`]) and owned ([`RawJson`]).

use std::fmt;

use super::scan::{ScanError, Scanner};

/// The text of one valid JSON value inside a larger document, as [`Scanner::value`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Json<'a>(&'a str);

impl<'a> Json<'a> {
    /// Only the scanner makes these, from text it has checked.
    pub(super) fn new(text: &'a str) -> Self {
        Json(text)
    }

    /// The value's text, exactly as it appeared.
    pub fn get(self) -> &'a str {
        self.0
    }

    /// Whether the value is `null`.
    pub fn is_null(self) -> bool {
        self.0 == "null"
    }
}

/// An owned copy of one valid JSON value's text, forwarded verbatim.
#[derive(Clone, PartialEq, Eq)]
pub struct RawJson(Box<str>);

impl RawJson {
    /// Checks that `text` is one JSON value (whitespace around it is dropped).
    pub fn parse(text: &str) -> Result<Self, ScanError> {
        let mut scanner = Scanner::new(text);
        let value = scanner.value()?;
        scanner.finish()?;
        Ok(RawJson::from(value))
    }

    /// `[]`.
    pub fn empty_array() -> Self {
        RawJson("[]".into())
    }

    /// The value's text.
    pub fn get(&self) -> &str {
        &self.0
    }
}

impl From<Json<'_>> for RawJson {
    fn from(value: Json<'_>) -> Self {
        RawJson(value.0.into())
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
