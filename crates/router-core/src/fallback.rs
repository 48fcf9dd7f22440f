//! The fallback policy: which kinds of failure move a request on to the next attempt of its plan.
//!
//! Failures are described by a provider-neutral [`FailureClass`], the one failure vocabulary of
//! the workspace: a provider client's error carries one (the upstream crate classifies statuses
//! and error bodies into it), and each [`crate::plan::SkipReason`] names its own. A
//! [`FallbackPolicy`] is the set of classes that fall back. The default is OpenRouter's: any error
//! falls back ("context length validation errors, moderation flags, rate-limiting, downtime").
//!
//! A stricter policy comes from a client key's configuration or from the request's router-owned
//! `fallback_policy` field, in one of two shapes (class names in snake case):
//!
//! - `{"except": ["moderation"]}`: every class but the named ones falls back;
//! - `{"on": ["rate_limited", "unavailable", "timeout"]}`: only the named classes fall back.
//!
//! Our own validation errors (a bad body, an unknown model) never reach the policy: they are the
//! client's and are answered before any attempt. After the first streamed token reached the
//! client no fallback is possible whatever the policy says.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// What kind of failure ended an attempt, independent of the provider's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The provider rate-limited the request (HTTP 429).
    RateLimited,
    /// The prompt plus the requested output does not fit the model's context window, as the
    /// provider said or as the plan's pre-check estimated.
    ContextLength,
    /// The provider's moderation refused the request.
    Moderation,
    /// The provider is down or overloaded (5xx, 529).
    Unavailable,
    /// The provider did not answer in time (no first byte or token, idle stream, total deadline).
    Timeout,
    /// No connection could be made.
    Connect,
    /// The provider refused the router's own credentials.
    Auth,
    /// The provider rejected the request as invalid (a 4xx other than the ones above).
    BadRequest,
    /// The provider does not know the model or path.
    NotFound,
    /// The provider answered 2xx with something that is not a valid completion.
    InvalidResponse,
    /// The stream broke after it started.
    StreamInterrupted,
    /// The plan skipped the model before any call: none of its endpoints supports a capability the
    /// request needs (tools, images, structured outputs).
    Unsupported,
}

/// The set of [`FailureClass`]es after which the next attempt of the plan is tried.
///
/// `Default` is [`FallbackPolicy::any`], OpenRouter's behaviour.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FallbackPolicy {
    /// Bit `class as u16` is set when that class falls back.
    classes: u16,
}

/// Why a `fallback_policy` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// Where in the policy value the problem is, relative to it: `""` for the value itself,
    /// `except[1]` for an element.
    pub path: String,
    /// What is wrong and what is expected.
    pub message: String,
}

// === impl FailureClass ===

impl FailureClass {
    /// Every class, in declaration order.
    pub const ALL: [FailureClass; 12] = [
        FailureClass::RateLimited,
        FailureClass::ContextLength,
        FailureClass::Moderation,
        FailureClass::Unavailable,
        FailureClass::Timeout,
        FailureClass::Connect,
        FailureClass::Auth,
        FailureClass::BadRequest,
        FailureClass::NotFound,
        FailureClass::InvalidResponse,
        FailureClass::StreamInterrupted,
        FailureClass::Unsupported,
    ];

    /// The snake-case name used in policies (`rate_limited`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::RateLimited => "rate_limited",
            FailureClass::ContextLength => "context_length",
            FailureClass::Moderation => "moderation",
            FailureClass::Unavailable => "unavailable",
            FailureClass::Timeout => "timeout",
            FailureClass::Connect => "connect",
            FailureClass::Auth => "auth",
            FailureClass::BadRequest => "bad_request",
            FailureClass::NotFound => "not_found",
            FailureClass::InvalidResponse => "invalid_response",
            FailureClass::StreamInterrupted => "stream_interrupted",
            FailureClass::Unsupported => "unsupported",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`FailureClass::from_str`]: the name is not a class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown failure class `{0}`; expected one of {names}", names = class_names())]
pub struct UnknownFailureClass(pub String);

impl FromStr for FailureClass {
    type Err = UnknownFailureClass;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        FailureClass::ALL
            .into_iter()
            .find(|class| class.as_str() == name)
            .ok_or_else(|| UnknownFailureClass(name.to_owned()))
    }
}

// === impl FallbackPolicy ===

impl FallbackPolicy {
    /// Every failure falls back (OpenRouter's default).
    pub fn any() -> Self {
        Self::only(FailureClass::ALL)
    }

    /// Only the given classes fall back; every other failure ends the request.
    pub fn only(classes: impl IntoIterator<Item = FailureClass>) -> Self {
        let classes = classes
            .into_iter()
            .fold(0, |bits, class| bits | class.bit());
        Self { classes }
    }

    /// Every class except the given ones falls back.
    pub fn except(classes: impl IntoIterator<Item = FailureClass>) -> Self {
        let excluded = Self::only(classes).classes;
        Self {
            classes: Self::any().classes & !excluded,
        }
    }

    /// Whether a failure of `class` moves on to the next attempt.
    pub fn should_fall_back(&self, class: FailureClass) -> bool {
        self.classes & class.bit() != 0
    }

    /// The classes that fall back, in declaration order.
    pub fn classes(&self) -> impl Iterator<Item = FailureClass> + '_ {
        FailureClass::ALL
            .into_iter()
            .filter(|class| self.should_fall_back(*class))
    }

    /// Parses a policy from JSON: `{"except": [names…]}` or `{"on": [names…]}`.
    ///
    /// Exactly one of the two keys must be present; names are [`FailureClass::as_str`] values.
    /// Errors carry the path of the offending part (`except[1]`).
    pub fn parse_json(json: &str) -> Result<Self, PolicyError> {
        let Ok(serde_json::Value::Object(object)) = serde_json::from_str(json) else {
            return Err(PolicyError::new(
                "",
                "expected an object: {\"except\": [...]} or {\"on\": [...]}",
            ));
        };
        let mut spec = None;
        for (key, value) in &object {
            let is_on = match key.as_str() {
                "on" => true,
                "except" => false,
                _ => {
                    return Err(PolicyError::new(
                        key.as_str(),
                        "unknown key; expected `on` or `except`",
                    ));
                }
            };
            if spec.is_some() {
                return Err(PolicyError::new(
                    "",
                    "give either `on` or `except`, not both",
                ));
            }
            spec = Some((is_on, parse_names(key, value)?));
        }
        match spec {
            Some((true, classes)) => Ok(Self::only(classes)),
            Some((false, classes)) => Ok(Self::except(classes)),
            None => Err(PolicyError::new("", "expected `on` or `except`")),
        }
    }
}

impl Default for FallbackPolicy {
    fn default() -> Self {
        Self::any()
    }
}

impl fmt::Debug for FallbackPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.classes()).finish()
    }
}

/// The shape of a policy in configuration files: `except = [...]` or `on = [...]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    on: Option<Vec<FailureClass>>,
    except: Option<Vec<FailureClass>>,
}

impl<'de> Deserialize<'de> for FallbackPolicy {
    /// Reads `{except = [...]}` or `{on = [...]}` from any serde format (the config file).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match PolicySpec::deserialize(deserializer)? {
            PolicySpec {
                on: Some(on),
                except: None,
            } => Ok(Self::only(on)),
            PolicySpec {
                on: None,
                except: Some(except),
            } => Ok(Self::except(except)),
            _ => Err(serde::de::Error::custom(
                "a fallback policy has exactly one of `on` or `except`",
            )),
        }
    }
}

// === impl PolicyError ===

impl PolicyError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

fn parse_names(key: &str, value: &serde_json::Value) -> Result<Vec<FailureClass>, PolicyError> {
    let Some(items) = value.as_array() else {
        return Err(PolicyError::new(
            key,
            "expected an array of failure class names",
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(idx, item)| {
            let path = || format!("{key}[{idx}]");
            let name = item
                .as_str()
                .ok_or_else(|| PolicyError::new(path(), "expected a string"))?;
            name.parse()
                .map_err(|err: UnknownFailureClass| PolicyError::new(path(), err.to_string()))
        })
        .collect()
}

fn class_names() -> String {
    let names: Vec<_> = FailureClass::ALL
        .iter()
        .map(|class| format!("`{class}`"))
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_falls_back_on_everything() {
        let policy = FallbackPolicy::default();
        assert!(
            FailureClass::ALL
                .iter()
                .all(|class| policy.should_fall_back(*class))
        );
    }

    #[test]
    fn names_round_trip() {
        for class in FailureClass::ALL {
            assert_eq!(class.as_str().parse::<FailureClass>(), Ok(class));
        }
        let err = "moderaton".parse::<FailureClass>().unwrap_err();
        assert!(err.to_string().contains("`moderation`"), "{err}");
    }

    #[test]
    fn parses_except_and_on() {
        let except = FallbackPolicy::parse_json(r#"{"except":["moderation"]}"#).unwrap();
        assert!(!except.should_fall_back(FailureClass::Moderation));
        assert!(except.should_fall_back(FailureClass::RateLimited));
        assert_eq!(except.classes().count(), FailureClass::ALL.len() - 1);

        let on = FallbackPolicy::parse_json(r#"{"on":["rate_limited","timeout"]}"#).unwrap();
        assert_eq!(
            on.classes().collect::<Vec<_>>(),
            [FailureClass::RateLimited, FailureClass::Timeout]
        );
        let never = FallbackPolicy::parse_json(r#"{"on":[]}"#).unwrap();
        assert_eq!(never.classes().count(), 0);
    }

    #[test]
    fn bad_policies_say_where() {
        let cases = [
            (r#"{"except":["moderation","nope"]}"#, "except[1]"),
            (r#"{"except":[1]}"#, "except[0]"),
            (r#"{"except":"moderation"}"#, "except"),
            (r#"{"sometimes":[]}"#, "sometimes"),
            (r#"{"on":[],"except":[]}"#, ""),
            (r#"{}"#, ""),
            (r#"["moderation"]"#, ""),
        ];
        for (json, path) in cases {
            let err = FallbackPolicy::parse_json(json).unwrap_err();
            assert_eq!(err.path, path, "{json}: {err}");
        }
    }

    #[test]
    fn deserializes_from_config_shapes() {
        let policy: FallbackPolicy =
            serde_json::from_str(r#"{"except":["moderation","context_length"]}"#).unwrap();
        assert_eq!(
            policy,
            FallbackPolicy::except([FailureClass::Moderation, FailureClass::ContextLength])
        );
        assert!(serde_json::from_str::<FallbackPolicy>(r#"{"on":[],"except":[]}"#).is_err());
        assert!(serde_json::from_str::<FallbackPolicy>(r#"{"on":["nope"]}"#).is_err());
    }
}
