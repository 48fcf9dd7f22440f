//! `[[models]]`: the catalog, each model with its endpoints, their traits and prices, checked
//! into a [`Catalog`].

use std::collections::{BTreeSet, HashMap};

use router_core::catalog::{
    self, Capabilities, Catalog, DataCollection, Endpoint, EndpointTraits, Model, Pricing,
};

use super::problems::{Problems, join_index, join_key};
use super::raw::{Deferred, RawEndpoint, RawModel, RawPricing};

/// Tokens per unit of the prices in the file (USD per million tokens).
const TOKENS_PER_PRICE_UNIT: f64 = 1_000_000.0;

/// Every `[[models]]` entry, into the catalog; at least one is required.
pub(super) fn catalog(
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
        id: raw.id.into(),
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
