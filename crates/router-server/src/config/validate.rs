//! From the `Raw…` structs to the validated [`Config`], recording every problem with its path.
//!
//! Each section is checked on its own and problems are collected, never returned early, so one
//! load reports everything wrong with a file. A [`Config`] is only returned when there is none.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use router_core::auto::settings::AutoPlugin;
use router_core::catalog::{
    self, Capabilities, Catalog, DataCollection, Endpoint, EndpointTraits, Model, Pricing,
};
use router_core::health::HealthSettings;
use router_core::patterns::ModelPatterns;
use router_core::provider::Preferences;
use router_core::secret::Secret;
use router_upstream::ProviderSettings;

use super::problems::{Problems, join_index, join_key};
use super::raw::{
    Deferred, RawAutoDefaults, RawAutoRouter, RawClientKey, RawConfig, RawEndpoint, RawFront,
    RawModel, RawPricing, RawProvider, RawRouting, RawServer,
};
use super::{
    AutoRouterSettings, ClientKey, Config, FrontSettings, PageSettings, ProviderConfig,
    RoutingSettings, ServerSettings, TelemetrySettings,
};

/// Tokens per unit of the prices in the file (USD per million tokens).
const TOKENS_PER_PRICE_UNIT: f64 = 1_000_000.0;

/// Headers the HTTP client sets itself; configuring them would break requests.
const MANAGED_HEADERS: [&str; 5] = [
    "connection",
    "content-length",
    "content-type",
    "host",
    "transfer-encoding",
];

/// Validates `raw`; `None` when a section could not be built. The caller still checks
/// `problems`: a config is only usable when it is empty.
pub(super) fn config(raw: RawConfig, problems: &mut Problems) -> Option<Config> {
    let server = raw
        .server
        .parse("server", problems)
        .and_then(|it| server(it, problems));
    let routing = raw
        .routing
        .parse("routing", problems)
        .and_then(|it| routing(it, problems));
    let keys = client_keys(raw.keys, problems);
    // Endpoints may name any provider of the file, even one with problems of its own: those are
    // reported at the provider, not again at every endpoint that uses it.
    let provider_names: Vec<String> = raw.providers.keys().cloned().collect();
    let providers = providers(raw.providers, problems);
    let display_names: HashMap<&str, &str> = providers
        .iter()
        .map(|it| (it.settings.name.as_str(), it.display_name.as_str()))
        .collect();
    let catalog = catalog(raw.models, &provider_names, &display_names, problems);
    if let (Some(routing), Some(catalog)) = (&routing, &catalog) {
        aliases_against_catalog(&routing.auto, catalog, problems);
    }
    let has_redis = raw.redis.is_some();
    let redis = super::redis::validate(raw.redis, problems);
    let sessions = super::sessions::validate(raw.sessions, catalog.as_ref(), has_redis, problems);
    let limits = match raw.limits {
        Some(raw) => raw
            .parse("limits", problems)
            .and_then(|it| super::limits::validate(it, problems)),
        None => Some(super::LimitSettings::default()),
    };
    let front = raw.front.parse("front", problems).and_then(|it| {
        let (Some(routing), Some(catalog)) = (&routing, &catalog) else {
            return None;
        };
        front(it, routing, catalog, problems)
    });
    let settings = raw
        .settings
        .parse("settings", problems)
        .and_then(|it| page_settings(it, problems));
    let telemetry = raw
        .telemetry
        .parse("telemetry", problems)
        .and_then(|it| telemetry(it, problems));

    let keys_api = match raw.keys_api {
        Some(raw) => raw
            .parse("keys_api", problems)
            .and_then(|it| super::keys_api::validate(it, keys.iter().map(|it| &it.key), problems))
            .map(Some),
        None => Some(None),
    };
    Some(Config {
        keys_api: keys_api?,
        limits: limits?,
        redis: redis?,
        telemetry: telemetry?,
        server: server?,
        providers,
        catalog: catalog?,
        keys,
        routing: routing?,
        sessions: sessions?,
        front: front?,
        settings: settings?,
    })
}

/// `[front]`: every alias names a catalog model or the Auto Router.
fn front(
    raw: RawFront,
    routing: &RoutingSettings,
    catalog: &Catalog,
    problems: &mut Problems,
) -> Option<FrontSettings> {
    let mut valid = true;
    for (name, target) in &raw.model_aliases {
        let path = join_key("front.model_aliases", name);
        if catalog.find(name).is_some() {
            problems.push(
                path,
                format!("`{name}` is a model of the catalog; an alias must not be one"),
            );
            valid = false;
        } else if catalog.find(target).is_none() && !routing.auto.aliases.contains(target) {
            problems.push(
                path,
                format!("`{target}` is neither a model of the catalog nor an Auto Router id"),
            );
            valid = false;
        }
    }
    valid.then(|| FrontSettings {
        model_aliases: raw.model_aliases.into_iter().collect(),
    })
}

fn server(raw: RawServer, problems: &mut Problems) -> Option<ServerSettings> {
    let listen = raw.listen.trim().parse::<SocketAddr>().map_err(|_| {
        problems.push(
            "server.listen",
            format!(
                "`{}` is not an IP address and port, such as `127.0.0.1:8080` or `[::]:8080`",
                raw.listen
            ),
        );
    });
    let body_limit_bytes = match usize::try_from(raw.body_limit.0) {
        Ok(0) => {
            problems.push("server.body_limit", "must be at least 1 byte");
            None
        }
        Ok(bytes) => Some(bytes),
        Err(_) => {
            problems.push("server.body_limit", "is too large for this machine");
            None
        }
    };
    let keepalive_interval = positive_millis(
        raw.keepalive_interval_ms,
        "server.keepalive_interval_ms",
        problems,
    );
    let request_read_timeout = positive_millis(
        raw.request_read_timeout_ms,
        "server.request_read_timeout_ms",
        problems,
    );
    let edge = edge(&raw, problems);
    let records_path = raw
        .records_path
        .filter(|it| !it.trim().is_empty())
        .map(PathBuf::from);
    let (records_url, records_buffer) = records_database(
        raw.records_url,
        raw.records_buffer,
        records_path.is_some(),
        problems,
    );
    Some(ServerSettings {
        listen: listen.ok()?,
        body_limit_bytes: body_limit_bytes?,
        keepalive_interval: keepalive_interval?,
        request_read_timeout: request_read_timeout?,
        records_path,
        edge: edge?,
        settings_path: raw
            .settings_path
            .filter(|it| !it.trim().is_empty())
            .map(PathBuf::from),
        records_url: records_url?,
        records_buffer: records_buffer?,
    })
}

/// `server.records_url` (a `postgres://` URL, not beside `records_path`) and
/// `server.records_buffer`.
fn records_database(
    url: Option<String>,
    buffer: Option<u64>,
    has_path: bool,
    problems: &mut Problems,
) -> (Option<Option<Secret>>, Option<usize>) {
    let url = match url.filter(|it| !it.trim().is_empty()) {
        None => Some(None),
        Some(_) if has_path => {
            problems.push(
                "server.records_url",
                "cannot be set with `records_path`: records go to one store, SQLite or PostgreSQL",
            );
            None
        }
        Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
            problems.push(
                "server.records_url",
                "must start with `postgres://` (for example \
                 `postgres://turnout:secret@db.internal:5432/turnout`)",
            );
            None
        }
        Some(url) => match url.parse::<postgres::Config>() {
            Ok(_) => Some(Some(Secret::new(url))),
            Err(err) => {
                // The parser's message names the bad part, never the password.
                problems.push(
                    "server.records_url",
                    format!("is not a valid PostgreSQL URL: {err}"),
                );
                None
            }
        },
    };
    let buffer = match buffer.map(usize::try_from) {
        None => Some(crate::records::DEFAULT_BUFFER),
        Some(Ok(0)) => {
            problems.push("server.records_buffer", "must be at least 1");
            None
        }
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            problems.push("server.records_buffer", "is too large for this machine");
            None
        }
    };
    (url, buffer)
}

/// `server.max_connections`, `server.write_timeout_ms`, `server.shutdown_grace_ms` and
/// `server.tls`.
fn edge(raw: &RawServer, problems: &mut Problems) -> Option<super::EdgeSettings> {
    let max_connections = match raw.max_connections.map(usize::try_from) {
        None => Some(None),
        Some(Ok(0)) => {
            problems.push("server.max_connections", "must be at least 1");
            None
        }
        Some(Ok(max)) => Some(Some(max)),
        Some(Err(_)) => {
            problems.push("server.max_connections", "is too large for this machine");
            None
        }
    };
    let write_timeout = positive_millis(raw.write_timeout_ms, "server.write_timeout_ms", problems);
    let shutdown_grace = Duration::from_millis(raw.shutdown_grace_ms);
    let tls = match &raw.tls {
        None => Some(None),
        Some(tls) => {
            let cert = tls.cert.trim();
            let key = tls.key.trim();
            if cert.is_empty() {
                problems.push("server.tls.cert", "must name a PEM certificate file");
            }
            if key.is_empty() {
                problems.push("server.tls.key", "must name a PEM private key file");
            }
            (!cert.is_empty() && !key.is_empty()).then(|| {
                Some(super::TlsSettings {
                    cert: PathBuf::from(cert),
                    key: PathBuf::from(key),
                })
            })
        }
    };
    Some(super::EdgeSettings {
        max_connections: max_connections?,
        write_timeout: write_timeout?,
        shutdown_grace,
        tls: tls?,
    })
}

/// `[telemetry]`: the endpoint, when set, is an `http://` or `https://` URL.
fn telemetry(raw: super::raw::RawTelemetry, problems: &mut Problems) -> Option<TelemetrySettings> {
    let otlp_endpoint = raw.otlp_endpoint.filter(|it| !it.trim().is_empty());
    if let Some(endpoint) = &otlp_endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        problems.push(
            "telemetry.otlp_endpoint",
            format!("`{endpoint}` is not an http:// or https:// URL (the collector's OTLP/HTTP base URL, such as `http://127.0.0.1:4318`)"),
        );
        return None;
    }
    Some(TelemetrySettings { otlp_endpoint })
}

/// `[settings]`: an admin key, when set, must not be empty.
fn page_settings(raw: super::raw::RawSettings, problems: &mut Problems) -> Option<PageSettings> {
    let admin_key = match raw.admin_key {
        Some(key) if key.trim().is_empty() => {
            problems.push(
                "settings.admin_key",
                "must not be empty (leave it out for none)",
            );
            return None;
        }
        other => other.map(Secret::new),
    };
    Some(PageSettings {
        editable: raw.editable,
        admin_key,
    })
}

fn routing(raw: RawRouting, problems: &mut Problems) -> Option<RoutingSettings> {
    let mut valid = true;
    if raw.max_models == 0 {
        problems.push("routing.max_models", "must be at least 1");
        valid = false;
    }
    let auto = auto_router(raw.auto, problems);
    let health = &raw.health;
    for (key, value) in [
        (
            "failures_to_cool_down",
            u64::from(health.failures_to_cool_down),
        ),
        ("cooldown_ms", health.cooldown_ms),
        ("outage_window_ms", health.outage_window_ms),
    ] {
        if value == 0 {
            problems.push(join_key("routing.health", key), "must be at least 1");
            valid = false;
        }
    }
    if !valid {
        return None;
    }
    Some(RoutingSettings {
        max_models: raw.max_models,
        load_balance: raw.load_balance,
        auto: auto?,
        health: HealthSettings {
            failures_to_cool_down: raw.health.failures_to_cool_down,
            cooldown_ms: raw.health.cooldown_ms,
            outage_window_ms: raw.health.outage_window_ms,
        },
    })
}

fn auto_router(mut raw: RawAutoRouter, problems: &mut Problems) -> Option<AutoRouterSettings> {
    const PATH: &str = "routing.auto";
    let mut valid = true;
    let alias_path = join_key(PATH, "alias");
    let mut seen = HashSet::new();
    for (idx, alias) in raw.alias.iter().enumerate() {
        if alias.is_empty() || alias.chars().any(char::is_whitespace) {
            problems.push(
                join_index(&alias_path, idx),
                "must be a model id: not empty, no whitespace",
            );
            valid = false;
        } else if !seen.insert(alias.as_str()) {
            problems.push(
                join_index(&alias_path, idx),
                format!("`{alias}` is listed twice"),
            );
            valid = false;
        }
    }
    if raw.top_k == 0 {
        problems.push(join_key(PATH, "top_k"), "must be at least 1");
        valid = false;
    }
    let defaults = auto_defaults(raw.defaults(), PATH, problems);
    let profile = raw
        .profile
        .take()
        .filter(|it| !it.trim().is_empty())
        .map(PathBuf::from);
    if !valid {
        return None;
    }
    Some(AutoRouterSettings {
        aliases: raw.alias,
        profile,
        top_k: raw.top_k,
        defaults: defaults?,
    })
}

/// Auto Router defaults (`[routing.auto]` or a key's `auto_router`) at `path`: the dial is in
/// range and every pattern compiles.
fn auto_defaults(raw: RawAutoDefaults, path: &str, problems: &mut Problems) -> Option<AutoPlugin> {
    let mut valid = true;
    let cost_quality_tradeoff = match raw.cost_quality_tradeoff {
        None => None,
        Some(dial) => match u8::try_from(dial) {
            Ok(dial) if dial <= 10 => Some(dial),
            _ => {
                problems.push(
                    join_key(path, "cost_quality_tradeoff"),
                    format!(
                        "{dial} is out of range: an integer from 0 (the best model) to 10 (the \
                         cheapest capable model)"
                    ),
                );
                valid = false;
                None
            }
        },
    };
    for (key, patterns) in [
        ("allowed_models", &raw.allowed_models),
        ("excluded_models", &raw.excluded_models),
    ] {
        let list_path = join_key(path, key);
        for (idx, pattern) in patterns.iter().flatten().enumerate() {
            if let Err(err) = ModelPatterns::new(&[pattern]) {
                problems.push(join_index(&list_path, idx), err.to_string());
                valid = false;
            }
        }
    }
    valid.then_some(AutoPlugin {
        enabled: None,
        allowed_models: raw.allowed_models,
        excluded_models: raw.excluded_models,
        cost_quality_tradeoff,
        cost_tier: raw.cost_tier,
        pin_model: raw.pin_model,
    })
}

/// An alias that is also a catalog model would make the model unreachable.
fn aliases_against_catalog(auto: &AutoRouterSettings, catalog: &Catalog, problems: &mut Problems) {
    for (idx, alias) in auto.aliases.iter().enumerate() {
        if catalog.find(alias).is_some() {
            problems.push(
                join_index("routing.auto.alias", idx),
                format!("`{alias}` is a model of the catalog; an alias must not be one"),
            );
        }
    }
}

fn client_keys(raw: Vec<Deferred<RawClientKey>>, problems: &mut Problems) -> Vec<ClientKey> {
    if raw.is_empty() {
        problems.push(
            "keys",
            "at least one client key is required: add a `[[keys]]` entry with `name` and `key`",
        );
    }
    let mut keys = Vec::with_capacity(raw.len());
    // Where each name and key was first seen, to point duplicates at their twin.
    let mut names: HashMap<String, String> = HashMap::new();
    let mut secrets: HashMap<String, String> = HashMap::new();
    for (idx, deferred) in raw.into_iter().enumerate() {
        let path = join_index("keys", idx);
        let Some(entry) = deferred.parse(&path, problems) else {
            continue;
        };
        let name_path = join_key(&path, "name");
        let key_path = join_key(&path, "key");
        let mut valid = true;
        if entry.name.trim().is_empty() {
            problems.push(&name_path, "must not be empty");
            valid = false;
        } else if let Some(first) = names.get(&entry.name) {
            problems.push(
                &name_path,
                format!("`{}` is also the name of {first}", entry.name),
            );
            valid = false;
        } else {
            names.insert(entry.name.clone(), path.clone());
        }
        if entry.key.is_empty() {
            problems.push(&key_path, "must not be empty");
            valid = false;
        } else if entry.key.chars().any(char::is_whitespace) {
            // The key is a secret: say what is wrong with it, never what it is.
            problems.push(&key_path, "must not contain whitespace");
            valid = false;
        } else if let Some(first) = secrets.get(&entry.key) {
            problems.push(
                &key_path,
                format!("is the same key as {first}.key; keys must be unique"),
            );
            valid = false;
        } else {
            secrets.insert(entry.key.clone(), path.clone());
        }
        let auto_router = match entry.auto_router {
            Some(raw) => {
                let defaults = auto_defaults(raw, &join_key(&path, "auto_router"), problems);
                valid &= defaults.is_some();
                defaults
            }
            None => None,
        };
        let provider = match entry.provider {
            Some(table) => key_preferences(table, &join_key(&path, "provider"), problems),
            None => Some(Preferences::default()),
        };
        valid &= provider.is_some();
        let limits = super::limits::key_limits(
            super::limits::RawKeyLimits {
                limit: entry.limit,
                limit_reset: entry.limit_reset,
                rpm: entry.rpm,
                tpm: entry.tpm,
                allowed_models: entry.allowed_models,
            },
            &path,
            problems,
        );
        valid &= limits.is_some();
        // The Auto Router picks within the key's models unless the key says otherwise.
        let auto_router = match (&limits, auto_router) {
            (Some(limits), auto) if limits.allowed_models.is_some() => {
                let mut auto = auto.unwrap_or_default();
                if auto.allowed_models.is_none() {
                    auto.allowed_models = limits
                        .allowed_models
                        .as_ref()
                        .map(|it| it.patterns().to_vec());
                }
                Some(auto)
            }
            (_, auto) => auto,
        };
        if valid
            && let Some(provider) = provider
            && let Some(limits) = limits
        {
            keys.push(ClientKey {
                name: entry.name,
                key: Secret::new(entry.key),
                fallback_policy: entry.fallback_policy.unwrap_or_default(),
                auto_router,
                provider,
                limits,
            });
        }
    }
    keys
}

/// A key's `provider = { … }`, read as the request's `provider` object is; a problem is
/// reported at the member's path under `path`.
fn key_preferences(table: toml::Table, path: &str, problems: &mut Problems) -> Option<Preferences> {
    let members = match serde_json::to_value(&table) {
        Ok(serde_json::Value::Object(members)) => members,
        _ => {
            problems.push(path, "must be a table of provider preferences");
            return None;
        }
    };
    Preferences::from_members(&members)
        .map_err(|err| {
            let member = err.field.strip_prefix("provider.").unwrap_or(&err.field);
            problems.push(join_key(path, member), err.message);
        })
        .ok()
}

fn providers(
    raw: BTreeMap<String, Deferred<RawProvider>>,
    problems: &mut Problems,
) -> Vec<ProviderConfig> {
    if raw.is_empty() {
        problems.push(
            "providers",
            "at least one provider is required: add a `[providers.<name>]` section",
        );
    }
    let mut providers = Vec::with_capacity(raw.len());
    for (name, deferred) in raw {
        let path = join_key("providers", &name);
        let Some(entry) = deferred.parse(&path, problems) else {
            continue;
        };
        if !is_provider_name(&name) {
            problems.push(
                &path,
                format!(
                    "provider name `{name}` must be a lowercase slug: `a`-`z`, `0`-`9`, `-`, `_`, `/`"
                ),
            );
            continue;
        }
        if let Some(provider) = provider(name, entry, &path, problems) {
            providers.push(provider);
        }
    }
    providers
}

fn provider(
    name: String,
    raw: RawProvider,
    path: &str,
    problems: &mut Problems,
) -> Option<ProviderConfig> {
    let mut valid = true;
    let display_name = match raw.display_name {
        Some(display_name) if display_name.trim().is_empty() => {
            problems.push(
                join_key(path, "display_name"),
                "must not be empty when given",
            );
            valid = false;
            display_name
        }
        Some(display_name) => display_name,
        None => name.clone(),
    };
    let base_url = match check_base_url(&raw.base_url) {
        Ok(base_url) => base_url.to_owned(),
        Err(message) => {
            problems.push(join_key(path, "base_url"), message);
            valid = false;
            String::new()
        }
    };
    if raw.api_key.chars().any(char::is_control) {
        problems.push(
            join_key(path, "api_key"),
            "must not contain control characters",
        );
        valid = false;
    }
    let mut settings = ProviderSettings::new(name, raw.kind, base_url, Secret::new(raw.api_key));
    let timeouts = [
        (
            "connect_timeout_ms",
            raw.connect_timeout_ms,
            &mut settings.connect_timeout,
        ),
        (
            "first_byte_timeout_ms",
            raw.first_byte_timeout_ms,
            &mut settings.first_byte_timeout,
        ),
        (
            "idle_timeout_ms",
            raw.idle_timeout_ms,
            &mut settings.idle_timeout,
        ),
        (
            "total_timeout_ms",
            raw.total_timeout_ms,
            &mut settings.total_timeout,
        ),
    ];
    for (key, millis, slot) in timeouts {
        if let Some(millis) = millis {
            match positive_millis(millis, &join_key(path, key), problems) {
                Some(timeout) => *slot = timeout,
                None => valid = false,
            }
        }
    }
    let first_token_timeout = match raw.first_token_timeout_ms {
        Some(millis) => {
            positive_millis(millis, &join_key(path, "first_token_timeout_ms"), problems)
                .unwrap_or_else(|| {
                    valid = false;
                    settings.first_byte_timeout
                })
        }
        None => settings.first_byte_timeout,
    };
    if let Some(limit) = raw.max_response_bytes {
        match usize::try_from(limit.0) {
            Ok(0) => {
                problems.push(
                    join_key(path, "max_response_bytes"),
                    "must be at least 1 byte",
                );
                valid = false;
            }
            Ok(bytes) => settings.max_response_bytes = bytes,
            Err(_) => {
                problems.push(
                    join_key(path, "max_response_bytes"),
                    "is too large for this machine",
                );
                valid = false;
            }
        }
    }
    let headers_path = join_key(path, "headers");
    for (header, value) in raw.headers {
        let header_path = join_key(&headers_path, &header);
        if let Err(message) = check_header(&header, &value, !settings.api_key.is_empty()) {
            problems.push(header_path, message);
            valid = false;
            continue;
        }
        settings.extra_headers.push((header, value));
    }
    valid.then_some(ProviderConfig {
        settings,
        display_name,
        first_token_timeout,
    })
}

fn catalog(
    raw: Vec<Deferred<RawModel>>,
    providers: &[String],
    display_names: &HashMap<&str, &str>,
    problems: &mut Problems,
) -> Option<Catalog> {
    if raw.is_empty() {
        problems.push(
            "models",
            "at least one model is required: add a `[[models]]` entry",
        );
        return None;
    }
    let mut models = Vec::with_capacity(raw.len());
    let mut first_seen: HashMap<String, String> = HashMap::new();
    let mut valid = true;
    for (idx, deferred) in raw.into_iter().enumerate() {
        let path = join_index("models", idx);
        let Some(entry) = deferred.parse(&path, problems) else {
            valid = false;
            continue;
        };
        let id_path = join_key(&path, "id");
        if !catalog::is_model_id(&entry.id) {
            problems.push(
                &id_path,
                format!("`{}` is not of the form `author/slug`", entry.id),
            );
            valid = false;
        } else if let Some(first) = first_seen.get(&entry.id) {
            problems.push(
                &id_path,
                format!("`{}` is already the id of {first}", entry.id),
            );
            valid = false;
        } else {
            first_seen.insert(entry.id.clone(), path.clone());
        }
        match model(entry, &path, providers, display_names, problems) {
            Some(model) => models.push(model),
            None => valid = false,
        }
    }
    if !valid {
        return None;
    }
    Catalog::new(models)
        .map_err(|err| problems.push("models", err.to_string()))
        .ok()
}

fn model(
    raw: RawModel,
    path: &str,
    providers: &[String],
    display_names: &HashMap<&str, &str>,
    problems: &mut Problems,
) -> Option<Model> {
    let endpoints_path = join_key(path, "endpoints");
    if raw.endpoints.is_empty() {
        problems.push(
            &endpoints_path,
            "at least one endpoint is required: add a `[[models.endpoints]]` entry",
        );
        return None;
    }
    let mut endpoints = Vec::with_capacity(raw.endpoints.len());
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut valid = true;
    for (idx, deferred) in raw.endpoints.into_iter().enumerate() {
        let endpoint_path = join_index(&endpoints_path, idx);
        let Some(entry) = deferred.parse(&endpoint_path, problems) else {
            valid = false;
            continue;
        };
        let pair = (entry.provider.clone(), entry.upstream_model.clone());
        if !seen.insert(pair) {
            problems.push(
                join_key(&endpoint_path, "upstream_model"),
                format!(
                    "`{}` at `{}` is listed twice for this model",
                    entry.upstream_model, entry.provider
                ),
            );
            valid = false;
            continue;
        }
        match endpoint(entry, &endpoint_path, providers, display_names, problems) {
            Some(endpoint) => endpoints.push(endpoint),
            None => valid = false,
        }
    }
    let name = match raw.name {
        Some(name) if name.trim().is_empty() => {
            problems.push(join_key(path, "name"), "must not be empty when given");
            return None;
        }
        Some(name) => name,
        None => raw.id.clone(),
    };
    valid.then_some(Model {
        id: raw.id,
        name,
        created: raw.created,
        description: raw.description,
        endpoints,
    })
}

fn endpoint(
    raw: RawEndpoint,
    path: &str,
    providers: &[String],
    display_names: &HashMap<&str, &str>,
    problems: &mut Problems,
) -> Option<Endpoint> {
    let mut valid = true;
    if !providers.contains(&raw.provider) {
        let known: Vec<_> = providers.iter().map(|it| format!("`{it}`")).collect();
        let known = if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        };
        problems.push(
            join_key(path, "provider"),
            format!("unknown provider `{}` (configured: {known})", raw.provider),
        );
        valid = false;
    }
    if raw.upstream_model.trim().is_empty() {
        problems.push(join_key(path, "upstream_model"), "must not be empty");
        valid = false;
    }
    if raw.context_length == 0 {
        problems.push(join_key(path, "context_length"), "must be at least 1");
        valid = false;
    }
    match raw.max_output {
        Some(0) => {
            problems.push(join_key(path, "max_output"), "must be at least 1");
            valid = false;
        }
        Some(max_output) if max_output > raw.context_length && raw.context_length > 0 => {
            problems.push(
                join_key(path, "max_output"),
                format!(
                    "{max_output} is more than the context length ({})",
                    raw.context_length
                ),
            );
            valid = false;
        }
        _ => {}
    }
    let parameters_path = join_key(path, "supported_parameters");
    let mut parameters = BTreeSet::new();
    for (idx, parameter) in raw.supported_parameters.iter().enumerate() {
        if parameter.trim().is_empty() {
            problems.push(join_index(&parameters_path, idx), "must not be empty");
            valid = false;
        } else if !parameters.insert(parameter.as_str()) {
            problems.push(
                join_index(&parameters_path, idx),
                format!("`{parameter}` is listed twice"),
            );
            valid = false;
        }
    }
    let traits = endpoint_traits(&raw, path, display_names, problems);
    let pricing = match raw.pricing {
        Some(raw_pricing) => pricing(raw_pricing, &join_key(path, "pricing"), problems),
        None => {
            problems.push(
                join_key(path, "pricing"),
                "is required: every endpoint needs its prices, in USD per million tokens \
                 (`pricing = { prompt = 1.25, completion = 10.0 }`; write 0 for a free model)",
            );
            None
        }
    };
    if !valid {
        return None;
    }
    Some(Endpoint {
        traits: traits?,
        provider: raw.provider,
        upstream_model: raw.upstream_model,
        pricing: pricing?,
        context_length: raw.context_length,
        max_output: raw.max_output,
        supported_parameters: raw.supported_parameters,
        capabilities: Capabilities {
            tools: raw.capabilities.tools,
            vision: raw.capabilities.vision,
            structured_output: raw.capabilities.structured_output,
        },
    })
}

/// What provider selection reads of an endpoint: its provider's display name, quantization,
/// data policy and configured speed.
fn endpoint_traits(
    raw: &RawEndpoint,
    path: &str,
    display_names: &HashMap<&str, &str>,
    problems: &mut Problems,
) -> Option<EndpointTraits> {
    let mut valid = true;
    let data_collection = match raw.data_collection.as_deref() {
        None | Some("allow") => DataCollection::Allow,
        Some("deny") => DataCollection::Deny,
        Some(other) => {
            problems.push(
                join_key(path, "data_collection"),
                format!("`{other}` is not a data policy: use \"allow\" or \"deny\""),
            );
            valid = false;
            DataCollection::Allow
        }
    };
    let quantization = match raw.quantization.as_deref().map(str::trim) {
        None => None,
        Some("") => {
            problems.push(
                join_key(path, "quantization"),
                "must not be empty when given",
            );
            valid = false;
            None
        }
        Some(it) => Some(it.to_ascii_lowercase()),
    };
    let mut positive = |key: &str, value: Option<f64>| match value {
        Some(value) if !value.is_finite() || value <= 0.0 => {
            problems.push(join_key(path, key), format!("{value} must be a number > 0"));
            valid = false;
            None
        }
        other => other,
    };
    let latency = positive("latency_ms", raw.latency_ms).map(|ms| ms / 1000.0);
    let throughput = positive("throughput", raw.throughput);
    valid.then(|| EndpointTraits {
        provider_name: display_names
            .get(raw.provider.as_str())
            .map_or_else(String::new, |it| (*it).to_owned()),
        quantization,
        data_collection,
        zdr: raw.zdr,
        latency,
        throughput,
    })
}

/// Per-million prices to the per-token [`Pricing`] of the catalog; `prompt` and `completion` are
/// required, so that a model is never silently free.
fn pricing(raw: RawPricing, path: &str, problems: &mut Problems) -> Option<Pricing> {
    let mut valid = true;
    let mut price = |key: &str, value: Option<f64>, required: bool| -> Option<f64> {
        let key_path = join_key(path, key);
        match value {
            None if required => {
                problems.push(
                    key_path,
                    "is required: USD per million tokens (write 0 if it is free)",
                );
                valid = false;
                None
            }
            None => None,
            Some(value) if !value.is_finite() || value < 0.0 => {
                problems.push(
                    key_path,
                    format!("{value} is not a price: use a number >= 0"),
                );
                valid = false;
                None
            }
            Some(value) => Some(value),
        }
    };
    let prompt = price("prompt", raw.prompt, true);
    let completion = price("completion", raw.completion, true);
    let cache_read = price("cache_read", raw.cache_read, false);
    let cache_write = price("cache_write", raw.cache_write, false);
    let reasoning = price("reasoning", raw.reasoning, false);
    let request = price("request", raw.request, false);
    if !valid {
        return None;
    }
    let per_token = |per_million: f64| per_million / TOKENS_PER_PRICE_UNIT;
    Some(Pricing {
        prompt: per_token(prompt?),
        completion: per_token(completion?),
        cache_read: cache_read.map(per_token),
        cache_write: cache_write.map(per_token),
        reasoning: reasoning.map(per_token),
        request: request.unwrap_or(0.0),
    })
}

/// A duration of at least one millisecond.
fn positive_millis(millis: u64, path: &str, problems: &mut Problems) -> Option<Duration> {
    if millis == 0 {
        problems.push(path, "must be at least 1 (milliseconds)");
        return None;
    }
    Some(Duration::from_millis(millis))
}

/// Provider names are lowercase slugs, as OpenRouter's provider tags (`deepinfra/turbo`).
fn is_provider_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|it| matches!(it, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'/'))
}

/// The base URL without trailing slashes, if it is an absolute `http(s)` URL with a host and
/// without query or fragment (the client appends `/chat/completions`).
fn check_base_url(url: &str) -> Result<&str, String> {
    let after_scheme = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` is not an http:// or https:// URL"))?;
    let host = after_scheme.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if url.chars().any(|it| it.is_whitespace() || it.is_control()) {
        return Err(format!("`{}` contains whitespace", url.escape_debug()));
    }
    if url.contains(['?', '#']) {
        return Err(format!(
            "`{url}` has a query or fragment; give the API base, such as `https://api.openai.com/v1`"
        ));
    }
    Ok(url.trim_end_matches('/'))
}

/// Whether `name: value` may be sent on every request to a provider.
fn check_header(name: &str, value: &str, has_api_key: bool) -> Result<(), String> {
    let header = http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))?;
    if MANAGED_HEADERS.contains(&header.as_str()) {
        return Err(format!(
            "`{name}` is set by the HTTP client and cannot be configured"
        ));
    }
    if has_api_key && header == http::header::AUTHORIZATION {
        return Err("`Authorization` is set from `api_key`; configure one or the other".to_owned());
    }
    // The value may be a secret: say what is wrong with it, never what it is.
    http::HeaderValue::from_str(value)
        .map_err(|_| "the value has characters not allowed in a header".to_owned())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_http() {
        assert_eq!(
            check_base_url("https://api.openai.com/v1/"),
            Ok("https://api.openai.com/v1")
        );
        assert_eq!(
            check_base_url("http://127.0.0.1:9000/v1"),
            Ok("http://127.0.0.1:9000/v1")
        );
        assert!(check_base_url("ftp://x/v1").is_err());
        assert!(check_base_url("api.openai.com/v1").is_err());
        assert!(check_base_url("https:///v1").is_err());
        assert!(check_base_url("https://x/v1?key=1").is_err());
        assert!(check_base_url("https://x /v1").is_err());
        assert!(check_base_url("").is_err());
    }

    #[test]
    fn provider_names_are_lowercase_slugs() {
        for name in ["openai", "google-ai-studio", "deepinfra/turbo", "p_2"] {
            assert!(is_provider_name(name), "{name}");
        }
        for name in ["", "OpenAI", "open ai", "open.ai", "ü"] {
            assert!(!is_provider_name(name), "{name}");
        }
    }

    #[test]
    fn headers_are_checked() {
        assert!(check_header("HTTP-Referer", "https://example.com", true).is_ok());
        assert!(check_header("Authorization", "Bearer x", false).is_ok());
        assert!(check_header("Authorization", "Bearer x", true).is_err());
        assert!(check_header("Content-Length", "1", false).is_err());
        assert!(check_header("bad header", "v", false).is_err());
        let err = check_header("X-Secret", "line\nbreak-secret", false).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }
}
