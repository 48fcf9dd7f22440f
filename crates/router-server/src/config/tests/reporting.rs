//! How problems are reported: unknown keys and wrong types with their path, all problems at
//! once, missing prices and providers, duplicates, secrets kept out, syntax errors, files.

use super::*;

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    let cases = [
        (
            "[server]\nlisten_addr = \"127.0.0.1:1\"\n",
            "server.listen_addr",
        ),
        ("[routing]\nmax_model = 2\n", "routing.max_model"),
        ("[tracing]\nenabled = true\n", "tracing"),
        ("[telemetry]\nenabled = true\n", "telemetry.enabled"),
    ];
    for (prefix, path) in cases {
        let found = problems(&format!("{prefix}{MINIMAL}"), &[]);
        assert_eq!(paths(&found), [path], "{found:?}");
        assert!(found[0].1.starts_with("unknown key"), "{found:?}");
    }
    let text = MINIMAL
        .replace("api_key =", "apikey =")
        .replace("completion = 10.0", "completion = 10.0, cached = 1.0");
    let found = problems(&text, &[]);
    assert_eq!(
        paths(&found),
        [
            "providers.openai.apikey",
            "models[0].endpoints[0].pricing.cached"
        ]
    );
}

#[test]
fn wrong_types_are_reported_with_their_path() {
    let text = MINIMAL
        .replace("context_length = 400000", "context_length = \"large\"")
        .replace("name = \"team-a\"", "name = 7");
    let found = problems(&text, &[]);
    assert_eq!(
        paths(&found),
        ["keys[0].name", "models[0].endpoints[0].context_length"]
    );
    assert!(found[1].1.contains("large"), "{found:?}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
        [server]
        listen = "localhost"
        body_limit = "10 parsecs"

        [routing]
        max_models = 0

        [[keys]]
        name = "a"
        key = "sk-same-secret"

        [[keys]]
        name = "b"
        key = "sk-same-secret"

        [providers.OpenAI]
        base_url = "https://api.openai.com/v1"

        [providers.local]
        base_url = "localhost:8000"
        connect_timeout_ms = 0

        [[models]]
        id = "gpt-5.1"
          [[models.endpoints]]
          provider = "local"
          upstream_model = "gpt"
          context_length = 1000
          max_output = 2000
          pricing = { prompt = -1, completion = 1 }

        [[models]]
        id = "a/b"
          [[models.endpoints]]
          provider = "nowhere"
          upstream_model = "b"
          context_length = 1000

        [[models]]
        id = "a/b"
    "#;
    let found = problems(text, &[]);
    assert_eq!(
        paths(&found),
        [
            "server.body_limit",
            "routing.max_models",
            "keys[1].key",
            "providers.OpenAI",
            "providers.local.base_url",
            "providers.local.connect_timeout_ms",
            "models[0].id",
            "models[0].endpoints[0].max_output",
            "models[0].endpoints[0].pricing.prompt",
            "models[1].endpoints[0].provider",
            "models[1].endpoints[0].pricing",
            "models[2].id",
            "models[2].endpoints",
        ],
        "{found:#?}"
    );
}

#[test]
fn a_model_without_a_price_is_rejected() {
    let no_pricing = MINIMAL.replace("  pricing = { prompt = 1.25, completion = 10.0 }\n", "");
    let found = problems(&no_pricing, &[]);
    assert_eq!(paths(&found), ["models[0].endpoints[0].pricing"]);
    assert!(found[0].1.contains("USD per million tokens"), "{found:?}");

    let no_completion = MINIMAL.replace(", completion = 10.0", "");
    let found = problems(&no_completion, &[]);
    assert_eq!(paths(&found), ["models[0].endpoints[0].pricing.completion"]);

    for bad in ["nan", "inf", "-0.5"] {
        let text = MINIMAL.replace("completion = 10.0", &format!("completion = {bad}"));
        let found = problems(&text, &[]);
        assert_eq!(
            paths(&found),
            ["models[0].endpoints[0].pricing.completion"],
            "{bad}"
        );
    }

    // Free is fine when it is said.
    let free = MINIMAL.replace(
        "prompt = 1.25, completion = 10.0",
        "prompt = 0, completion = 0",
    );
    assert!(load_str(&free, &no_vars).is_ok());
}

#[test]
fn an_unknown_provider_reference_names_the_configured_ones() {
    let text = MINIMAL.replace("provider = \"openai\"", "provider = \"opneai\"");
    let found = problems(&text, &[]);
    assert_eq!(paths(&found), ["models[0].endpoints[0].provider"]);
    assert_eq!(
        found[0].1,
        "unknown provider `opneai` (configured: `openai`)"
    );
}

#[test]
fn empty_sections_are_problems() {
    let found = problems("", &[]);
    assert_eq!(paths(&found), ["keys", "providers", "models"]);
    let text = MINIMAL.replace(
        "  [[models.endpoints]]\n  provider = \"openai\"\n  upstream_model = \"gpt-5.1\"\n  context_length = 400000\n  pricing = { prompt = 1.25, completion = 10.0 }\n",
        "",
    );
    assert_eq!(paths(&problems(&text, &[])), ["models[0].endpoints"]);
}

#[test]
fn duplicates_are_rejected() {
    let text = format!(
        "{MINIMAL}\n[[keys]]\nname = \"team-a\"\nkey = \"sk-other\"\n\n[[models]]\nid = \"openai/gpt-5.1\"\n  [[models.endpoints]]\n  provider = \"openai\"\n  upstream_model = \"x\"\n  context_length = 1\n  pricing = {{ prompt = 1, completion = 1 }}\n  [[models.endpoints]]\n  provider = \"openai\"\n  upstream_model = \"x\"\n  context_length = 1\n  pricing = {{ prompt = 1, completion = 1 }}\n"
    );
    let found = problems(&text, &[]);
    assert_eq!(
        paths(&found),
        [
            "keys[1].name",
            "models[1].id",
            "models[1].endpoints[1].upstream_model"
        ]
    );
    assert!(found[0].1.contains("keys[0]"), "{found:?}");
    assert!(found[1].1.contains("models[0]"), "{found:?}");
}

#[test]
fn secrets_never_print() {
    let config = load_str(MINIMAL, &no_vars).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("sk-client-secret-1"), "{debug}");
    assert!(!debug.contains("sk-provider-secret-1"), "{debug}");
    assert!(
        debug.contains("team-a"),
        "the rest of the config still prints"
    );
    assert_eq!(config.keys[0].key.expose(), "sk-client-secret-1");

    // Nor in problems: a duplicated or malformed key is described, not shown.
    let text = format!(
        "{MINIMAL}\n[[keys]]\nname = \"b\"\nkey = \"sk-client-secret-1\"\n[[keys]]\nname = \"c\"\nkey = \"sk secret with spaces\"\n"
    );
    let err = load_str(&text, &no_vars).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("sk-client-secret-1"), "{shown}");
    assert!(!shown.contains("secret with spaces"), "{shown}");
    assert!(
        shown.contains("keys[1].key") && shown.contains("keys[2].key"),
        "{shown}"
    );
}

#[test]
fn syntax_errors_give_line_and_column() {
    let found = problems("[server]\nlisten = \n", &[]);
    assert_eq!(paths(&found), [""]);
    assert!(
        found[0]
            .1
            .starts_with("TOML syntax error at line 2, column"),
        "{found:?}"
    );
}

#[test]
fn the_error_lists_every_problem() {
    let text = MINIMAL
        .replace("provider = \"openai\"", "provider = \"nope\"")
        .replace("name = \"team-a\"\n", "");
    let err = load_str(&text, &no_vars).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid config, 2 problems:\n  keys[0].name: is required\n  \
         models[0].endpoints[0].provider: unknown provider `nope` (configured: `openai`)"
    );
}

#[test]
fn load_file_reads_the_file_or_names_it() {
    let dir = std::env::temp_dir().join(format!("turnout-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("turnout.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let config = load_file(&path).unwrap();
    assert_eq!(config.catalog.len(), 1);

    let missing = dir.join("missing.toml");
    let err = load_file(&missing).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Io { path, .. } if *path == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing.toml"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
