//! Provider preferences: the request's `provider` object, parsed and checked.
//!
//! [`Preferences::parse`] reads OpenRouter's `provider` object. Unknown members are ignored, as
//! OpenRouter does; a known member of the wrong type is a [`PreferenceError`] naming it
//! (`provider.order`). Every member is optional, so that a client key's defaults (from the
//! server's config) can sit under the request's ([`Preferences::over`]).
//!
//! What each member does to a plan is [`crate::plan`]'s business: filters (`only`, `ignore`,
//! `quantizations`, `data_collection`, `zdr`, `max_price`, `require_parameters`) remove
//! endpoints, `order` and `sort` order them, `allow_fallbacks: false` keeps only the first (or
//! the ordered ones), `preferred_min_throughput` and `preferred_max_latency` move the endpoints
//! that miss them to the end. `enforce_distillable_text` is accepted and has no effect (the
//! catalog does not say which authors allow distillation).
//!
//! Provider names in `order`, `only` and `ignore` match an endpoint's slug or its provider's
//! display name, case-insensitively; a base slug (`deepinfra`) also matches the endpoint slugs
//! under it (`deepinfra/turbo`) ([`names_endpoint`]).

use serde_json::{Map, Value};

use crate::catalog::{DataCollection, Endpoint};

/// Tokens per unit of `max_price.prompt` and `max_price.completion` (USD per million tokens).
const TOKENS_PER_PRICE_UNIT: f64 = 1_000_000.0;

/// How endpoints are sorted (`sort`, or `sort.by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// Cheapest first (a typical request's price, [`typical_price`]).
    Price,
    /// Most output tokens per second first.
    Throughput,
    /// Shortest time to first token first.
    Latency,
}

/// Whether a sort keeps each model's endpoints together (`sort.partition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Partition {
    /// Endpoints are sorted within each model, models stay in the client's order (the default).
    #[default]
    Model,
    /// The endpoints of every model are sorted together.
    None,
}

/// `sort`, in its string or object form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// The key.
    pub by: SortBy,
    /// Whether models stay together.
    pub partition: Partition,
}

/// `max_price`: the most a request may pay, per token (converted from USD per million tokens),
/// per request and per image.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MaxPrice {
    /// USD per prompt token.
    pub prompt: Option<f64>,
    /// USD per completion token.
    pub completion: Option<f64>,
    /// USD per request.
    pub request: Option<f64>,
    /// USD per image (endpoints have no image price here, so it never removes one).
    pub image: Option<f64>,
}

/// Percentile cutoffs of `preferred_min_throughput` (tokens per second) or
/// `preferred_max_latency` (seconds). A plain number is `p50`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cutoffs {
    /// Median.
    pub p50: Option<f64>,
    /// 75th percentile.
    pub p75: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

/// The `provider` object. `None` members are unset (the key's default, then OpenRouter's,
/// applies).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Preferences {
    /// Providers to try first, in this order (lowercase).
    pub order: Option<Vec<String>>,
    /// `false`: only the ordered providers (or the first endpoint) are tried.
    pub allow_fallbacks: Option<bool>,
    /// Only these providers (lowercase).
    pub only: Option<Vec<String>>,
    /// Never these providers (lowercase).
    pub ignore: Option<Vec<String>>,
    /// Explicit ordering; turns load balancing off.
    pub sort: Option<Sort>,
    /// Hard price ceilings.
    pub max_price: Option<MaxPrice>,
    /// Only endpoints that list every parameter of the request.
    pub require_parameters: Option<bool>,
    /// `deny`: only providers that neither store nor train on prompts.
    pub data_collection: Option<DataCollection>,
    /// `true`: only zero-data-retention endpoints.
    pub zdr: Option<bool>,
    /// Only endpoints with one of these quantizations (lowercase; `unknown` matches endpoints
    /// that do not say).
    pub quantizations: Option<Vec<String>>,
    /// Soft: endpoints slower than this go to the end.
    pub preferred_min_throughput: Option<Cutoffs>,
    /// Soft: endpoints slower to the first token than this go to the end.
    pub preferred_max_latency: Option<Cutoffs>,
    /// Accepted; has no effect.
    pub enforce_distillable_text: Option<bool>,
}

/// A `provider` member of the wrong type or value. The server answers 400 naming `field`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct PreferenceError {
    /// The member's path, such as `provider.order` or `provider.max_price.prompt`.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

// === impl Preferences ===

impl Preferences {
    /// Parses the `provider` object's JSON text (an object; the request parser checked that).
    pub fn parse(json: &str) -> Result<Self, PreferenceError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|err| PreferenceError::new("provider", err.to_string()))?;
        let Value::Object(members) = value else {
            return Err(PreferenceError::new("provider", "must be an object"));
        };
        Self::from_members(&members)
    }

    /// Reads the members of a `provider` object (also used for config defaults).
    pub fn from_members(members: &Map<String, Value>) -> Result<Self, PreferenceError> {
        let mut prefs = Preferences::default();
        for (key, value) in members {
            if value.is_null() {
                continue;
            }
            let field = format!("provider.{key}");
            match key.as_str() {
                "order" => prefs.order = Some(names(&field, value)?),
                "only" => prefs.only = Some(names(&field, value)?),
                "ignore" => prefs.ignore = Some(names(&field, value)?),
                "quantizations" => prefs.quantizations = Some(names(&field, value)?),
                "allow_fallbacks" => prefs.allow_fallbacks = Some(boolean(&field, value)?),
                "require_parameters" => prefs.require_parameters = Some(boolean(&field, value)?),
                "zdr" => prefs.zdr = Some(boolean(&field, value)?),
                "enforce_distillable_text" => {
                    prefs.enforce_distillable_text = Some(boolean(&field, value)?);
                }
                "data_collection" => {
                    prefs.data_collection = Some(match value.as_str() {
                        Some("allow") => DataCollection::Allow,
                        Some("deny") => DataCollection::Deny,
                        _ => {
                            return Err(PreferenceError::new(
                                &field,
                                "must be \"allow\" or \"deny\"",
                            ));
                        }
                    });
                }
                "sort" => prefs.sort = Some(sort(&field, value)?),
                "max_price" => prefs.max_price = Some(max_price(&field, value)?),
                "preferred_min_throughput" => {
                    prefs.preferred_min_throughput = Some(cutoffs(&field, value)?);
                }
                "preferred_max_latency" => {
                    prefs.preferred_max_latency = Some(cutoffs(&field, value)?);
                }
                _ => {}
            }
        }
        Ok(prefs)
    }

    /// These preferences over `defaults` (a client key's): each member set here wins, except
    /// that `only` narrows the default's list (intersection), `ignore` adds to it (union), and
    /// `zdr` can turn ZDR on but never off.
    pub fn over(mut self, defaults: &Preferences) -> Preferences {
        self.only = match (self.only.take(), &defaults.only) {
            (Some(mine), Some(theirs)) => {
                Some(mine.into_iter().filter(|it| theirs.contains(it)).collect())
            }
            (mine, theirs) => mine.or_else(|| theirs.clone()),
        };
        if let Some(theirs) = &defaults.ignore {
            let ignore = self.ignore.get_or_insert_with(Vec::new);
            for name in theirs {
                if !ignore.contains(name) {
                    ignore.push(name.clone());
                }
            }
        }
        if defaults.zdr == Some(true) {
            self.zdr = Some(true);
        }
        macro_rules! inherit {
            ($($member:ident),*) => {
                $(if self.$member.is_none() {
                    self.$member = defaults.$member.clone();
                })*
            };
        }
        inherit!(
            order,
            allow_fallbacks,
            sort,
            max_price,
            require_parameters,
            data_collection,
            zdr,
            quantizations,
            preferred_min_throughput,
            preferred_max_latency,
            enforce_distillable_text
        );
        self
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Preferences::default()
    }
}

// === impl Cutoffs ===

impl Cutoffs {
    /// Whether `stats` (p50, p75, p90, p99) meet every cutoff as a floor (`at_least`) or a
    /// ceiling; a cutoff without a measurement of its percentile is not met.
    pub fn met_by(&self, stats: Option<[f64; 4]>, at_least: bool) -> bool {
        let cutoffs = [self.p50, self.p75, self.p90, self.p99];
        cutoffs
            .iter()
            .enumerate()
            .all(|(idx, cutoff)| match cutoff {
                None => true,
                Some(cutoff) => stats.is_some_and(|stats| {
                    if at_least {
                        stats[idx] >= *cutoff
                    } else {
                        stats[idx] <= *cutoff
                    }
                }),
            })
    }
}

// === impl PreferenceError ===

impl PreferenceError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Whether the name `wanted` (lowercase, from `order`, `only` or `ignore`) names `endpoint`: its
/// slug, its display name, or a base slug of it (`deepinfra` for `deepinfra/turbo`).
pub fn names_endpoint(wanted: &str, endpoint: &Endpoint) -> bool {
    let slug = endpoint.provider.as_str();
    slug.eq_ignore_ascii_case(wanted)
        || endpoint.traits.provider_name.eq_ignore_ascii_case(wanted)
        || slug
            .split_once('/')
            .is_some_and(|(base, _)| base.eq_ignore_ascii_case(wanted))
}

/// The price of a typical request at `endpoint`, in USD: 1,000 prompt and 1,000 completion
/// tokens plus the per-request price. Load balancing weighs endpoints by its inverse square.
pub fn typical_price(endpoint: &Endpoint) -> f64 {
    let pricing = &endpoint.pricing;
    1000.0 * (pricing.prompt + pricing.completion) + pricing.request
}

fn names(field: &str, value: &Value) -> Result<Vec<String>, PreferenceError> {
    let Value::Array(items) = value else {
        return Err(PreferenceError::new(field, "must be an array of strings"));
    };
    items
        .iter()
        .enumerate()
        .map(|(idx, item)| match item {
            Value::String(name) => Ok(name.to_ascii_lowercase()),
            _ => Err(PreferenceError::new(
                &format!("{field}[{idx}]"),
                "must be a string",
            )),
        })
        .collect()
}

fn boolean(field: &str, value: &Value) -> Result<bool, PreferenceError> {
    value
        .as_bool()
        .ok_or_else(|| PreferenceError::new(field, "must be a boolean"))
}

fn sort(field: &str, value: &Value) -> Result<Sort, PreferenceError> {
    let sort_by = |field: &str, value: &Value| match value.as_str() {
        Some("price") => Ok(SortBy::Price),
        Some("throughput") => Ok(SortBy::Throughput),
        Some("latency") => Ok(SortBy::Latency),
        Some("exacto") => Err(PreferenceError::new(
            field,
            "`exacto` is not supported: use \"price\", \"throughput\" or \"latency\"",
        )),
        _ => Err(PreferenceError::new(
            field,
            "must be \"price\", \"throughput\" or \"latency\" (or an object with `by` and \
             `partition`)",
        )),
    };
    match value {
        Value::Object(members) => {
            let by_field = format!("{field}.by");
            let by = match members.get("by") {
                Some(by) => sort_by(&by_field, by)?,
                None => return Err(PreferenceError::new(&by_field, "is required")),
            };
            let partition = match members.get("partition") {
                None | Some(Value::Null) => Partition::Model,
                Some(partition) => match partition.as_str() {
                    Some("model") => Partition::Model,
                    Some("none") => Partition::None,
                    _ => {
                        return Err(PreferenceError::new(
                            &format!("{field}.partition"),
                            "must be \"model\" or \"none\"",
                        ));
                    }
                },
            };
            Ok(Sort { by, partition })
        }
        other => Ok(Sort {
            by: sort_by(field, other)?,
            partition: Partition::Model,
        }),
    }
}

/// A non-negative number, written as a number or a numeric string.
fn amount(field: &str, value: &Value) -> Result<f64, PreferenceError> {
    let number = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    match number {
        Some(number) if number.is_finite() && number >= 0.0 => Ok(number),
        _ => Err(PreferenceError::new(
            field,
            "must be a number >= 0 (or a string holding one)",
        )),
    }
}

fn max_price(field: &str, value: &Value) -> Result<MaxPrice, PreferenceError> {
    let Value::Object(members) = value else {
        return Err(PreferenceError::new(
            field,
            "must be an object such as {\"prompt\": 1, \"completion\": 2}",
        ));
    };
    let mut price = MaxPrice::default();
    for (key, value) in members {
        if value.is_null() {
            continue;
        }
        let member = format!("{field}.{key}");
        match key.as_str() {
            "prompt" => price.prompt = Some(amount(&member, value)? / TOKENS_PER_PRICE_UNIT),
            "completion" => {
                price.completion = Some(amount(&member, value)? / TOKENS_PER_PRICE_UNIT);
            }
            "request" => price.request = Some(amount(&member, value)?),
            "image" => price.image = Some(amount(&member, value)?),
            // `audio` and anything newer: checked, then without effect (no endpoint has them).
            _ => _ = amount(&member, value)?,
        }
    }
    Ok(price)
}

fn cutoffs(field: &str, value: &Value) -> Result<Cutoffs, PreferenceError> {
    match value {
        Value::Object(members) => {
            let mut cutoffs = Cutoffs::default();
            for (key, value) in members {
                if value.is_null() {
                    continue;
                }
                let member = format!("{field}.{key}");
                let slot = match key.as_str() {
                    "p50" => &mut cutoffs.p50,
                    "p75" => &mut cutoffs.p75,
                    "p90" => &mut cutoffs.p90,
                    "p99" => &mut cutoffs.p99,
                    _ => continue,
                };
                *slot = Some(amount(&member, value)?);
            }
            Ok(cutoffs)
        }
        Value::Number(_) => Ok(Cutoffs {
            p50: Some(amount(field, value)?),
            ..Cutoffs::default()
        }),
        _ => Err(PreferenceError::new(
            field,
            "must be a number or an object of percentiles ({\"p50\": …, \"p90\": …})",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Preferences, PreferenceError> {
        Preferences::parse(json)
    }

    #[test]
    fn reads_every_member() {
        let prefs = parse(
            r#"{"order":["OpenAI","deepinfra"],"allow_fallbacks":false,"only":["a"],
            "ignore":["B"],"sort":{"by":"throughput","partition":"none"},
            "max_price":{"prompt":"1","completion":2,"request":0.01,"audio":3},
            "require_parameters":true,"data_collection":"deny","zdr":true,
            "quantizations":["FP8"],"preferred_min_throughput":{"p90":50},
            "preferred_max_latency":3,"enforce_distillable_text":true,"future":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(
            prefs.order.as_deref(),
            Some(&["openai".to_owned(), "deepinfra".to_owned()][..])
        );
        assert_eq!(prefs.allow_fallbacks, Some(false));
        assert_eq!(prefs.ignore.as_deref(), Some(&["b".to_owned()][..]));
        assert_eq!(
            prefs.sort,
            Some(Sort {
                by: SortBy::Throughput,
                partition: Partition::None
            })
        );
        let max_price = prefs.max_price.unwrap();
        assert_eq!(max_price.prompt, Some(1e-6));
        assert_eq!(max_price.completion, Some(2e-6));
        assert_eq!(max_price.request, Some(0.01));
        assert_eq!(prefs.data_collection, Some(DataCollection::Deny));
        assert_eq!(
            prefs.quantizations.as_deref(),
            Some(&["fp8".to_owned()][..])
        );
        assert_eq!(prefs.preferred_min_throughput.unwrap().p90, Some(50.0));
        assert_eq!(prefs.preferred_max_latency.unwrap().p50, Some(3.0));
        assert_eq!(
            parse(r#"{"sort":"price"}"#)
                .unwrap()
                .sort
                .unwrap()
                .partition,
            Partition::Model
        );
        assert!(parse(r#"{"order":null}"#).unwrap().is_empty());
    }

    #[test]
    fn a_known_member_of_the_wrong_type_is_named() {
        for (json, field) in [
            (r#"{"order":"notalist"}"#, "provider.order"),
            (r#"{"order":[1]}"#, "provider.order[0]"),
            (r#"{"only":{}}"#, "provider.only"),
            (r#"{"ignore":true}"#, "provider.ignore"),
            (r#"{"sort":12345}"#, "provider.sort"),
            (r#"{"sort":"fastest"}"#, "provider.sort"),
            (r#"{"sort":"exacto"}"#, "provider.sort"),
            (r#"{"sort":{"partition":"none"}}"#, "provider.sort.by"),
            (
                r#"{"sort":{"by":"price","partition":"all"}}"#,
                "provider.sort.partition",
            ),
            (r#"{"allow_fallbacks":"no"}"#, "provider.allow_fallbacks"),
            (r#"{"require_parameters":1}"#, "provider.require_parameters"),
            (r#"{"data_collection":"never"}"#, "provider.data_collection"),
            (r#"{"zdr":"yes"}"#, "provider.zdr"),
            (r#"{"quantizations":"fp8"}"#, "provider.quantizations"),
            (r#"{"max_price":5}"#, "provider.max_price"),
            (
                r#"{"max_price":{"prompt":"cheap"}}"#,
                "provider.max_price.prompt",
            ),
            (
                r#"{"max_price":{"completion":-1}}"#,
                "provider.max_price.completion",
            ),
            (
                r#"{"preferred_min_throughput":"fast"}"#,
                "provider.preferred_min_throughput",
            ),
            (
                r#"{"preferred_max_latency":{"p90":"x"}}"#,
                "provider.preferred_max_latency.p90",
            ),
            (
                r#"{"enforce_distillable_text":"x"}"#,
                "provider.enforce_distillable_text",
            ),
        ] {
            assert_eq!(parse(json).unwrap_err().field, field, "{json}");
        }
    }

    #[test]
    fn request_preferences_sit_over_key_defaults() {
        let defaults =
            parse(r#"{"only":["a","b"],"ignore":["x"],"zdr":true,"sort":"price"}"#).unwrap();
        let request = parse(r#"{"only":["b","c"],"ignore":["y"],"zdr":false}"#).unwrap();
        let merged = request.over(&defaults);
        assert_eq!(merged.only.unwrap(), ["b"]);
        assert_eq!(merged.ignore.unwrap(), ["y", "x"]);
        assert_eq!(merged.zdr, Some(true));
        assert_eq!(merged.sort.unwrap().by, SortBy::Price);
    }
}
