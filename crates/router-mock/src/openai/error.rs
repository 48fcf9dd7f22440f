//! OpenAI's error shape, `{"error":{"message","type","param","code"}}`, and the wording of each
//! scripted [`FailureKind`], as OpenAI words them.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::json_response;
use crate::script::{Failure, FailureKind};

/// The context length a [`FailureKind::ContextLength`] error claims.
const CLAIMED_CONTEXT_LENGTH: u32 = 8192;

/// An error in OpenAI's shape, `{"error":{"message","type","param","code"}}`, with its status and
/// `Retry-After`.
pub(crate) struct OpenAiError<'a> {
    status: StatusCode,
    retry_after: Option<u64>,
    message: Cow<'a, str>,
    kind: &'static str,
    param: Option<&'static str>,
    code: Option<&'static str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl<'a> OpenAiError<'a> {
    /// A 400 `invalid_request_error`.
    pub(crate) fn invalid_request(message: &'a str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            retry_after: None,
            message: Cow::Borrowed(message),
            kind: "invalid_request_error",
            param: None,
            code: None,
        }
    }

    /// The 401 for a missing or wrong key (never echoing the key).
    pub(super) fn unauthorized(missing: bool) -> Self {
        let (message, code) = match missing {
            true => (
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                None,
            ),
            false => (
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                Some("invalid_api_key"),
            ),
        };
        Self {
            status: StatusCode::UNAUTHORIZED,
            code,
            ..Self::invalid_request(message)
        }
    }

    /// The same error with another status.
    pub(crate) fn with_status(self, status: StatusCode) -> Self {
        Self { status, ..self }
    }

    pub(super) fn with_param(self, param: &'static str) -> Self {
        Self {
            param: Some(param),
            ..self
        }
    }

    /// A scripted failure, worded as OpenAI words it for its kind and status; `echoed_key` is
    /// what a [`FailureKind::EchoKey`] quotes.
    fn scripted(
        failure: &Failure,
        model: &str,
        prompt_tokens: u32,
        echoed_key: Option<&str>,
    ) -> OpenAiError<'static> {
        let status =
            StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let error = |message: Cow<'static, str>, kind, code| OpenAiError {
            status,
            retry_after: failure.retry_after,
            message,
            kind,
            param: None,
            code,
        };
        match failure.kind {
            FailureKind::RateLimit => error(
                Cow::Owned(format!(
                    "Rate limit reached for {model} in organization org-mock on requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in {}s. Visit https://platform.openai.com/account/rate-limits to learn more.",
                    failure.retry_after.unwrap_or(1)
                )),
                "requests",
                Some("rate_limit_exceeded"),
            ),
            FailureKind::ContextLength => error(
                Cow::Owned(format!(
                    "This model's maximum context length is {CLAIMED_CONTEXT_LENGTH} tokens. However, your messages resulted in {} tokens. Please reduce the length of the messages.",
                    prompt_tokens.max(CLAIMED_CONTEXT_LENGTH + 1)
                )),
                "invalid_request_error",
                Some("context_length_exceeded"),
            )
            .with_param("messages"),
            FailureKind::Moderation => error(
                Cow::Borrowed(
                    "Your input was flagged by the moderation system for \"violence\". No credits were charged.",
                ),
                "invalid_request_error",
                Some("content_policy_violation"),
            ),
            FailureKind::Overloaded => error(
                Cow::Borrowed(
                    "That model is currently overloaded with other requests. You can retry your request, or contact us through our help center at help.openai.com if the error persists.",
                ),
                "server_error",
                None,
            ),
            FailureKind::EchoKey => error(
                Cow::Owned(format!(
                    "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                    echoed_key.unwrap_or_default()
                )),
                "invalid_request_error",
                Some("invalid_api_key"),
            ),
            FailureKind::Generic => match status.as_u16() {
                401 => error(
                    Cow::Borrowed(
                        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                    ),
                    "invalid_request_error",
                    Some("invalid_api_key"),
                ),
                403 => error(
                    Cow::Borrowed("You are not allowed to sample from this model"),
                    "invalid_request_error",
                    None,
                ),
                404 => error(
                    Cow::Owned(format!(
                        "The model `{model}` does not exist or you do not have access to it."
                    )),
                    "invalid_request_error",
                    Some("model_not_found"),
                ),
                429 => error(
                    Cow::Borrowed(
                        "You exceeded your current quota, please check your plan and billing details.",
                    ),
                    "insufficient_quota",
                    Some("insufficient_quota"),
                ),
                503 => error(
                    Cow::Borrowed("The server is overloaded or not ready yet."),
                    "server_error",
                    None,
                ),
                500.. => error(
                    Cow::Borrowed(
                        "The server had an error while processing your request. Sorry about that!",
                    ),
                    "server_error",
                    None,
                ),
                _ => error(Cow::Borrowed("Invalid request."), "invalid_request_error", None),
            },
        }
    }
}

impl IntoResponse for OpenAiError<'_> {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                message: &self.message,
                kind: self.kind,
                param: self.param,
                code: self.code,
            },
        };
        let mut response = json_response(self.status, &body);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The response for a scripted failure.
pub(super) fn failure_response(
    failure: &Failure,
    model: &str,
    prompt_tokens: u32,
    echoed_key: Option<&str>,
) -> Response {
    OpenAiError::scripted(failure, model, prompt_tokens, echoed_key).into_response()
}
