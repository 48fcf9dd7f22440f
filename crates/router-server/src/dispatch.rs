//! The service every connection runs: `POST` chat completions go straight to their handler,
//! every other request through the axum router ([`app::router`]).
//!
//! Chat completions are nearly all of the traffic. The router's path matching, the extensions
//! it inserts into each request and the futures of its layers cost several thousand
//! instructions per request, which the direct call skips. The direct call keeps what the
//! router's layers do for a handler: a panic becomes a 500 in our error shape.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::response::IntoResponse;
use axum::response::Response;
use futures_util::FutureExt as _;
use http::Method;
use tower::ServiceExt as _;

use crate::api;
use crate::app::{self, AppState};
use crate::auth::ClientAuth;
use crate::extract::ChatBody;
use crate::reload::Live;

/// What a connection calls for each request; cheap to clone (an `Arc`). Each request runs on
/// the state current when it arrives (see [`crate::reload`]).
#[derive(Clone)]
pub(crate) struct Dispatch {
    live: Live,
}

impl Dispatch {
    /// The service for the state `live` holds.
    pub(crate) fn new(live: Live) -> Self {
        Self { live }
    }

    /// Answers one request.
    pub(crate) async fn call(self, request: http::Request<Body>) -> Response {
        let current = self.live.load();
        if is_chat_completions(&request) {
            let handled = chat_completions(request, current.state.clone());
            return AssertUnwindSafe(handled)
                .catch_unwind()
                .await
                .unwrap_or_else(app::panic_response);
        }
        // Boxed, so that the router's (large) future does not make every chat request's future
        // larger.
        let router: Router = current.router.clone();
        match Box::pin(router.oneshot(request)).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        }
    }

    /// How much of a request body a connection reads at most (`server.body_limit_bytes`), and
    /// how long it waits for a request (`server.request_read_timeout`).
    pub(crate) fn request_limits(&self) -> (usize, Duration) {
        let current = self.live.load();
        let server = &current.state.config().server;
        (server.body_limit_bytes, server.request_read_timeout)
    }
}

/// `POST` to the chat completions path or its alias.
/// The chat completions handler with its extractors run in place, as axum's `Handler` would
/// run them (the credentials first, then the body), without boxing the future.
async fn chat_completions(request: http::Request<Body>, state: AppState) -> Response {
    let (mut parts, body) = request.into_parts();
    let auth = match ClientAuth::from_request_parts(&mut parts, &state).await {
        Ok(auth) => auth,
        Err(rejection) => return rejection.into_response(),
    };
    let request = http::Request::from_parts(parts, body);
    let body = match ChatBody::from_request(request, &state).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    api::chat::completions(State(state), auth, body).await
}

fn is_chat_completions(request: &http::Request<Body>) -> bool {
    request.method() == Method::POST
        && matches!(
            request.uri().path(),
            "/api/v1/chat/completions" | "/v1/chat/completions"
        )
}
