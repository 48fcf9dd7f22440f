//! Turnout's HTTP server: the OpenRouter-compatible API in front of the configured providers.
//!
//! # Layout
//!
//! - [`config`]: the TOML config file, `${VAR}` expansion, validation into [`config::Config`].
//! - [`records`]: generation records, written off the request path to an embedded store.
//! - `app`: the shared state (config, provider clients) and the axum router.
//! - `serve`: the listener, graceful shutdown and [`RunningServer`]; [`spawn`] starts a server.
//! - `http1`: HTTP/1.1 connections: requests read, run and answered, keep-alive, timeouts.
//! - `dispatch`: the service a connection runs: chat completions straight to their handler,
//!   everything else through the axum router.
//! - `auth`, `extract`: the client-key check and the size-limited body.
//! - `api`: the handlers (`chat`, `route`, `models`, `generation`, `key`, `health`).
//! - `routing`: building a request's plan and picking its fallback policy.
//! - `execute`, `stream`: running a plan, non-streaming and streaming (the commit rule).
//! - `receipt`: the route receipt of a request (headers) and its generation record.
//! - `error`: `ApiError`, the one rendering of errors as JSON and as SSE chunks.
//! - `sticky`: sticky sessions: conversation pins, their store and the clock they expire on.
//! - `ids`: generation ids.
//! - `percent`: percent-encoding for header lists and query strings.
//! - [`demo`]: the demo mode: mock providers and the demo catalog.
//! - [`launch`]: where the config comes from at start-up (flags, `turnout.toml`, provider keys
//!   in the environment, or the demo).

pub mod config;
pub mod records;

mod api;
mod app;
mod auth;
pub mod demo;
mod dispatch;
mod error;
mod execute;
mod extract;
mod http1;
mod ids;
pub mod launch;
mod percent;
mod receipt;
mod routing;
mod serve;
mod sticky;
mod stream;

pub use app::StartError;
pub use serve::{RunningServer, spawn, spawn_with_clock};
pub use sticky::{Clock, ManualClock, StoreSetupError, SystemClock};
