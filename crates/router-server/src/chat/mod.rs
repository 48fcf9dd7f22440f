//! `POST /api/v1/chat/completions`, the whole exchange in one folder. It reads top-down:
//!
//! 1. **Accept** (here): the connection's service ([`crate::dispatch`]) checks the head, the key
//!    and reads the body, then calls [`completions`]; the other request formats
//!    ([`crate::front`]) call [`exchange`] with the body they translated. The exchange stamps a
//!    generation id, parses the body once (`ChatRequest::parse`) and resolves the sticky session
//!    ([`crate::sticky`]).
//! 2. **Route** ([`route`]): the one place that decides which attempts a request gets (explicit
//!    `model`/`models`, or the Auto Router) and its fallback policy; then the key's limits
//!    admit it ([`crate::limits`]).
//! 3. **Run the attempts**, in plan order, falling back while the policy allows, each step
//!    written to the [`attempt_log`] (which also builds the error when every attempt failed):
//!    without streaming in [`complete`] (the first answer is rendered as one JSON body), with
//!    `stream: true` in [`stream`] (attempts fall back until the response commits, then one is
//!    relayed).
//! 4. **Respond** ([`respond`]): every exchange, streaming or not, is one future driven by
//!    [`respond::json_or_stream`] until it finishes (a JSON response) or commits a stream.
//! 5. **Receipt** ([`receipt`]): made once the request is routed, it follows it to the end; its
//!    `X-Turnout-*` headers go on every routed response (answer, error or stream).
//! 6. **Record** ([`record`]): when the receipt drops, whatever happened (an answer, an error,
//!    a client that went away), it queues the generation record, reports the metrics and
//!    settles the key's limits.

pub(crate) mod attempt_log;
mod complete;
pub(crate) mod receipt;
mod record;
mod respond;
pub(crate) mod route;
mod stream;

use std::time::Instant;

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use router_core::request::ChatRequest;

use crate::api::X_GENERATION_ID;
use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::error::ApiError;
use crate::extract::ChatBody;
use crate::ids::GenerationStamp;
use crate::sticky::{Session, SessionHeader};
use receipt::Receipt;
use respond::Finished;
use stream::{Abort, Sink};

/// The chat completions handler.
pub(crate) async fn completions(
    State(app): State<AppState>,
    auth: ClientAuth,
    SessionHeader(session_header): SessionHeader,
    ChatBody(body): ChatBody,
) -> Response {
    exchange(app, auth, session_header, body).await
}

/// One chat exchange for an authenticated client: `body` is a chat completions request, the
/// answer is OpenRouter's (a JSON body, or an SSE stream for `stream: true`). The other request
/// formats ([`crate::front`]) run the same exchange on the body they translated, and render its
/// answer in their own shape.
pub(crate) async fn exchange(
    app: AppState,
    auth: ClientAuth,
    session_header: Option<HeaderValue>,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let stamp = GenerationStamp::new();
    let generation_id =
        HeaderValue::from_str(&stamp.id).unwrap_or(HeaderValue::from_static("gen-unknown"));
    let (sink, committed) = Sink::new();
    let exchange = Box::pin(
        Exchange {
            app,
            auth,
            stamp,
            arrived,
            generation_id: generation_id.clone(),
            session_header,
        }
        .run(body, sink),
    );
    respond::json_or_stream(exchange, committed, generation_id).await
}

/// The response to a request refused before it was routed, counted under `model="other"`.
fn rejected(app: &AppState, err: ApiError) -> Response {
    let response = err.into_response();
    app.metrics().rejected(response.status().as_u16());
    response
}

/// What one exchange knows before the body is parsed.
struct Exchange {
    app: AppState,
    auth: ClientAuth,
    stamp: GenerationStamp,
    arrived: Instant,
    generation_id: HeaderValue,
    /// The `x-session-id` header, if any.
    session_header: Option<HeaderValue>,
}

impl Exchange {
    /// Everything after authentication, owning the body.
    async fn run(self, body: Bytes, mut sink: Sink) -> Finished {
        let app = &self.app;
        let request = match ChatRequest::parse(&body) {
            Ok(request) => request,
            Err(err) => return Finished::Respond(rejected(app, ApiError::from(err))),
        };
        let mut session =
            match Session::start(app, &request, self.session_header.as_ref(), &self.auth).await {
                Ok(session) => session,
                Err(err) => return Finished::Respond(ApiError::from(err).into_response()),
            };
        let route = match route::route(app, &request, &self.auth, session.pin(app)) {
            Ok(route) => route,
            Err(err) => return Finished::Respond(rejected(app, ApiError::from(err))),
        };
        let admission = match app.limits().admit(app, &self.auth, &request, &route).await {
            Ok(admission) => admission,
            Err(err) => return Finished::Respond(rejected(app, ApiError::from(err))),
        };
        let mut receipt = Receipt::new(
            app,
            &self.auth,
            &self.stamp,
            self.arrived,
            &route,
            request.stream,
        );
        receipt.start_session(session, route.pin_applied);
        receipt.hold_limits(admission);
        let mut response = if request.stream {
            let res =
                stream::run(app, &request, &route, &self.stamp, &mut sink, &mut receipt).await;
            match res {
                Ok(()) => {
                    receipt.settle_session().await;
                    receipt.finish();
                    return Finished::Streamed;
                }
                // The receipt, dropped unfinished, records a cancelled request.
                Err(Abort::Disconnected) => return Finished::Streamed,
                Err(Abort::Rejected(err)) => err.into_response(),
            }
        } else {
            complete::complete(app, &request, &route, &self.stamp, &mut receipt).await
        };
        receipt.settle_session().await;
        let headers = response.headers_mut();
        receipt.write_headers(headers);
        headers.insert(X_GENERATION_ID, self.generation_id.clone());
        receipt.responded(response.status().as_u16());
        receipt.finish();
        Finished::Respond(response)
    }
}
