//! [`ApiError`]: every error the API answers with, and the one place that renders it.
//!
//! Errors leave in OpenRouter's shape, `{"error":{"code":<int>,"message":…,"metadata":{…}}}`,
//! with the HTTP status equal to `code` and `Content-Type: application/json`, which is what
//! OpenRouter's and OpenAI's SDKs pick their error classes by. After a stream's `200` has been
//! sent, the same error becomes one final SSE chunk ([`ApiError::to_sse_chunk`]).
//!
//! Messages never carry secrets or provider internals: upstream failures are described by
//! [`UpstreamError::client_message`], and the detail stays in debug logs.
//!
//! When every attempt of a plan failed ([`ApiError::AttemptsFailed`]), the answer is the **last**
//! attempt's status and message (a provider's error, or the reason the plan skipped a model),
//! with every attempt listed in `error.metadata.attempts`. `Retry-After` is sent on such a 429 or
//! 503 only when every provider that was called gave a hint, with the smallest one (OpenRouter's
//! rule).

use axum::body::Body;
use axum::http::header::{self, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use router_core::listing::ListingError;
use router_core::plan::PlanError;
use router_core::render::{self, Generation, ModelRouting, StreamError};
use router_core::request::RequestError;
use serde::Serialize;
use serde_json::json;

use crate::chat::attempt_log::{AttemptsFailed, LastFailure};
use crate::chat::route::RouteError;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The request's head cannot be served as it stands (see [`crate::serve::ProtocolError`]).
    #[error(transparent)]
    Protocol(#[from] crate::serve::ProtocolError),
    /// No `Authorization: Bearer …` header.
    #[error("No auth credentials found")]
    MissingCredentials,
    /// A bearer key that is not one of the configured client keys.
    #[error("Invalid API key")]
    InvalidKey,
    /// The body is not a valid chat request; the message names the field.
    #[error(transparent)]
    InvalidRequest(#[from] RequestError),
    /// No plan could be built for the requested model(s).
    #[error("{}", plan_message(.0))]
    Plan(#[from] PlanError),
    /// The Auto Router could not route the request: bad settings or patterns (400), or no model
    /// left (404). (Plan errors of any route are [`ApiError::Plan`].)
    #[error(transparent)]
    Route(RouteError),
    /// The body is larger than `server.body_limit_bytes`.
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The body could not be read (the client went away or sent a broken body).
    #[error("could not read the request body")]
    BodyUnreadable,
    /// No route matches the path.
    #[error("no route for this path")]
    RouteNotFound,
    /// The path exists but not for this method.
    #[error("method not allowed for this path")]
    MethodNotAllowed,
    /// The plan has no attempt: nothing can serve the request.
    #[error("no endpoint is available for the requested model")]
    NoEndpoints,
    /// Every attempt of the plan failed (or a stream failed after it started); the last failure
    /// is reported.
    #[error(transparent)]
    AttemptsFailed(#[from] Box<AttemptsFailed>),
    /// A required query parameter is missing or unreadable.
    #[error("query parameter `{0}` is required")]
    QueryParameter(&'static str),
    /// A query parameter of `GET /models` that cannot be read.
    #[error(transparent)]
    Listing(#[from] ListingError),
    /// No generation record with this id for this key (another key's records do not exist for
    /// it either).
    #[error("generation `{0}` not found")]
    GenerationNotFound(String),
    /// `GET /api/v1/sessions/{id}` for a conversation the key has no request in.
    #[error("session `{0}` not found")]
    SessionNotFound(String),
    /// A model looked up by id (not requested for a completion) is not in the catalog.
    #[error("model `{0}` not found")]
    ModelNotFound(String),
    /// A bug (a handler panicked).
    #[error("internal server error")]
    Internal,
    /// The generation records or the key store cannot be read or written just now (their
    /// database is unreachable, say): worth retrying.
    #[error("the {0} cannot be reached; retry the request")]
    StoreUnavailable(&'static str),
    /// The server is stopping and the request's time to finish has run out.
    #[error("the server is shutting down; retry the request")]
    ShuttingDown,
    /// The provisioning API refused the request.
    #[error(transparent)]
    Keys(#[from] crate::api::keys::KeysApiError),
    /// The key's limits refuse the request (403, 402 or 429).
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    code: u16,
    message: &'a str,
    metadata: serde_json::Value,
}

// === impl ApiError ===

/// The generation records, as [`ApiError::StoreUnavailable`] names them.
pub(crate) const RECORD_STORE: &str = "record store";
/// The provisioned keys, as [`ApiError::StoreUnavailable`] names them.
pub(crate) const KEY_STORE: &str = "key store";

impl ApiError {
    /// A store call that failed (logged with `what`), answered 503 so the client retries: a
    /// database that is down is not a bug.
    pub(crate) fn store_failed(
        store: &'static str,
        what: &str,
        err: impl std::fmt::Display,
    ) -> Self {
        tracing::error!(error = %err, "{what}");
        ApiError::StoreUnavailable(store)
    }

    /// The HTTP status, which is also `error.code`.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Protocol(err) => err.status(),
            ApiError::MissingCredentials | ApiError::InvalidKey => StatusCode::UNAUTHORIZED,
            ApiError::Plan(PlanError::NoEndpointsMatch(_)) => StatusCode::NOT_FOUND,
            ApiError::InvalidRequest(_)
            | ApiError::Plan(_)
            | ApiError::BodyUnreadable
            | ApiError::QueryParameter(_)
            | ApiError::Listing(_) => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RouteNotFound
            | ApiError::NoEndpoints
            | ApiError::GenerationNotFound(_)
            | ApiError::SessionNotFound(_)
            | ApiError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Route(err) => match err {
                RouteError::Plan(PlanError::NoEndpointsMatch(_)) => StatusCode::NOT_FOUND,
                RouteError::Plan(_)
                | RouteError::Settings(_)
                | RouteError::Pattern(_)
                | RouteError::Provider(_)
                | RouteError::RouterNotPrimary(_) => StatusCode::BAD_REQUEST,
                RouteError::NoModelsMatch | RouteError::NoCapableModel(_) => StatusCode::NOT_FOUND,
            },
            ApiError::AttemptsFailed(failure) => {
                StatusCode::from_u16(failure.last.status()).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::ShuttingDown | ApiError::StoreUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Limit(err) => {
                StatusCode::from_u16(err.status()).unwrap_or(StatusCode::TOO_MANY_REQUESTS)
            }
            ApiError::Keys(err) => {
                StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
        }
    }

    /// OpenRouter's typed error (`error.metadata.error_type`).
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            ApiError::MissingCredentials | ApiError::InvalidKey => "authentication",
            ApiError::Plan(PlanError::NoEndpointsMatch(_)) => "not_found",
            ApiError::Protocol(_)
            | ApiError::InvalidRequest(_)
            | ApiError::Plan(_)
            | ApiError::BodyUnreadable
            | ApiError::MethodNotAllowed
            | ApiError::QueryParameter(_)
            | ApiError::Listing(_) => "invalid_request",
            ApiError::BodyTooLarge { .. } => "payload_too_large",
            ApiError::RouteNotFound
            | ApiError::NoEndpoints
            | ApiError::GenerationNotFound(_)
            | ApiError::SessionNotFound(_)
            | ApiError::ModelNotFound(_) => "not_found",
            ApiError::Route(err) => match err {
                RouteError::Plan(PlanError::NoEndpointsMatch(_)) => "not_found",
                RouteError::Plan(_)
                | RouteError::Settings(_)
                | RouteError::Pattern(_)
                | RouteError::Provider(_)
                | RouteError::RouterNotPrimary(_) => "invalid_request",
                RouteError::NoModelsMatch | RouteError::NoCapableModel(_) => "not_found",
            },
            ApiError::AttemptsFailed(failure) => failure.last.error_type(),
            ApiError::Internal => "server",
            ApiError::ShuttingDown => "server_shutting_down",
            ApiError::StoreUnavailable(_) => "store_unavailable",
            ApiError::Limit(err) => err.error_type(),
            ApiError::Keys(err) => err.error_type(),
        }
    }

    /// The message shown to the client.
    fn message(&self) -> String {
        match self {
            ApiError::AttemptsFailed(failure) => failure.last.client_message(),
            other => other.to_string(),
        }
    }

    /// `error.metadata`: always `error_type`, plus what each kind of error has to add.
    fn metadata(&self) -> serde_json::Value {
        let error_type = self.error_type();
        match self {
            ApiError::Plan(PlanError::UnknownModel(model)) => json!({
                "error_type": error_type,
                "availability": {
                    "code": "model_not_found",
                    "retryable": false,
                    "requested_models": [model],
                },
            }),
            ApiError::InvalidRequest(err) => match err.field() {
                Some(field) => json!({ "error_type": error_type, "field": field }),
                None => json!({ "error_type": error_type }),
            },
            ApiError::Plan(PlanError::NoEndpointsMatch(_)) => json!({
                "error_type": error_type,
                "availability": { "code": "constraint_filtered", "retryable": false },
            }),
            ApiError::Route(RouteError::Provider(err)) => {
                json!({ "error_type": error_type, "field": err.field })
            }
            ApiError::NoEndpoints => json!({
                "error_type": error_type,
                "availability": { "code": "no_endpoints", "retryable": false },
            }),
            ApiError::Listing(err) => json!({ "error_type": error_type, "field": err.parameter }),
            ApiError::ModelNotFound(model) => json!({
                "error_type": error_type,
                "availability": {
                    "code": "model_not_found",
                    "retryable": false,
                    "requested_models": [model],
                },
            }),
            ApiError::Route(RouteError::Settings(err)) => {
                json!({ "error_type": error_type, "field": err.field })
            }
            ApiError::Route(RouteError::Pattern(err)) => {
                json!({ "error_type": error_type, "pattern": err.pattern })
            }
            ApiError::Route(RouteError::NoModelsMatch) => json!({
                "error_type": error_type,
                "availability": { "code": "no_models_match", "retryable": false },
            }),
            ApiError::Route(RouteError::NoCapableModel(_)) => json!({
                "error_type": error_type,
                "availability": { "code": "no_capable_model", "retryable": false },
            }),
            ApiError::AttemptsFailed(failure) => {
                let mut metadata = json!({
                    "error_type": error_type,
                    "attempts": failure.attempts,
                });
                let Some(object) = metadata.as_object_mut() else {
                    return metadata;
                };
                if let Some(provider_name) = &failure.provider_name {
                    object.insert("provider_name".to_owned(), json!(provider_name));
                }
                if let LastFailure::Upstream(err) = &failure.last
                    && let Some(code) = &err.provider_code
                    && err.client_status() < 500
                {
                    object.insert("provider_code".to_owned(), json!(code));
                }
                metadata
            }
            _ => json!({ "error_type": error_type }),
        }
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Vec<u8> {
        let message = self.message();
        let body = ErrorBody {
            error: ErrorObject {
                code: self.status().as_u16(),
                message: &message,
                metadata: self.metadata(),
            },
        };
        // Serializing plain strings, numbers and a `Value` into a `Vec` cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// The final `data:` event of a stream that fails after its `200` was sent; `routing` when
    /// a model had answered before the failure.
    pub(crate) fn to_sse_chunk(
        &self,
        generation: &Generation<'_>,
        routing: Option<ModelRouting<'_>>,
    ) -> Vec<u8> {
        let message = self.message();
        let mut out = Vec::with_capacity(512);
        render::error_chunk(
            &mut out,
            generation,
            &StreamError {
                code: self.status().as_u16(),
                message: &message,
                error_type: self.error_type(),
                routing,
            },
        );
        out
    }

    /// Seconds for a `Retry-After` header (rounded up), when there is one to send.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::AttemptsFailed(failure) => failure
                .retry_after
                .map(|wait| wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
            ApiError::Limit(err) => err.retry_after_secs(),
            _ => None,
        }
    }
}

impl From<RouteError> for ApiError {
    fn from(err: RouteError) -> Self {
        match err {
            RouteError::Plan(err) => ApiError::Plan(err),
            other => ApiError::Route(other),
        }
    }
}

fn plan_message(err: &PlanError) -> String {
    match err {
        PlanError::UnknownModel(model) => format!("{model} is not a valid model ID"),
        other => other.to_string(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let status = self.status();
        tracing::debug!(status = status.as_u16(), error = %self, "request failed");
        let mut response = Response::new(Body::from(self.body()));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after_secs() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use router_core::auto::settings::SettingsError;
    use router_core::fallback::FailureClass;
    use router_core::patterns::PatternError;
    use router_core::plan::SkipReason;
    use router_upstream::UpstreamError;
    use serde_json::Value;

    use super::*;
    use crate::chat::attempt_log::AttemptReport;

    async fn parts(err: ApiError) -> (StatusCode, Option<String>, Option<String>, Value) {
        let response = err.into_response();
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|it: &HeaderValue| it.to_str().unwrap().to_owned())
        };
        let content_type = header(header::CONTENT_TYPE);
        let retry_after = header(header::RETRY_AFTER);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            content_type,
            retry_after,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[tokio::test]
    async fn status_equals_code_and_body_has_the_openrouter_shape() {
        let cases = [
            (
                ApiError::MissingCredentials,
                401,
                "No auth credentials found",
            ),
            (ApiError::InvalidKey, 401, "Invalid API key"),
            (
                ApiError::InvalidRequest(RequestError::Missing("messages")),
                400,
                "`messages` is required",
            ),
            (
                ApiError::Plan(PlanError::UnknownModel("a/b".to_owned())),
                400,
                "a/b is not a valid model ID",
            ),
            (
                ApiError::BodyTooLarge { limit: 10 },
                413,
                "request body is larger than the limit of 10 bytes",
            ),
            (ApiError::RouteNotFound, 404, "no route for this path"),
            (
                ApiError::ModelNotFound("a/b".to_owned()),
                404,
                "model `a/b` not found",
            ),
            (
                ApiError::MethodNotAllowed,
                405,
                "method not allowed for this path",
            ),
            (
                ApiError::QueryParameter("id"),
                400,
                "query parameter `id` is required",
            ),
            (
                ApiError::GenerationNotFound("gen-1-x".to_owned()),
                404,
                "generation `gen-1-x` not found",
            ),
            (ApiError::Internal, 500, "internal server error"),
            (
                ApiError::StoreUnavailable("record store"),
                503,
                "the record store cannot be reached; retry the request",
            ),
            (
                ApiError::from(RouteError::NoModelsMatch),
                404,
                "No models match your request and model restrictions",
            ),
            (
                ApiError::from(RouteError::Settings(SettingsError {
                    field: "plugins[0].cost_quality_tradeoff".to_owned(),
                    message: "expected an integer from 0 to 10".to_owned(),
                })),
                400,
                "`plugins[0].cost_quality_tradeoff`: expected an integer from 0 to 10",
            ),
            (
                ApiError::from(RouteError::Pattern(PatternError {
                    pattern: "a/[".to_owned(),
                    reason: "unclosed character class".to_owned(),
                })),
                400,
                "invalid model pattern `a/[`: unclosed character class",
            ),
        ];
        for (err, code, message) in cases {
            let (status, content_type, _, body) = parts(err).await;
            assert_eq!(status.as_u16(), code);
            assert_eq!(content_type.as_deref(), Some("application/json"));
            assert_eq!(body["error"]["code"], code);
            assert_eq!(body["error"]["message"], message);
            assert!(body["error"]["metadata"]["error_type"].is_string());
        }
    }

    #[tokio::test]
    async fn route_plan_errors_keep_the_plan_shape() {
        let err = ApiError::from(RouteError::Plan(PlanError::UnknownModel("x/y".to_owned())));
        let (status, _, _, body) = parts(err).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["error"]["metadata"]["availability"]["code"],
            "model_not_found"
        );
    }

    #[tokio::test]
    async fn unknown_models_report_model_not_found() {
        let (_, _, _, body) =
            parts(ApiError::Plan(PlanError::UnknownModel("x/y".to_owned()))).await;
        let availability = &body["error"]["metadata"]["availability"];
        assert_eq!(availability["code"], "model_not_found");
        assert_eq!(availability["requested_models"], json!(["x/y"]));
    }

    #[tokio::test]
    async fn upstream_failures_report_attempts_and_retry_after_without_detail() {
        let mut error = UpstreamError::new(
            "openai",
            FailureClass::RateLimited,
            "internal detail: key sk-secret",
        );
        error.status = Some(429);
        error.retry_after = Some(Duration::from_millis(1500));
        let attempts = vec![AttemptReport {
            model: "openai/gpt-5.1".to_owned(),
            provider: Some("openai".to_owned()),
            status: Some(429),
            error: "rate_limited",
            error_type: Some("rate_limit_exceeded"),
            elapsed_ms: 3,
            excluded: None,
        }];
        let retry_after = error.retry_after;
        let err = ApiError::from(Box::new(AttemptsFailed {
            last: LastFailure::Upstream(error),
            provider_name: Some("OpenAI".to_owned()),
            attempts,
            retry_after,
        }));
        let (status, _, retry_after, body) = parts(err).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry_after.as_deref(), Some("2"));
        assert_eq!(body["error"]["code"], 429);
        let metadata = &body["error"]["metadata"];
        assert_eq!(metadata["error_type"], "rate_limit_exceeded");
        assert_eq!(metadata["provider_name"], "OpenAI");
        assert_eq!(metadata["attempts"][0]["status"], 429);
        assert_eq!(metadata["attempts"][0]["provider"], "openai");
        assert!(!body.to_string().contains("internal detail"), "{body}");
    }

    #[tokio::test]
    async fn a_skipped_last_attempt_answers_with_its_reason() {
        let reason = SkipReason::ContextLength {
            needed: 9000,
            limit: 8192,
        };
        let err = ApiError::from(Box::new(AttemptsFailed {
            last: LastFailure::Skipped(reason),
            provider_name: None,
            attempts: vec![AttemptReport {
                model: "a/small".to_owned(),
                provider: None,
                status: Some(400),
                error: "context_length",
                error_type: Some("context_length_exceeded"),
                elapsed_ms: 0,
                excluded: None,
            }],
            retry_after: None,
        }));
        let (status, _, retry_after, body) = parts(err).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(retry_after, None);
        assert_eq!(body["error"]["message"], reason.to_string());
        let metadata = &body["error"]["metadata"];
        assert_eq!(metadata["error_type"], "context_length_exceeded");
        assert!(metadata.get("provider_name").is_none(), "{body}");
        assert!(metadata["attempts"][0]["provider"].is_null());
    }

    #[test]
    fn sse_chunk_carries_the_same_code_and_type() {
        let generation = Generation {
            id: "gen-1-x",
            created: 1,
            model: "a/b",
            provider: "P",
        };
        let chunk = ApiError::Internal.to_sse_chunk(&generation, None);
        let text = String::from_utf8(chunk).unwrap();
        let value: Value =
            serde_json::from_str(text.trim_end().strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(value["error"]["code"], 500);
        assert_eq!(value["error"]["metadata"]["error_type"], "server");
        assert_eq!(value["choices"][0]["finish_reason"], "error");
    }
}
