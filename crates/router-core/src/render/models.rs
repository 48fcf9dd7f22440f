//! The model pages in OpenRouter's shape: the `GET /models` list (models, then the Auto
//! Router's ids), one model, and one model's endpoints with their live statistics.

use crate::catalog::{Catalog, EndpointIdx, Model, Pricing};
use crate::health::Stats;
use crate::json::write::{push_bool, push_decimal, push_json_str, push_u64};
use crate::listing::{Listing, ListingQuery, Row};

/// Renders `GET /api/v1/models`: every model of the catalog in OpenRouter's shape, prices as
/// decimal strings in USD per token.
///
/// A model's prices and limits are those of its first (preferred) endpoint; its context length
/// is the largest of any endpoint, and its parameters are the union over its endpoints.
pub fn models_list(catalog: &Catalog) -> Vec<u8> {
    models_list_with_routers(catalog, &[])
}

/// [`models_list`] followed by one row per router id (`openrouter/auto` and its aliases), so
/// that clients which fill a model picker from the list can choose the Auto Router.
///
/// A router row has no price of its own: its prices are `"-1"` (variable: a request is billed
/// at the price of the model that answered), its context length is the largest in the catalog,
/// and its parameters and input modalities are those of any model it may pick.
pub fn models_list_with_routers(catalog: &Catalog, routers: &[String]) -> Vec<u8> {
    models_listing(
        catalog,
        &ListingQuery::default().select(catalog, routers),
        None,
    )
}

/// The `GET /api/v1/models` body of one [`Listing`] (a query's rows): `total_count` counts the
/// rows on every page, and `links.next` is `next_link` (the next page's URL) or `null`.
pub fn models_listing(
    catalog: &Catalog,
    listing: &Listing<'_>,
    next_link: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 * (listing.rows.len() + 1));
    out.extend_from_slice(b"{\"data\":[");
    for (idx, row) in listing.rows.iter().enumerate() {
        if idx > 0 {
            out.push(b',');
        }
        match row {
            Row::Model(model) => push_model(&mut out, model),
            Row::Router(id) => push_router(&mut out, catalog, id),
        }
    }
    out.extend_from_slice(b"],\"total_count\":");
    push_u64(&mut out, listing.total as u64);
    out.extend_from_slice(b",\"links\":{\"next\":");
    match next_link {
        Some(link) => push_json_str(&mut out, link),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}}");
    out
}

/// `GET /api/v1/models/{author}/{slug}/endpoints`: one model and its endpoints, in the shape the
/// official SDKs validate (every required member present, nullable ones `null`).
/// `provider_name` maps an endpoint's provider slug to its display name; `stats` gives an
/// endpoint's live uptime, latency (reported in milliseconds) and throughput over the last 30
/// minutes.
pub fn model_endpoints<'a>(
    model: &'a Model,
    provider_name: impl Fn(&'a str) -> &'a str,
    stats: impl Fn(EndpointIdx) -> Stats,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 + 1024 * model.endpoints.len());
    out.extend_from_slice(b"{\"data\":{\"id\":");
    push_json_str(&mut out, &model.id);
    out.extend_from_slice(b",\"name\":");
    push_json_str(&mut out, &model.name);
    out.extend_from_slice(b",\"created\":");
    push_u64(&mut out, model.created);
    out.extend_from_slice(b",\"description\":");
    push_json_str(&mut out, &model.description);
    push_architecture(
        &mut out,
        model.endpoints.iter().any(|it| it.capabilities.vision),
    );
    out.extend_from_slice(b",\"endpoints\":[");
    for (idx, endpoint) in model.endpoints.iter().enumerate() {
        if idx > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        push_json_str(&mut out, &model.name);
        out.extend_from_slice(b",\"model_id\":");
        push_json_str(&mut out, &model.id);
        out.extend_from_slice(b",\"model_name\":");
        push_json_str(&mut out, &model.name);
        out.extend_from_slice(b",\"provider_name\":");
        push_json_str(&mut out, provider_name(&endpoint.provider));
        out.extend_from_slice(b",\"tag\":");
        push_json_str(&mut out, &endpoint.provider);
        out.extend_from_slice(b",\"quantization\":");
        push_json_str(
            &mut out,
            endpoint.traits.quantization.as_deref().unwrap_or("unknown"),
        );
        out.extend_from_slice(b",\"context_length\":");
        push_u64(&mut out, u64::from(endpoint.context_length));
        out.extend_from_slice(b",\"max_completion_tokens\":");
        match endpoint.max_output {
            Some(max_output) => push_u64(&mut out, u64::from(max_output)),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"max_prompt_tokens\":");
        push_u64(&mut out, u64::from(endpoint.context_length));
        out.extend_from_slice(b",\"pricing\":");
        push_pricing(&mut out, &endpoint.pricing);
        out.extend_from_slice(b",\"supported_parameters\":[");
        for (idx, parameter) in endpoint.supported_parameters.iter().enumerate() {
            if idx > 0 {
                out.push(b',');
            }
            push_json_str(&mut out, parameter);
        }
        out.extend_from_slice(b"],\"supports_implicit_caching\":");
        push_bool(&mut out, endpoint.pricing.cache_read.is_some());
        let tools = endpoint.capabilities.tools;
        out.extend_from_slice(b",\"supports_tool_choice\":{\"auto\":");
        push_bool(&mut out, tools);
        out.extend_from_slice(b",\"none\":");
        push_bool(&mut out, tools);
        out.extend_from_slice(b",\"required\":");
        push_bool(&mut out, tools);
        out.extend_from_slice(b",\"function\":");
        push_bool(&mut out, tools);
        out.extend_from_slice(
            b"},\"native_tools\":{},\"service_tier\":null,\"supports_diarization\":false,\"supports_voice_cloning\":false,\"status\":0,\"uptime_last_5m\":null,\"uptime_last_30m\":",
        );
        let stats = stats(EndpointIdx(idx));
        match stats.uptime {
            Some(uptime) => push_decimal(&mut out, uptime),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"uptime_last_1d\":null,\"latency_last_30m\":");
        push_percentiles(
            &mut out,
            stats.latency.map(|it| it.map(|seconds| seconds * 1000.0)),
        );
        out.extend_from_slice(b",\"throughput_last_30m\":");
        push_percentiles(&mut out, stats.throughput);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}}");
    out
}

/// `GET /api/v1/model/{author}/{slug}`: `{"data": <the model's /models row>}`. With
/// `openai_compatible`, the row's `id` and `created` are repeated at the top level with
/// `object: "model"` and `owned_by` (the author), the shape of OpenAI's `models.retrieve`.
pub fn model(model: &Model, openai_compatible: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{");
    if openai_compatible {
        out.extend_from_slice(b"\"id\":");
        push_json_str(&mut out, &model.id);
        out.extend_from_slice(b",\"object\":\"model\",\"created\":");
        push_u64(&mut out, model.created);
        out.extend_from_slice(b",\"owned_by\":");
        push_json_str(&mut out, model.id.split('/').next().unwrap_or(""));
        out.push(b',');
    }
    out.extend_from_slice(b"\"data\":");
    push_model(&mut out, model);
    out.push(b'}');
    out
}

/// `{"p50":…,"p75":…,"p90":…,"p99":…}`, or `null`.
fn push_percentiles(out: &mut Vec<u8>, values: Option<[f64; 4]>) {
    let Some(values) = values else {
        out.extend_from_slice(b"null");
        return;
    };
    for (idx, (key, value)) in ["p50", "p75", "p90", "p99"].iter().zip(values).enumerate() {
        out.extend_from_slice(if idx == 0 { b"{\"" } else { b",\"" });
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        push_decimal(out, value);
    }
    out.push(b'}');
}

fn push_model(out: &mut Vec<u8>, model: &Model) {
    let top = &model.endpoints[0];
    push_row_head(
        out,
        &model.id,
        &model.name,
        model.created,
        &model.description,
        model.context_length(),
        model.endpoints.iter().any(|it| it.capabilities.vision),
    );
    push_pricing(out, &top.pricing);
    out.extend_from_slice(b",\"top_provider\":{\"context_length\":");
    push_u64(out, u64::from(top.context_length));
    out.extend_from_slice(b",\"max_completion_tokens\":");
    match top.max_output {
        Some(max_output) => push_u64(out, u64::from(max_output)),
        None => out.extend_from_slice(b"null"),
    }
    push_row_tail(
        out,
        &model.id,
        model
            .endpoints
            .iter()
            .flat_map(|it| &it.supported_parameters),
    );
}

/// A router's row (see [`models_list_with_routers`]).
fn push_router(out: &mut Vec<u8>, catalog: &Catalog, id: &str) {
    let models = catalog.models();
    let context_length = models.iter().map(Model::context_length).max().unwrap_or(0);
    push_row_head(
        out,
        id,
        "Auto Router",
        models.iter().map(|it| it.created).min().unwrap_or(0),
        "Picks a model for each prompt from its task, difficulty and needed capabilities, \
         within the allowed models and the cost/quality dial (plugins: auto-router).",
        context_length,
        models
            .iter()
            .flat_map(|it| &it.endpoints)
            .any(|it| it.capabilities.vision),
    );
    out.extend_from_slice(
        b"{\"prompt\":\"-1\",\"completion\":\"-1\"},\"top_provider\":{\"context_length\":",
    );
    push_u64(out, u64::from(context_length));
    out.extend_from_slice(b",\"max_completion_tokens\":null");
    push_row_tail(
        out,
        id,
        models
            .iter()
            .flat_map(|it| &it.endpoints)
            .flat_map(|it| &it.supported_parameters),
    );
}

/// A model row from `{"id"` to `"pricing":` (the pricing object comes next).
fn push_row_head(
    out: &mut Vec<u8>,
    id: &str,
    name: &str,
    created: u64,
    description: &str,
    context_length: u32,
    vision: bool,
) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, id);
    out.extend_from_slice(b",\"canonical_slug\":");
    push_json_str(out, id);
    out.extend_from_slice(b",\"hugging_face_id\":null,\"name\":");
    push_json_str(out, name);
    out.extend_from_slice(b",\"created\":");
    push_u64(out, created);
    out.extend_from_slice(b",\"description\":");
    push_json_str(out, description);
    out.extend_from_slice(b",\"context_length\":");
    push_u64(out, u64::from(context_length));
    push_architecture(out, vision);
    out.extend_from_slice(b",\"pricing\":");
}

/// `,"architecture":{…}` of a text model that may also read images.
fn push_architecture(out: &mut Vec<u8>, vision: bool) {
    out.extend_from_slice(match vision {
        true => b",\"architecture\":{\"modality\":\"text+image->text\",\"input_modalities\":[\"text\",\"image\"]".as_slice(),
        false => b",\"architecture\":{\"modality\":\"text->text\",\"input_modalities\":[\"text\"]".as_slice(),
    });
    out.extend_from_slice(
        b",\"output_modalities\":[\"text\"],\"tokenizer\":\"Other\",\"instruct_type\":null}",
    );
}

/// A model row from after `max_completion_tokens` to its end: the parameters (each once) and
/// the links.
fn push_row_tail<'a>(out: &mut Vec<u8>, id: &str, parameters: impl Iterator<Item = &'a String>) {
    out.extend_from_slice(
        b",\"is_moderated\":false},\"per_request_limits\":null,\"supported_parameters\":[",
    );
    let mut seen: Vec<&str> = Vec::new();
    for parameter in parameters {
        if seen.contains(&parameter.as_str()) {
            continue;
        }
        if !seen.is_empty() {
            out.push(b',');
        }
        seen.push(parameter);
        push_json_str(out, parameter);
    }
    out.extend_from_slice(
        b"],\"default_parameters\":null,\"supported_voices\":null,\"links\":{\"details\":\"/api/v1/models/",
    );
    // Inside a string literal already: escape the id without its quotes.
    let start = out.len();
    push_json_str(out, id);
    out.remove(start);
    out.pop();
    out.extend_from_slice(b"/endpoints\"}}");
}

fn push_pricing(out: &mut Vec<u8>, pricing: &Pricing) {
    let price = |out: &mut Vec<u8>, key: &[u8], value: f64| {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key);
        out.extend_from_slice(b"\":\"");
        push_decimal(out, value);
        out.push(b'"');
    };
    out.extend_from_slice(b"{\"prompt\":\"");
    push_decimal(out, pricing.prompt);
    out.push(b'"');
    price(out, b"completion", pricing.completion);
    price(out, b"request", pricing.request);
    price(out, b"image", 0.0);
    if let Some(cache_read) = pricing.cache_read {
        price(out, b"input_cache_read", cache_read);
    }
    if let Some(cache_write) = pricing.cache_write {
        price(out, b"input_cache_write", cache_write);
    }
    if let Some(reasoning) = pricing.reasoning {
        price(out, b"internal_reasoning", reasoning);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::catalog::{Capabilities, Endpoint};

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap_or_else(|err| {
            panic!("{err}: {}", String::from_utf8_lossy(bytes));
        })
    }

    fn endpoint(provider: &str, pricing: Pricing, vision: bool, parameters: &[&str]) -> Endpoint {
        Endpoint {
            provider: provider.to_owned(),
            upstream_model: "m".to_owned(),
            pricing,
            context_length: 128_000,
            max_output: Some(16_384),
            supported_parameters: parameters.iter().map(|it| (*it).to_owned()).collect(),
            capabilities: Capabilities {
                vision,
                ..Capabilities::default()
            },
            traits: Default::default(),
        }
    }

    #[test]
    fn model_endpoints_lists_each_endpoint_with_every_key_the_sdk_requires() {
        let pricing = Pricing {
            prompt: 1.25e-6,
            completion: 1e-5,
            cache_read: Some(1.25e-7),
            ..Pricing::default()
        };
        let mut second = endpoint("deepinfra", Pricing::default(), false, &["seed"]);
        second.context_length = 32_000;
        second.max_output = None;
        let model = Model {
            id: "openai/gpt-5.1".into(),
            name: "OpenAI: GPT-5.1".to_owned(),
            created: 1_762_000_000,
            description: "A \"model\"".to_owned(),
            endpoints: vec![
                endpoint("openai", pricing, true, &["tools", "seed"]),
                second,
            ],
        };
        let stats = |idx: EndpointIdx| match idx.0 {
            0 => Stats {
                uptime: Some(75.0),
                latency: Some([0.25, 0.5, 1.0, 2.0]),
                throughput: Some([40.0, 30.0, 20.0, 10.0]),
            },
            _ => Stats::default(),
        };
        let body = json(&model_endpoints(
            &model,
            |slug| match slug {
                "openai" => "OpenAI",
                _ => "DeepInfra",
            },
            stats,
        ));
        let data = &body["data"];
        assert_eq!(data["id"], "openai/gpt-5.1");
        assert_eq!(data["description"], "A \"model\"");
        assert_eq!(data["architecture"]["modality"], "text+image->text");
        let endpoints = data["endpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 2);
        let first = &endpoints[0];
        assert_eq!(first["provider_name"], "OpenAI");
        assert_eq!(first["tag"], "openai");
        assert_eq!(first["model_id"], "openai/gpt-5.1");
        assert_eq!(first["pricing"]["prompt"], "0.00000125");
        assert_eq!(first["pricing"]["input_cache_read"], "0.000000125");
        assert_eq!(
            first["supported_parameters"],
            serde_json::json!(["tools", "seed"])
        );
        assert_eq!(first["supports_implicit_caching"], true);
        assert_eq!(first["max_completion_tokens"], 16_384);
        assert_eq!(first["uptime_last_30m"], 75.0);
        assert_eq!(first["latency_last_30m"]["p50"], 250.0);
        assert_eq!(first["throughput_last_30m"]["p99"], 10.0);
        assert!(first["supports_tool_choice"]["auto"].is_boolean());
        assert!(first["native_tools"].is_object());
        let second = &endpoints[1];
        assert_eq!(second["provider_name"], "DeepInfra");
        assert_eq!(second["context_length"], 32_000);
        assert_eq!(second["max_prompt_tokens"], 32_000);
        assert!(second["max_completion_tokens"].is_null());
        assert_eq!(second["supports_implicit_caching"], false);
        for key in [
            "name",
            "model_name",
            "quantization",
            "uptime_last_5m",
            "uptime_last_30m",
            "uptime_last_1d",
            "latency_last_30m",
            "throughput_last_30m",
            "supports_tool_choice",
            "native_tools",
            "service_tier",
            "supports_diarization",
        ] {
            assert!(second.get(key).is_some(), "{key} missing");
        }
        assert!(second["latency_last_30m"].is_null());

        let one = json(&super::model(&model, true));
        assert_eq!(one["id"], "openai/gpt-5.1");
        assert_eq!(one["object"], "model");
        assert_eq!(one["owned_by"], "openai");
        assert_eq!(one["data"]["id"], "openai/gpt-5.1");
        assert!(json(&super::model(&model, false)).get("object").is_none());
    }

    #[test]
    fn models_list_has_string_prices_and_required_keys() {
        let pricing = Pricing {
            prompt: 1.25e-6,
            completion: 1e-5,
            cache_read: Some(1.25e-7),
            ..Pricing::default()
        };
        let mut second = endpoint("b", Pricing::default(), false, &["tools", "seed"]);
        second.context_length = 200_000;
        let catalog = Catalog::new(vec![
            Model {
                id: "openai/gpt-5.1".into(),
                name: "OpenAI: GPT-5.1".to_owned(),
                created: 1_762_000_000,
                description: "A \"model\"".to_owned(),
                endpoints: vec![
                    endpoint("a", pricing, true, &["temperature", "tools"]),
                    second,
                ],
            },
            Model {
                id: "meta-llama/llama-3.3-70b-instruct".into(),
                name: "Llama".to_owned(),
                created: 0,
                description: String::new(),
                endpoints: vec![endpoint("c", Pricing::default(), false, &[])],
            },
        ])
        .unwrap();
        let body = json(&models_list(&catalog));
        assert_eq!(body["total_count"], 2);
        assert!(body["links"]["next"].is_null());
        let model = &body["data"][0];
        assert_eq!(model["id"], "openai/gpt-5.1");
        assert_eq!(model["canonical_slug"], "openai/gpt-5.1");
        assert_eq!(model["description"], "A \"model\"");
        assert_eq!(model["context_length"], 200_000);
        assert_eq!(model["pricing"]["prompt"], "0.00000125");
        assert_eq!(model["pricing"]["completion"], "0.00001");
        assert_eq!(model["pricing"]["input_cache_read"], "0.000000125");
        assert_eq!(model["pricing"]["request"], "0");
        assert_eq!(model["pricing"]["image"], "0");
        assert!(model["pricing"].get("input_cache_write").is_none());
        assert_eq!(
            model["architecture"]["input_modalities"],
            serde_json::json!(["text", "image"])
        );
        assert_eq!(model["top_provider"]["context_length"], 128_000);
        assert_eq!(model["top_provider"]["max_completion_tokens"], 16_384);
        assert_eq!(model["top_provider"]["is_moderated"], false);
        assert_eq!(
            model["supported_parameters"],
            serde_json::json!(["temperature", "tools", "seed"])
        );
        assert_eq!(
            model["links"]["details"],
            "/api/v1/models/openai/gpt-5.1/endpoints"
        );
        for key in [
            "hugging_face_id",
            "per_request_limits",
            "default_parameters",
            "supported_voices",
        ] {
            assert!(model[key].is_null(), "{key}");
            assert!(model.as_object().unwrap().contains_key(key), "{key}");
        }
        assert_eq!(body["data"][1]["architecture"]["modality"], "text->text");
        assert_eq!(
            body["data"][1]["supported_parameters"],
            serde_json::json!([])
        );

        let with_router = json(&models_list_with_routers(
            &catalog,
            &["openrouter/auto".to_owned()],
        ));
        assert_eq!(with_router["total_count"], 3);
        assert_eq!(with_router["data"][0], body["data"][0]);
        let router = &with_router["data"][2];
        assert_eq!(router["id"], "openrouter/auto");
        assert_eq!(router["pricing"]["prompt"], "-1");
        assert_eq!(router["pricing"]["completion"], "-1");
        assert_eq!(
            router["context_length"], 200_000,
            "the largest in the catalog"
        );
        assert_eq!(
            router["architecture"]["input_modalities"],
            serde_json::json!(["text", "image"])
        );
        assert_eq!(
            router["supported_parameters"],
            serde_json::json!(["temperature", "tools", "seed"])
        );
        assert_eq!(
            router["links"]["details"],
            "/api/v1/models/openrouter/auto/endpoints"
        );
        assert!(router["top_provider"]["max_completion_tokens"].is_null());
    }
}
