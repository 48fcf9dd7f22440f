//! OpenRouter's request fields that every wire format translates, read once per call.
//!
//! `reasoning` (`effort`, `max_tokens`, `exclude`, `enabled`), `reasoning_effort` and
//! `include_reasoning` become one [`Reasoning`]; each format turns it into its own parameter
//! (`thinking.budget_tokens`, `thinkingConfig`, `reasoning_effort`) and enforces `exclude` on
//! the way back. `user` is sent only as a stable hash ([`hashed_user`]). Tuning parameters the
//! endpoint's `supported_parameters` does not list are dropped, as for the OpenAI format.

use std::borrow::Cow;

use router_core::catalog::Endpoint;
use router_core::parameters;
use router_core::request::ChatRequest;
use serde::Deserialize;
use serde_json::value::RawValue;

/// What the request asked of reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reasoning {
    /// Reasoning was asked for (`reasoning` with `enabled` not false and an effort other than
    /// `none`, `reasoning_effort`, or `include_reasoning: true`).
    pub(crate) enabled: bool,
    /// Reasoning was turned off explicitly (`effort: "none"`, `enabled: false`).
    pub(crate) disabled: bool,
    /// `effort`, when given.
    pub(crate) effort: Option<Effort>,
    /// `max_tokens` of `reasoning`: the thinking budget.
    pub(crate) max_tokens: Option<u32>,
    /// Leave the reasoning out of the answer (`exclude: true`, `include_reasoning: false`).
    pub(crate) exclude: bool,
}

/// OpenRouter's effort levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effort {
    /// `minimal`.
    Minimal,
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `xhigh`, `max`.
    Max,
}

/// The fields a native format translates.
#[derive(Debug, Default)]
pub(crate) struct Options<'a> {
    /// See [`Reasoning`].
    pub(crate) reasoning: Reasoning,
    /// The hash of `user` (see [`hashed_user`]).
    pub(crate) user: Option<String>,
    /// `temperature`.
    pub(crate) temperature: Option<f64>,
    /// `top_p`.
    pub(crate) top_p: Option<f64>,
    /// `top_k`.
    pub(crate) top_k: Option<u32>,
    /// `frequency_penalty`.
    pub(crate) frequency_penalty: Option<f64>,
    /// `presence_penalty`.
    pub(crate) presence_penalty: Option<f64>,
    /// `seed`.
    pub(crate) seed: Option<i64>,
    /// `stop`, as a list.
    pub(crate) stop: Vec<Cow<'a, str>>,
    /// `response_format`.
    pub(crate) response_format: Option<ResponseFormat<'a>>,
}

/// `response_format`.
#[derive(Debug)]
pub(crate) enum ResponseFormat<'a> {
    /// `{"type":"json_object"}`.
    JsonObject,
    /// `{"type":"json_schema","json_schema":{"name","schema"}}`: the schema as sent.
    JsonSchema {
        /// `json_schema.schema`.
        schema: &'a RawValue,
    },
}

/// Why a translated field could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub(crate) struct OptionError {
    /// The field.
    pub(crate) field: &'static str,
    /// What is wrong.
    pub(crate) why: String,
}

// === impl Reasoning ===

impl Reasoning {
    /// Reads `reasoning`, `reasoning_effort` and `include_reasoning` from the request's
    /// pass-through fields.
    pub(crate) fn read(request: &ChatRequest<'_>) -> Result<Self, OptionError> {
        #[derive(Deserialize)]
        struct Wire<'a> {
            #[serde(borrow, default)]
            effort: Option<Cow<'a, str>>,
            #[serde(default)]
            max_tokens: Option<u32>,
            #[serde(default)]
            exclude: Option<bool>,
            #[serde(default)]
            enabled: Option<bool>,
        }
        let mut reasoning = Reasoning::default();
        for (key, raw) in &request.passthrough {
            if raw.is_null() {
                continue;
            }
            match key.as_ref() {
                "reasoning" => {
                    let wire: Wire<'_> = serde_json::from_str(raw.get())
                        .map_err(|err| OptionError::new("reasoning", err.to_string()))?;
                    reasoning.exclude |= wire.exclude.unwrap_or(false);
                    reasoning.max_tokens = wire.max_tokens;
                    match wire.effort.as_deref() {
                        Some("none") => reasoning.disabled = true,
                        Some(effort) => reasoning.effort = Some(Effort::parse(effort)?),
                        None => {}
                    }
                    match wire.enabled {
                        Some(false) => reasoning.disabled = true,
                        // `reasoning: {}` or `{"exclude": true}` alone enables it at the
                        // default effort, as OpenRouter does.
                        _ => reasoning.enabled |= !reasoning.disabled,
                    }
                }
                "reasoning_effort" => {
                    let effort: Cow<'_, str> = serde_json::from_str(raw.get())
                        .map_err(|err| OptionError::new("reasoning_effort", err.to_string()))?;
                    match effort.as_ref() {
                        "none" => reasoning.disabled = true,
                        effort => {
                            reasoning.effort = Some(Effort::parse(effort)?);
                            reasoning.enabled = true;
                        }
                    }
                }
                "include_reasoning" => {
                    let include: bool = serde_json::from_str(raw.get())
                        .map_err(|err| OptionError::new("include_reasoning", err.to_string()))?;
                    match include {
                        true => reasoning.enabled = true,
                        false => reasoning.exclude = true,
                    }
                }
                _ => {}
            }
        }
        if reasoning.disabled {
            reasoning.enabled = false;
        }
        Ok(reasoning)
    }

    /// The thinking budget for an answer of at most `max_output` tokens: `max_tokens` when
    /// given, else the effort's share of `max_output` (OpenRouter's ratios), at least 1024.
    pub(crate) fn budget(&self, max_output: u32) -> u32 {
        let budget = match (self.max_tokens, self.effort) {
            (Some(tokens), _) => tokens,
            (None, effort) => {
                let share = match effort.unwrap_or(Effort::Medium) {
                    Effort::Minimal => 0.1,
                    Effort::Low => 0.2,
                    Effort::Medium => 0.5,
                    Effort::High => 0.8,
                    Effort::Max => 0.95,
                };
                // `as` saturates; the budget is capped as OpenRouter caps it.
                ((f64::from(max_output) * share) as u32).min(32_000)
            }
        };
        budget.max(1024)
    }
}

impl Effort {
    fn parse(text: &str) -> Result<Self, OptionError> {
        match text {
            "minimal" => Ok(Effort::Minimal),
            "low" => Ok(Effort::Low),
            "medium" => Ok(Effort::Medium),
            "high" => Ok(Effort::High),
            "xhigh" | "max" => Ok(Effort::Max),
            other => Err(OptionError::new(
                "reasoning.effort",
                format!("`{other}` is not one of none, minimal, low, medium, high, xhigh, max"),
            )),
        }
    }

    /// The OpenAI `reasoning_effort` value.
    pub(crate) fn as_openai(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
            Effort::Max => "xhigh",
        }
    }
}

// === impl Options ===

impl<'a> Options<'a> {
    /// Reads the fields `endpoint` takes (`supported_parameters`) from `request`.
    pub(crate) fn read(
        request: &ChatRequest<'a>,
        endpoint: &Endpoint,
    ) -> Result<Self, OptionError> {
        let supported = endpoint.supported_parameters.as_slice();
        let mut options = Options {
            reasoning: Reasoning::read(request)?,
            ..Options::default()
        };
        if !parameters::forwarded("reasoning", supported) {
            // The endpoint cannot reason: keep only the client's wish to see none.
            options.reasoning = Reasoning {
                exclude: options.reasoning.exclude,
                ..Reasoning::default()
            };
        }
        for (key, raw) in &request.passthrough {
            if raw.is_null() || !parameters::forwarded(key, supported) {
                continue;
            }
            let text = raw.get();
            let number = |field: &'static str| {
                serde_json::from_str::<f64>(text)
                    .map_err(|err| OptionError::new(field, err.to_string()))
            };
            match key.as_ref() {
                "temperature" => options.temperature = Some(number("temperature")?),
                "top_p" => options.top_p = Some(number("top_p")?),
                "frequency_penalty" => {
                    options.frequency_penalty = Some(number("frequency_penalty")?)
                }
                "presence_penalty" => options.presence_penalty = Some(number("presence_penalty")?),
                "top_k" => {
                    options.top_k = Some(
                        serde_json::from_str(text)
                            .map_err(|err| OptionError::new("top_k", err.to_string()))?,
                    );
                }
                "seed" => {
                    options.seed = Some(
                        serde_json::from_str(text)
                            .map_err(|err| OptionError::new("seed", err.to_string()))?,
                    );
                }
                "stop" => options.stop = read_stop(text)?,
                "user" => {
                    let user: Cow<'_, str> = serde_json::from_str(text)
                        .map_err(|err| OptionError::new("user", err.to_string()))?;
                    options.user = Some(hashed_user(&user));
                }
                _ => {}
            }
        }
        if let Some(format) = request.response_format {
            options.response_format = read_response_format(format.get())?;
        }
        Ok(options)
    }
}

/// `stop`: a string or a list of strings.
fn read_stop(text: &str) -> Result<Vec<Cow<'_, str>>, OptionError> {
    let bad = |err: serde_json::Error| OptionError::new("stop", err.to_string());
    if text.starts_with('"') {
        return Ok(vec![serde_json::from_str(text).map_err(bad)?]);
    }
    serde_json::from_str(text).map_err(bad)
}

/// `response_format`; `text` (the default) is `None`.
fn read_response_format(text: &str) -> Result<Option<ResponseFormat<'_>>, OptionError> {
    #[derive(Deserialize)]
    struct Wire<'a> {
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
        #[serde(borrow, default)]
        json_schema: Option<Schema<'a>>,
    }
    #[derive(Deserialize)]
    struct Schema<'a> {
        #[serde(borrow)]
        schema: Option<&'a RawValue>,
    }
    let wire: Wire<'_> = serde_json::from_str(text)
        .map_err(|err| OptionError::new("response_format", err.to_string()))?;
    match (wire.kind.as_ref(), wire.json_schema) {
        ("text", _) => Ok(None),
        ("json_object", _) => Ok(Some(ResponseFormat::JsonObject)),
        (
            "json_schema",
            Some(Schema {
                schema: Some(schema),
            }),
        ) => Ok(Some(ResponseFormat::JsonSchema { schema })),
        ("json_schema", _) => Err(OptionError::new(
            "response_format.json_schema.schema",
            "is required".to_owned(),
        )),
        (other, _) => Err(OptionError::new(
            "response_format.type",
            format!("`{other}` is not one of text, json_object, json_schema"),
        )),
    }
}

/// The value sent upstream for `user`: `u-` and the first 32 hex digits of its BLAKE3 hash, the
/// same for the same user on every call, and not reversible to the id the client sent.
pub(crate) fn hashed_user(user: &str) -> String {
    let hash = blake3::hash(user.as_bytes());
    let hex = hash.to_hex();
    format!("u-{}", &hex.as_str()[..32])
}

impl OptionError {
    fn new(field: &'static str, why: String) -> Self {
        Self { field, why }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasoning(body: &str) -> Reasoning {
        Reasoning::read(&ChatRequest::parse(body.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn reads_every_spelling_of_reasoning() {
        let msgs = r#""messages":[{"role":"user","content":"x"}]"#;
        let on = reasoning(&format!(r#"{{{msgs},"reasoning":{{"effort":"high"}}}}"#));
        assert!(on.enabled && !on.exclude);
        assert_eq!(on.effort, Some(Effort::High));
        let excluded = reasoning(&format!(
            r#"{{{msgs},"reasoning":{{"max_tokens":2000,"exclude":true}}}}"#
        ));
        assert!(excluded.enabled && excluded.exclude);
        assert_eq!(excluded.budget(8000), 2000);
        let off = reasoning(&format!(r#"{{{msgs},"reasoning":{{"effort":"none"}}}}"#));
        assert!(!off.enabled && off.disabled);
        let off = reasoning(&format!(r#"{{{msgs},"reasoning":{{"enabled":false}}}}"#));
        assert!(!off.enabled && off.disabled);
        let legacy = reasoning(&format!(r#"{{{msgs},"include_reasoning":false}}"#));
        assert!(!legacy.enabled && legacy.exclude);
        let effort = reasoning(&format!(r#"{{{msgs},"reasoning_effort":"low"}}"#));
        assert_eq!((effort.enabled, effort.budget(20_000)), (true, 4000));
        assert_eq!(reasoning(&format!("{{{msgs}}}")), Reasoning::default());
    }

    #[test]
    fn budgets_are_at_least_1024_and_at_most_32000() {
        let medium = Reasoning {
            enabled: true,
            ..Reasoning::default()
        };
        assert_eq!(medium.budget(1000), 1024);
        assert_eq!(medium.budget(1_000_000), 32_000);
    }

    #[test]
    fn users_are_hashed_stably() {
        let once = hashed_user("alice@example.com");
        assert_eq!(once, hashed_user("alice@example.com"));
        assert_ne!(once, hashed_user("bob@example.com"));
        assert!(!once.contains("alice"));
        assert_eq!(once.len(), 34);
    }
}
