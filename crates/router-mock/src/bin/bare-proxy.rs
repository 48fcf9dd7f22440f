//! `bare-proxy`: the HTTP stack alone, as a reverse proxy. The load test (`cargo xtask bench
//! --nginx`) measures it beside nginx and the router to split the router's cost per request in
//! two: what hyper and tokio cost (this proxy), and what Turnout's own work adds (the router
//! minus this proxy).
//!
//! It is the least a proxy on Turnout's stack can do: hyper 1's HTTP/1.1 server and client on
//! tokio's current-thread scheduler, upstream connections kept alive on a LIFO pool, the
//! request body read whole and sent on with the provider's `Authorization`, the answer's body
//! passed through frame by frame (so a stream stays a stream). No parsing, routing, limits or
//! records. Not a product: no timeouts, no error shape, no TLS.
//!
//! ```text
//! bare-proxy LISTEN UPSTREAM API_KEY     # bare-proxy 127.0.0.1:18082 127.0.0.1:9000 sk-mock
//! ```

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, HOST, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// Idle upstream connections, the most recently used last.
type Pool = Rc<RefCell<Vec<SendRequest<Full<Bytes>>>>>;

/// The proxy's fixed settings.
struct Upstream {
    addr: String,
    host: HeaderValue,
    authorization: HeaderValue,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, upstream, key] = args.as_slice() else {
        anyhow::bail!("usage: bare-proxy LISTEN UPSTREAM API_KEY");
    };
    let upstream = Rc::new(Upstream {
        host: HeaderValue::from_str(upstream).context("UPSTREAM is not a host:port")?,
        authorization: HeaderValue::from_str(&format!("Bearer {key}"))
            .context("API_KEY cannot be a header")?,
        addr: upstream.clone(),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve(listen, upstream))
}

/// Accepts connections forever, each served on its own local task.
async fn serve(listen: &str, upstream: Rc<Upstream>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    announce(listener.local_addr()?);
    let pool = Pool::default();
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (pool, upstream) = (pool.clone(), upstream.clone());
        tokio::task::spawn_local(async move {
            let service = hyper::service::service_fn(move |request| {
                forward(request, pool.clone(), upstream.clone())
            });
            // A client that goes away mid-request is no error of the proxy's.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[expect(
    clippy::print_stdout,
    reason = "the listening line on stdout is the binary's interface: tests read the port from it"
)]
fn announce(addr: std::net::SocketAddr) {
    println!("bare-proxy listening on http://{addr}");
}

/// Sends `request` upstream on a pooled connection and answers with the upstream's response.
async fn forward(
    request: Request<Incoming>,
    pool: Pool,
    upstream: Rc<Upstream>,
) -> anyhow::Result<Response<PassThrough>> {
    let (mut head, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    head.headers.insert(HOST, upstream.host.clone());
    head.headers
        .insert(AUTHORIZATION, upstream.authorization.clone());
    let mut sender = checkout(&pool, &upstream.addr).await?;
    let response = sender
        .send_request(Request::from_parts(head, Full::new(body)))
        .await?;
    Ok(response.map(|body| PassThrough {
        body,
        sender: Some(sender),
        pool,
    }))
}

/// An idle pooled connection that is still open, or a new one.
async fn checkout(pool: &Pool, addr: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    loop {
        let idle = pool.borrow_mut().pop();
        let Some(mut sender) = idle else { break };
        if sender.ready().await.is_ok() {
            return Ok(sender);
        }
    }
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::task::spawn_local(connection);
    Ok(sender)
}

/// The upstream's body, passed on as it comes; its connection goes back to the pool when the
/// body ends.
struct PassThrough {
    body: Incoming,
    sender: Option<SendRequest<Full<Bytes>>>,
    pool: Pool,
}

impl Body for PassThrough {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        // hyper stops polling once a body says it has ended, so check after every frame.
        let ended = matches!(polled, Poll::Ready(None)) || self.body.is_end_stream();
        if ended && let Some(sender) = self.sender.take() {
            self.pool.borrow_mut().push(sender);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
