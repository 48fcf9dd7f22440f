//! End-to-end tests of `router-server`: real sockets on 127.0.0.1, mock providers from
//! `router-mock`, and (in `openai_sdk`) the official `openai` Python package as the client.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly, like the tests themselves"
)]

mod auto_router;
mod bad_requests;
mod banner;
mod calibrate_cli;
mod chat;
mod compat;
mod completions_legacy;
mod configs;
mod demo;
mod edge;
mod errors;
mod fallback;
mod fallbacks;
mod fleet;
mod generation;
mod held;
mod key_limits;
mod keys_api;
mod limits;
mod limits_upstream;
mod messages;
mod metrics;
mod models;
mod native;
mod openai_sdk;
mod otlp;
mod postgres;
mod process;
mod provider_keys;
mod providers;
mod receipts;
mod reload;
mod replicas;
mod responses;
mod route_api;
mod sdk_env;
mod sdk_pages;
mod sessions;
mod shutdown;
mod streaming;
mod support;
mod web;
mod wire;
