//! The Auto Router's settings: the `auto-router` plugin of a request, a client key's defaults and
//! the global defaults, layered.
//!
//! ```json
//! "plugins": [{"id": "auto-router", "allowed_models": ["anthropic/*"], "excluded_models": [],
//!              "cost_quality_tradeoff": 3, "cost_tier": "high", "enabled": true}]
//! ```
//!
//! - `cost_quality_tradeoff` is an integer `0..=10`: 0 picks the best model whatever it costs,
//!   10 the cheapest model that can take the request; the default is 7.
//! - `cost_tier` is a shorthand for it: `low` = 9, `medium` = 7, `high` = 5, `xhigh` = 3,
//!   `max` = 1.
//! - **Precedence.** Within one layer, `cost_tier` wins over `cost_quality_tradeoff` when both
//!   are given (OpenRouter's current documentation; its older pages defined only the number).
//!   Across layers the dial is one setting: the request's `cost_quality_tradeoff` overrides a
//!   key default given as `cost_tier`, and so on. Every other field layers on its own: request,
//!   else key defaults, else global defaults, else the built-in default.
//! - Plugins with other ids are ignored; wrong types and out-of-range values are errors that name
//!   the field (`plugins[0].cost_quality_tradeoff`), which the server answers with a 400.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::json::Json;
use crate::patterns::{MAX_PATTERN_LEN, ModelFilter, PatternError};

/// The plugin id the Auto Router reads.
pub const PLUGIN_ID: &str = "auto-router";

/// The dial when nothing sets it (OpenRouter's Auto Router default).
pub const DEFAULT_TRADEOFF: u8 = 7;

/// At most this many patterns per list.
pub const MAX_PATTERNS: usize = 1024;

/// At most this many bytes of patterns per list.
pub const MAX_PATTERN_BYTES: usize = 65_536;

/// A named point of the dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostTier {
    /// Cheap: dial 9.
    Low,
    /// Balanced: dial 7.
    Medium,
    /// Dial 5.
    High,
    /// Dial 3.
    Xhigh,
    /// Best quality: dial 1.
    Max,
}

impl CostTier {
    /// The `cost_quality_tradeoff` this tier stands for.
    pub fn tradeoff(self) -> u8 {
        match self {
            CostTier::Low => 9,
            CostTier::Medium => 7,
            CostTier::High => 5,
            CostTier::Xhigh => 3,
            CostTier::Max => 1,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "low" => Some(CostTier::Low),
            "medium" => Some(CostTier::Medium),
            "high" => Some(CostTier::High),
            "xhigh" => Some(CostTier::Xhigh),
            "max" => Some(CostTier::Max),
            _ => None,
        }
    }
}

/// One layer of settings: every field optional. A request's plugin, a key's defaults and the
/// global defaults are each one of these (config files deserialize it directly).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoPlugin {
    /// `enabled`: `false` turns the Auto Router off for the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `allowed_models`: patterns a chosen model must match (empty or absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_models: Option<Vec<String>>,
    /// `excluded_models`: patterns no chosen model may match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_models: Option<Vec<String>>,
    /// `cost_quality_tradeoff`, `0..=10`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_quality_tradeoff: Option<u8>,
    /// `cost_tier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_tier: Option<CostTier>,
    /// `pin_model`: reuse the model of the last assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_model: Option<bool>,
}

/// Settings with every layer applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSettings {
    /// Whether the Auto Router runs.
    pub enabled: bool,
    /// Allowed patterns (empty: any model).
    pub allowed_models: Vec<String>,
    /// Excluded patterns.
    pub excluded_models: Vec<String>,
    /// The dial, `0..=10`.
    pub cost_quality_tradeoff: u8,
    /// Reuse the model of the last assistant message.
    pub pin_model: bool,
}

impl Default for AutoSettings {
    fn default() -> Self {
        AutoSettings::resolve(None, None, &AutoPlugin::default())
    }
}

/// A setting with the wrong type or value; the server answers with a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct SettingsError {
    /// The field's path, such as `plugins[0].cost_quality_tradeoff`.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl AutoPlugin {
    /// The dial this layer sets, if any: `cost_tier` wins over `cost_quality_tradeoff`.
    pub fn tradeoff(&self) -> Option<u8> {
        self.cost_tier
            .map(CostTier::tradeoff)
            .or(self.cost_quality_tradeoff)
    }

    /// Reads the `auto-router` plugin from a request's raw `plugins` array. `Ok(None)` when there
    /// is none; other plugin ids are ignored. When several `auto-router` entries are given, the
    /// last wins.
    pub fn from_plugins(plugins: Option<Json<'_>>) -> Result<Option<AutoPlugin>, SettingsError> {
        let Some(raw) = plugins else {
            return Ok(None);
        };
        let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| SettingsError {
            field: "plugins".to_owned(),
            message: "expected an array of plugin objects".to_owned(),
        })?;
        let mut found = None;
        for (idx, item) in items.iter().enumerate() {
            let at = |field: &str| format!("plugins[{idx}].{field}");
            let Ok(object) = serde_json::from_str::<serde_json::Map<String, Value>>(item.get())
            else {
                return Err(SettingsError {
                    field: format!("plugins[{idx}]"),
                    message: "expected an object".to_owned(),
                });
            };
            match object.get("id") {
                Some(Value::String(id)) if id == PLUGIN_ID => {}
                Some(Value::String(_)) => continue,
                _ => {
                    return Err(SettingsError {
                        field: at("id"),
                        message: "expected a string".to_owned(),
                    });
                }
            }
            found = Some(AutoPlugin::from_object(&object, &at)?);
        }
        Ok(found)
    }

    fn from_object(
        object: &serde_json::Map<String, Value>,
        at: &dyn Fn(&str) -> String,
    ) -> Result<AutoPlugin, SettingsError> {
        let error = |field: &str, message: &str| SettingsError {
            field: at(field),
            message: message.to_owned(),
        };
        let mut plugin = AutoPlugin::default();
        for (key, value) in object {
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "enabled" => {
                    plugin.enabled = Some(
                        value
                            .as_bool()
                            .ok_or_else(|| error(key, "expected a boolean"))?,
                    );
                }
                "pin_model" => {
                    plugin.pin_model = Some(
                        value
                            .as_bool()
                            .ok_or_else(|| error(key, "expected a boolean"))?,
                    );
                }
                "allowed_models" => plugin.allowed_models = Some(patterns(value, &at(key))?),
                "excluded_models" => plugin.excluded_models = Some(patterns(value, &at(key))?),
                "cost_quality_tradeoff" => {
                    let dial = value
                        .as_u64()
                        .filter(|it| *it <= 10)
                        .ok_or_else(|| error(key, "expected an integer from 0 to 10"))?;
                    plugin.cost_quality_tradeoff = Some(dial as u8);
                }
                "cost_tier" => {
                    let tier = value
                        .as_str()
                        .and_then(CostTier::from_name)
                        .ok_or_else(|| {
                            error(
                                key,
                                "expected one of `low`, `medium`, `high`, `xhigh`, `max`",
                            )
                        })?;
                    plugin.cost_tier = Some(tier);
                }
                // `id` was checked by the caller; unknown fields are ignored for forward
                // compatibility, as OpenRouter does.
                _ => {}
            }
        }
        Ok(plugin)
    }
}

fn patterns(value: &Value, field: &str) -> Result<Vec<String>, SettingsError> {
    let error = |message: &str| SettingsError {
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let items = value
        .as_array()
        .ok_or_else(|| error("expected an array of model patterns (strings)"))?;
    if items.len() > MAX_PATTERNS {
        return Err(error("at most 1024 patterns"));
    }
    let mut total = 0;
    let mut out = Vec::with_capacity(items.len());
    for (idx, item) in items.iter().enumerate() {
        let pattern = item.as_str().ok_or_else(|| SettingsError {
            field: format!("{field}[{idx}]"),
            message: "expected a string".to_owned(),
        })?;
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(SettingsError {
                field: format!("{field}[{idx}]"),
                message: "a pattern must be at most 1024 bytes".to_owned(),
            });
        }
        total += pattern.len();
        out.push(pattern.to_owned());
    }
    if total > MAX_PATTERN_BYTES {
        return Err(error("at most 65536 bytes of patterns in total"));
    }
    Ok(out)
}

impl AutoSettings {
    /// Layers the request's plugin over the key's defaults over the global defaults.
    pub fn resolve(
        request: Option<&AutoPlugin>,
        key_defaults: Option<&AutoPlugin>,
        global_defaults: &AutoPlugin,
    ) -> AutoSettings {
        let layers = [request, key_defaults, Some(global_defaults)];
        let first = |field: &dyn Fn(&AutoPlugin) -> Option<_>| {
            layers.iter().flatten().find_map(|it| field(it))
        };
        AutoSettings {
            enabled: layers
                .iter()
                .flatten()
                .find_map(|it| it.enabled)
                .unwrap_or(true),
            allowed_models: first_list(&layers, |it| it.allowed_models.as_ref()),
            excluded_models: first_list(&layers, |it| it.excluded_models.as_ref()),
            cost_quality_tradeoff: first(&|it| it.tradeoff()).unwrap_or(DEFAULT_TRADEOFF),
            pin_model: layers
                .iter()
                .flatten()
                .find_map(|it| it.pin_model)
                .unwrap_or(false),
        }
    }

    /// Compiles the allowed and excluded patterns.
    pub fn filter(&self) -> Result<ModelFilter, PatternError> {
        ModelFilter::new(&self.allowed_models, &self.excluded_models)
    }
}

fn first_list(
    layers: &[Option<&AutoPlugin>],
    field: impl Fn(&AutoPlugin) -> Option<&Vec<String>>,
) -> Vec<String> {
    layers
        .iter()
        .flatten()
        .find_map(|it| field(it))
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(json: &str) -> Result<Option<AutoPlugin>, SettingsError> {
        let raw = crate::json::Scanner::new(json).value().unwrap();
        AutoPlugin::from_plugins(Some(raw))
    }

    #[test]
    fn reads_every_field_and_ignores_other_plugins() {
        let parsed = plugin(
            r#"[{"id":"web"},{"id":"auto-router","allowed_models":["anthropic/*"],"excluded_models":["*/claude-opus-*"],"cost_quality_tradeoff":3,"enabled":true,"pin_model":false,"future_field":1}]"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            parsed.allowed_models.as_deref(),
            Some(&["anthropic/*".to_owned()][..])
        );
        assert_eq!(parsed.excluded_models.as_ref().map(Vec::len), Some(1));
        assert_eq!(parsed.tradeoff(), Some(3));
        assert_eq!(parsed.enabled, Some(true));
        assert_eq!(plugin(r#"[{"id":"web","max_results":3}]"#).unwrap(), None);
        assert_eq!(AutoPlugin::from_plugins(None).unwrap(), None);
    }

    #[test]
    fn wrong_types_and_ranges_name_the_field() {
        let cases = [
            (
                r#"[{"id":"auto-router","cost_quality_tradeoff":11}]"#,
                "plugins[0].cost_quality_tradeoff",
            ),
            (
                r#"[{"id":"auto-router","cost_quality_tradeoff":-1}]"#,
                "plugins[0].cost_quality_tradeoff",
            ),
            (
                r#"[{"id":"auto-router","cost_quality_tradeoff":2.5}]"#,
                "plugins[0].cost_quality_tradeoff",
            ),
            (
                r#"[{"id":"auto-router","cost_quality_tradeoff":"7"}]"#,
                "plugins[0].cost_quality_tradeoff",
            ),
            (
                r#"[{"id":"x"},{"id":"auto-router","cost_tier":"cheap"}]"#,
                "plugins[1].cost_tier",
            ),
            (
                r#"[{"id":"auto-router","allowed_models":"openai/*"}]"#,
                "plugins[0].allowed_models",
            ),
            (
                r#"[{"id":"auto-router","excluded_models":["a/*",3]}]"#,
                "plugins[0].excluded_models[1]",
            ),
            (
                r#"[{"id":"auto-router","enabled":"yes"}]"#,
                "plugins[0].enabled",
            ),
            (r#"[{"id":7}]"#, "plugins[0].id"),
            (r#"[3]"#, "plugins[0]"),
        ];
        for (json, field) in cases {
            let err = plugin(json).unwrap_err();
            assert_eq!(err.field, field, "{json}: {err}");
            assert!(err.to_string().starts_with(&format!("`{field}`")));
        }
    }

    #[test]
    fn cost_tier_is_a_shorthand_and_wins_within_a_layer() {
        let tiers = [
            ("low", 9),
            ("medium", 7),
            ("high", 5),
            ("xhigh", 3),
            ("max", 1),
        ];
        for (name, dial) in tiers {
            let json = format!(
                r#"[{{"id":"auto-router","cost_tier":"{name}","cost_quality_tradeoff":0}}]"#
            );
            let parsed = plugin(&json).unwrap().unwrap();
            assert_eq!(
                AutoSettings::resolve(Some(&parsed), None, &AutoPlugin::default())
                    .cost_quality_tradeoff,
                dial
            );
        }
    }

    #[test]
    fn layers_request_over_key_over_global() {
        let global = AutoPlugin {
            cost_quality_tradeoff: Some(8),
            allowed_models: Some(vec!["openai/*".to_owned()]),
            ..AutoPlugin::default()
        };
        let key = AutoPlugin {
            cost_tier: Some(CostTier::High),
            excluded_models: Some(vec!["openai/gpt-5.1".to_owned()]),
            ..AutoPlugin::default()
        };
        let request = AutoPlugin {
            cost_quality_tradeoff: Some(2),
            ..AutoPlugin::default()
        };
        assert_eq!(
            AutoSettings::default().cost_quality_tradeoff,
            DEFAULT_TRADEOFF
        );
        assert!(AutoSettings::default().enabled);
        assert_eq!(
            AutoSettings::resolve(None, None, &global).cost_quality_tradeoff,
            8
        );
        let key_only = AutoSettings::resolve(None, Some(&key), &global);
        assert_eq!(key_only.cost_quality_tradeoff, 5);
        assert_eq!(key_only.allowed_models, ["openai/*"]);
        assert_eq!(key_only.excluded_models, ["openai/gpt-5.1"]);
        let all = AutoSettings::resolve(Some(&request), Some(&key), &global);
        assert_eq!(all.cost_quality_tradeoff, 2);
        let filter = all.filter().unwrap();
        assert!(filter.permits("openai/gpt-5-mini") && !filter.permits("openai/gpt-5.1"));
    }
}
