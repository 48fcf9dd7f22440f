//! Turnout's HTTP server: the OpenRouter-compatible API in front of the configured providers.
//!
//! # Layout
//!
//! - [`config`]: the TOML config file, `${VAR}` expansion, validation into [`config::Config`].
//! - [`records`]: generation records, written off the request path to an embedded store.
//! - `app`: the shared state (config, provider clients) and the axum router.
//! - `serve`: the listener, the connection cap, hyper's HTTP/1.1 and HTTP/2 connections (and
//!   TLS), graceful shutdown and [`RunningServer`]; [`spawn`] starts a server.
//! - `dispatch`: the service a connection runs: chat completions straight to their handler,
//!   everything else through the axum router.
//! - `auth`, `extract`: the client-key check and the size-limited body.
//! - `chat`: the chat completions lifecycle, top-down: accept, route, run the attempts, answer
//!   as JSON or as a stream, the route receipt and the generation record.
//! - `api`: the other handlers (`route`, `models`, `generation`, `key`, `health`, ...).
//! - `health_board`: every endpoint's live health, fed after each attempt, read by the planner.
//! - `health_share`: endpoint cool-downs shared with other replicas through Redis.
//! - `error`: `ApiError`, the one rendering of errors as JSON and as SSE chunks.
//! - `sticky`: sticky sessions: conversation pins, their store and the clock they expire on.
//! - `front`: the Anthropic Messages, Responses and legacy completions formats, translated to
//!   and from a chat exchange.
//! - `ids`: generation ids.
//! - `percent`: percent-encoding for header lists and query strings.
//! - [`demo`]: the demo mode: mock providers and the demo catalog.
//! - `metrics`: Prometheus metrics (`GET /metrics`).
//! - `otlp`: OpenTelemetry spans over OTLP/HTTP (`telemetry.otlp_endpoint`).
//! - `web`: the pages under `/ui` (sign-in, settings, activity, models).
//! - `reload`: config hot reload (SIGHUP and file changes).
//! - [`launch`]: where the config comes from at start-up (flags, `turnout.toml`, provider keys
//!   in the environment, or the demo).

pub mod config;
pub mod records;

mod api;
mod app;
mod auth;
mod chat;
pub mod demo;
mod dispatch;
mod error;
mod extract;
mod front;
mod health_board;
mod health_share;
mod ids;
mod keys;
pub mod launch;
mod limits;
mod percent;
mod serve;
mod sticky;

mod metrics;
mod otlp;
mod reload;
mod web;

pub use otlp::OtlpError;
pub use reload::{ReloadError, Reloaded};
pub use web::store::StoreError;

pub use app::StartError;
pub use serve::{RunningServer, spawn, spawn_with_clock};
pub use sticky::{Clock, ManualClock, StoreSetupError, SystemClock};
