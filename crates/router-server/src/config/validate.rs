//! From the `Raw…` structs to the validated [`Config`], recording every problem with its path.
//!
//! Each section is checked on its own and problems are collected, never returned early, so one
//! load reports everything wrong with a file. A [`Config`] is only returned when there is none.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use router_core::auto::settings::AutoPlugin;
use router_core::catalog::Catalog;
use router_core::health::HealthSettings;
use router_core::patterns::ModelPatterns;
use router_core::provider::Preferences;
use router_core::secret::Secret;

use super::problems::{Problems, join_index, join_key};
use super::raw::{
    Deferred, RawAutoDefaults, RawAutoRouter, RawClientKey, RawConfig, RawFront, RawRouting,
    RawServer,
};
use super::{
    AutoRouterSettings, ClientKey, Config, FrontSettings, PageSettings, RoutingSettings,
    ServerSettings, TelemetrySettings,
};

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
    let providers = super::providers::providers(raw.providers, problems);
    let display_names: HashMap<&str, &str> = providers
        .iter()
        .map(|it| (it.settings.name.as_str(), it.display_name.as_str()))
        .collect();
    let catalog = super::models::catalog(raw.models, &provider_names, &display_names, problems);
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
                name: entry.name.into(),
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

/// A duration of at least one millisecond.
pub(super) fn positive_millis(
    millis: u64,
    path: &str,
    problems: &mut Problems,
) -> Option<Duration> {
    if millis == 0 {
        problems.push(path, "must be at least 1 (milliseconds)");
        return None;
    }
    Some(Duration::from_millis(millis))
}
