//! Tests of whole config files through [`load_str`](super::load_str): the shipped files, defaults,
//! expansion, unknown keys, problem collection and secrets.
//!
//! Here the helpers and the shipped files (the demo, the provider template, the example in the
//! docs); [`sections`] checks each section's keys and defaults, [`reporting`] how problems are
//! reported, [`docs`] that docs/config.md lists exactly the keys the loader accepts.

mod docs;
mod reporting;
mod sections;

use super::*;

const DEMO: &str = include_str!("../../../../../config/demo.toml");
const PROVIDERS: &str = include_str!("../../../../../config/providers.toml");
const DOCS: &str = include_str!("../../../../../docs/config.md");

/// The model ids every part of Turnout's demo relies on.
const DEMO_MODEL_IDS: [&str; 12] = [
    "openai/gpt-5.1",
    "openai/gpt-5-mini",
    "openai/gpt-5-nano",
    "anthropic/claude-opus-4.5",
    "anthropic/claude-sonnet-4.5",
    "anthropic/claude-haiku-4.5",
    "google/gemini-3.1-pro-preview",
    "google/gemini-2.5-flash",
    "deepseek/deepseek-v3.2",
    "meta-llama/llama-3.3-70b-instruct",
    "qwen/qwen3-coder",
    "mistralai/mistral-small-3.2-24b-instruct",
];

const DEMO_PROVIDERS: [&str; 6] = [
    "anthropic",
    "deepinfra",
    "deepseek",
    "google-ai-studio",
    "openai",
    "together",
];

/// A small valid config that tests extend.
const MINIMAL: &str = r#"
[[keys]]
name = "team-a"
key = "sk-client-secret-1"

[providers.openai]
base_url = "http://127.0.0.1:9/v1"
api_key = "sk-provider-secret-1"

[[models]]
id = "openai/gpt-5.1"
  [[models.endpoints]]
  provider = "openai"
  upstream_model = "gpt-5.1"
  context_length = 400000
  pricing = { prompt = 1.25, completion = 10.0 }
"#;

/// One provider and one model, without keys: the smallest catalog, for the section modules'
/// tests that add keys and sections of their own.
pub(super) const ONE_MODEL: &str = r#"
[providers.p]
base_url = "http://127.0.0.1:1"

[[models]]
id = "a/b"
  [[models.endpoints]]
  provider = "p"
  upstream_model = "b"
  context_length = 1000
  pricing = { prompt = 1, completion = 1 }
"#;

/// [`ONE_MODEL`] with `extra` after it, loaded without variables: the config, or its problems as
/// `(path, message)`.
pub(super) fn load_one_model(extra: &str) -> Result<Config, Vec<(String, String)>> {
    match load_str(&format!("{ONE_MODEL}\n{extra}"), &no_vars) {
        Ok(config) => Ok(config),
        Err(ConfigError::Invalid(problems)) => Err(problems
            .into_iter()
            .map(|it| (it.path, it.message))
            .collect()),
        Err(err) => panic!("unexpected error {err:?}"),
    }
}

fn no_vars(_: &str) -> Option<String> {
    None
}

fn load_with(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_str(text, &|name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
}

/// The problems of an invalid config, as `(path, message)` pairs.
fn problems(text: &str, vars: &[(&str, &str)]) -> Vec<(String, String)> {
    match load_with(text, vars) {
        Ok(_) => panic!("config loaded, expected problems:\n{text}"),
        Err(ConfigError::Invalid(problems)) => problems
            .into_iter()
            .map(|it| (it.path, it.message))
            .collect(),
        Err(err) => panic!("unexpected error {err:?}"),
    }
}

fn paths(problems: &[(String, String)]) -> Vec<&str> {
    problems.iter().map(|(path, _)| path.as_str()).collect()
}

/// The demo's base-URL variables, as the demo mode fills them in.
fn demo_vars(name: &str) -> Option<String> {
    let provider = name.strip_prefix("TURNOUT_DEMO_URL_")?;
    Some(format!(
        "http://127.0.0.1:4{}/{}/v1",
        provider.len(),
        provider.to_ascii_lowercase()
    ))
}

/// Dummy keys for the real-provider template.
fn template_vars(name: &str) -> Option<String> {
    (name.ends_with("_API_KEY") && !name.starts_with("TURNOUT_"))
        .then(|| format!("dummy-{}", name.to_ascii_lowercase()))
}

#[test]
fn demo_config_loads_with_the_demo_catalog() {
    let config = load_str(DEMO, &demo_vars).unwrap();
    let ids: Vec<_> = config.catalog.models().iter().map(|it| &*it.id).collect();
    assert_eq!(ids, DEMO_MODEL_IDS);
    let names: Vec<_> = config
        .providers
        .iter()
        .map(|it| it.settings.name.as_str())
        .collect();
    assert_eq!(names, DEMO_PROVIDERS);
    let google = config.provider("google-ai-studio").unwrap();
    assert_eq!(
        google.settings.base_url,
        "http://127.0.0.1:416/google_ai_studio/v1"
    );
    assert_eq!(google.display_name, "Google AI Studio");
    assert_eq!(google.settings.api_key.expose(), "demo-provider-key");
    assert_eq!(config.keys.len(), 1);
    assert_eq!(config.keys[0].key.expose(), "sk-turnout-demo");
    for (model_id, providers) in [
        ("deepseek/deepseek-v3.2", ["deepseek", "deepinfra"]),
        (
            "meta-llama/llama-3.3-70b-instruct",
            ["together", "deepinfra"],
        ),
        ("qwen/qwen3-coder", ["together", "deepinfra"]),
        (
            "mistralai/mistral-small-3.2-24b-instruct",
            ["deepinfra", "together"],
        ),
    ] {
        let model = config.catalog.model(config.catalog.find(model_id).unwrap());
        let served_by: Vec<_> = model
            .endpoints
            .iter()
            .map(|it| it.provider.as_str())
            .collect();
        assert_eq!(served_by, providers, "{model_id}");
    }
    // Every endpoint is priced: no model is silently free.
    for model in config.catalog.models() {
        for endpoint in &model.endpoints {
            assert!(endpoint.pricing.prompt > 0.0, "{}", model.id);
            assert!(endpoint.pricing.completion > 0.0, "{}", model.id);
        }
    }
}

#[test]
fn demo_config_needs_its_url_variables() {
    let found = problems(DEMO, &[]);
    let mut found_paths = paths(&found);
    found_paths.sort_unstable();
    let expected: Vec<String> = DEMO_PROVIDERS
        .iter()
        .map(|it| format!("providers.{it}.base_url"))
        .collect();
    assert_eq!(found_paths, expected);
    assert!(found[0].1.contains("TURNOUT_DEMO_URL_"), "{found:?}");
}

#[test]
fn provider_template_loads_with_keys_from_the_environment() {
    let config = load_str(PROVIDERS, &template_vars).unwrap();
    let openai = config.provider("openai").unwrap();
    assert_eq!(openai.settings.base_url, "https://api.openai.com/v1");
    assert_eq!(openai.settings.api_key.expose(), "dummy-openai_api_key");
    let anthropic = config.provider("anthropic").unwrap();
    assert_eq!(anthropic.settings.base_url, "https://api.anthropic.com/v1");
    assert_eq!(
        anthropic.settings.api_key.expose(),
        "dummy-anthropic_api_key"
    );
    assert_eq!(config.keys[0].key.expose(), "sk-turnout-local");
    assert_eq!(
        config.server.records_path.as_deref(),
        Some(std::path::Path::new("turnout.sqlite"))
    );

    let with_key = |name: &str| match name {
        "TURNOUT_API_KEY" => Some("sk-from-env".to_owned()),
        _ => template_vars(name),
    };
    let config = load_str(PROVIDERS, &with_key).unwrap();
    assert_eq!(config.keys[0].key.expose(), "sk-from-env");
}

#[test]
fn provider_template_reports_each_missing_key() {
    let only_openai = |name: &str| (name == "OPENAI_API_KEY").then(|| "sk-x".to_owned());
    let err = load_str(PROVIDERS, &only_openai).unwrap_err();
    let ConfigError::Invalid(found) = err else {
        panic!("{err:?}")
    };
    let found: Vec<_> = found.iter().map(|it| it.path.as_str()).collect();
    assert_eq!(
        found,
        [
            "providers.anthropic.api_key",
            "providers.deepinfra.api_key",
            "providers.deepseek.api_key",
            "providers.google-ai-studio.api_key",
            "providers.together.api_key",
        ]
    );
}

#[test]
fn shipped_files_share_one_catalog() {
    let demo = load_str(DEMO, &demo_vars).unwrap();
    let template = load_str(PROVIDERS, &template_vars).unwrap();
    assert_eq!(demo.catalog.models(), template.catalog.models());
    let display_names = |config: &Config| -> Vec<String> {
        config
            .providers
            .iter()
            .map(|it| it.display_name.clone())
            .collect()
    };
    assert_eq!(display_names(&demo), display_names(&template));
}

#[test]
fn the_example_in_the_docs_loads() {
    let start = DOCS.find("```toml\n").unwrap() + "```toml\n".len();
    let len = DOCS[start..].find("```").unwrap();
    let example = &DOCS[start..start + len];
    let config = load_with(
        example,
        &[
            ("TURNOUT_KEY_TEAM_A", "sk-team-a"),
            ("OPENAI_API_KEY", "sk-openai"),
        ],
    )
    .unwrap();
    assert_eq!(&*config.keys[0].name, "team-a");
    assert_eq!(&*config.catalog.models()[0].id, "openai/gpt-5.1");
    assert_eq!(config.provider("openai").unwrap().display_name, "OpenAI");
}
