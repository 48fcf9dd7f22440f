//! Turnout's provider clients.
//!
//! A [`ProviderClient`] sends a canonical [`ChatRequest`](router_core::request::ChatRequest) to
//! one provider in that provider's wire format and turns the answer into a canonical
//! [`ChatResponse`](router_core::response::ChatResponse) or a [`ChunkStream`] of
//! [`ChatChunk`](router_core::response::ChatChunk)s. Every failure is an [`UpstreamError`]
//! classified by [`ErrorKind`], which the server's fallback loop reads through
//! [`UpstreamError::fault`] and [`UpstreamError::retryable`], never by matching messages.
//!
//! Pass-through request fields and `choices` stay raw JSON end to end: a request body is written
//! straight from the client's bytes, and a response's `choices` is copied, not rebuilt.
//!
//! # Layout
//!
//! - [`client`]: [`ProviderSettings`] (base URL, key, timeouts per phase) and [`ProviderClient`],
//!   one pooled HTTP client per provider, dispatching on [`ProviderKind`].
//! - `transport`: the pooled HTTP client under it: reqwest for `https://` (TLS, proxies), hyper's
//!   pooled client directly for plain `http://`, behind one response type; bodies read in
//!   network chunks, or whole up to `max_response_bytes`.
//! - [`error`]: [`UpstreamError`], [`ErrorKind`], [`Fault`], classification of HTTP statuses and
//!   provider error bodies, `Retry-After`, and scrubbing of the provider key from error text.
//! - [`sse`]: an incremental, provider-neutral server-sent-events parser.
//! - `fuzzing` (feature `fuzzing`): the private decoders, exposed to the fuzz targets only.
//! - `openai_compat`: the OpenAI chat completions wire format (request body writer, response
//!   parser, stream decoder). Anthropic and Gemini get sibling modules of the same shape.

pub mod client;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod openai_compat;
pub mod sse;
mod transport;

pub use client::{ChunkStream, ProviderClient, ProviderKind, ProviderSettings};
pub use error::{ErrorKind, Fault, UpstreamError};
