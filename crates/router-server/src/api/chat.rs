//! `POST /api/v1/chat/completions`: authenticate, read the body, parse it once, plan, run the
//! plan, and answer in OpenRouter's shape (a JSON body, or an SSE stream for `stream: true`).
//!
//! The exchange is one future that owns the body; [`crate::stream::respond`] turns it into the
//! response (see [`crate::stream`] for why). Planning is [`plan`]: the one place that decides
//! which attempts a request gets.

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use router_core::catalog::Catalog;
use router_core::plan::{self, Plan, PlanError};
use router_core::pricing;
use router_core::render::{self, Generation};
use router_core::request::ChatRequest;

use super::{X_GENERATION_ID, json_response};
use crate::app::AppState;
use crate::auth::ClientAuth;
use crate::error::ApiError;
use crate::execute::{self, Completed};
use crate::extract::ChatBody;
use crate::ids::GenerationStamp;
use crate::stream::{self, Abort, Finished, Sink};

/// The chat completions handler.
pub(crate) async fn completions(
    State(app): State<AppState>,
    _auth: ClientAuth,
    ChatBody(body): ChatBody,
) -> Response {
    let stamp = GenerationStamp::new();
    let generation_id =
        HeaderValue::from_str(&stamp.id).unwrap_or(HeaderValue::from_static("gen-unknown"));
    let (sink, committed) = Sink::new();
    let exchange = exchange(app, body, stamp, generation_id.clone(), sink);
    stream::respond(exchange, committed, generation_id).await
}

/// The plan for `request`: the attempts to try, in order.
pub(crate) fn plan(catalog: &Catalog, request: &ChatRequest<'_>) -> Result<Plan, PlanError> {
    let model = request
        .requested_models()
        .next()
        .ok_or(PlanError::NoModel)?;
    plan::for_model(catalog, model)
}

/// Everything after authentication, owning the body.
async fn exchange(
    app: AppState,
    body: Bytes,
    stamp: GenerationStamp,
    generation_id: HeaderValue,
    mut sink: Sink,
) -> Finished {
    match run(&app, &body, &stamp, generation_id, &mut sink).await {
        Ok(finished) => finished,
        Err(err) => Finished::Respond(err.into_response()),
    }
}

async fn run(
    app: &AppState,
    body: &[u8],
    stamp: &GenerationStamp,
    generation_id: HeaderValue,
    sink: &mut Sink,
) -> Result<Finished, ApiError> {
    let request = ChatRequest::parse(body)?;
    let plan = plan(app.catalog(), &request)?;
    if request.stream {
        return match stream::run(app, &request, &plan, stamp, sink).await {
            Ok(()) | Err(Abort::Disconnected) => Ok(Finished::Streamed),
            Err(Abort::Rejected(err)) => Err(err),
        };
    }
    let completed = execute::complete(app, &request, &plan).await?;
    Ok(Finished::Respond(completion_response(
        app,
        &completed,
        stamp,
        generation_id,
    )))
}

/// The `chat.completion` body of a completed plan, with its cost at the answering endpoint.
fn completion_response(
    app: &AppState,
    completed: &Completed,
    stamp: &GenerationStamp,
    generation_id: HeaderValue,
) -> Response {
    let target = app.target(&completed.attempt);
    tracing::debug!(
        model = %target.model.id,
        provider = %target.endpoint.provider,
        attempts = completed.log.records().len(),
        "answered"
    );
    let response = &completed.response;
    let cost = pricing::cost(&target.endpoint.pricing, &response.usage);
    let generation = Generation {
        id: &stamp.id,
        created: stamp.created,
        model: &target.model.id,
        provider: &target.provider.display_name,
    };
    let mut body = Vec::with_capacity(response.choices.get().len() + 768);
    render::completion(&mut body, &generation, response, &cost);
    let mut response = json_response(body);
    response
        .headers_mut()
        .insert(X_GENERATION_ID, generation_id);
    response
}
