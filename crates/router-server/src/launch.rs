//! Where the server's config comes from at start-up.
//!
//! `--config FILE` serves that file and `--demo` the demo. With neither, the first that applies:
//! `turnout.toml` in the working directory; else, when a provider key is in the environment
//! (`OPENAI_API_KEY`, …), `config/providers.toml` (embedded in the binary) reduced to the
//! providers that have a key; else the demo.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigError, ConfigProblem};

/// The config file looked for in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "turnout.toml";

/// The environment variables that hold provider keys in `config/providers.toml`.
pub const PROVIDER_KEY_VARS: [&str; 6] = [
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "DEEPSEEK_API_KEY",
    "TOGETHER_API_KEY",
    "DEEPINFRA_API_KEY",
];

/// The real-provider template, with `${…_API_KEY}` placeholders.
const PROVIDERS_TOML: &str = include_str!("../../../config/providers.toml");

/// Where the config comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A config file.
    File(PathBuf),
    /// The demo (mock providers).
    Demo,
    /// The embedded provider template, with the providers whose key is set.
    ProviderKeys,
}

/// Picks the source from the flags, whether `turnout.toml` exists, and the environment.
pub fn choose_source(
    config: Option<&Path>,
    demo: bool,
    default_file_exists: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> ConfigSource {
    if let Some(path) = config {
        return ConfigSource::File(path.to_owned());
    }
    if demo {
        return ConfigSource::Demo;
    }
    if default_file_exists {
        return ConfigSource::File(PathBuf::from(DEFAULT_CONFIG_FILE));
    }
    if PROVIDER_KEY_VARS.iter().any(|var| is_set(env, var)) {
        return ConfigSource::ProviderKeys;
    }
    ConfigSource::Demo
}

/// `config/providers.toml` without the providers whose key variable is unset or empty, without
/// their endpoints, and without models left with no endpoint; then loaded with `env`.
pub fn provider_keys_config(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let invalid = |message: String| {
        ConfigError::Invalid(vec![ConfigProblem {
            path: String::new(),
            message,
        }])
    };
    let mut table: toml::Table = PROVIDERS_TOML
        .parse()
        .map_err(|err| invalid(format!("embedded providers.toml: {err}")))?;
    let mut kept = Vec::new();
    if let Some(toml::Value::Table(providers)) = table.get_mut("providers") {
        providers.retain(|_, provider| {
            provider
                .get("api_key")
                .and_then(toml::Value::as_str)
                .and_then(key_variable)
                .is_some_and(|var| is_set(env, var))
        });
        kept.extend(providers.keys().cloned());
    }
    if let Some(toml::Value::Array(models)) = table.get_mut("models") {
        for model in models.iter_mut() {
            if let Some(toml::Value::Array(endpoints)) = model.get_mut("endpoints") {
                endpoints.retain(|endpoint| {
                    endpoint
                        .get("provider")
                        .and_then(toml::Value::as_str)
                        .is_some_and(|provider| kept.iter().any(|it| it == provider))
                });
            }
        }
        models.retain(|model| {
            model
                .get("endpoints")
                .and_then(toml::Value::as_array)
                .is_some_and(|it| !it.is_empty())
        });
    }
    let text = toml::to_string(&table)
        .map_err(|err| invalid(format!("embedded providers.toml: {err}")))?;
    config::load_str(&text, env)
}

/// The variable of a `${VAR}` or `${VAR:-default}` value.
fn key_variable(value: &str) -> Option<&str> {
    let inner = value.trim().strip_prefix("${")?.strip_suffix('}')?;
    Some(inner.split_once(":-").map_or(inner, |(var, _)| var))
}

fn is_set(env: &dyn Fn(&str) -> Option<String>, var: &str) -> bool {
    env(var).is_some_and(|it| !it.trim().is_empty())
}

/// What the start-up banner says: the mode, where to send requests, and with which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// One line naming the mode (`demo`, the template with its providers, or a config file).
    pub mode: String,
    /// `http://addr`.
    pub url: String,
    /// The key clients send, when it may be printed (the demo's and the template's); `None` for
    /// a config file, whose keys stay in the file.
    pub client_key: Option<String>,
    /// The name of the key a config file's clients use (its first `[[keys]]` entry).
    pub key_name: String,
    /// A model of the catalog for the example request.
    pub model: String,
}

impl Banner {
    /// The banner of `source` served as `config` at `url`.
    pub fn new(source: &ConfigSource, config: &Config, url: &str) -> Self {
        let first_key = config.keys.first();
        let key_name = first_key.map_or_else(String::new, |it| it.name.to_string());
        let model = config
            .catalog
            .models()
            .first()
            .map_or_else(|| "openrouter/auto".to_owned(), |it| it.id.to_string());
        let (mode, client_key) = match source {
            ConfigSource::Demo => (
                "demo (mock providers on loopback, the demo catalog and prices)".to_owned(),
                first_key.map(|it| it.key.expose().to_owned()),
            ),
            ConfigSource::ProviderKeys => {
                let names: Vec<&str> = config
                    .providers
                    .iter()
                    .map(|it| it.settings.name.as_str())
                    .collect();
                let mode = format!(
                    "template config/providers.toml with {} provider{} from the environment ({})",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", ")
                );
                // `${TURNOUT_API_KEY:-sk-turnout-local}`: the operator's own key or the
                // documented local default; the person at the terminal needs it.
                (mode, first_key.map(|it| it.key.expose().to_owned()))
            }
            ConfigSource::File(path) => (format!("config file {}", path.display()), None),
        };
        Self {
            mode,
            url: url.to_owned(),
            client_key,
            key_name,
            model,
        }
    }

    /// The demo's banner.
    pub fn demo(url: &str) -> Self {
        Self {
            mode: "demo (mock providers on loopback, the demo catalog and prices)".to_owned(),
            url: url.to_owned(),
            client_key: Some(crate::demo::DEMO_KEY.to_owned()),
            key_name: "demo".to_owned(),
            model: "openai/gpt-5.1".to_owned(),
        }
    }

    /// The text printed at start-up: mode, URL, client key and a curl line that works.
    pub fn render(&self) -> String {
        let url = &self.url;
        let model = &self.model;
        let (key_line, bearer) = match &self.client_key {
            Some(key) => (format!("Client key: {key}"), key.clone()),
            None => (
                format!(
                    "Client key: the `key` of [[keys]] \"{}\" in the config file (export it as TURNOUT_API_KEY for the line below)",
                    self.key_name
                ),
                "$TURNOUT_API_KEY".to_owned(),
            ),
        };
        format!(
            r#"Turnout is listening on {url}
Mode: {mode}
{key_line}
OpenAI-style base URL: {url}/api/v1
Pages (sign in with the client key): {url}/ui

Try it:
  curl {url}/api/v1/chat/completions \
    -H "Authorization: Bearer {bearer}" \
    -H "Content-Type: application/json" \
    -d '{{"model":"{model}","messages":[{{"role":"user","content":"Hello"}}]}}'
"#,
            mode = self.mode,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn flags_then_file_then_keys_then_demo() {
        let none = env(&[]);
        let openai = env(&[("OPENAI_API_KEY", "sk-x")]);
        let empty = env(&[("OPENAI_API_KEY", " ")]);
        let file = Path::new("a.toml");
        assert_eq!(
            choose_source(Some(file), true, true, &openai),
            ConfigSource::File(file.to_owned())
        );
        assert_eq!(choose_source(None, true, true, &openai), ConfigSource::Demo);
        assert_eq!(
            choose_source(None, false, true, &openai),
            ConfigSource::File(PathBuf::from(DEFAULT_CONFIG_FILE))
        );
        assert_eq!(
            choose_source(None, false, false, &openai),
            ConfigSource::ProviderKeys
        );
        assert_eq!(choose_source(None, false, false, &none), ConfigSource::Demo);
        assert_eq!(
            choose_source(None, false, false, &empty),
            ConfigSource::Demo
        );
    }

    #[test]
    fn keeps_only_providers_with_keys_and_the_models_they_serve() {
        let config = provider_keys_config(&env(&[("DEEPSEEK_API_KEY", "sk-deepseek")])).unwrap();
        let providers: Vec<_> = config
            .providers
            .iter()
            .map(|it| it.settings.name.as_str())
            .collect();
        assert_eq!(providers, ["deepseek"]);
        assert!(!config.catalog.is_empty());
        for model in config.catalog.models() {
            assert!(model.endpoints.iter().all(|it| it.provider == "deepseek"));
        }
        assert_eq!(config.providers[0].settings.api_key.expose(), "sk-deepseek");
    }

    #[test]
    fn the_template_banner_prints_its_key_and_providers() {
        let env = env(&[("DEEPSEEK_API_KEY", "sk-deepseek")]);
        let config = provider_keys_config(&env).unwrap();
        let banner = Banner::new(&ConfigSource::ProviderKeys, &config, "http://127.0.0.1:9");
        let text = banner.render();
        assert!(
            text.contains("1 provider from the environment (deepseek)"),
            "{text}"
        );
        assert!(text.contains("Client key: sk-turnout-local"), "{text}");
        assert!(text.contains("Bearer sk-turnout-local"), "{text}");
        assert!(!text.contains("sk-deepseek"), "{text}");
        let file = Banner::new(&ConfigSource::File("a.toml".into()), &config, "http://x");
        let text = file.render();
        assert!(text.contains("config file a.toml"), "{text}");
        assert!(!text.contains("sk-turnout-local"), "{text}");
    }

    #[test]
    fn reads_key_variables() {
        assert_eq!(key_variable("${OPENAI_API_KEY}"), Some("OPENAI_API_KEY"));
        assert_eq!(key_variable("${A:-b}"), Some("A"));
        assert_eq!(key_variable("literal"), None);
    }
}
