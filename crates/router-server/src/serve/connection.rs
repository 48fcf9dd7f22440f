//! One client connection, served by hyper: HTTP/1.1 or HTTP/2 with prior knowledge (cleartext),
//! or either over TLS by ALPN, chosen by hyper-util's `auto` builder from the first bytes.
//!
//! What hyper keeps for us: `Expect: 100-continue` (the go-ahead goes out only when a handler
//! reads the body, so a request refused from its head never gets one), keep-alive and
//! pipelining, the header read timeout (`server.request_read_timeout_ms`, counted from when the
//! connection waits for a head, so an idle keep-alive connection is closed after it too), the
//! head size (64 KiB, 100 headers) and RFC 9112's framing rules. A head hyper cannot parse is
//! answered by hyper itself (400, 431 or 505, without a body) and the connection closed; see
//! `docs/api.md`.
//!
//! What [`ClientSocket`] adds under it: the write timeout, a timeout for the first byte, and a
//! lingering close. A client's close ends the connection; with it hyper drops the request's
//! future, and with that the upstream call.

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::deadline::StreamDeadline;
use super::socket::ClientSocket;
use crate::dispatch::Dispatch;

/// The most bytes of a request head, and of what hyper buffers on a connection.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most headers a request may have.
const MAX_HEADERS: usize = 100;
/// The most HTTP/2 streams a client may open at once on one connection.
const MAX_CONCURRENT_STREAMS: u32 = 256;

/// What every connection shares: the protocol settings, the service and TLS.
pub(super) struct Edge {
    builder: auto::Builder<TokioExecutor>,
    dispatch: Dispatch,
    tls: Option<TlsAcceptor>,
    write_timeout: Duration,
    read_timeout: Duration,
}

impl Edge {
    /// The settings for `dispatch`'s config, with `tls` when TLS is terminated here.
    pub(super) fn new(dispatch: Dispatch, tls: Option<TlsAcceptor>) -> Arc<Self> {
        let current = dispatch.current();
        let server = &current.state.config().server;
        let read_timeout = server.request_read_timeout;
        let write_timeout = server.edge.write_timeout;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(read_timeout)
            .max_buf_size(MAX_HEAD_BYTES)
            .max_headers(MAX_HEADERS)
            .half_close(false)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .max_header_list_size(MAX_HEAD_BYTES as u32)
            .keep_alive_interval(Some(read_timeout))
            .keep_alive_timeout(read_timeout);
        Arc::new(Self {
            builder,
            dispatch,
            tls,
            write_timeout,
            read_timeout,
        })
    }
}

/// Serves `tcp` until the client closes it, an error or a timeout ends it, or `shutdown` turns
/// true: then requests in flight finish (streams included) and the connection closes (HTTP/2:
/// a `GOAWAY` first).
pub(super) async fn serve(tcp: TcpStream, edge: Arc<Edge>, mut shutdown: watch::Receiver<bool>) {
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::trace!(error = %err, "cannot set TCP_NODELAY on an accepted socket");
    }
    let deadline = StreamDeadline::default();
    let socket = ClientSocket::new(tcp, edge.write_timeout, edge.read_timeout, deadline.clone());
    match &edge.tls {
        None => run(socket, &edge, deadline, shutdown).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(edge.read_timeout, acceptor.accept(socket));
            let tls = tokio::select! {
                tls = handshake => tls,
                _ = shutdown.changed() => return,
            };
            match tls {
                Ok(Ok(stream)) => run(stream, &edge, deadline, shutdown).await,
                Ok(Err(err)) => tracing::trace!(error = %err, "TLS handshake failed"),
                Err(_elapsed) => tracing::trace!("TLS handshake timed out"),
            }
        }
    }
}

/// Runs hyper's connection over `io`; its HTTP/1.1 requests run with `deadline` (see
/// [`StreamDeadline`]).
async fn run<I>(io: I, edge: &Edge, deadline: StreamDeadline, mut shutdown: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let dispatch = edge.dispatch.clone();
    let service = service_fn(move |request: http::Request<Incoming>| {
        let dispatch = dispatch.clone();
        let deadline = (request.version() != http::Version::HTTP_2).then(|| deadline.clone());
        async move {
            let response = match deadline {
                Some(deadline) => deadline.scope(dispatch.serve(request)).await,
                None => dispatch.serve(request).await,
            };
            Ok::<_, Infallible>(response)
        }
    });
    let connection = edge.builder.serve_connection(TokioIo::new(io), service);
    let mut connection = pin!(connection);
    let mut shutting_down = false;
    if *shutdown.borrow_and_update() {
        shutting_down = true;
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::trace!(error = %err, "connection ended with an error");
                }
                return;
            }
            changed = shutdown.changed(), if !shutting_down => {
                // A closed channel (the server is gone) is a shutdown too.
                let _: Result<(), watch::error::RecvError> = changed;
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}
