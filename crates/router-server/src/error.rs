//! [`ApiError`]: every error the API answers with, and the one place that renders it.
//!
//! Errors leave in OpenRouter's shape, `{"error":{"code":<int>,"message":…,"metadata":{…}}}`,
//! with the HTTP status equal to `code` and `Content-Type: application/json`, which is what
//! OpenRouter's and OpenAI's SDKs pick their error classes by. After a stream's `200` has been
//! sent, the same error becomes one final SSE chunk ([`ApiError::to_sse_chunk`]).
//!
//! Messages never carry secrets or provider internals: upstream failures are described by
//! [`UpstreamError::client_message`], and the detail stays in debug logs.

use axum::body::Body;
use axum::http::header::{self, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use router_core::plan::PlanError;
use router_core::render::{self, Generation, StreamError};
use router_core::request::RequestError;
use router_upstream::UpstreamError;
use serde::Serialize;
use serde_json::json;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
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
    /// Every attempt of the plan failed; the last failure is reported.
    #[error(transparent)]
    Upstream(#[from] Box<UpstreamFailure>),
    /// A bug (a handler panicked).
    #[error("internal server error")]
    Internal,
}

/// The failure of a plan whose every attempt failed: the last attempt's error, reported with
/// the whole history.
#[derive(Debug, thiserror::Error)]
#[error("every attempt failed, the last with: {error}")]
pub(crate) struct UpstreamFailure {
    /// The last attempt's error.
    #[source]
    pub(crate) error: UpstreamError,
    /// Display name of the last attempt's provider.
    pub(crate) provider_name: String,
    /// Every attempt, in order.
    pub(crate) attempts: Vec<AttemptReport>,
}

/// One attempt as reported in `error.metadata.attempts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AttemptReport {
    /// The public model id.
    pub(crate) model: String,
    /// The provider's slug.
    pub(crate) provider: String,
    /// The provider's HTTP status, when it answered.
    pub(crate) status: Option<u16>,
    /// The kind of failure (`unavailable`, `timeout`, …).
    pub(crate) error: &'static str,
    /// OpenRouter's typed error for it.
    pub(crate) error_type: &'static str,
    /// How long the attempt took.
    pub(crate) elapsed_ms: u64,
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

impl ApiError {
    /// The HTTP status, which is also `error.code`.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingCredentials | ApiError::InvalidKey => StatusCode::UNAUTHORIZED,
            ApiError::InvalidRequest(_) | ApiError::Plan(_) | ApiError::BodyUnreadable => {
                StatusCode::BAD_REQUEST
            }
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RouteNotFound | ApiError::NoEndpoints => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Upstream(failure) => StatusCode::from_u16(failure.error.client_status())
                .unwrap_or(StatusCode::BAD_GATEWAY),
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenRouter's typed error (`error.metadata.error_type`).
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            ApiError::MissingCredentials | ApiError::InvalidKey => "authentication",
            ApiError::InvalidRequest(_)
            | ApiError::Plan(_)
            | ApiError::BodyUnreadable
            | ApiError::MethodNotAllowed => "invalid_request",
            ApiError::BodyTooLarge { .. } => "payload_too_large",
            ApiError::RouteNotFound | ApiError::NoEndpoints => "not_found",
            ApiError::Upstream(failure) => failure.error.error_type(),
            ApiError::Internal => "server",
        }
    }

    /// The message shown to the client.
    fn message(&self) -> String {
        match self {
            ApiError::Upstream(failure) => failure.error.client_message(),
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
            ApiError::NoEndpoints => json!({
                "error_type": error_type,
                "availability": { "code": "no_endpoints", "retryable": false },
            }),
            ApiError::Upstream(failure) => {
                let mut metadata = json!({
                    "error_type": error_type,
                    "provider_name": failure.provider_name,
                    "attempts": failure.attempts,
                });
                if let (Some(code), Some(object)) =
                    (&failure.error.provider_code, metadata.as_object_mut())
                    && failure.error.client_status() < 500
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

    /// The final `data:` event of a stream that fails after its `200` was sent.
    pub(crate) fn to_sse_chunk(&self, generation: &Generation<'_>) -> Vec<u8> {
        let message = self.message();
        let mut out = Vec::with_capacity(512);
        render::error_chunk(
            &mut out,
            generation,
            &StreamError {
                code: self.status().as_u16(),
                message: &message,
                error_type: self.error_type(),
            },
        );
        out
    }

    /// Seconds for a `Retry-After` header, when the provider gave a hint.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::Upstream(failure) => failure
                .error
                .retry_after
                .map(|wait| wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
            _ => None,
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

    use router_upstream::ErrorKind;
    use serde_json::Value;

    use super::*;

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
                ApiError::MethodNotAllowed,
                405,
                "method not allowed for this path",
            ),
            (ApiError::Internal, 500, "internal server error"),
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
            ErrorKind::RateLimited,
            "internal detail: key sk-secret",
        );
        error.status = Some(429);
        error.retry_after = Some(Duration::from_millis(1500));
        let attempts = vec![AttemptReport {
            model: "openai/gpt-5.1".to_owned(),
            provider: "openai".to_owned(),
            status: Some(429),
            error: "rate_limited",
            error_type: "rate_limit_exceeded",
            elapsed_ms: 3,
        }];
        let err = ApiError::from(Box::new(UpstreamFailure {
            error,
            provider_name: "OpenAI".to_owned(),
            attempts,
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

    #[test]
    fn sse_chunk_carries_the_same_code_and_type() {
        let generation = Generation {
            id: "gen-1-x",
            created: 1,
            model: "a/b",
            provider: "P",
        };
        let chunk = ApiError::Internal.to_sse_chunk(&generation);
        let text = String::from_utf8(chunk).unwrap();
        let value: Value =
            serde_json::from_str(text.trim_end().strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(value["error"]["code"], 500);
        assert_eq!(value["error"]["metadata"]["error_type"], "server");
        assert_eq!(value["choices"][0]["finish_reason"], "error");
    }
}
