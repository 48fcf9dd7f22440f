//! The service every connection runs: the head checks every request passes, then `POST` chat
//! completions straight to their handler, every other request through the axum router
//! ([`app::router`]).
//!
//! Chat completions are nearly all of the traffic. The router's path matching, the extensions
//! it inserts into each request and the futures of its layers cost several thousand
//! instructions per request, which the direct call skips. The direct call keeps what the
//! router's layers do for a handler: a panic becomes a 500 in our error shape.
//!
//! What holds for every request:
//!
//! - the head is checked before anything else: an HTTP/1.1 request needs exactly one `Host`,
//!   a body is framed by `Content-Length` or by one `Transfer-Encoding: chunked`, never both,
//!   and any request has at most one `Authorization` (400 otherwise);
//! - the key is checked from the head before a byte of the body is read: a request without a
//!   valid key gets its 401 with its body unread (no `100 Continue` is sent, and the HTTP/1.1
//!   connection closes after the answer);
//! - every error leaves in the API's shape: a rejection the router makes itself (a path that
//!   does not decode, ...) is rewritten into it;
//! - while the server is stopping, HTTP/1.1 answers carry `connection: close`.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::response::IntoResponse;
use axum::response::Response;
use futures_util::FutureExt as _;
use http::header::{
    AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING,
};
use http::{HeaderValue, Method, StatusCode, Version};
use http_body_util::BodyExt as _;
use hyper::body::{Body as _, Incoming};
use tower::ServiceExt as _;

use crate::app::{self, AppState};
use crate::auth::ClientAuth;
use crate::chat;
use crate::error::ApiError;
use crate::extract::{self, ChatBody};
use crate::reload::{Current, Live};
use crate::serve::ProtocolError;
use crate::sticky::SessionHeader;

/// The most bytes of a router rejection's text kept as the error's message.
const MAX_REJECTION_TEXT: usize = 1024;

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

    /// The state new requests use now.
    pub(crate) fn current(&self) -> Arc<Current> {
        self.live.load()
    }

    /// Answers one request as it came off a connection.
    pub(crate) async fn serve(self, request: http::Request<Incoming>) -> Response {
        let current = self.live.load();
        let version = request.version();
        let body_pending = !request.body().is_end_stream();
        // Whether the answer leaves (part of) the body unread.
        let mut unread = body_pending;
        let mut response = match check_head(&request) {
            Err(err) => ApiError::Protocol(err).into_response(),
            Ok(()) if is_chat_completions(&request) => {
                let handled = chat_completions(request, current.state.clone(), &mut unread);
                AssertUnwindSafe(handled)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(app::panic_response)
            }
            Ok(()) => {
                let routed = current.router.clone().oneshot(request.map(Body::new));
                // Boxed, so that the router's (large) future does not make every chat request's
                // future larger.
                let response = match Box::pin(routed).await {
                    Ok(response) => response,
                    Err(infallible) => match infallible {},
                };
                into_error_shape(response).await
            }
        };
        let http1 = matches!(version, Version::HTTP_11 | Version::HTTP_10);
        let refused_unread = unread && response.status().is_client_error();
        if http1 && (refused_unread || current.state.stopping().is_draining()) {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// The checks every head passes before it is routed.
fn check_head<B>(request: &http::Request<B>) -> Result<(), ProtocolError> {
    let headers = request.headers();
    if request.version() == Version::HTTP_11 {
        let mut hosts = headers.get_all(HOST).iter();
        if hosts.next().is_none() {
            return Err(ProtocolError::Malformed(
                "an HTTP/1.1 request needs a `Host` header",
            ));
        }
        if hosts.next().is_some() {
            return Err(ProtocolError::Malformed("`Host` is given twice"));
        }
    }
    let mut codings = headers.get_all(TRANSFER_ENCODING).iter();
    if let Some(coding) = codings.next() {
        // hyper reads the last coding and lets `Content-Length` give way to it; a proxy in front
        // may read either differently, so anything but one plain `chunked` is refused (RFC 9112,
        // sections 6.1 and 6.3).
        if headers.contains_key(CONTENT_LENGTH) {
            return Err(ProtocolError::Malformed(
                "both `Transfer-Encoding` and `Content-Length` are given",
            ));
        }
        if codings.next().is_some()
            || !coding
                .as_bytes()
                .trim_ascii()
                .eq_ignore_ascii_case(b"chunked")
        {
            return Err(ProtocolError::Malformed(
                "`Transfer-Encoding` other than one `chunked`",
            ));
        }
    }
    let mut authorizations = headers.get_all(AUTHORIZATION).iter();
    if authorizations.next().is_some() && authorizations.next().is_some() {
        return Err(ProtocolError::Malformed("`Authorization` is given twice"));
    }
    Ok(())
}

/// The chat completions handler with its extractors run in place, as axum's `Handler` would
/// run them (the credentials first, then the body), without boxing the body or the future.
///
/// Clears `unread` once the body has been read whole.
async fn chat_completions(
    request: http::Request<Incoming>,
    state: AppState,
    unread: &mut bool,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let auth = match ClientAuth::from_request_parts(&mut parts, &state).await {
        Ok(auth) => auth,
        Err(rejection) => return rejection.into_response(),
    };
    let Ok(session_header) = SessionHeader::from_request_parts(&mut parts, &state).await;
    let server = &state.config().server;
    let read = extract::read_body(
        body,
        &parts.headers,
        server.body_limit_bytes,
        server.request_read_timeout,
    );
    let body = match read.await {
        Ok(body) => ChatBody(body),
        Err(rejection) => return rejection.into_response(),
    };
    *unread = false;
    chat::completions(State(state), auth, session_header, body).await
}

/// `POST` to the chat completions path or its alias.
fn is_chat_completions<B>(request: &http::Request<B>) -> bool {
    request.method() == Method::POST
        && matches!(
            request.uri().path(),
            "/api/v1/chat/completions" | "/v1/chat/completions"
        )
}

/// `response`, or, when it is an error the router made itself (plain text), the same status in
/// the API's error shape with the router's explanation as its message.
async fn into_error_shape(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|it| it.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = match response.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => bytes::Bytes::new(),
    };
    let mut message = String::from_utf8_lossy(&text[..text.len().min(MAX_REJECTION_TEXT)])
        .trim()
        .to_owned();
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_owned();
    }
    let err = match status {
        StatusCode::NOT_FOUND => ApiError::RouteNotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        status => ApiError::Protocol(ProtocolError::Rejected { status, message }),
    };
    err.into_response()
}
