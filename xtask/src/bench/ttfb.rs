//! Time to first byte of a streamed response: sequential requests over one keep-alive
//! connection, timing the first response byte, the first `data: {` event and the last byte.
//!
//! `wrk` only reports the latency of whole responses; for a stream, what a user feels is the
//! first token. Timing the mock directly and the router in front of it, with the same client,
//! gives the latency the router adds before the first token reaches the client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The percentiles of one probe, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Ttfb {
    /// Requests timed (after the warm-up ones).
    pub(super) requests: usize,
    /// Median time to the first byte of the response.
    pub(super) first_byte_p50_us: f64,
    /// Median time to the first `data: {` event (the first chunk).
    pub(super) first_event_p50_us: f64,
    /// 99th percentile time to the first `data: {` event.
    pub(super) first_event_p99_us: f64,
    /// Median time to the last byte.
    pub(super) last_byte_p50_us: f64,
}

/// Requests sent before timing starts (connection set-up, first-use costs).
const WARMUP: usize = 20;

/// Sends `raw_request` (a complete HTTP/1.1 request with a streaming body) `requests` times
/// over one connection to `addr` and times each answer.
pub(super) fn probe(addr: SocketAddr, raw_request: &[u8], requests: usize) -> anyhow::Result<Ttfb> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut first_byte = Vec::with_capacity(requests);
    let mut first_event = Vec::with_capacity(requests);
    let mut last_byte = Vec::with_capacity(requests);
    let mut buf = vec![0_u8; 64 * 1024];
    let mut response = Vec::with_capacity(64 * 1024);
    for i in 0..WARMUP + requests {
        response.clear();
        let started = Instant::now();
        conn.write_all(raw_request)?;
        let mut at_first_byte = None;
        let mut at_first_event = None;
        loop {
            let n = conn
                .read(&mut buf)
                .with_context(|| format!("reading a streamed answer from {addr}"))?;
            let now = started.elapsed();
            if n == 0 {
                bail!("{addr} closed the connection mid-answer");
            }
            at_first_byte.get_or_insert(now);
            // Search only the new bytes plus enough of the old ones for a split marker.
            let from = response.len().saturating_sub(7);
            response.extend_from_slice(&buf[..n]);
            if at_first_event.is_none() && contains(&response[from..], b"data: {") {
                at_first_event = Some(now);
            }
            if response.ends_with(b"0\r\n\r\n") {
                break;
            }
        }
        if !response.starts_with(b"HTTP/1.1 200") || !contains(&response, b"data: [DONE]") {
            bail!(
                "{addr} did not stream a complete answer:\n{}",
                String::from_utf8_lossy(&response)
            );
        }
        if i >= WARMUP {
            let micros = |it: Option<Duration>| it.unwrap_or_default().as_secs_f64() * 1e6;
            first_byte.push(micros(at_first_byte));
            first_event.push(micros(at_first_event));
            last_byte.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    Ok(Ttfb {
        requests,
        first_byte_p50_us: percentile(&mut first_byte, 0.5),
        first_event_p50_us: percentile(&mut first_event, 0.5),
        first_event_p99_us: percentile(&mut first_event, 0.99),
        last_byte_p50_us: percentile(&mut last_byte, 0.5),
    })
}

/// The `q` quantile (0..=1) of `values`, nearest rank; 0 for no values.
fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|it| it == needle)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut values = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&mut values, 0.5), 3.0);
        assert_eq!(percentile(&mut values, 0.99), 5.0);
        assert_eq!(percentile(&mut values, 0.0), 1.0);
        assert_eq!(percentile(&mut [], 0.5), 0.0);
    }

    /// A one-connection server that answers every request with a two-event chunked stream,
    /// sent in two writes.
    fn streaming_server(answers: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0_u8; 4096];
            for _ in 0..answers {
                let _ = conn.read(&mut buf).unwrap();
                conn.write_all(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nf\r\ndata: {\"a\":1}\n\n\r\n",
                )
                .unwrap();
                conn.write_all(b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n")
                    .unwrap();
            }
        });
        addr
    }

    #[test]
    fn times_every_answer_on_one_connection() {
        let addr = streaming_server(WARMUP + 3);
        let ttfb = probe(addr, b"POST / HTTP/1.1\r\n\r\n", 3).unwrap();
        assert_eq!(ttfb.requests, 3);
        assert!(ttfb.first_byte_p50_us > 0.0);
        assert!(ttfb.first_event_p50_us >= ttfb.first_byte_p50_us);
        assert!(ttfb.last_byte_p50_us >= ttfb.first_event_p50_us);
    }

    #[test]
    fn an_answer_without_done_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0_u8; 4096];
            let _ = conn.read(&mut buf).unwrap();
            conn.write_all(b"HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n")
                .unwrap();
        });
        let err = probe(addr, b"POST / HTTP/1.1\r\n\r\n", 1).unwrap_err();
        assert!(err.to_string().contains("did not stream"), "{err:#}");
    }
}
