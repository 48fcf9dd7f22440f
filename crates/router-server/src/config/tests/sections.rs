//! Each section of the file: defaults, every key set, variables, and the checks of each
//! section's values.

use std::time::Duration;

use router_core::auto::settings::{AutoPlugin, CostTier};
use router_core::fallback::{FailureClass, FallbackPolicy};

use super::*;

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let config = load_str(MINIMAL, &no_vars).unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(config.server.body_limit_bytes, 10 * 1024 * 1024);
    assert_eq!(config.server.keepalive_interval, Duration::from_secs(1));
    assert_eq!(config.server.request_read_timeout, Duration::from_secs(30));
    assert_eq!(config.server.records_path, None);
    assert_eq!(config.routing.max_models, 3);
    let openai = config.provider("openai").unwrap();
    assert_eq!(openai.display_name, "openai");
    assert_eq!(
        openai.settings.kind,
        router_upstream::ProviderKind::OpenAiCompatible
    );
    let defaults = router_upstream::ProviderSettings::new(
        "x",
        router_upstream::ProviderKind::OpenAiCompatible,
        "http://x",
        Secret::default(),
    );
    assert_eq!(openai.settings.connect_timeout, defaults.connect_timeout);
    assert_eq!(openai.settings.total_timeout, defaults.total_timeout);
    assert_eq!(openai.first_token_timeout, defaults.first_byte_timeout);
    assert_eq!(config.keys[0].fallback_policy, FallbackPolicy::any());
    assert!(openai.settings.extra_headers.is_empty());
    let model = &config.catalog.models()[0];
    assert_eq!(model.name, "openai/gpt-5.1");
    assert_eq!(model.created, 0);
    assert_eq!(model.endpoints[0].max_output, None);
    assert_eq!(model.endpoints[0].capabilities, Default::default());
    assert!(config.provider("anthropic").is_none());
}

#[test]
fn every_key_can_be_set() {
    let text = r#"
        [server]
        listen = "0.0.0.0:9000"
        body_limit = 2048
        keepalive_interval_ms = 250
        request_read_timeout_ms = 5000
        records_path = "/var/lib/turnout/records.sqlite"

        [routing]
        max_models = 5

        [[keys]]
        name = "a"
        key = "k-a"
        fallback_policy = { except = ["moderation"] }

        [providers.openai]
        display_name = "OpenAI"
        kind = "openai-compatible"
        base_url = "https://api.openai.com/v1/"
        api_key = "sk-p"
        connect_timeout_ms = 1
        first_byte_timeout_ms = 2
        first_token_timeout_ms = 5
        idle_timeout_ms = 3
        total_timeout_ms = 4
        headers = { "HTTP-Referer" = "https://example.com", "X-Title" = "Turnout" }

        [[models]]
        id = "openai/gpt-5.1"
        name = "OpenAI: GPT-5.1"
        created = 1762992000
        description = "flagship"
          [[models.endpoints]]
          provider = "openai"
          upstream_model = "gpt-5.1"
          context_length = 400000
          max_output = 128000
          supported_parameters = ["tools", "seed"]
          capabilities = { tools = true, vision = true, structured_output = false }
          pricing = { prompt = 1.25, completion = 10, cache_read = 0.125, cache_write = 2.5, reasoning = 20, request = 0.01 }
    "#;
    let config = load_str(text, &no_vars).unwrap();
    assert_eq!(config.server.listen, "0.0.0.0:9000".parse().unwrap());
    assert_eq!(config.server.body_limit_bytes, 2048);
    assert_eq!(config.server.keepalive_interval, Duration::from_millis(250));
    assert_eq!(config.server.request_read_timeout, Duration::from_secs(5));
    assert_eq!(
        config.server.records_path.as_deref(),
        Some(std::path::Path::new("/var/lib/turnout/records.sqlite"))
    );
    assert_eq!(config.routing.max_models, 5);
    let settings = &config.providers[0].settings;
    assert_eq!(
        settings.base_url, "https://api.openai.com/v1",
        "trailing slash dropped"
    );
    assert_eq!(settings.connect_timeout, Duration::from_millis(1));
    assert_eq!(settings.first_byte_timeout, Duration::from_millis(2));
    assert_eq!(settings.idle_timeout, Duration::from_millis(3));
    assert_eq!(settings.total_timeout, Duration::from_millis(4));
    assert_eq!(
        config.providers[0].first_token_timeout,
        Duration::from_millis(5)
    );
    assert_eq!(
        config.keys[0].fallback_policy,
        FallbackPolicy::except([FailureClass::Moderation])
    );
    assert_eq!(
        settings.extra_headers,
        [
            ("HTTP-Referer".to_owned(), "https://example.com".to_owned()),
            ("X-Title".to_owned(), "Turnout".to_owned()),
        ]
    );
    let model = &config.catalog.models()[0];
    assert_eq!(model.name, "OpenAI: GPT-5.1");
    assert_eq!(model.created, 1762992000);
    assert_eq!(model.description, "flagship");
    let endpoint = &model.endpoints[0];
    assert_eq!(endpoint.max_output, Some(128000));
    assert_eq!(endpoint.supported_parameters, ["tools", "seed"]);
    assert!(endpoint.capabilities.tools && endpoint.capabilities.vision);
    assert!(!endpoint.capabilities.structured_output);
}

#[test]
fn prices_per_million_become_prices_per_token() {
    let text = MINIMAL.replace(
        "pricing = { prompt = 1.25, completion = 10.0 }",
        "pricing = { prompt = 1.25, completion = 10, cache_read = 0.125, cache_write = 3.75, reasoning = 0, request = 0.002 }",
    );
    let config = load_str(&text, &no_vars).unwrap();
    let pricing = config.catalog.models()[0].endpoints[0].pricing;
    assert_eq!(pricing.prompt, 1.25e-6);
    assert_eq!(pricing.completion, 1e-5);
    assert_eq!(pricing.cache_read, Some(1.25e-7));
    assert_eq!(pricing.cache_write, Some(3.75e-6));
    assert_eq!(pricing.reasoning, Some(0.0));
    // `request` is already per request.
    assert_eq!(pricing.request, 0.002);
    // A million prompt tokens cost the per-million price.
    assert!((pricing.prompt * 1_000_000.0 - 1.25).abs() < 1e-12);

    let config = load_str(MINIMAL, &no_vars).unwrap();
    let pricing = config.catalog.models()[0].endpoints[0].pricing;
    assert_eq!(
        (pricing.cache_read, pricing.cache_write, pricing.reasoning),
        (None, None, None)
    );
    assert_eq!(pricing.request, 0.0);
}

#[test]
fn variables_expand_in_every_string_with_defaults() {
    let text = MINIMAL
        .replace(
            "http://127.0.0.1:9/v1",
            "http://${UPSTREAM_HOST}:${UPSTREAM_PORT:-9}/v1",
        )
        .replace("sk-provider-secret-1", "${PROVIDER_KEY}")
        .replace(
            "gpt-5.1\"\n  context_length = 400000",
            "${UPSTREAM_MODEL:-gpt-5.1}\"\n  context_length = \"${CONTEXT:-400000}\"",
        );
    let text = format!(
        "[server]\nlisten = \"${{LISTEN:-127.0.0.1:3000}}\"\nkeepalive_interval_ms = \"${{KEEPALIVE_MS}}\"\nrecords_path = \"$${{literal}}.sqlite\"\n{text}"
    );
    let config = load_with(
        &text,
        &[
            ("UPSTREAM_HOST", "10.0.0.7"),
            ("PROVIDER_KEY", "sk-from-var"),
            ("KEEPALIVE_MS", "500"),
            ("CONTEXT", ""),
        ],
    )
    .unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:3000".parse().unwrap());
    assert_eq!(config.server.keepalive_interval, Duration::from_millis(500));
    assert_eq!(
        config.server.records_path.as_deref(),
        Some(std::path::Path::new("${literal}.sqlite"))
    );
    let openai = config.provider("openai").unwrap();
    assert_eq!(openai.settings.base_url, "http://10.0.0.7:9/v1");
    assert_eq!(openai.settings.api_key.expose(), "sk-from-var");
    let endpoint = &config.catalog.models()[0].endpoints[0];
    assert_eq!(endpoint.upstream_model, "gpt-5.1");
    assert_eq!(endpoint.context_length, 400000);
}

#[test]
fn an_unset_variable_is_a_problem_at_its_key() {
    let text = MINIMAL.replace("sk-client-secret-1", "${CLIENT_KEY}");
    let found = problems(&text, &[]);
    assert_eq!(paths(&found), ["keys[0].key"]);
    assert!(found[0].1.contains("`CLIENT_KEY` is not set"), "{found:?}");
}

#[test]
fn fallback_policies_and_first_token_timeouts_are_checked() {
    let text = MINIMAL
        .replace(
            "key = \"sk-client-secret-1\"",
            "key = \"sk-client-secret-1\"\nfallback_policy = { except = [\"moderation\", \"nope\"] }",
        )
        .replace(
            "api_key = \"sk-provider-secret-1\"",
            "api_key = \"sk-provider-secret-1\"\nfirst_byte_timeout_ms = 700\nfirst_token_timeout_ms = 0",
        );
    let found = problems(&text, &[]);
    assert_eq!(
        paths(&found),
        [
            "keys[0].fallback_policy.except[1]",
            "providers.openai.first_token_timeout_ms"
        ],
        "{found:?}"
    );
    let only = MINIMAL.replace(
        "key = \"sk-client-secret-1\"",
        "key = \"sk-client-secret-1\"\nfallback_policy = { on = [\"rate_limited\", \"timeout\"] }",
    );
    let config = load_str(&only, &no_vars).unwrap();
    assert_eq!(
        config.keys[0].fallback_policy,
        FallbackPolicy::only([FailureClass::RateLimited, FailureClass::Timeout])
    );
    let both = MINIMAL.replace(
        "key = \"sk-client-secret-1\"",
        "key = \"sk-client-secret-1\"\nfallback_policy = { on = [], except = [] }",
    );
    assert_eq!(paths(&problems(&both, &[])), ["keys[0].fallback_policy"]);
}

#[test]
fn the_auto_router_has_defaults_and_every_key_can_be_set() {
    let config = load_str(MINIMAL, &no_vars).unwrap();
    let auto = &config.routing.auto;
    assert_eq!(auto.aliases, ["openrouter/auto"]);
    assert_eq!(auto.profile, None);
    assert_eq!(auto.top_k, 3);
    assert_eq!(auto.defaults, AutoPlugin::default());
    assert_eq!(config.keys[0].auto_router, None);

    let text = MINIMAL.replace(
        "key = \"sk-client-secret-1\"",
        "key = \"sk-client-secret-1\"\n\
         auto_router = { allowed_models = [\"openai/*\"], excluded_models = [\"*/gpt-5-nano\"], \
         cost_quality_tradeoff = \"${DIAL}\", cost_tier = \"high\", pin_model = true }",
    ) + r#"
        [routing.auto]
        alias = ["openrouter/auto", "auto"]
        profile = "profiles/team.json"
        top_k = "2"
        allowed_models = ["openai/*", "anthropic/*"]
        excluded_models = ["anthropic/claude-opus*"]
        cost_quality_tradeoff = 8
        cost_tier = "low"
        pin_model = false
    "#;
    let config = load_with(&text, &[("DIAL", "4")]).unwrap();
    let auto = &config.routing.auto;
    assert_eq!(auto.aliases, ["openrouter/auto", "auto"]);
    assert_eq!(
        auto.profile.as_deref(),
        Some(std::path::Path::new("profiles/team.json"))
    );
    assert_eq!(auto.top_k, 2);
    assert_eq!(
        auto.defaults,
        AutoPlugin {
            enabled: None,
            allowed_models: Some(vec!["openai/*".to_owned(), "anthropic/*".to_owned()]),
            excluded_models: Some(vec!["anthropic/claude-opus*".to_owned()]),
            cost_quality_tradeoff: Some(8),
            cost_tier: Some(CostTier::Low),
            pin_model: Some(false),
        }
    );
    assert_eq!(
        config.keys[0].auto_router,
        Some(AutoPlugin {
            enabled: None,
            allowed_models: Some(vec!["openai/*".to_owned()]),
            excluded_models: Some(vec!["*/gpt-5-nano".to_owned()]),
            cost_quality_tradeoff: Some(4),
            cost_tier: Some(CostTier::High),
            pin_model: Some(true),
        })
    );
}

#[test]
fn auto_router_settings_are_checked_with_their_paths() {
    let text = MINIMAL.replace(
        "key = \"sk-client-secret-1\"",
        "key = \"sk-client-secret-1\"\n\
         auto_router = { cost_quality_tradeoff = -1, excluded_models = [\"a/*\", \"b/[x\"] }",
    ) + r#"
        [routing.auto]
        alias = ["openai/gpt-5.1", "", "x", "x"]
        top_k = 0
        allowed_models = ["openai/{a"]
        cost_quality_tradeoff = 11
    "#;
    let found = problems(&text, &[]);
    assert_eq!(
        paths(&found),
        [
            "routing.auto.alias[1]",
            "routing.auto.alias[3]",
            "routing.auto.top_k",
            "routing.auto.cost_quality_tradeoff",
            "routing.auto.allowed_models[0]",
            "keys[0].auto_router.cost_quality_tradeoff",
            "keys[0].auto_router.excluded_models[1]",
        ],
        "{found:?}"
    );
    let message = |path: &str| &found.iter().find(|(it, _)| it == path).unwrap().1;
    assert!(message("routing.auto.allowed_models[0]").contains("`openai/{a`"));
    assert!(message("routing.auto.cost_quality_tradeoff").contains("0"));
    // An alias that is a model of the catalog would hide the model.
    let shadowing = format!("{MINIMAL}\n[routing.auto]\nalias = [\"openai/gpt-5.1\"]\n");
    let found = problems(&shadowing, &[]);
    assert_eq!(paths(&found), ["routing.auto.alias[0]"], "{found:?}");
    // Wrong types and unknown keys stop the entry, with their path.
    for (text, path) in [
        (
            MINIMAL.replace(
                "key = \"sk-client-secret-1\"",
                "key = \"sk-client-secret-1\"\nauto_router = { cost_tier = \"cheap\" }",
            ),
            "keys[0].auto_router.cost_tier",
        ),
        (
            MINIMAL.replace(
                "key = \"sk-client-secret-1\"",
                "key = \"sk-client-secret-1\"\nauto_router = { enabled = false }",
            ),
            "keys[0].auto_router.enabled",
        ),
        (
            format!("{MINIMAL}\n[routing.auto]\ncost_quality_tradeoff = 2.5\n"),
            "routing.auto.cost_quality_tradeoff",
        ),
        (
            format!("{MINIMAL}\n[routing.auto]\naliases = [\"auto\"]\n"),
            "routing.auto.aliases",
        ),
    ] {
        assert_eq!(paths(&problems(&text, &[])), [path], "{text}");
    }
}

#[test]
fn providers_speak_the_native_kinds_and_unknown_kinds_are_refused() {
    let config = load_str(PROVIDERS, &template_vars).unwrap();
    let kind = |name: &str| config.provider(name).unwrap().settings.kind;
    assert_eq!(kind("anthropic"), router_upstream::ProviderKind::Anthropic);
    assert_eq!(
        kind("google-ai-studio"),
        router_upstream::ProviderKind::Gemini
    );
    assert_eq!(
        kind("openai"),
        router_upstream::ProviderKind::OpenAiCompatible
    );
    let native = MINIMAL.replace(
        "[providers.openai]\n",
        "[providers.openai]\nkind = \"gemini\"\n",
    );
    assert!(load_with(&native, &[]).is_ok());
    let unknown = MINIMAL.replace(
        "[providers.openai]\n",
        "[providers.openai]\nkind = \"cohere\"\n",
    );
    let err = load_with(&unknown, &[]).unwrap_err().to_string();
    assert!(err.contains("cohere"), "{err}");
}

#[test]
fn max_response_bytes_takes_a_size_and_defaults_to_32_mib() {
    let config = load_str(MINIMAL, &no_vars).unwrap();
    assert_eq!(
        config.providers[0].settings.max_response_bytes,
        32 * 1024 * 1024
    );
    let text = MINIMAL.replace(
        "[providers.openai]",
        "[providers.openai]\nmax_response_bytes = \"64KiB\"",
    );
    let config = load_str(&text, &no_vars).unwrap();
    assert_eq!(config.providers[0].settings.max_response_bytes, 64 * 1024);
    let text = MINIMAL.replace(
        "[providers.openai]",
        "[providers.openai]\nmax_response_bytes = 0",
    );
    assert_eq!(
        paths(&problems(&text, &[])),
        ["providers.openai.max_response_bytes"]
    );
}

#[test]
fn sessions_default_to_five_minutes_in_memory_and_take_per_model_ttls() {
    let config = load_str(MINIMAL, &no_vars).unwrap();
    assert!(config.sessions.enabled);
    assert_eq!(config.sessions.ttl, Duration::from_secs(300));
    assert!(matches!(config.sessions.store, SessionStoreKind::Memory));
    let text = format!(
        "{MINIMAL}\n[sessions]\nttl_ms = \"600000\"\nstore = \"redis\"\n\
         redis_url = \"redis://127.0.0.1:6379/0\"\nttl_by_model = {{ \"openai/gpt-5.1\" = 3600000 }}\n"
    );
    let config = load_str(&text, &no_vars).unwrap();
    assert_eq!(config.sessions.ttl, Duration::from_secs(600));
    assert_eq!(
        config.sessions.ttl_by_model["openai/gpt-5.1"],
        Duration::from_secs(3600)
    );
    let SessionStoreKind::Redis { url, timeout, .. } = &config.sessions.store else {
        panic!("{:?}", config.sessions.store);
    };
    assert_eq!(
        (url.as_str(), *timeout),
        ("redis://127.0.0.1:6379/0", Duration::from_millis(10))
    );
}

#[test]
fn provider_selection_keys_are_read_and_checked() {
    let text = MINIMAL
        .replace(
            "key = \"sk-client-secret-1\"",
            "key = \"sk-client-secret-1\"\nprovider = { ignore = [\"DeepInfra\"], sort = \"price\" }",
        )
        .replace(
            "context_length = 400000",
            "context_length = 400000\n  quantization = \"FP8\"\n  data_collection = \"deny\"\n  zdr = true\n  latency_ms = 250\n  throughput = \"80\"",
        )
        + "\n[routing.health]\ncooldown_ms = 5000\n";
    let config = load_with(&text, &[]).unwrap();
    let key = &config.keys[0].provider;
    assert_eq!(key.ignore.as_deref(), Some(&["deepinfra".to_owned()][..]));
    assert!(key.sort.is_some());
    let traits = &config.catalog.models()[0].endpoints[0].traits;
    assert_eq!(traits.quantization.as_deref(), Some("fp8"));
    assert_eq!(
        traits.data_collection,
        router_core::catalog::DataCollection::Deny
    );
    assert!(traits.zdr);
    assert_eq!(traits.latency, Some(0.25));
    assert_eq!(traits.throughput, Some(80.0));
    assert_eq!(traits.provider_name, "openai");
    assert_eq!(config.routing.health.cooldown_ms, 5000);
    assert_eq!(config.routing.health.failures_to_cool_down, 5);

    let bad = MINIMAL
        .replace(
            "key = \"sk-client-secret-1\"",
            "key = \"sk-client-secret-1\"\nprovider = { order = \"openai\" }",
        )
        .replace(
            "context_length = 400000",
            "context_length = 400000\n  data_collection = \"never\"\n  throughput = -1",
        )
        + "\n[routing.health]\nfailures_to_cool_down = 0\n";
    let found = problems(&bad, &[]);
    assert_eq!(
        paths(&found),
        [
            "routing.health.failures_to_cool_down",
            "keys[0].provider.order",
            "models[0].endpoints[0].data_collection",
            "models[0].endpoints[0].throughput",
        ],
    );
}

#[test]
fn session_problems_name_their_keys() {
    let text = format!(
        "{MINIMAL}\n[sessions]\nttl_ms = 0\nstore = \"redis\"\n\
         ttl_by_model = {{ \"no/such\" = 1000 }}\n"
    );
    let found = problems(&text, &[]);
    let found = paths(&found);
    assert!(found.contains(&"sessions.redis_url"), "{found:?}");
    let text = format!(
        "{MINIMAL}\n[sessions]\nttl_ms = 0\nttl_by_model = {{ \"no/such\" = 1000 }}\nstrore = 1\n"
    );
    let found = problems(&text, &[]);
    assert_eq!(paths(&found), ["sessions.strore"], "{found:?}");
    let text =
        format!("{MINIMAL}\n[sessions]\nttl_ms = 0\nttl_by_model = {{ \"no/such\" = 1000 }}\n");
    let found = problems(&text, &[]);
    assert_eq!(
        paths(&found),
        ["sessions.ttl_ms", "sessions.ttl_by_model.\"no/such\""],
        "{found:?}"
    );
}

#[test]
fn front_aliases_name_catalog_models() {
    let text = format!(
        "{MINIMAL}\n[front.model_aliases]\n\"claude-sonnet-4-5\" = \"openai/gpt-5.1\"\n\"auto\" = \"openrouter/auto\"\n"
    );
    let config = load_with(&text, &[]).unwrap();
    assert_eq!(
        config.front.model_aliases["claude-sonnet-4-5"],
        "openai/gpt-5.1"
    );
    assert_eq!(config.front.model_aliases["auto"], "openrouter/auto");
    assert!(
        load_with(MINIMAL, &[])
            .unwrap()
            .front
            .model_aliases
            .is_empty()
    );

    let text = format!(
        "{MINIMAL}\n[front.model_aliases]\n\"claude-opus-4-5\" = \"nope/missing\"\n\"openai/gpt-5.1\" = \"openai/gpt-5.1\"\n"
    );
    let problems = problems(&text, &[]);
    assert_eq!(
        paths(&problems),
        [
            "front.model_aliases.claude-opus-4-5",
            "front.model_aliases.\"openai/gpt-5.1\""
        ],
        "{problems:?}"
    );
    assert!(problems[0].1.contains("nope/missing"), "{problems:?}");
}

#[test]
fn a_redis_section_is_checked_and_serves_sessions_without_their_own_url() {
    let config = load_with(
        &format!(
            "{MINIMAL}\n[redis]\nurl = \"redis://127.0.0.1:6379/0\"\n\n[sessions]\nstore = \"redis\"\n"
        ),
        &[],
    )
    .unwrap();
    let redis = config.redis.as_ref().unwrap();
    assert_eq!(redis.url, "redis://127.0.0.1:6379/0");
    assert_eq!(redis.timeout, Duration::from_millis(10));
    assert_eq!(redis.retry_after, Duration::from_millis(1000));
    assert!(matches!(
        config.sessions.store,
        SessionStoreKind::SharedRedis
    ));
    assert!(load_with(MINIMAL, &[]).unwrap().redis.is_none());
    let found = problems(
        &format!("{MINIMAL}\n[redis]\nurl = \"http://x\"\ntimeout_ms = 0\nretry_ms = 0\n"),
        &[],
    );
    assert_eq!(
        paths(&found),
        ["redis.url", "redis.timeout_ms", "redis.retry_ms"],
        "{found:?}"
    );
    let found = problems(&format!("{MINIMAL}\n[redis]\ntimeout_ms = 5\n"), &[]);
    assert_eq!(paths(&found), ["redis.url"], "{found:?}");
}
