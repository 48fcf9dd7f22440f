//! Fuzz target: any bytes as a chat completion request body.
//!
//! Parsing must never panic, and neither may anything the server does with a parsed request
//! before it calls a provider: computing its features, decoding every message's text, listing
//! the requested models, and building a plan from them against a small fixed catalog.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use router_core::catalog::{Capabilities, Catalog, Endpoint, Model, Pricing};
use router_core::plan::{self, PlanOptions, PlanRequest};
use router_core::request::ChatRequest;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let endpoint = |provider: &str, context_length, tools| Endpoint {
        provider: provider.to_owned(),
        upstream_model: "m".to_owned(),
        pricing: Pricing::default(),
        context_length,
        max_output: None,
        supported_parameters: Vec::new(),
        capabilities: Capabilities {
            tools,
            vision: tools,
            structured_output: false,
        },
        traits: Default::default(),
    };
    let model = |id: &str, endpoints| Model {
        id: id.into(),
        name: id.to_owned(),
        created: 0,
        description: String::new(),
        endpoints,
    };
    let models = vec![
        model("openai/gpt-5.1", vec![endpoint("openai", 400_000, true)]),
        model(
            "deepseek/deepseek-v3.2",
            vec![
                endpoint("deepseek", 64, false),
                endpoint("together", 128_000, true),
            ],
        ),
        model("a/b", vec![endpoint("p", 16, false)]),
    ];
    match Catalog::new(models) {
        Ok(catalog) => catalog,
        Err(err) => panic!("the fuzz catalog is valid: {err}"),
    }
});

fuzz_target!(|body: &[u8]| {
    let Ok(request) = ChatRequest::parse(body) else {
        return;
    };
    let features = request.features();
    if let Some(max) = features.max_output_tokens {
        assert!(max >= 1, "max_tokens is at least 1");
    }
    for message in &request.messages {
        let _ = message.text();
        let _ = message.has_image();
    }
    let n_requested = request.requested_models().count();
    assert_eq!(
        n_requested,
        usize::from(request.model.is_some()) + request.models.len()
    );
    for (key, _) in &request.passthrough {
        assert!(
            !matches!(
                key.as_ref(),
                "model" | "models" | "messages" | "stream" | "fallback_policy"
            ),
            "router-owned field `{key}` must not be forwarded"
        );
    }
    let options = PlanOptions::default();
    if let Ok(plan) = plan::build(&CATALOG, &PlanRequest::from_chat(&request, options)) {
        assert!(!plan.requested.is_empty());
        assert!(plan.requested.len() <= n_requested);
        assert_eq!(plan.steps().count(), plan.len());
    }
});
