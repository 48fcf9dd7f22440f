//! The HTTP exchange under a provider client: one pooled client per provider, the request's
//! headers built once, and a response whose body is read in network chunks.
//!
//! A provider behind `https://` (every hosted API) is reached through reqwest, which brings TLS
//! and the proxy settings of the environment. A provider behind plain `http://` (a local
//! inference server, a sidecar, the mocks) is reached over HTTP/1.1 by the requesting task
//! itself, on connections pooled by [`crate::pool`] ([`crate::h1`] reads and writes the wire):
//! reqwest's layers (redirect and retry policies, URL re-parsing of every request and response,
//! a copy of the header map) and then hyper's connection task (a channel to it and back, and
//! a header map per request) each cost about a sixth of the router's instructions per request,
//! and buy nothing without TLS. The request head is rendered once, at start-up, but for
//! `accept` and `content-length`. When `HTTP_PROXY` or `ALL_PROXY` is set, plain `http://`
//! goes through reqwest too, so the proxy is honoured.
//!
//! Both clients keep connections alive (pooled, up to 1024 idle per provider, 90 s), set
//! `TCP_NODELAY` and TCP keep-alive, bound the connect time, never follow redirects and never
//! retry a request that reached the provider: the server's fallback policy decides what is
//! tried again.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use tokio::time::{Instant, Sleep};

use crate::pool::{self, Pool, PoolError};

/// TCP keep-alive on reqwest's connections (the pool sets its own).
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// A provider's pooled HTTP client, pointed at its chat completions URL.
pub(crate) enum Transport {
    /// reqwest: TLS and proxies.
    Reqwest { client: reqwest::Client, url: Url },
    /// HTTP/1.1 of our own for a plain-http provider with no proxy in the way.
    Plain(Box<Plain>),
}

/// The connection pool and the request head but for `accept` and `content-length`.
pub(crate) struct Plain {
    pool: std::sync::Arc<Pool>,
    /// `POST <path> HTTP/1.1`, `host`, the default headers (the key among them) and
    /// `user-agent`, each line ending with CRLF. Never printed.
    head: Vec<u8>,
}

/// Why an exchange failed below HTTP.
#[derive(Debug)]
pub(crate) enum TransportError {
    /// From reqwest (connect, TLS, I/O, its total timeout).
    Reqwest(reqwest::Error),
    /// Before the response headers (connect, I/O, a malformed response).
    Request(PoolError),
    /// While reading the body.
    Body(PoolError),
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
        /// The status line and headers as they arrived.
        head: crate::h1::Head,
        /// `head`'s headers, read when first asked for.
        headers: std::sync::OnceLock<HeaderMap>,
        /// The body, on its connection (given back to the pool at the body's end).
        body: pool::Body,
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
            .pool_idle_timeout(pool::IDLE_TIMEOUT)
            .pool_max_idle_per_host(pool::MAX_IDLE)
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
                let mut length = itoa::Buffer::new();
                // The head's fixed part, then the two headers that vary, then the body: written
                // together, without copying them into one buffer first.
                let request = [
                    &plain.head[..],
                    b"accept: ",
                    accept.as_bytes(),
                    b"\r\ncontent-length: ",
                    length.format(body.len()).as_bytes(),
                    b"\r\n\r\n",
                    &body[..],
                ];
                let (head, body) = tokio::select! {
                    biased;
                    sent = plain.pool.send(request) => sent.map_err(TransportError::Request)?,
                    () = deadline.as_mut() => return Err(TransportError::TimedOut(total_timeout)),
                };
                Ok(Response {
                    status: head.status,
                    body: ResponseBody::Plain {
                        head,
                        headers: std::sync::OnceLock::new(),
                        body,
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
        let uri: http::Uri = url
            .as_str()
            .parse()
            .map_err(|err| format!("invalid base_url `{url}`: {err}"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| format!("invalid base_url `{url}`: no host"))?;
        let host = HeaderValue::try_from(authority.as_str())
            .map_err(|err| format!("invalid base_url `{url}`: {err}"))?;
        // `Url` has already checked the host; an IPv6 literal loses its brackets here.
        let address = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let path = uri.path_and_query().map_or("/", |path| path.as_str());
        headers.insert(header::HOST, host);
        headers.insert(header::USER_AGENT, HeaderValue::from_static(user_agent));
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(b"POST ");
        head.extend_from_slice(path.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        Ok(Self {
            pool: Pool::new(address.to_owned(), port, connect_timeout),
            head,
        })
    }
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
            ResponseBody::Plain { head, headers, .. } => match headers.get() {
                Some(headers) => headers.get(name).map(HeaderValue::as_bytes),
                None => head.header(name.as_str()),
            },
        }
    }

    /// The response headers.
    pub(crate) fn headers(&self) -> &HeaderMap {
        match &self.body {
            ResponseBody::Reqwest(response) => response.headers(),
            ResponseBody::Plain { head, headers, .. } => headers.get_or_init(|| head.headers()),
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
            } => tokio::select! {
                biased;
                chunk = body.chunk() => chunk.map_err(TransportError::Body),
                () = deadline.as_mut() => Err(TransportError::TimedOut(*total_timeout)),
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
            ResponseBody::Plain { head, .. } => match head.framing {
                crate::h1::Framing::Length(length) => Some(length),
                crate::h1::Framing::Chunked | crate::h1::Framing::Close => None,
            },
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
            TransportError::Body(err) => err.is_timeout(),
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
}
