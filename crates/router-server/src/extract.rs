//! [`ChatBody`]: the request body, read up to `server.body_limit_bytes`.
//!
//! A body over the limit is a 413 in our error shape (checked against `Content-Length` before
//! reading, and while reading for chunked bodies), not axum's plain-text rejection. The bytes
//! are parsed once, by [`router_core::request::ChatRequest::parse`], by the handler that owns
//! them (the parsed request borrows from them).

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_LENGTH;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::app::AppState;
use crate::error::ApiError;

/// A request body within the configured size limit.
#[derive(Debug)]
pub(crate) struct ChatBody(pub(crate) Bytes);

impl FromRequest<AppState> for ChatBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config().server.body_limit_bytes;
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|it| it.to_str().ok())
            .and_then(|it| it.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(ApiError::BodyTooLarge { limit });
        }
        match Limited::new(request.into_body(), limit).collect().await {
            Ok(collected) => Ok(ChatBody(collected.to_bytes())),
            Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
                Err(ApiError::BodyTooLarge { limit })
            }
            Err(_) => Err(ApiError::BodyUnreadable),
        }
    }
}
