//! OpenRouter-shaped rendering of responses, stream chunks and the model list, as JSON bytes.
//!
//! The server owns a few fields of every response (`id`, `model`, `provider`, `created`, the
//! usage block with its cost); everything else (`choices`) is the provider's raw JSON, copied
//! verbatim. Rendering writes straight into a byte buffer: no `serde_json::Value`, no
//! intermediate strings. The functions are pure so the benches can measure them.
//!
//! Streams render a per-generation prefix once ([`ChunkPrefix`]) and then only append each
//! chunk's raw `choices`.
//!
//! The model list is rendered from a [`Listing`] (the rows a query selects, see
//! [`crate::listing`]), and [`model_endpoints`] renders the page each row links to.
//!
//! A routed response also says which models were asked for and which one answered, in
//! `_metadata.openRouter.modelRouting: {requested: [...], actual: "..."}` ([`ModelRouting`]): on
//! the body of a completion ([`routed_completion`]) and on the last chunk of a stream (the usage
//! chunk, [`ChunkPrefix::routed_usage_chunk`], or the error chunk of a stream that failed after
//! a model answered). OpenAI's and OpenRouter's SDKs ignore the key; clients written for
//! OpenRouter's routing guide read it.

use crate::catalog::{Catalog, EndpointIdx, Model, Pricing};
use crate::health::Stats;
use crate::json::RawJson;
use crate::listing::{Listing, ListingQuery, Row};
use crate::pricing::{Cost, Usage};
use crate::response::ChatResponse;

/// The SSE comment sent while waiting for the first token.
pub const KEEPALIVE: &[u8] = b": OPENROUTER PROCESSING\n\n";

/// The SSE event that ends every stream.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// The fields the router owns in every response and chunk of one generation.
#[derive(Debug, Clone, Copy)]
pub struct Generation<'a> {
    /// Our generation id, `gen-…`.
    pub id: &'a str,
    /// Unix seconds when the request arrived.
    pub created: u64,
    /// The public id of the model that answered (`openai/gpt-5.1`).
    pub model: &'a str,
    /// Display name of the provider that answered (`OpenAI`).
    pub provider: &'a str,
}

/// An error to report inside a stream whose `200` status has already been sent.
#[derive(Debug, Clone, Copy)]
pub struct StreamError<'a> {
    /// The HTTP-style status code (an integer, as SDKs require).
    pub code: u16,
    /// A message safe to show the client.
    pub message: &'a str,
    /// OpenRouter's typed error (`provider_unavailable`, `timeout`, …).
    pub error_type: &'a str,
    /// The routing metadata, when a model answered before the stream failed.
    pub routing: Option<ModelRouting<'a>>,
}

/// `_metadata.openRouter.modelRouting` of a routed response: the models the client asked for
/// and the one that answered.
#[derive(Debug, Clone, Copy)]
pub struct ModelRouting<'a> {
    /// The requested models, in the order they were to be tried (duplicates removed).
    pub requested: &'a [&'a str],
    /// The model that answered.
    pub actual: &'a str,
}

/// Appends a non-streaming `chat.completion` body.
pub fn completion(
    out: &mut Vec<u8>,
    generation: &Generation<'_>,
    response: &ChatResponse,
    cost: &Cost,
) {
    push_completion(out, generation, response, cost, None);
}

/// Appends a non-streaming `chat.completion` body with its `_metadata` routing block.
pub fn routed_completion(
    out: &mut Vec<u8>,
    generation: &Generation<'_>,
    response: &ChatResponse,
    cost: &Cost,
    routing: &ModelRouting<'_>,
) {
    push_completion(out, generation, response, cost, Some(routing));
}

fn push_completion(
    out: &mut Vec<u8>,
    generation: &Generation<'_>,
    response: &ChatResponse,
    cost: &Cost,
    routing: Option<&ModelRouting<'_>>,
) {
    out.reserve(response.choices.get().len() + 640);
    push_identity(out, generation, b"chat.completion");
    out.extend_from_slice(b",\"system_fingerprint\":");
    match &response.system_fingerprint {
        Some(fingerprint) => push_json_str(out, fingerprint),
        None => out.extend_from_slice(b"null"),
    }
    if let Some(tier) = &response.service_tier {
        out.extend_from_slice(b",\"service_tier\":");
        push_json_str(out, tier);
    }
    out.extend_from_slice(b",\"choices\":");
    out.extend_from_slice(response.choices.get().as_bytes());
    out.extend_from_slice(b",\"usage\":");
    push_usage(out, &response.usage, cost);
    if let Some(routing) = routing {
        push_routing(out, routing);
    }
    out.push(b'}');
}

/// The constant start of every `data:` event of one stream, up to and including `"choices":`.
#[derive(Debug, Clone)]
pub struct ChunkPrefix {
    bytes: Vec<u8>,
}

impl ChunkPrefix {
    /// Renders the prefix for `generation`.
    pub fn new(generation: &Generation<'_>) -> Self {
        let mut bytes = Vec::with_capacity(192);
        bytes.extend_from_slice(b"data: ");
        push_identity(&mut bytes, generation, b"chat.completion.chunk");
        bytes.extend_from_slice(b",\"choices\":");
        Self { bytes }
    }

    /// Appends one `data:` event carrying `choices` verbatim.
    pub fn chunk(&self, out: &mut Vec<u8>, choices: &RawJson) {
        out.reserve(self.bytes.len() + choices.get().len() + 3);
        out.extend_from_slice(&self.bytes);
        out.extend_from_slice(choices.get().as_bytes());
        out.extend_from_slice(b"}\n\n");
    }

    /// Appends the usage event (`choices: []` and `usage` with its cost) that ends a stream's data.
    pub fn usage_chunk(&self, out: &mut Vec<u8>, usage: &Usage, cost: &Cost) {
        self.push_usage_chunk(out, usage, cost, None);
    }

    /// [`ChunkPrefix::usage_chunk`] with the `_metadata` routing block.
    pub fn routed_usage_chunk(
        &self,
        out: &mut Vec<u8>,
        usage: &Usage,
        cost: &Cost,
        routing: &ModelRouting<'_>,
    ) {
        self.push_usage_chunk(out, usage, cost, Some(routing));
    }

    fn push_usage_chunk(
        &self,
        out: &mut Vec<u8>,
        usage: &Usage,
        cost: &Cost,
        routing: Option<&ModelRouting<'_>>,
    ) {
        out.reserve(self.bytes.len() + 400);
        out.extend_from_slice(&self.bytes);
        out.extend_from_slice(b"[],\"usage\":");
        push_usage(out, usage, cost);
        if let Some(routing) = routing {
            push_routing(out, routing);
        }
        out.extend_from_slice(b"}\n\n");
    }
}

/// Appends the final `data:` event of a stream that failed after its `200` was sent: a top-level
/// `error` and a choice with `finish_reason: "error"`.
pub fn error_chunk(out: &mut Vec<u8>, generation: &Generation<'_>, error: &StreamError<'_>) {
    out.reserve(384 + error.message.len());
    out.extend_from_slice(b"data: ");
    push_identity(out, generation, b"chat.completion.chunk");
    out.extend_from_slice(b",\"error\":{\"code\":");
    push_u64(out, u64::from(error.code));
    out.extend_from_slice(b",\"message\":");
    push_json_str(out, error.message);
    out.extend_from_slice(b",\"metadata\":{\"error_type\":");
    push_json_str(out, error.error_type);
    out.extend_from_slice(
        b"}},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]",
    );
    if let Some(routing) = &error.routing {
        push_routing(out, routing);
    }
    out.extend_from_slice(b"}\n\n");
}

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

fn push_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
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

/// Appends `value` as a plain decimal number, never in exponent notation (`0.00000125`),
/// rounded to [`SIGNIFICANT_DIGITS`] significant digits. Non-finite values (which no price or
/// cost can be) render as `0`.
///
/// The rounding removes the noise of binary floating-point arithmetic (`0.025 / 1e6` is
/// `2.5000000000000002e-8`, and a cost sums several products) while keeping far more precision
/// than any price has.
pub fn push_decimal(out: &mut Vec<u8>, value: f64) {
    use std::io::Write as _;
    if !value.is_finite() {
        out.push(b'0');
        return;
    }
    match scaled_digits(value) {
        Some((digits, digits_after_point)) => push_scaled(out, value, digits, digits_after_point),
        // Rust's `Display` for floats prints the shortest round-tripping decimal and never uses
        // an exponent. Writing into a `Vec` cannot fail.
        None => _ = write!(out, "{value}"),
    }
}

/// Significant digits kept by [`push_decimal`].
pub const SIGNIFICANT_DIGITS: i32 = 12;

/// `|value|` rounded to [`SIGNIFICANT_DIGITS`] significant digits, as an integer and the number
/// of its digits after the decimal point; `None` for zero and for values so large or so small
/// (below about `1e-11`) that the scaling power of ten is not exact in binary.
fn scaled_digits(value: f64) -> Option<(u64, u32)> {
    if value == 0.0 {
        return None;
    }
    let magnitude = value.abs().log10().floor() as i32;
    let digits_after_point = u32::try_from(SIGNIFICANT_DIGITS - 1 - magnitude).ok()?;
    // Powers of ten up to 1e22 are exact in an f64, so the scaled value is correctly rounded.
    if digits_after_point > 22 {
        return None;
    }
    let scale = 10f64.powi(digits_after_point as i32);
    // At most 13 digits (`log10` may be one off at a power of ten): exact in both types.
    Some(((value.abs() * scale).round() as u64, digits_after_point))
}

/// Writes `digits / 10^digits_after_point` with `value`'s sign, without trailing zeros: what
/// `Display` prints for the nearest `f64`, since a decimal of at most 15 significant digits is
/// the shortest string that reads back as that `f64`.
fn push_scaled(out: &mut Vec<u8>, value: f64, digits: u64, digits_after_point: u32) {
    let mut buffer = [b'0'; 40];
    let mut text = digits;
    let mut start = buffer.len();
    while text > 0 {
        start -= 1;
        buffer[start] = b'0' + (text % 10) as u8;
        text /= 10;
    }
    let point = digits_after_point as usize;
    // Leading zeros up to one digit before the point (`buffer` is zero-filled).
    start = start.min(buffer.len() - point - 1);
    let (whole, fraction) = buffer[start..].split_at(buffer.len() - start - point);
    let fraction_len = fraction.len() - fraction.iter().rev().take_while(|it| **it == b'0').count();
    if value.is_sign_negative() && digits > 0 {
        out.push(b'-');
    }
    out.extend_from_slice(whole);
    if fraction_len > 0 {
        out.push(b'.');
        out.extend_from_slice(&fraction[..fraction_len]);
    }
}

/// Appends `value` as a JSON string literal, escaping what JSON requires.
pub fn push_json_str(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (idx, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..idx]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = idx + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `value` in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[pos..]);
}

/// `{"id":…,"provider":…,"model":…,"object":…,"created":…` (no closing brace).
fn push_identity(out: &mut Vec<u8>, generation: &Generation<'_>, object: &[u8]) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, generation.id);
    out.extend_from_slice(b",\"provider\":");
    push_json_str(out, generation.provider);
    out.extend_from_slice(b",\"model\":");
    push_json_str(out, generation.model);
    out.extend_from_slice(b",\"object\":\"");
    out.extend_from_slice(object);
    out.extend_from_slice(b"\",\"created\":");
    push_u64(out, generation.created);
}

/// `,"_metadata":{"openRouter":{"modelRouting":{"requested":[…],"actual":…}}}`.
fn push_routing(out: &mut Vec<u8>, routing: &ModelRouting<'_>) {
    out.extend_from_slice(b",\"_metadata\":{\"openRouter\":{\"modelRouting\":{\"requested\":[");
    for (idx, model) in routing.requested.iter().enumerate() {
        if idx > 0 {
            out.push(b',');
        }
        push_json_str(out, model);
    }
    out.extend_from_slice(b"],\"actual\":");
    push_json_str(out, routing.actual);
    out.extend_from_slice(b"}}}");
}

fn push_usage(out: &mut Vec<u8>, usage: &Usage, cost: &Cost) {
    out.extend_from_slice(b"{\"prompt_tokens\":");
    push_u64(out, usage.prompt_tokens);
    out.extend_from_slice(b",\"completion_tokens\":");
    push_u64(out, usage.completion_tokens);
    out.extend_from_slice(b",\"total_tokens\":");
    push_u64(out, usage.total_tokens);
    out.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":");
    push_u64(out, usage.cached_tokens);
    out.extend_from_slice(b",\"cache_write_tokens\":");
    push_u64(out, usage.cache_write_tokens);
    out.extend_from_slice(b"},\"completion_tokens_details\":{\"reasoning_tokens\":");
    push_u64(out, usage.reasoning_tokens);
    out.extend_from_slice(b"},\"cost\":");
    push_decimal(out, cost.total);
    out.extend_from_slice(
        b",\"is_byok\":false,\"cost_details\":{\"upstream_inference_cost\":null,\"upstream_inference_prompt_cost\":",
    );
    push_decimal(out, cost.prompt);
    out.extend_from_slice(b",\"upstream_inference_completions_cost\":");
    push_decimal(out, cost.completion);
    out.extend_from_slice(b"}}");
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
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::catalog::{Capabilities, Endpoint};
    use crate::pricing::cost;

    fn generation() -> Generation<'static> {
        Generation {
            id: "gen-1700000000-abc",
            created: 1_700_000_000,
            model: "openai/gpt-5.1",
            provider: "Open\"AI",
        }
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap_or_else(|err| {
            panic!("{err}: {}", String::from_utf8_lossy(bytes));
        })
    }

    #[test]
    fn escapes_strings_like_serde_json() {
        for text in [
            "plain",
            "q\"uote\\",
            "line\nbreak\ttab\r",
            "\u{1}\u{8}\u{c}\u{1f}",
            "ünï ✓",
            "",
        ] {
            let mut out = Vec::new();
            push_json_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    /// What [`push_decimal`] printed before it wrote digits itself: `Display` of the value
    /// rounded through a division by the power of ten.
    fn decimal_by_display(value: f64) -> String {
        if !value.is_finite() {
            return "0".to_owned();
        }
        let rounded = match scaled_digits(value) {
            Some((_, after)) => {
                let scale = 10f64.powi(after as i32);
                (value * scale).round() / scale
            }
            None => value,
        };
        format!("{rounded}")
    }

    proptest! {
        #[test]
        fn decimals_match_display_of_the_rounded_value(
            mantissa in 1u64..10_000_000_000_000,
            exponent in -24i32..12,
            negative in any::<bool>(),
        ) {
            let value = mantissa as f64 * 10f64.powi(exponent) * if negative { -1.0 } else { 1.0 };
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            prop_assert_eq!(String::from_utf8(out).unwrap(), decimal_by_display(value));
        }

        #[test]
        fn any_finite_decimal_matches_display(bits in any::<u64>()) {
            let value = f64::from_bits(bits);
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            prop_assert_eq!(String::from_utf8(out).unwrap(), decimal_by_display(value));
        }
    }

    #[test]
    fn decimals_never_use_exponents() {
        let cases = [
            (0.00000125, "0.00000125"),
            (1e-7, "0.0000001"),
            (0.0, "0"),
            (15.0, "15"),
            (3e-6, "0.000003"),
            (f64::NAN, "0"),
            (0.025 / 1e6, "0.000000025"),
            (1.0 * 1.25e-6 + 4.0 * 1e-5, "0.00004125"),
            (150.0 / 1e6, "0.00015"),
            (1234.5, "1234.5"),
            (0.1 + 0.2, "0.3"),
        ];
        for (value, expected) in cases {
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
        for value in [0, 9, 10, 1_234_567_890, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }

    #[test]
    fn completion_owns_identity_and_usage_and_keeps_choices_verbatim() {
        let choices = r#"[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop","x":[1, 2]}]"#;
        let response = ChatResponse {
            upstream_id: Some("chatcmpl-1".to_owned()),
            choices: RawJson::parse(choices).unwrap(),
            usage: Usage {
                prompt_tokens: 10,
                completion_tokens: 4,
                total_tokens: 14,
                cached_tokens: 2,
                cache_write_tokens: 0,
                reasoning_tokens: 1,
            },
            finish_reason: None,
            system_fingerprint: None,
            service_tier: Some("default".to_owned()),
        };
        let pricing = Pricing {
            prompt: 1.25e-6,
            completion: 1e-5,
            ..Pricing::default()
        };
        let cost = cost(&pricing, &response.usage);
        let mut out = Vec::new();
        completion(&mut out, &generation(), &response, &cost);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains(choices), "{text}");
        let body = json(&out);
        assert_eq!(body["id"], "gen-1700000000-abc");
        assert_eq!(body["provider"], "Open\"AI");
        assert_eq!(body["model"], "openai/gpt-5.1");
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["created"], 1_700_000_000);
        assert!(body["system_fingerprint"].is_null());
        assert!(body.as_object().unwrap().contains_key("system_fingerprint"));
        assert_eq!(body["service_tier"], "default");
        let usage = &body["usage"];
        assert_eq!(usage["prompt_tokens"], 10);
        assert_eq!(usage["total_tokens"], 14);
        assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 2);
        assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 1);
        assert_eq!(usage["is_byok"], false);
        let close = |value: &Value, expected: f64| {
            (value.as_f64().unwrap() - expected).abs() <= expected * 1e-11
        };
        assert!(close(&usage["cost"], cost.total), "{usage}");
        let details = &usage["cost_details"];
        assert!(details["upstream_inference_cost"].is_null());
        assert!(close(
            &details["upstream_inference_prompt_cost"],
            cost.prompt
        ));
        assert!(close(
            &details["upstream_inference_completions_cost"],
            cost.completion
        ));
    }

    #[test]
    fn stream_events_share_the_prefix_and_end_with_usage() {
        let prefix = ChunkPrefix::new(&generation());
        let choices =
            RawJson::parse(r#"[{"index":0,"delta":{"content":"a"},"finish_reason":null}]"#)
                .unwrap();
        let mut out = Vec::new();
        prefix.chunk(&mut out, &choices);
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 5,
            total_tokens: 8,
            ..Usage::default()
        };
        prefix.usage_chunk(
            &mut out,
            &usage,
            &Cost {
                total: 0.5,
                prompt: 0.25,
                completion: 0.25,
            },
        );
        out.extend_from_slice(DONE);
        let text = String::from_utf8(out).unwrap();
        let events: Vec<&str> = text.split_terminator("\n\n").collect();
        assert_eq!(events.len(), 3, "{text}");
        let first = json(events[0].strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["choices"][0]["delta"]["content"], "a");
        let last = json(events[1].strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(last["id"], first["id"]);
        assert_eq!(last["created"], first["created"]);
        assert_eq!(last["choices"], Value::Array(Vec::new()));
        assert_eq!(last["usage"]["completion_tokens"], 5);
        assert_eq!(last["usage"]["cost"], 0.5);
        assert_eq!(events[2], "data: [DONE]");
    }

    #[test]
    fn error_chunk_has_an_integer_code_and_a_terminating_choice() {
        let mut out = Vec::new();
        error_chunk(
            &mut out,
            &generation(),
            &StreamError {
                code: 502,
                message: "upstream \"failed\"",
                error_type: "provider_unavailable",
                routing: None,
            },
        );
        assert!(out.ends_with(b"\n\n"));
        let text = String::from_utf8(out).unwrap();
        let chunk = json(text.trim_end().strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(chunk["error"]["code"], 502);
        assert_eq!(chunk["error"]["message"], "upstream \"failed\"");
        assert_eq!(
            chunk["error"]["metadata"]["error_type"],
            "provider_unavailable"
        );
        assert_eq!(chunk["choices"][0]["finish_reason"], "error");
        assert_eq!(chunk["choices"][0]["index"], 0);
        for key in ["id", "object", "created", "model", "provider"] {
            assert!(chunk.get(key).is_some(), "{key}");
        }
        assert!(chunk.get("_metadata").is_none(), "{chunk}");
    }

    #[test]
    fn routed_bodies_and_last_chunks_carry_model_routing() {
        let requested = ["a/primary", "b/\"fallback\""];
        let routing = ModelRouting {
            requested: &requested,
            actual: "b/\"fallback\"",
        };
        let expected = serde_json::json!({
            "openRouter": {"modelRouting": {"requested": requested, "actual": requested[1]}}
        });
        let response = ChatResponse {
            upstream_id: None,
            choices: RawJson::empty_array(),
            usage: Usage::default(),
            finish_reason: None,
            system_fingerprint: None,
            service_tier: None,
        };
        let mut out = Vec::new();
        routed_completion(
            &mut out,
            &generation(),
            &response,
            &Cost::default(),
            &routing,
        );
        let body = json(&out);
        assert_eq!(body["_metadata"], expected);
        assert_eq!(body["usage"]["cost"], 0);

        let prefix = ChunkPrefix::new(&generation());
        let mut out = Vec::new();
        prefix.routed_usage_chunk(&mut out, &Usage::default(), &Cost::default(), &routing);
        let text = String::from_utf8(out).unwrap();
        let chunk = json(text.trim_end().strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(chunk["_metadata"], expected);
        assert_eq!(chunk["choices"], serde_json::json!([]));

        let mut out = Vec::new();
        error_chunk(
            &mut out,
            &generation(),
            &StreamError {
                code: 502,
                message: "cut",
                error_type: "provider_unavailable",
                routing: Some(routing),
            },
        );
        let text = String::from_utf8(out).unwrap();
        let chunk = json(text.trim_end().strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(chunk["_metadata"], expected);
        assert_eq!(chunk["choices"][0]["finish_reason"], "error");

        // Without routing the bodies are unchanged.
        let mut out = Vec::new();
        completion(&mut out, &generation(), &response, &Cost::default());
        assert!(json(&out).get("_metadata").is_none());
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
            id: "openai/gpt-5.1".to_owned(),
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
                id: "openai/gpt-5.1".to_owned(),
                name: "OpenAI: GPT-5.1".to_owned(),
                created: 1_762_000_000,
                description: "A \"model\"".to_owned(),
                endpoints: vec![
                    endpoint("a", pricing, true, &["temperature", "tools"]),
                    second,
                ],
            },
            Model {
                id: "meta-llama/llama-3.3-70b-instruct".to_owned(),
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
