//! The config file as written: `Raw…` structs that mirror the TOML and reject unknown keys.
//!
//! Each field's doc says what `docs/config.md` says about its key. Defaults live here; checks
//! that need more than one value (references, uniqueness, ranges) live in `validate`.
//!
//! Providers, client keys, models and endpoints are [`Deferred`]: the outer struct keeps them as
//! TOML values and `validate` deserializes each on its own, so a typo in one model does not hide
//! the problems of the next. Numbers and booleans may also be written as strings, so that they
//! can come from a `${VAR}`.
//!
//! These structs hold secrets as plain strings and so deliberately do not implement `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use router_core::auto::settings::CostTier;
use router_core::fallback::FallbackPolicy;
use router_upstream::ProviderKind;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_path_to_error::Segment;
use toml::Value;

use super::problems::{Problems, join_index, join_key};

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    /// `[server]`: listening address and request limits.
    #[serde(default)]
    pub(super) server: Deferred<RawServer>,
    /// `[routing]`: routing limits.
    #[serde(default)]
    pub(super) routing: Deferred<RawRouting>,
    /// `[[keys]]`: the keys clients authenticate with; at least one.
    #[serde(default)]
    pub(super) keys: Vec<Deferred<RawClientKey>>,
    /// `[providers.<name>]`: the upstream providers, by name; at least one.
    #[serde(default)]
    pub(super) providers: BTreeMap<String, Deferred<RawProvider>>,
    /// `[[models]]`: the catalog; at least one model.
    #[serde(default)]
    pub(super) models: Vec<Deferred<RawModel>>,
    /// `[sessions]`: sticky routing (see `super::sessions`).
    #[serde(default)]
    pub(super) sessions: Deferred<super::sessions::RawSessions>,
    /// `[front]`: the Anthropic Messages, Responses and legacy completions endpoints.
    #[serde(default)]
    pub(super) front: Deferred<RawFront>,
    /// `[settings]`: the pages' settings (who may sign in as admin, whether saving is allowed).
    #[serde(default)]
    pub(super) settings: Deferred<RawSettings>,
    /// `[telemetry]`: where traces go.
    #[serde(default)]
    pub(super) telemetry: Deferred<RawTelemetry>,
    /// `[redis]`: the Redis replicas share state through (see `super::redis`).
    #[serde(default)]
    pub(super) redis: Option<Deferred<super::redis::RawRedis>>,
    /// `[limits]`: how key limits behave across replicas (see `super::limits`).
    #[serde(default)]
    pub(super) limits: Option<Deferred<super::limits::RawLimits>>,
    /// `[keys_api]`: the provisioning key of `/api/v1/keys` (see `super::keys_api`).
    #[serde(default)]
    pub(super) keys_api: Option<Deferred<super::keys_api::RawKeysApi>>,
}

/// `[front]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFront {
    /// `[front.model_aliases]`: model names clients send (`claude-sonnet-4-5`) and the catalog
    /// ids they stand for. Default: none.
    #[serde(default)]
    pub(super) model_aliases: BTreeMap<String, String>,
}

/// `[telemetry]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelemetry {
    /// The OTLP/HTTP collector's base URL. Default: none (no traces).
    #[serde(default)]
    pub(super) otlp_endpoint: Option<String>,
}

/// `[settings]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSettings {
    /// Whether the pages may save settings. Default true.
    #[serde(default = "default_true")]
    pub(super) editable: bool,
    /// A key that signs in to the pages as admin (sees every key). Default: none.
    #[serde(default)]
    pub(super) admin_key: Option<String>,
}

fn default_true() -> bool {
    true
}

/// `[server]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    /// IP address and port to listen on. Default `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub(super) listen: String,
    /// Largest request body: a number of bytes, or a size such as `"10MiB"`. Default 10 MiB.
    #[serde(default = "default_body_limit")]
    pub(super) body_limit: ByteSize,
    /// Interval of `: OPENROUTER PROCESSING` comments before a stream's first token, in
    /// milliseconds. Default 1000.
    #[serde(default = "default_keepalive_interval_ms", deserialize_with = "number")]
    pub(super) keepalive_interval_ms: u64,
    /// Time a client has to send a request (head and body), in milliseconds. Default 30000.
    #[serde(
        default = "default_request_read_timeout_ms",
        deserialize_with = "number"
    )]
    pub(super) request_read_timeout_ms: u64,
    /// SQLite file for generation records. Default: none.
    #[serde(default)]
    pub(super) records_path: Option<String>,
    /// Most client connections open at once. Default: from the process's file limit.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) max_connections: Option<u64>,
    /// Time a client may take to accept response bytes before it is dropped, in milliseconds.
    /// Default 30000.
    #[serde(default = "default_write_timeout_ms", deserialize_with = "number")]
    pub(super) write_timeout_ms: u64,
    /// Time requests in flight get to finish after SIGTERM or SIGINT, in milliseconds. Default
    /// 30000.
    #[serde(default = "default_shutdown_grace_ms", deserialize_with = "number")]
    pub(super) shutdown_grace_ms: u64,
    /// `{ cert, key }`: PEM files to terminate TLS with. Default: plain HTTP.
    #[serde(default)]
    pub(super) tls: Option<RawTls>,
    /// SQLite file for the settings saved on the pages. Default: the records file, else memory.
    #[serde(default)]
    pub(super) settings_path: Option<String>,
    /// `postgres://` URL of the database for generation records (instead of `records_path`).
    /// Default: none.
    #[serde(default)]
    pub(super) records_url: Option<String>,
    /// Most generation records waiting in memory for their database. Default 100000.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) records_buffer: Option<u64>,
}

/// `server.tls`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    /// PEM file with the certificate chain, leaf first.
    pub(super) cert: String,
    /// PEM file with the private key.
    pub(super) key: String,
}

/// `[routing]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRouting {
    /// Most entries in a request's `models` list. Default 3, as OpenRouter.
    #[serde(default = "default_max_models", deserialize_with = "number")]
    pub(super) max_models: usize,
    /// Whether a model's endpoints are load-balanced by price when a request sets neither
    /// `provider.sort` nor `provider.order`. Default true, as OpenRouter; `false` tries them in
    /// config order.
    #[serde(default = "default_true")]
    pub(super) load_balance: bool,
    /// `[routing.auto]`: the Auto Router.
    #[serde(default)]
    pub(super) auto: RawAutoRouter,
    /// `[routing.health]`: endpoint cool-downs and outage detection.
    #[serde(default)]
    pub(super) health: RawHealth,
}

/// `[routing.health]`: when an endpoint is deprioritised or cooled down.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    /// Failed calls in a row that put an endpoint in cool-down. Default 5.
    #[serde(default = "default_failures_to_cool_down", deserialize_with = "number")]
    pub(super) failures_to_cool_down: u32,
    /// How long a cool-down lasts, in milliseconds. Default 30000.
    #[serde(default = "default_cooldown_ms", deserialize_with = "number")]
    pub(super) cooldown_ms: u64,
    /// How long a failure makes an endpoint unstable (tried after the stable ones), in
    /// milliseconds. Default 30000.
    #[serde(default = "default_outage_window_ms", deserialize_with = "number")]
    pub(super) outage_window_ms: u64,
}

/// `[routing.auto]`: the Auto Router's names, profile, number of picks and global defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAutoRouter {
    /// Model ids that select the Auto Router. Default `["openrouter/auto"]`; `[]` turns it off.
    #[serde(default = "default_auto_alias")]
    pub(super) alias: Vec<String>,
    /// Path of the quality profile (JSON). Default: the demo profile built into Turnout.
    #[serde(default)]
    pub(super) profile: Option<String>,
    /// How many models the router picks: the primary and its fallbacks. Default 3.
    #[serde(default = "default_auto_top_k", deserialize_with = "number")]
    pub(super) top_k: usize,
    /// Global default: patterns a chosen model must match. Default: any model.
    #[serde(default)]
    pub(super) allowed_models: Option<Vec<String>>,
    /// Global default: patterns no chosen model may match. Default: none.
    #[serde(default)]
    pub(super) excluded_models: Option<Vec<String>>,
    /// Global default dial, 0 (best model) to 10 (cheapest capable model). Default 7.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) cost_quality_tradeoff: Option<i64>,
    /// Global default dial as a tier (`low` 9, `medium` 7, `high` 5, `xhigh` 3, `max` 1); wins
    /// over `cost_quality_tradeoff`. Default: none.
    #[serde(default)]
    pub(super) cost_tier: Option<CostTier>,
    /// Global default of `pin_model`. Default false.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) pin_model: Option<bool>,
}

/// `auto_router = { … }` of a `[[keys]]` entry: the key's Auto Router defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAutoDefaults {
    /// Patterns a chosen model must match.
    #[serde(default)]
    pub(super) allowed_models: Option<Vec<String>>,
    /// Patterns no chosen model may match.
    #[serde(default)]
    pub(super) excluded_models: Option<Vec<String>>,
    /// The dial, 0 to 10.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) cost_quality_tradeoff: Option<i64>,
    /// The dial as a tier; wins over `cost_quality_tradeoff`.
    #[serde(default)]
    pub(super) cost_tier: Option<CostTier>,
    /// Reuse the model of the last assistant message.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) pin_model: Option<bool>,
}

/// One `[[keys]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClientKey {
    /// Label of the key, unique; shown in records and logs instead of the key.
    pub(super) name: String,
    /// The key clients send as `Authorization: Bearer <key>`; unique, no whitespace.
    pub(super) key: String,
    /// Which failures move this key's requests on to the next model or provider:
    /// `{ except = [...] }` or `{ on = [...] }`. Default: every failure (OpenRouter's).
    #[serde(default)]
    pub(super) fallback_policy: Option<FallbackPolicy>,
    /// The key's Auto Router defaults, between a request's plugin and `[routing.auto]`.
    /// Default: none.
    #[serde(default)]
    pub(super) auto_router: Option<RawAutoDefaults>,
    /// The key's provider preferences (the request's `provider` object), under the request's.
    /// Default: none.
    #[serde(default)]
    pub(super) provider: Option<toml::Table>,
    /// Credit in USD per `limit_reset` period (see `super::limits`). Default: none.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) limit: Option<f64>,
    /// `daily`, `weekly`, `monthly` or `none`. Default: none.
    #[serde(default)]
    pub(super) limit_reset: Option<String>,
    /// Requests per minute. Default: none.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) rpm: Option<u64>,
    /// Tokens per minute. Default: none.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) tpm: Option<u64>,
    /// The models this key may use (globs). Default: all.
    #[serde(default)]
    pub(super) allowed_models: Option<Vec<String>>,
}

/// One `[providers.<name>]` section. The name is a lowercase slug (`[a-z0-9_/-]`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    /// Human-readable name (`OpenAI`). Default: the provider's name.
    #[serde(default)]
    pub(super) display_name: Option<String>,
    /// Wire format: `openai` (alias `openai-compatible`). Default `openai`.
    #[serde(default = "default_kind")]
    pub(super) kind: ProviderKind,
    /// API base URL, `http://` or `https://`; requests go to `{base_url}/chat/completions`.
    pub(super) base_url: String,
    /// Provider API key, sent as `Authorization: Bearer <key>`. Default: empty, no header.
    #[serde(default)]
    pub(super) api_key: String,
    /// Time to open a connection, in milliseconds. Default 5000.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) connect_timeout_ms: Option<u64>,
    /// Time from sending the request to the response headers, in milliseconds; exceeding it
    /// moves on to the next candidate. Default 60000.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) first_byte_timeout_ms: Option<u64>,
    /// Time from sending a streaming request to its first output token, in milliseconds;
    /// exceeding it moves on to the next candidate. Default: `first_byte_timeout_ms`.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) first_token_timeout_ms: Option<u64>,
    /// Longest gap between two chunks of a stream, in milliseconds. Default 60000.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) idle_timeout_ms: Option<u64>,
    /// Time for the whole request, body or stream included, in milliseconds. Default 600000.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) total_timeout_ms: Option<u64>,
    /// Extra headers sent on every request to this provider. Default: none.
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
    /// Largest answer read from this provider (a non-streaming body, or one stream event): a
    /// number of bytes, or a size such as `"32MiB"`. Default 32 MiB.
    #[serde(default)]
    pub(super) max_response_bytes: Option<ByteSize>,
}

/// One `[[models]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    /// Public id, `author/slug`, unique.
    pub(super) id: String,
    /// Display name. Default: the id.
    #[serde(default)]
    pub(super) name: Option<String>,
    /// Unix seconds when the model was published. Default 0.
    #[serde(default, deserialize_with = "number")]
    pub(super) created: u64,
    /// Free-text description. Default: empty.
    #[serde(default)]
    pub(super) description: String,
    /// `[[models.endpoints]]`: where the model is served, in order of preference; at least one.
    #[serde(default)]
    pub(super) endpoints: Vec<Deferred<RawEndpoint>>,
}

/// One `[[models.endpoints]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    /// Name of a configured provider.
    pub(super) provider: String,
    /// The model name the provider expects (`gpt-5.1`, `deepseek-ai/DeepSeek-V3.2`).
    pub(super) upstream_model: String,
    /// Maximum prompt plus completion tokens; at least 1.
    #[serde(deserialize_with = "number")]
    pub(super) context_length: u32,
    /// Maximum completion tokens, at most `context_length`. Default: no separate limit.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) max_output: Option<u32>,
    /// Request parameters the endpoint honours (OpenRouter's vocabulary). Default: none.
    #[serde(default)]
    pub(super) supported_parameters: Vec<String>,
    /// What the endpoint can do beyond text chat. Default: nothing.
    #[serde(default)]
    pub(super) capabilities: RawCapabilities,
    /// Prices in USD per million tokens; required, `validate` reports it missing.
    #[serde(default)]
    pub(super) pricing: Option<RawPricing>,
    /// Weight precision (`fp8`, `bf16`, …), matched by `provider.quantizations`. Default:
    /// `unknown`.
    #[serde(default)]
    pub(super) quantization: Option<String>,
    /// `allow` (the provider may keep or train on prompts) or `deny`. Default `allow`.
    #[serde(default)]
    pub(super) data_collection: Option<String>,
    /// Zero data retention. Default false.
    #[serde(default, deserialize_with = "number")]
    pub(super) zdr: bool,
    /// Typical time to first token in milliseconds, used by `sort: latency` until measured.
    /// Default: none.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) latency_ms: Option<f64>,
    /// Typical output tokens per second, used by `sort: throughput` until measured.
    /// Default: none.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) throughput: Option<f64>,
}

/// `capabilities = { … }` of an endpoint.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCapabilities {
    /// Function calling. Default false.
    #[serde(default, deserialize_with = "number")]
    pub(super) tools: bool,
    /// Image inputs. Default false.
    #[serde(default, deserialize_with = "number")]
    pub(super) vision: bool,
    /// `response_format` with a JSON schema. Default false.
    #[serde(default, deserialize_with = "number")]
    pub(super) structured_output: bool,
}

/// `pricing = { … }` of an endpoint: USD per **million** tokens, `request` USD per request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPricing {
    /// Prompt tokens not read from a cache. Required.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) prompt: Option<f64>,
    /// Completion tokens. Required.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) completion: Option<f64>,
    /// Prompt tokens read from the provider's cache. Default: billed as `prompt`.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) cache_read: Option<f64>,
    /// Prompt tokens written to the provider's cache. Default: billed as `prompt`.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) cache_write: Option<f64>,
    /// Reasoning tokens, when priced apart from completion. Default: billed as `completion`.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) reasoning: Option<f64>,
    /// A fixed price per request, in USD. Default 0.
    #[serde(default, deserialize_with = "optional_number")]
    pub(super) request: Option<f64>,
}

/// A size in bytes, written as an integer or as a string with a unit (`"10MiB"`, `"512 KB"`).
pub(super) struct ByteSize(pub(super) u64);

/// A part of the tree that is deserialized into `T` later, on its own, so that its problems are
/// reported next to those of its siblings rather than instead of them.
pub(super) struct Deferred<T> {
    value: Value,
    target: PhantomData<fn() -> T>,
}

/// Deserializes `value` into `T`, recording a problem at `path` (plus the path inside `value`)
/// when it does not fit.
pub(super) fn deserialize<T: DeserializeOwned>(
    value: Value,
    path: &str,
    problems: &mut Problems,
) -> Option<T> {
    let err = match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(it) => return Some(it),
        Err(err) => err,
    };
    let mut full_path = path.to_owned();
    for segment in err.path() {
        full_path = match segment {
            Segment::Seq { index } => join_index(&full_path, *index),
            Segment::Map { key } | Segment::Enum { variant: key } => join_key(&full_path, key),
            Segment::Unknown => continue,
        };
    }
    let message = err.into_inner().message().to_owned();
    // Serde speaks of fields; a config file has keys. A missing key is reported at its own path.
    if let Some(key) = message
        .strip_prefix("missing field `")
        .and_then(|it| it.strip_suffix('`'))
    {
        problems.push(join_key(&full_path, key), "is required");
    } else if let Some(rest) = message.strip_prefix("unknown field") {
        problems.push(full_path, format!("unknown key{rest}"));
    } else {
        problems.push(full_path, message);
    }
    None
}

// === impl Deferred ===

impl<T: DeserializeOwned> Deferred<T> {
    /// Deserializes the deferred value; see [`deserialize`].
    pub(super) fn parse(self, path: &str, problems: &mut Problems) -> Option<T> {
        deserialize(self.value, path, problems)
    }
}

impl<T> Default for Deferred<T> {
    /// An empty table: a missing section gets every default.
    fn default() -> Self {
        Self {
            value: Value::Table(toml::Table::new()),
            target: PhantomData,
        }
    }
}

impl<'de, T> Deserialize<'de> for Deferred<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self {
            value: Value::deserialize(deserializer)?,
            target: PhantomData,
        })
    }
}

// === impl ByteSize ===

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Integer(bytes) => u64::try_from(bytes)
                .map(ByteSize)
                .map_err(|_| D::Error::custom("a size cannot be negative")),
            Value::String(text) => parse_byte_size(&text)
                .map(ByteSize)
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "expected a number of bytes or a size such as \"10MiB\", found {}",
                other.type_str()
            ))),
        }
    }
}

/// Parses `"10MiB"`, `"512 KB"`, `"1048576"`: an integer, optional spaces, an optional unit (`B`,
/// `KB`, `MB`, `GB` in powers of 1000, `KiB`, `MiB`, `GiB` in powers of 1024; any case).
fn parse_byte_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits_end = text
        .find(|it: char| !it.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let invalid =
        || format!("`{text}` is not a size: write bytes, or a number and a unit such as \"10MiB\"");
    let count: u64 = digits.parse().map_err(|_| invalid())?;
    let multiplier: u64 = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(invalid()),
    };
    count
        .checked_mul(multiplier)
        .ok_or_else(|| format!("`{text}` is too large"))
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

fn default_body_limit() -> ByteSize {
    ByteSize(10 << 20)
}

fn default_keepalive_interval_ms() -> u64 {
    1000
}

fn default_request_read_timeout_ms() -> u64 {
    30_000
}

fn default_write_timeout_ms() -> u64 {
    30_000
}

fn default_shutdown_grace_ms() -> u64 {
    30_000
}

fn default_max_models() -> usize {
    3
}

fn default_failures_to_cool_down() -> u32 {
    5
}

fn default_cooldown_ms() -> u64 {
    30_000
}

fn default_outage_window_ms() -> u64 {
    30_000
}

impl Default for RawHealth {
    /// A missing `[routing.health]` section gets every default.
    fn default() -> Self {
        Self {
            failures_to_cool_down: default_failures_to_cool_down(),
            cooldown_ms: default_cooldown_ms(),
            outage_window_ms: default_outage_window_ms(),
        }
    }
}

fn default_auto_alias() -> Vec<String> {
    vec!["openrouter/auto".to_owned()]
}

fn default_auto_top_k() -> usize {
    3
}

impl Default for RawAutoRouter {
    /// A missing `[routing.auto]` section gets every default.
    fn default() -> Self {
        Self {
            alias: default_auto_alias(),
            profile: None,
            top_k: default_auto_top_k(),
            allowed_models: None,
            excluded_models: None,
            cost_quality_tradeoff: None,
            cost_tier: None,
            pin_model: None,
        }
    }
}

impl RawAutoRouter {
    /// The global defaults, in the shape a key's defaults have.
    pub(super) fn defaults(&mut self) -> RawAutoDefaults {
        RawAutoDefaults {
            allowed_models: self.allowed_models.take(),
            excluded_models: self.excluded_models.take(),
            cost_quality_tradeoff: self.cost_quality_tradeoff.take(),
            cost_tier: self.cost_tier.take(),
            pin_model: self.pin_model.take(),
        }
    }
}

fn default_kind() -> ProviderKind {
    ProviderKind::OpenAiCompatible
}

/// A number (or boolean) written natively or as a string, so that it can come from a `${VAR}`.
pub(super) fn number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + FromStr,
    T::Err: fmt::Display,
{
    match Value::deserialize(deserializer)? {
        Value::String(text) => text
            .trim()
            .parse()
            .map_err(|err| D::Error::custom(format!("cannot read `{text}`: {err}"))),
        other => T::deserialize(other).map_err(|err| D::Error::custom(err.message())),
    }
}

/// [`number`], for a key that may be absent (combine with `#[serde(default)]`).
fn optional_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + FromStr,
    T::Err: fmt::Display,
{
    number(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_take_units() {
        assert_eq!(parse_byte_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_byte_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_byte_size("10 mib"), Ok(10 << 20));
        assert_eq!(parse_byte_size("512KB"), Ok(512_000));
        assert_eq!(parse_byte_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_byte_size("7B"), Ok(7));
        assert!(parse_byte_size("ten MiB").is_err());
        assert!(parse_byte_size("10 MiBs").is_err());
        assert!(parse_byte_size("1.5MiB").is_err());
        assert!(parse_byte_size("").is_err());
        assert!(parse_byte_size("99999999999999999999GiB").is_err());
    }
}
