//! Turnout's pure routing logic.
//!
//! Everything here is plain data and pure functions: no I/O, no async runtime, no clock and no
//! global randomness (time and randomness are arguments). The HTTP server, the provider clients
//! and the session cache all build on these types.
//!
//! # Layout
//!
//! - [`catalog`]: models (`author/slug`), the endpoints that serve them, prices, capabilities.
//! - [`request`]: the canonical chat request, parsed once from the body with borrowed pass-through
//!   fields, and the features routing needs from it.
//! - [`response`]: the canonical (provider-neutral) response and stream chunk.
//! - [`fallback`]: failure classes and the policy that says which of them fall back.
//! - [`plan`]: the routing plan, an ordered list of attempts with the reason for each.
//! - [`provider`]: the request's `provider` preferences (filters, order, sort), parsed.
//! - [`health`]: per-endpoint health (cool-downs, probes, latency and throughput), time passed in.
//! - [`pricing`]: token usage and what it costs at an endpoint's prices.
//! - [`render`]: OpenRouter-shaped response, stream chunk and model-list bytes.
//! - [`listing`]: which rows `GET /models` shows for its query (filters, sort, pages).
//! - [`secret`]: a string that never prints.
//! - [`json`]: reading a few members of a JSON document in one checking pass, and verbatim JSON
//!   values.
//! - [`parameters`]: which tuning parameters an endpoint receives (unsupported ones are left out).
//! - [`patterns`]: `allowed_models` / `excluded_models` globs over `author/slug` ids.
//! - [`analysis`]: prompt analysis (task type, difficulty, language, needed capabilities).
//! - [`auto`]: the Auto Router: plugin settings, the cost/quality dial, quality profiles,
//!   selection and its explanation.

pub mod analysis;
pub mod auto;
pub mod catalog;
pub mod fallback;
pub mod health;
pub mod json;
pub mod listing;
pub mod parameters;
pub mod patterns;
pub mod plan;
pub mod pricing;
pub mod provider;
pub mod render;
pub mod request;
pub mod response;
pub mod secret;
