//! `POST /api/v1/chat/completions`: authenticate, read the body, parse it once, route it, run
//! the plan, and answer in OpenRouter's shape (a JSON body, or an SSE stream for
//! `stream: true`).
//!
//! The exchange is one future that owns the body; [`crate::chat::stream::respond`] turns it into the
//! response (see [`crate::chat::stream`] for why). Routing is [`crate::chat::route::route`]: the one place
//! that decides which attempts a request gets. From then on a [`Receipt`] follows the request:
//! its headers go on every routed response (answer, error or stream) and it writes the
//! generation record when the exchange ends or is dropped (the client went away).

pub(crate) mod attempt_log;
pub(crate) mod receipt;
pub(crate) mod route;
pub(crate) mod stream;

use std::time::Instant;

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use router_core::render::{self, Generation, ModelRouting};
use router_core::request::ChatRequest;

use crate::api::{X_GENERATION_ID, json_response};
use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::error::ApiError;
use crate::extract::ChatBody;
use crate::ids::GenerationStamp;
use crate::sticky::{Session, SessionHeader};
use attempt_log::Completed;
use receipt::Receipt;
use stream::{Abort, Finished, Sink};

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
    stream::respond(exchange, committed, generation_id).await
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
        let session =
            match Session::start(app, &request, self.session_header.as_ref(), &self.auth).await {
                Ok(session) => session,
                Err(err) => return Finished::Respond(ApiError::from(err).into_response()),
            };
        let route = match route::route(app, &request, &self.auth, session.pin()) {
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
            match attempt_log::complete(app, &request, &route, &mut receipt).await {
                Ok(completed) => self.completion_response(completed, &mut receipt),
                Err(err) => err.into_response(),
            }
        };
        receipt.settle_session().await;
        let headers = response.headers_mut();
        receipt.write_headers(headers);
        headers.insert(X_GENERATION_ID, self.generation_id.clone());
        receipt.responded(response.status().as_u16());
        receipt.finish();
        Finished::Respond(response)
    }

    /// The `chat.completion` body of a completed plan, billed at the answering endpoint.
    fn completion_response(&self, completed: Completed, receipt: &mut Receipt) -> Response {
        let Completed {
            attempt,
            mut response,
        } = completed;
        let target = self.app.target(&attempt);
        tracing::debug!(
            model = %target.model.id,
            provider = %target.endpoint.provider,
            attempts = receipt.attempts.records().len(),
            "answered"
        );
        receipt.saw_usage(response.usage);
        if let Some(reason) = response.finish_reason.clone() {
            receipt.saw_finish(reason);
        }
        receipt.saw_upstream_id(response.upstream_id.take());
        let (_, cost) = receipt.bill();
        let generation = Generation {
            id: &self.stamp.id,
            created: self.stamp.created,
            model: &target.model.id,
            provider: &target.provider.display_name,
        };
        let requested = receipt::model_ids(&self.app, receipt.requested());
        let routing = ModelRouting {
            requested: &requested,
            actual: &target.model.id,
        };
        let mut body = Vec::with_capacity(response.choices.get().len() + 1024);
        render::routed_completion(&mut body, &generation, &response, &cost, &routing);
        json_response(body)
    }
}
