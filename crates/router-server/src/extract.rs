//! [`ChatBody`]: the request body, read up to `server.body_limit_bytes`.
//!
//! A body over the limit is a 413 in our error shape (refused unread when its `Content-Length`
//! says so, and while reading otherwise), not axum's plain-text rejection. The body is read as
//! it arrives, frame by frame: nothing is reserved from what the client declares, so memory
//! follows the bytes actually received. A body that arrives in one frame (a small JSON body sent
//! with its head) is kept as it is, without a copy. The whole body must arrive within
//! `server.request_read_timeout_ms`. The bytes are parsed once, by
//! [`router_core::request::ChatRequest::parse`], by the handler that owns them (the parsed
//! request borrows from them).

use std::time::Duration;

use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;

use crate::app::AppState;
use crate::error::ApiError;

/// A request body within the configured size limit.
#[derive(Debug)]
pub(crate) struct ChatBody(pub(crate) Bytes);

impl FromRequest<AppState> for ChatBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let server = &state.config().server;
        let (parts, body) = request.into_parts();
        read_body(
            body,
            &parts.headers,
            server.body_limit_bytes,
            server.request_read_timeout,
        )
        .await
        .map(ChatBody)
    }
}

/// Reads `body` whole, at most `limit` bytes of it, within `timeout`.
///
/// A declared `Content-Length` over the limit is refused before anything is read.
pub(crate) async fn read_body<B>(
    body: B,
    headers: &HeaderMap,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|it| it.to_str().ok())
        .and_then(|it| it.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    // The clock is only started when the body is not there already.
    tokio::time::timeout(timeout, read_limited(body, limit))
        .await
        .unwrap_or(Err(ApiError::BodyUnreadable))
}

/// Reads frames until the end, or past `limit`.
async fn read_limited<B>(mut body: B, limit: usize) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut len = 0_usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::BodyUnreadable)?;
        let Ok(data) = frame.into_data() else {
            // Trailers: nothing the API reads.
            continue;
        };
        if data.is_empty() {
            continue;
        }
        len = len.saturating_add(data.len());
        if len > limit {
            return Err(ApiError::BodyTooLarge { limit });
        }
        match (&mut first, &mut joined) {
            (None, None) => first = Some(data),
            (Some(head), None) => {
                let mut buf = BytesMut::with_capacity(head.len() + data.len());
                buf.extend_from_slice(head);
                buf.extend_from_slice(&data);
                first = None;
                joined = Some(buf);
            }
            (_, Some(buf)) => buf.extend_from_slice(&data),
        }
    }
    Ok(match (first, joined) {
        (_, Some(buf)) => buf.freeze(),
        (Some(data), None) => data,
        (None, None) => Bytes::new(),
    })
}

#[cfg(test)]
mod tests {
    use http_body_util::{Full, StreamBody};

    use super::*;

    fn chunks(
        parts: &[&'static str],
    ) -> impl hyper::body::Body<Data = Bytes, Error = std::io::Error> + Unpin {
        let frames: Vec<Result<hyper::body::Frame<Bytes>, std::io::Error>> = parts
            .iter()
            .map(|it| Ok(hyper::body::Frame::data(Bytes::from_static(it.as_bytes()))))
            .collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn joins_frames_up_to_the_limit() {
        let read = read_limited(chunks(&["ab", "cd", "e"]), 5).await.unwrap();
        assert_eq!(read, "abcde");
        let over = read_limited(chunks(&["ab", "cd", "ef"]), 5).await;
        assert!(matches!(over, Err(ApiError::BodyTooLarge { limit: 5 })));
        let one = read_limited(Full::new(Bytes::from_static(b"{}")), 5).await;
        assert_eq!(one.unwrap(), "{}");
    }

    #[tokio::test]
    async fn refuses_a_declared_length_over_the_limit_unread() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, "10485760".parse().unwrap());
        let read = read_body(chunks(&["x"]), &headers, 4096, Duration::from_secs(1)).await;
        assert!(matches!(read, Err(ApiError::BodyTooLarge { limit: 4096 })));
    }
}
