//! The config file: one TOML file is the source of truth (providers, models, client keys).
//!
//! Loading runs in four steps, each in its own module:
//!
//! 1. the text is parsed as TOML into a [`toml::Value`] tree;
//! 2. `expand` replaces `${VAR}` and `${VAR:-default}` in every string value of that tree, so
//!    any value can come from the environment;
//! 3. `raw` deserializes the tree into `Raw…` structs that mirror the file and reject unknown
//!    keys; each provider, client key, model and endpoint is deserialized on its own, so one bad
//!    entry does not hide the problems of the others;
//! 4. `validate` turns the raw structs into the validated [`Config`]: provider references
//!    resolve, prices are present and finite, ids are unique, and so on; the larger sections
//!    have a module of their own (`providers`, `models`, `limits`, `keys_api`, `redis`,
//!    `sessions`).
//!
//! Every step records problems (in `problems`) instead of stopping at the first, and each
//! problem carries the key path it is about (`models[2].endpoints[0].provider`), so one start of
//! the server lists everything wrong with a file. Within one section or entry, a value of the
//! wrong type or an unknown key stops that entry, so its remaining keys are checked on the next
//! run. Every key is documented in `docs/config.md`.
//!
//! Secrets (provider API keys, client keys) become [`Secret`]s, which never print.

mod expand;
mod keys_api;
mod limits;
mod models;
mod problems;
mod providers;
mod raw;
mod redis;
mod sessions;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use router_core::auto::settings::AutoPlugin;
use router_core::catalog::Catalog;
use router_core::fallback::FallbackPolicy;
use router_core::health::HealthSettings;
use router_core::provider::Preferences;
use router_core::secret::Secret;
use router_upstream::ProviderSettings;

pub use self::keys_api::KeysApiSettings;
pub use self::limits::{KeyLimits, LimitReset, LimitSettings};
pub use self::redis::RedisSettings;
pub use self::sessions::{SessionSettings, SessionStoreKind};

/// The validated server configuration.
///
/// Built only by [`load_file`] or [`load_str`]; every reference in it resolves (each endpoint's
/// provider is in `providers`) and every price is present.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `[server]` section: where to listen and request limits.
    pub server: ServerSettings,
    /// The `[providers.<name>]` sections, sorted by name.
    pub providers: Vec<ProviderConfig>,
    /// The `[[models]]`, in file order (the order of `/models`).
    pub catalog: Catalog,
    /// The `[[keys]]` clients authenticate with, in file order.
    pub keys: Vec<ClientKey>,
    /// The `[routing]` section.
    pub routing: RoutingSettings,
    /// The `[sessions]` section: sticky routing.
    pub sessions: SessionSettings,
    /// The `[front]` section.
    pub front: FrontSettings,
    /// The `[settings]` section: the pages.
    pub settings: PageSettings,
    /// The `[telemetry]` section: traces.
    pub telemetry: TelemetrySettings,
    /// The `[redis]` section: the Redis that replicas share state through; `None`: each
    /// replica keeps its own.
    pub redis: Option<RedisSettings>,
    /// The `[limits]` section: key limits across replicas.
    pub limits: LimitSettings,
    /// The `[keys_api]` section: the provisioning key; `None`: `/api/v1/keys` is closed.
    pub keys_api: Option<KeysApiSettings>,
}

/// The `[front]` section: the Anthropic Messages, Responses and legacy completions endpoints.
#[derive(Debug, Clone, Default)]
pub struct FrontSettings {
    /// Model names clients of those endpoints send (such as Anthropic's `claude-sonnet-4-5`),
    /// each with the catalog id (or Auto Router id) it stands for.
    pub model_aliases: HashMap<String, String>,
}

/// The `[telemetry]` section.
#[derive(Debug, Clone, Default)]
pub struct TelemetrySettings {
    /// The OTLP/HTTP collector's base URL (spans go to `<it>/v1/traces`); `None`: no traces.
    pub otlp_endpoint: Option<String>,
}

/// The `[settings]` section: what the pages may do.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// Whether the pages may save settings (`false`: read-only, everything stays in the file).
    /// Default true.
    pub editable: bool,
    /// A key that signs in to the pages as admin, seeing every client key. Default: none.
    pub admin_key: Option<Secret>,
}

/// The `[server]` section.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes; larger bodies get a 413. Default 10 MiB.
    pub body_limit_bytes: usize,
    /// How often a streaming response gets a `: OPENROUTER PROCESSING` comment line while it
    /// waits for the first token. Default 1 s.
    pub keepalive_interval: Duration,
    /// How long a client has to send a request, head and body, from when its connection is
    /// ready for one; an idle keep-alive connection is closed after it too. Default 30 s.
    pub request_read_timeout: Duration,
    /// Where generation records are stored (a SQLite file); `None` when not configured.
    pub records_path: Option<PathBuf>,
    /// Connection limits, the write timeout, the shutdown grace and TLS.
    pub edge: EdgeSettings,
    /// Where the settings saved on the pages are stored (a SQLite file); `None`: the records
    /// file, else memory.
    pub settings_path: Option<PathBuf>,
    /// The PostgreSQL database for generation records (`server.records_url`, never with
    /// `records_path`); a `Secret` since its URL may hold a password.
    pub records_url: Option<Secret>,
    /// The most generation records waiting in memory for their database (`server.records_buffer`).
    pub records_buffer: usize,
}

/// The `[server]` keys about client connections.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// Most client connections open at once (`server.max_connections`); `None`: derived from
    /// the process's file-descriptor limit at start-up.
    pub max_connections: Option<usize>,
    /// How long a client may leave response bytes untaken before it is dropped (and its
    /// upstream call cancelled). Default 30 s.
    pub write_timeout: Duration,
    /// How long requests and streams in flight may run after SIGTERM or SIGINT. Default 30 s.
    pub shutdown_grace: Duration,
    /// TLS termination (`server.tls`); `None`: plain HTTP.
    pub tls: Option<TlsSettings>,
}

/// `server.tls`: where the certificate chain and its private key are (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// One `[providers.<name>]` section.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// How to reach the provider (name, wire format, base URL, key, timeouts, headers).
    pub settings: ProviderSettings,
    /// Human-readable name, such as `OpenAI`; defaults to the provider's name.
    pub display_name: String,
    /// Time from sending a streaming request to its first output token; when it passes, the next
    /// candidate is tried. Defaults to the provider's first-byte timeout. (The other timeouts are
    /// in `settings`.)
    pub first_token_timeout: Duration,
}

/// One `[[keys]]` entry: a key clients send as `Authorization: Bearer <key>`.
#[derive(Debug, Clone)]
pub struct ClientKey {
    /// Label of the key, unique; used in generation records and logs instead of the key
    /// (shared by the records that name it).
    pub name: crate::records::Name,
    /// The key itself.
    pub key: Secret,
    /// Which failures move this key's requests on to the next attempt, unless a request names
    /// its own `fallback_policy`. Default: every failure (OpenRouter's behaviour).
    pub fallback_policy: FallbackPolicy,
    /// The key's Auto Router defaults (`auto_router = { … }`): a request's `auto-router` plugin
    /// overrides them field by field, and they override `[routing.auto]`. Default: none.
    /// Never sets `enabled`.
    pub auto_router: Option<AutoPlugin>,
    /// The key's provider preferences (`provider = { … }`): a request's `provider` object sits
    /// over them ([`Preferences::over`]). Default: none.
    pub provider: Preferences,
    /// The key's credit, rate and model limits (`limit`, `limit_reset`, `rpm`, `tpm`,
    /// `allowed_models`). Default: none.
    pub limits: KeyLimits,
}

/// The `[routing]` section.
#[derive(Debug, Clone)]
pub struct RoutingSettings {
    /// Most entries a request's `models` list may have; more is a 400. Default 3.
    pub max_models: usize,
    /// Whether endpoints are load-balanced by price when a request sets neither `provider.sort`
    /// nor `provider.order` (`false`: config order). Default true.
    pub load_balance: bool,
    /// The `[routing.auto]` section.
    pub auto: AutoRouterSettings,
    /// The `[routing.health]` section: cool-downs and outage detection.
    pub health: HealthSettings,
}

/// The `[routing.auto]` section: the Auto Router.
#[derive(Debug, Clone)]
pub struct AutoRouterSettings {
    /// Model ids that select the Auto Router, none of them a catalog model. Default
    /// `["openrouter/auto"]`; empty turns the Auto Router off.
    pub aliases: Vec<String>,
    /// The quality profile to load at start-up; `None` is the demo profile built into Turnout
    /// (`router_core::auto::profile::Profile::demo`).
    pub profile: Option<PathBuf>,
    /// How many models the router picks for a request: the primary and its fallbacks. Default 3.
    pub top_k: usize,
    /// The global defaults, under the key's and the request's settings. Patterns are checked
    /// to compile and the dial to be in range. Never sets `enabled`.
    pub defaults: AutoPlugin,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file `{}`", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid config; every problem found is listed.
    #[error("invalid config, {}", ProblemList(.0))]
    Invalid(Vec<ConfigProblem>),
}

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Key path of the offending value, such as `models[2].endpoints[0].provider`; empty for a
    /// TOML syntax error (the message then gives the line and column).
    pub path: String,
    /// What is wrong, and where it helps, how to fix it. Never contains a secret.
    pub message: String,
}

/// Reads and validates the config file at `path`, expanding `${VAR}` from the process
/// environment.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    load_str(&text, &|name| std::env::var(name).ok())
}

/// Parses and validates config `text`, expanding `${VAR}` with `vars` (which returns `None` for
/// an unset variable).
pub fn load_str(text: &str, vars: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let mut problems = problems::Problems::default();
    let config = parse(text, vars, &mut problems);
    match config {
        Some(config) if problems.is_empty() => Ok(config),
        _ => Err(ConfigError::Invalid(problems.into_vec())),
    }
}

// === impl Config ===

impl Config {
    /// The provider named `name` (the key of its `[providers.<name>]` section).
    ///
    /// A linear search: there are few providers, and the server resolves them once at start-up.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|it| it.settings.name == name)
    }
}

// === impl ConfigProblem ===

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Displays problems as a count followed by one indented line per problem.
struct ProblemList<'a>(&'a [ConfigProblem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            1 => f.write_str("1 problem:")?,
            n => write!(f, "{n} problems:")?,
        }
        for problem in self.0 {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// Steps 1 to 4 of the module docs; `None` when a problem stopped the process early.
fn parse(
    text: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    problems: &mut problems::Problems,
) -> Option<Config> {
    let table = match text.parse::<toml::Table>() {
        Ok(table) => table,
        Err(err) => {
            problems.push("", syntax_error_message(text, &err));
            return None;
        }
    };
    let mut tree = toml::Value::Table(table);
    expand::expand_tree(&mut tree, vars, problems);
    let raw = raw::deserialize::<raw::RawConfig>(tree, "", problems)?;
    validate::config(raw, problems)
}

/// `TOML syntax error at line L, column C: message`, from the error's byte span.
fn syntax_error_message(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim_end();
    let Some(span) = err.span() else {
        return format!("TOML syntax error: {message}");
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |it| it.chars().count())
        + 1;
    format!("TOML syntax error at line {line}, column {column}: {message}")
}
