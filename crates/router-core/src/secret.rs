//! A secret string (API keys) whose `Debug` and `Display` print a fixed mask.

use std::fmt;

/// A secret value, such as a provider API key or a client key.
///
/// `Debug` and `Display` print `***`; the value is only reachable through [`Secret::expose`], so
/// a key cannot end up in a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call only where it is sent (an `Authorization` header) or compared.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (no key configured).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn never_prints_the_value() {
        let secret = Secret::new("sk-live-123");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(secret.expose(), "sk-live-123");
    }
}
