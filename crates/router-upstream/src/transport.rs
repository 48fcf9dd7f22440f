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
//! policy decides what else is tried again. An idle connection the provider closed is noticed
//! by its connection task and leaves the pool. A body dropped before its end closes its
//! connection, so the provider sees the request cancelled. One timer bounds an exchange's total
//! time.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use tokio::time::{Instant, Sleep};

use crate::pool::{Lease, Pool, PoolError};

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
        /// The connection, given back to the pool when it drops, after the body.
        _lease: Lease,
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

    /// POSTs `body` and resolves with the response headers; the body is read within
    /// `total_timeout` of now.
    pub(crate) async fn post(
        &self,
        body: Vec<u8>,
        accept: HeaderValue,
        total_timeout: Duration,
    ) -> Result<Response, TransportError> {
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
                headers.insert(header::ACCEPT, accept);
                let (response, lease) = tokio::select! {
                    biased;
                    sent = plain.pool.send(request) => sent.map_err(TransportError::Request)?,
                    () = deadline.as_mut() => return Err(TransportError::TimedOut(total_timeout)),
                };
                let (parts, body) = response.into_parts();
                Ok(Response {
                    status: parts.status,
                    body: ResponseBody::Plain {
                        headers: parts.headers,
                        body,
                        _lease: lease,
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
                deadline,
                total_timeout,
                ..
            } => loop {
                let frame = tokio::select! {
                    biased;
                    frame = body.frame() => frame,
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
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    const AGENT: &str = "turnout/test";

    fn transport(url: &str, proxy_in_env: bool) -> Transport {
        let mut headers = HeaderMap::new();
        let mut key = HeaderValue::from_static("Bearer sk-test");
        key.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, key);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Transport::new(
            Url::parse(url).unwrap(),
            headers,
            AGENT,
            Duration::from_secs(5),
            proxy_in_env,
        )
        .unwrap()
    }

    /// POSTs `body` asking for `accept`, with a total timeout of `total_timeout`.
    async fn post(
        transport: &Transport,
        body: &[u8],
        accept: &'static str,
        total_timeout: Duration,
    ) -> Result<Response, TransportError> {
        transport
            .post(
                body.to_vec(),
                HeaderValue::from_static(accept),
                total_timeout,
            )
            .await
    }

    /// A server that answers one request with `answer` and hands back the request it read. It
    /// then holds the connection open (a stalled body stays stalled) until the client leaves.
    async fn one_shot_server(
        answer: &'static [u8],
    ) -> (Url, tokio::sync::oneshot::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/v1/chat/completions",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let (seen, request_seen) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0_u8; 4096];
            while !request.ends_with(b"}") {
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client closed before sending its body");
                request.extend_from_slice(&buf[..n]);
            }
            conn.write_all(answer).await.unwrap();
            let _ = seen.send(String::from_utf8(request).unwrap());
            let _ = conn.read(&mut buf).await;
        });
        (url, request_seen)
    }

    #[test]
    fn only_plain_http_without_a_proxy_bypasses_reqwest() {
        assert!(transport("http://127.0.0.1:9/v1/chat/completions", false).is_plain());
        assert!(!transport("http://127.0.0.1:9/v1/chat/completions", true).is_plain());
        assert!(!transport("https://api.example.com/v1/chat/completions", false).is_plain());
    }

    #[tokio::test]
    async fn plain_requests_carry_every_header_and_read_the_body() {
        let (url, server) = one_shot_server(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}",
        )
        .await;
        let transport = transport(url.as_str(), false);
        let response = post(
            &transport,
            b"{\"a\":1}",
            "application/json",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            &response.bytes_within(1 << 20).await.unwrap()[..],
            b"{\"ok\":true}"
        );
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(
            request.starts_with("post /v1/chat/completions http/1.1\r\n"),
            "{request}"
        );
        for line in [
            format!("host: {}\r\n", url.authority()),
            "authorization: bearer sk-test\r\n".to_owned(),
            "content-type: application/json\r\n".to_owned(),
            "accept: application/json\r\n".to_owned(),
            format!("user-agent: {AGENT}\r\n"),
            "content-length: 7\r\n".to_owned(),
        ] {
            assert!(request.contains(&line), "{line:?} missing in {request}");
        }
        assert!(request.ends_with("\r\n\r\n{\"a\":1}"), "{request}");
    }

    #[tokio::test]
    async fn the_total_timeout_bounds_the_body() {
        let (url, _server) =
            one_shot_server(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
                .await;
        let transport = transport(url.as_str(), false);
        let mut response = post(
            &transport,
            b"{}",
            "text/event-stream",
            Duration::from_millis(300),
        )
        .await
        .unwrap();
        assert_eq!(
            response.chunk().await.unwrap().as_deref(),
            Some(&b"first"[..])
        );
        let err = response.chunk().await.unwrap_err();
        assert!(err.is_timeout() && !err.is_connect(), "{err:?}");
        assert!(err.describe().contains("total timeout"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let transport = transport(&format!("http://{addr}/v1/chat/completions"), false);
        let err = post(
            &transport,
            b"{}",
            "application/json",
            Duration::from_secs(20),
        )
        .await
        .err()
        .unwrap();
        assert!(err.is_connect() && !err.is_timeout(), "{err:?}");
    }

    #[tokio::test]
    async fn a_large_body_is_read_across_many_reads() {
        let body: Vec<u8> = (0..300_000_u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut answer =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
        answer.extend_from_slice(&body);
        let (url, _server) = one_shot_server(answer.leak()).await;
        let transport = transport(url.as_str(), false);
        let response = post(
            &transport,
            b"{}",
            "application/json",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
        assert_eq!(
            &response.bytes_within(1 << 20).await.unwrap()[..],
            &body[..]
        );
    }

    #[tokio::test]
    async fn a_streamed_body_ends_after_its_last_chunk() {
        let (url, _server) = one_shot_server(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .await;
        let transport = transport(url.as_str(), false);
        let response = post(
            &transport,
            b"{}",
            "text/event-stream",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
        let chunks: Vec<Bytes> = response
            .into_stream()
            .map(|chunk| chunk.unwrap())
            .collect()
            .await;
        assert_eq!(chunks.concat(), b"abcde");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        // Declared too long: refused from the head, before any body byte is read.
        let (url, _server) = one_shot_server(
            b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000000\r\n\r\n{\"choices\":",
        )
        .await;
        let client = transport(url.as_str(), false);
        let response = post(&client, b"{}", "application/json", Duration::from_secs(20))
            .await
            .unwrap();
        let err = response.bytes_within(1024).await.unwrap_err();
        assert!(err.is_too_large() && !err.is_timeout(), "{err:?}");
        assert!(err.describe().contains("max_response_bytes (1024 bytes)"));

        // Chunked: read up to the limit, and no further.
        let (url, _server) = one_shot_server(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n4\r\nefgh\r\n4\r\nijkl\r\n",
        )
        .await;
        let client = transport(url.as_str(), false);
        let response = post(&client, b"{}", "application/json", Duration::from_secs(20))
            .await
            .unwrap();
        let err = response.bytes_within(10).await.unwrap_err();
        assert!(err.is_too_large(), "{err:?}");
    }

    #[tokio::test]
    async fn a_body_of_exactly_the_limit_is_read() {
        let (url, _server) = one_shot_server(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n4\r\nefgh\r\n4\r\nijkl\r\n0\r\n\r\n",
        )
        .await;
        let transport = transport(url.as_str(), false);
        let response = post(
            &transport,
            b"{}",
            "application/json",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
        assert_eq!(
            &response.bytes_within(12).await.unwrap()[..],
            b"abcdefghijkl"
        );
    }

    #[test]
    fn the_buffer_never_grows_past_the_limit() {
        let mut body = Vec::new();
        for _ in 0..7 {
            append_within(&mut body, &[b'x'; 100], 700).unwrap();
            assert!(body.capacity() <= 700, "{}", body.capacity());
        }
        assert_eq!(body.len(), 700);
        assert_eq!(append_within(&mut body, b"y", 700), None);
        assert_eq!(body.len(), 700);
    }

    /// What a [`scripted_server`] does with the next request it reads.
    #[derive(Clone, Copy)]
    enum Reply {
        /// Answers with a small keep-alive `200`.
        Answer,
        /// Answers, then closes the connection (as a provider's idle timeout would, later).
        AnswerThenClose,
        /// Closes the connection without answering.
        Close,
    }

    /// Counts of what a [`scripted_server`] saw.
    #[derive(Default)]
    struct Seen {
        connections: std::sync::atomic::AtomicUsize,
        requests: std::sync::atomic::AtomicUsize,
    }

    /// A server that reads whole requests and replies to the n-th one (over all connections) as
    /// `replies[n]` says; `closed` gets a message each time it closes a connection itself.
    async fn scripted_server(
        replies: Vec<Reply>,
    ) -> (
        Url,
        std::sync::Arc<Seen>,
        tokio::sync::mpsc::UnboundedReceiver<()>,
    ) {
        use std::sync::atomic::Ordering::SeqCst;

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/v1/chat/completions",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let seen = std::sync::Arc::new(Seen::default());
        let counts = std::sync::Arc::clone(&seen);
        let (closed_tx, closed) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                counts.connections.fetch_add(1, SeqCst);
                let counts = std::sync::Arc::clone(&counts);
                let replies = replies.clone();
                let closed_tx = closed_tx.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut read = [0_u8; 4096];
                    loop {
                        // One whole request: the head, then `content-length` bytes.
                        let request_end = loop {
                            if let Some(head_end) = buf.windows(4).position(|it| it == b"\r\n\r\n")
                            {
                                let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                                let length: usize = head
                                    .lines()
                                    .find_map(|line| line.strip_prefix("content-length: "))
                                    .map_or(0, |it| it.trim().parse().unwrap());
                                if buf.len() >= head_end + 4 + length {
                                    break head_end + 4 + length;
                                }
                            }
                            match conn.read(&mut read).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&read[..n]),
                            }
                        };
                        buf.drain(..request_end);
                        let n = counts.requests.fetch_add(1, SeqCst);
                        let reply = replies.get(n).copied().unwrap_or(Reply::Answer);
                        if let Reply::Answer | Reply::AnswerThenClose = reply {
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if conn.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                        if let Reply::AnswerThenClose | Reply::Close = reply {
                            drop(conn);
                            let _ = closed_tx.send(());
                            return;
                        }
                    }
                });
            }
        });
        (url, seen, closed)
    }

    async fn exchange(client: &Transport) -> Result<Bytes, TransportError> {
        post(client, b"{}", "application/json", Duration::from_secs(20))
            .await?
            .bytes_within(1024)
            .await
    }

    #[tokio::test]
    async fn a_connection_is_reused_and_one_the_provider_closed_is_not() {
        use std::sync::atomic::Ordering::SeqCst;

        let (url, seen, mut closed) =
            scripted_server(vec![Reply::Answer, Reply::AnswerThenClose]).await;
        let client = transport(url.as_str(), false);
        assert_eq!(&exchange(&client).await.unwrap()[..], b"ok");
        assert_eq!(&exchange(&client).await.unwrap()[..], b"ok");
        assert_eq!(
            seen.connections.load(SeqCst),
            1,
            "the connection was reused"
        );
        closed.recv().await.unwrap();
        // The provider closed the pooled connection: the next request goes on a new one, once.
        assert_eq!(&exchange(&client).await.unwrap()[..], b"ok");
        assert_eq!(seen.connections.load(SeqCst), 2);
        assert_eq!(seen.requests.load(SeqCst), 3);
    }

    #[tokio::test]
    async fn a_connection_idle_past_the_idle_timeout_is_not_reused() {
        use std::sync::atomic::Ordering::SeqCst;

        let (url, seen, _closed) = scripted_server(vec![]).await;
        let client = transport(url.as_str(), false);
        assert_eq!(&exchange(&client).await.unwrap()[..], b"ok");
        assert_eq!(&exchange(&client).await.unwrap()[..], b"ok");
        assert_eq!(seen.connections.load(SeqCst), 1);
        tokio::time::pause();
        tokio::time::advance(IDLE_TIMEOUT + Duration::from_secs(1)).await;
        tokio::time::resume();
        assert_eq!(&exchange(&client).await.unwrap()[..], b"ok");
        assert_eq!(
            seen.connections.load(SeqCst),
            2,
            "the stale connection was reused"
        );
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_answer_was_read_even_if_its_end_was_not_asked_for() {
        use std::sync::atomic::Ordering::SeqCst;

        // A stream reader stops at its last event (`[DONE]`) and drops the body without asking
        // for its end; hyper has read the whole answer by then, so the connection serves again.
        let (url, seen, _closed) = scripted_server(vec![]).await;
        let client = transport(url.as_str(), false);
        for _ in 0..3 {
            let mut response = post(&client, b"{}", "application/json", Duration::from_secs(20))
                .await
                .unwrap();
            assert_eq!(response.chunk().await.unwrap().as_deref(), Some(&b"ok"[..]));
        }
        assert_eq!(&exchange(&client).await.unwrap()[..], b"ok");
        assert_eq!(seen.requests.load(SeqCst), 4);
        assert_eq!(seen.connections.load(SeqCst), 1, "a connection per answer");
        let Transport::Plain(plain) = &client else {
            panic!("not plain")
        };
        assert_eq!(plain.pool.idle(), 1);
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_closes_its_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/v1/chat/completions",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let (closed_tx, closed) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0_u8; 4096];
            let mut request = Vec::new();
            while !request.ends_with(b"{}") {
                let n = conn.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            conn.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
                .await
                .unwrap();
            // What the client does next: close (0), or send another request.
            let _ = closed_tx.send(conn.read(&mut buf).await.unwrap_or(0));
        });
        let client = transport(url.as_str(), false);
        let mut response = post(&client, b"{}", "text/event-stream", Duration::from_secs(20))
            .await
            .unwrap();
        assert_eq!(
            response.chunk().await.unwrap().as_deref(),
            Some(&b"first"[..])
        );
        drop(response);
        assert_eq!(closed.await.unwrap(), 0, "the connection stayed open");
    }

    #[tokio::test]
    async fn a_request_that_was_written_is_never_sent_again() {
        use std::sync::atomic::Ordering::SeqCst;

        // On a new connection and on a reused one: read whole, then no answer.
        let (url, seen, _closed) = scripted_server(vec![Reply::Close]).await;
        let client = transport(url.as_str(), false);
        let err = exchange(&client).await.unwrap_err();
        assert!(!err.is_connect() && !err.is_timeout(), "{err:?}");
        assert_eq!(seen.requests.load(SeqCst), 1);

        let (url, seen, _closed) = scripted_server(vec![Reply::Answer, Reply::Close]).await;
        let client = transport(url.as_str(), false);
        exchange(&client).await.unwrap();
        let err = exchange(&client).await.unwrap_err();
        assert!(!err.is_connect() && !err.is_timeout(), "{err:?}");
        assert_eq!(seen.requests.load(SeqCst), 2);
        assert_eq!(seen.connections.load(SeqCst), 1);
    }
}
