//! Turnout's provider clients.
//!
//! A [`ProviderClient`] sends a canonical [`ChatRequest`](router_core::request::ChatRequest) to
//! one provider in that provider's wire format and turns the answer into a canonical
//! [`ChatResponse`](router_core::response::ChatResponse) or a [`ChunkStream`] of
//! [`ChatChunk`](router_core::response::ChatChunk)s. Every failure is an [`UpstreamError`]
//! classified by its [`FailureClass`](router_core::fallback::FailureClass), which the server's
//! fallback loop checks against the request's fallback policy, never by matching messages;
//! [`UpstreamError::fault`] says whose fault it was.
//!
//! Pass-through request fields and `choices` stay raw JSON end to end: a request body is written
//! straight from the client's bytes, and a response's `choices` is copied, not rebuilt.
//!
//! # Layout
//!
//! - [`client`]: [`ProviderSettings`] (base URL, key, timeouts per phase) and [`ProviderClient`],
//!   one pooled HTTP client per provider, dispatching on [`ProviderKind`].
//! - `transport`: the pooled HTTP client under it: reqwest for `https://` (TLS, proxies), hyper's
//!   HTTP/1.1 connections for plain `http://`, behind one response type; bodies read in network
//!   chunks, or whole up to `max_response_bytes`.
//! - `pool`: the plain-http connection pool (idle connections last in, first out; a connection
//!   reused only after its answer was read to its end).
//! - [`error`]: [`UpstreamError`], [`Fault`], classification of HTTP statuses and
//!   provider error bodies, `Retry-After`, and scrubbing of the provider key from error text.
//! - [`sse`]: an incremental, provider-neutral server-sent-events parser.
//! - `utf8`: the UTF-8 check of answers (SIMD, with the standard library's error when it fails).
//! - `exchange`, `event_stream`: what every wire format shares: sending with the first-byte
//!   timeout, classifying a non-2xx answer and reading a body up to `max_response_bytes`;
//!   driving an SSE body through a format's event reader with the idle timeout and the same
//!   bound on one event.
//! - `canonical`: the provider-neutral layer of the native formats: the conversation decoded from
//!   the request, OpenRouter's fields (`reasoning`, `user`, `response_format`, sampling) read
//!   once, and OpenAI-shaped `choices` built from a native answer.
//! - `fuzzing` (feature `fuzzing`): the private decoders, exposed to the fuzz targets only.
//! - `openai_compat`: the OpenAI chat completions wire format (request body writer, response
//!   parser, stream decoder).
//! - [`replay`]: a stream already in memory read with the live readers (benches, fuzzing).
//! - `anthropic`: Anthropic's Messages API. `gemini`: Google's `generateContent` and
//!   `streamGenerateContent`.

mod anthropic;
mod canonical;
pub mod client;
pub mod error;
mod event_stream;
mod exchange;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod gemini;
mod openai_compat;
mod pool;
pub mod replay;
pub mod sse;
mod transport;
mod utf8;

pub use client::{ChunkStream, ClientConfigError, ProviderClient, ProviderKind, ProviderSettings};
pub use error::{Fault, UpstreamError};
