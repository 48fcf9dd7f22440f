//! The HTTP exchange under a provider client: one pooled client per provider, the request's
//! headers built once, and a response whose body is read in network chunks.
//!
//! A provider behind `https://` (every hosted API) is reached through reqwest, which brings TLS
//! and the proxy settings of the environment. A provider behind plain `http://` (a local
//! inference server, a sidecar, the mocks) is reached through hyper's HTTP/1.1 connections on
//! a small pool of our own ([`crate::pool`]): reqwest's layers (redirect and retry policies,
//! URL re-parsing of every request and response, a pool keyed and hashed per request) buy
//! nothing for one origin without TLS.
//! When `HTTP_PROXY` or `ALL_PROXY` is set, plain `http://` goes through reqwest too, so the
//! proxy is honoured.
//!
//! Both clients keep connections alive (pooled, up to [`MAX_IDLE`] idle per provider for
//! [`IDLE_TIMEOUT`]), set `TCP_NODELAY` and TCP keep-alive, bound the connect time, never follow
//! redirects and never send a request twice once it was written: hyper tries a request again
//! only when a pooled connection closed before any of it was sent, and the server's fallback
//! policy decides what else is tried again. An idle connection the provider closed leaves the
//! pool: its connection task notices, or, for a stream's connection, which its reader drives
//! ([`crate::pool`]), the poll when it is next taken does. A body dropped before its end closes its
//! connection, so the provider sees the request cancelled. One timer bounds an exchange's total
//! time.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::Full;
use hyper::body::Body as _;
use hyper::body::Incoming;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use tokio::time::{Instant, Sleep};

use crate::pool::{Drive, Lease, Pool, PoolError};

/// TCP keep-alive probes start after this long without traffic.
pub(crate) const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// How long an idle connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The most idle connections kept per provider.
pub(crate) const MAX_IDLE: usize = 1024;

/// A provider's pooled HTTP client, pointed at its chat completions URL.
pub(crate) enum Transport {
    /// reqwest: TLS and proxies.
    Reqwest { client: reqwest::Client, url: Url },
    /// hyper's HTTP/1.1 connections on our pool, for a plain-http provider with no proxy in
    /// the way.
    Plain(Box<Plain>),
}

/// The pool, the request target and the headers of every request.
pub(crate) struct Plain {
    pool: Pool,
    /// The request target in origin form (path and query).
    target: http::Uri,
    /// The default headers (the key among them, marked sensitive), `host` and `user-agent`.
    headers: HeaderMap,
}

/// Why an exchange failed below HTTP.
#[derive(Debug)]
pub(crate) enum TransportError {
    /// From reqwest (connect, TLS, I/O, its total timeout).
    Reqwest(reqwest::Error),
    /// Before the response headers (connect, I/O, a malformed response).
    Request(PoolError),
    /// While reading the body.
    Body(hyper::Error),
    /// The whole exchange took longer than the provider's total timeout.
    TimedOut(Duration),
    /// The body is longer than the limit, in bytes, it was read within.
    TooLarge(usize),
}

/// The answer's status and headers, and its body still to read.
pub(crate) struct Response {
    status: StatusCode,
    body: ResponseBody,
}

enum ResponseBody {
    Reqwest(reqwest::Response),
    Plain {
        headers: HeaderMap,
        /// The body, on its connection.
        body: Incoming,
        /// The connection, driven while the body is read, and given back to the pool when it
        /// drops, after the body.
        lease: Lease,
        /// Fires when the provider's total timeout runs out: one timer for the whole exchange,
        /// registered the first time a read has to wait, rather than one per read.
        deadline: Pin<Box<Sleep>>,
        total_timeout: Duration,
    },
}

/// Appends `chunk` to `body` unless that makes it longer than `limit` (then `None`). The buffer
/// grows by doubling, but never past `limit`: a body near the limit costs at most `limit` bytes.
fn append_within(body: &mut Vec<u8>, chunk: &[u8], limit: usize) -> Option<()> {
    let needed = body.len().checked_add(chunk.len())?;
    if needed > limit {
        return None;
    }
    if needed > body.capacity() {
        let capacity = needed.max(body.capacity().saturating_mul(2)).min(limit);
        body.reserve_exact(capacity - body.len());
    }
    body.extend_from_slice(chunk);
    Some(())
}

/// A response body as a stream of network chunks; it ends after an error.
pub(crate) type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send>>;

// === impl Transport ===

impl Transport {
    /// The client for `url`, sending `headers` (and `user_agent`) on every request.
    pub(crate) fn new(
        url: Url,
        headers: HeaderMap,
        user_agent: &'static str,
        connect_timeout: Duration,
        proxy_in_env: bool,
    ) -> Result<Self, String> {
        if url.scheme() == "http" && !proxy_in_env {
            let plain = Plain::new(&url, headers, user_agent, connect_timeout)?;
            return Ok(Transport::Plain(Box::new(plain)));
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(user_agent)
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .tcp_keepalive(TCP_KEEPALIVE)
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE)
            // A provider API never redirects a POST; following one would resend the body (and
            // the key) somewhere we were not configured to talk to.
            .redirect(reqwest::redirect::Policy::none())
            // With `max_retries_per_request(0)` the retry layer also stops cloning every request
            // (headers and body handle) in case it needs to resend it.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .build()
            .map_err(|err| err.to_string())?;
        Ok(Transport::Reqwest { client, url })
    }

    /// The same client (its connection pool and headers) pointed at `url`, which must be on
    /// the same origin for the pool to be shared (another path of the provider's API).
    pub(crate) fn with_url(&self, url: Url) -> Result<Self, String> {
        match self {
            Transport::Reqwest { client, .. } => Ok(Transport::Reqwest {
                client: client.clone(),
                url,
            }),
            Transport::Plain(plain) => {
                let (authority, target) = plain_target(&url)?;
                if plain.headers.get(header::HOST).map(HeaderValue::as_bytes)
                    != Some(authority.as_bytes())
                {
                    return Err(format!("`{url}` is not on the provider's origin"));
                }
                Ok(Transport::Plain(Box::new(Plain {
                    pool: plain.pool.clone(),
                    target,
                    headers: plain.headers.clone(),
                })))
            }
        }
    }

    /// Whether the environment sets a proxy for plain-http requests (reqwest honours it).
    pub(crate) fn proxy_in_env() -> bool {
        ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
    }

    /// Whether requests go through the connection pool directly.
    #[cfg(test)]
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self, Transport::Plain(_))
    }

    /// POSTs `body`, asking for a stream of server-sent events when `stream` and for JSON
    /// otherwise, and resolves with the response headers; the body is read within
    /// `total_timeout` of now.
    pub(crate) async fn post(
        &self,
        body: Vec<u8>,
        stream: bool,
        total_timeout: Duration,
    ) -> Result<Response, TransportError> {
        let accept = HeaderValue::from_static(match stream {
            true => "text/event-stream",
            false => "application/json",
        });
        match self {
            Transport::Reqwest { client, url } => {
                let response = client
                    .post(url.clone())
                    .header(header::ACCEPT, accept)
                    .timeout(total_timeout)
                    .body(body)
                    .send()
                    .await
                    .map_err(TransportError::Reqwest)?;
                Ok(Response {
                    status: response.status(),
                    body: ResponseBody::Reqwest(response),
                })
            }
            Transport::Plain(plain) => {
                let mut deadline =
                    Box::pin(tokio::time::sleep_until(Instant::now() + total_timeout));
                let mut request = http::Request::new(Full::new(Bytes::from(body)));
                *request.method_mut() = http::Method::POST;
                *request.uri_mut() = plain.target.clone();
                let headers = request.headers_mut();
                headers.reserve(plain.headers.len() + 1);
                for (name, value) in &plain.headers {
                    headers.append(name, value.clone());
                }
                // A stream's reader drives its connection itself (see `pool`).
                let drive = match stream {
                    true => Drive::Inline,
                    false => Drive::Task,
                };
                headers.insert(header::ACCEPT, accept);
                let (response, lease) = tokio::select! {
                    biased;
                    sent = plain.pool.send(request, drive) => sent.map_err(TransportError::Request)?,
                    () = deadline.as_mut() => return Err(TransportError::TimedOut(total_timeout)),
                };
                let (parts, body) = response.into_parts();
                Ok(Response {
                    status: parts.status,
                    body: ResponseBody::Plain {
                        headers: parts.headers,
                        body,
                        lease,
                        deadline,
                        total_timeout,
                    },
                })
            }
        }
    }
}

// === impl Plain ===

impl Plain {
    fn new(
        url: &Url,
        mut headers: HeaderMap,
        user_agent: &'static str,
        connect_timeout: Duration,
    ) -> Result<Self, String> {
        let (authority, target) = plain_target(url)?;
        let host = HeaderValue::try_from(authority.as_str())
            .map_err(|err| format!("invalid base_url `{url}`: {err}"))?;
        headers.insert(header::HOST, host);
        headers.insert(header::USER_AGENT, HeaderValue::from_static(user_agent));
        // `host_str` keeps an IPv6 address's brackets.
        let address = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(80)
        );
        Ok(Self {
            pool: Pool::new(address, connect_timeout),
            target,
            headers,
        })
    }
}

/// The `host` header value and the origin-form request target of a plain-http `url`, which
/// must name a host.
fn plain_target(url: &Url) -> Result<(String, http::Uri), String> {
    let uri: http::Uri = url
        .as_str()
        .parse()
        .map_err(|err| format!("invalid base_url `{url}`: {err}"))?;
    let Some(authority) = uri.authority() else {
        return Err(format!("invalid base_url `{url}`: no host"));
    };
    let authority = authority.as_str().to_owned();
    let target = uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
        .parse()
        .map_err(|err| format!("invalid base_url `{url}`: {err}"))?;
    Ok((authority, target))
}

// === impl Response ===

impl Response {
    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The value of the first header called `name`, without building the header map of a
    /// plain-http answer when nothing else needed it.
    pub(crate) fn header(&self, name: &HeaderName) -> Option<&[u8]> {
        match &self.body {
            ResponseBody::Reqwest(response) => {
                response.headers().get(name).map(HeaderValue::as_bytes)
            }
            ResponseBody::Plain { headers, .. } => headers.get(name).map(HeaderValue::as_bytes),
        }
    }

    /// The response headers.
    pub(crate) fn headers(&self) -> &HeaderMap {
        match &self.body {
            ResponseBody::Reqwest(response) => response.headers(),
            ResponseBody::Plain { headers, .. } => headers,
        }
    }

    /// The next chunk of the body, `None` at its end.
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        match &mut self.body {
            ResponseBody::Reqwest(response) => response.chunk().await.map_err(Into::into),
            ResponseBody::Plain {
                body,
                lease,
                deadline,
                total_timeout,
                ..
            } => loop {
                // The body's next frame, driving the connection when none is ready.
                let next = poll_fn(|cx| {
                    if let Poll::Ready(frame) = Pin::new(&mut *body).poll_frame(cx) {
                        return Poll::Ready(frame);
                    }
                    lease.drive(cx);
                    Pin::new(&mut *body).poll_frame(cx)
                });
                let frame = tokio::select! {
                    biased;
                    frame = next => frame,
                    () = deadline.as_mut() => return Err(TransportError::TimedOut(*total_timeout)),
                };
                match frame {
                    None => return Ok(None),
                    Some(Err(err)) => return Err(TransportError::Body(err)),
                    // Trailers carry nothing a chat answer needs.
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            return Ok(Some(data));
                        }
                    }
                }
            },
        }
    }

    /// The whole body, if it is at most `limit` bytes long; a longer one is an error as soon as
    /// that is known (from its `content-length`, or once more than `limit` bytes arrived), and
    /// never read further. A body that arrives in one chunk is not copied.
    pub(crate) async fn bytes_within(mut self, limit: usize) -> Result<Bytes, TransportError> {
        let too_large = TransportError::TooLarge(limit);
        if self
            .declared_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large);
        }
        let Some(first) = self.chunk().await? else {
            return Ok(Bytes::new());
        };
        if first.len() > limit {
            return Err(too_large);
        }
        let Some(second) = self.chunk().await? else {
            return Ok(first);
        };
        let mut body = Vec::new();
        for chunk in [first, second] {
            append_within(&mut body, &chunk, limit).ok_or(TransportError::TooLarge(limit))?;
        }
        while let Some(chunk) = self.chunk().await? {
            append_within(&mut body, &chunk, limit).ok_or(TransportError::TooLarge(limit))?;
        }
        Ok(Bytes::from(body))
    }

    /// The body's length as its head declares it, when it does.
    fn declared_length(&self) -> Option<u64> {
        match &self.body {
            ResponseBody::Reqwest(response) => response.content_length(),
            ResponseBody::Plain { body, .. } => hyper::body::Body::size_hint(body).exact(),
        }
    }

    /// The body as a stream of chunks.
    pub(crate) fn into_stream(self) -> BodyStream {
        match self.body {
            ResponseBody::Reqwest(response) => Box::pin(
                response
                    .bytes_stream()
                    .map(|chunk| chunk.map_err(TransportError::Reqwest)),
            ),
            body @ ResponseBody::Plain { .. } => {
                let response = Response {
                    status: self.status,
                    body,
                };
                // The state is boxed: `unfold` moves it in and out of its future for every
                // chunk, and a pointer is cheaper to move than the response.
                Box::pin(futures_util::stream::unfold(
                    Some(Box::new(response)),
                    |response| async move {
                        let mut response = response?;
                        match response.chunk().await {
                            Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
                            Ok(None) => None,
                            Err(err) => Some((Err(err), None)),
                        }
                    },
                ))
            }
        }
    }
}

// === impl TransportError ===

impl From<reqwest::Error> for TransportError {
    fn from(err: reqwest::Error) -> Self {
        TransportError::Reqwest(err)
    }
}

impl TransportError {
    /// A timeout of the transport itself (connect, or the total timeout).
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            TransportError::Reqwest(err) => err.is_timeout(),
            TransportError::TimedOut(_) => true,
            TransportError::Request(err) => err.is_timeout(),
            TransportError::Body(err) => err.is_timeout() || caused_by_timeout(err),
            TransportError::TooLarge(_) => false,
        }
    }

    /// The connection could not be opened.
    pub(crate) fn is_connect(&self) -> bool {
        match self {
            TransportError::Reqwest(err) => err.is_connect(),
            TransportError::Request(err) => err.is_connect(),
            TransportError::Body(_) | TransportError::TimedOut(_) | TransportError::TooLarge(_) => {
                false
            }
        }
    }

    /// The answer was longer than its limit: the provider sent something we will not read.
    pub(crate) fn is_too_large(&self) -> bool {
        matches!(self, TransportError::TooLarge(_))
    }

    /// The error and its causes, `: `-separated, without URLs.
    pub(crate) fn describe(self) -> String {
        match self {
            TransportError::Reqwest(err) => error_chain(&err.without_url()),
            TransportError::Request(err) => error_chain(&err),
            TransportError::Body(err) => error_chain(&err),
            TransportError::TimedOut(limit) => {
                format!("the request took longer than the total timeout of {limit:?}")
            }
            TransportError::TooLarge(limit) => {
                format!("the response body is longer than max_response_bytes ({limit} bytes)")
            }
        }
    }
}

/// Whether `err` or one of its causes is an I/O timeout (the connect timeout, say).
pub(crate) fn caused_by_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// An error and its sources, `: `-separated (a client's own message is often just "error
/// sending request"; the cause is further down).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
