//! The load test's report: the table of runs, each router run against the reference proxies
//! of its round, and the time-to-first-byte probe.

use std::fmt::Write as _;

use super::{Row, Target, ttfb};

/// The time-to-first-byte probe's results, with what the router adds.
pub(super) fn render_ttfb(mock: &ttfb::Ttfb, router: &ttfb::Ttfb) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "streamed, one request at a time ({} each), in µs:",
        router.requests
    );
    let _ = writeln!(
        out,
        "{:<7} {:>13} {:>14} {:>14} {:>13}",
        "target", "first byte", "first event", "first ev. p99", "last byte"
    );
    for (name, it) in [("mock", mock), ("router", router)] {
        let _ = writeln!(
            out,
            "{:<7} {:>13.0} {:>14.0} {:>14.0} {:>13.0}",
            name,
            it.first_byte_p50_us,
            it.first_event_p50_us,
            it.first_event_p99_us,
            it.last_byte_p50_us
        );
    }
    let _ = writeln!(
        out,
        "router adds {:.0} µs to the first event (p50) and {:.0} µs to the last byte (p50)",
        router.first_event_p50_us - mock.first_event_p50_us,
        router.last_byte_p50_us - mock.last_byte_p50_us
    );
    out
}

/// The results as a table, with the router's added p50 next to each router row.
pub(super) fn render_table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<7} {:<6} {:>5} {:>10} {:>9} {:>9} {:>9} {:>11} {:>9} {:>7}",
        "target",
        "mode",
        "conns",
        "req/s",
        "p50 ms",
        "p99 ms",
        "+p50 ms",
        "cpu µs/req",
        "RSS MiB",
        "errors"
    );
    for row in rows {
        let direct = rows.iter().find(|it| {
            it.target == Target::Mock
                && it.stream == row.stream
                && it.connections == row.connections
        });
        let added_p50 = match (row.target, direct) {
            (Target::Router | Target::Nginx | Target::BareProxy, Some(direct)) => {
                format!("{:.3}", (row.result.p50_us - direct.result.p50_us) / 1000.0)
            }
            _ => "-".to_owned(),
        };
        let (cpu, rss) = match &row.proxy {
            Some(usage) => (
                match usage.cpu_per_request_us(row.result.requests) {
                    Some(us) => format!("{us:.1}"),
                    None => "-".to_owned(),
                },
                format!("{:.1}", usage.peak_rss_kib as f64 / 1024.0),
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let _ = writeln!(
            out,
            "{:<7} {:<6} {:>5} {:>10.0} {:>9.3} {:>9.3} {:>9} {:>11} {:>9} {:>7}",
            match row.target {
                Target::Router => "router",
                Target::Mock => "mock",
                Target::Nginx => "nginx",
                Target::BareProxy => "bare",
            },
            if row.stream { "stream" } else { "json" },
            row.connections,
            row.result.requests_per_second(),
            row.result.p50_us / 1000.0,
            row.result.p99_us / 1000.0,
            added_p50,
            cpu,
            rss,
            row.result.errors + row.result.non_2xx,
        );
    }
    out
}

/// Each router run against the reference runs of its round: its CPU per request as a multiple
/// of nginx's, and what it costs above the bare proxy (for json, Turnout's own work; a stream
/// can cost less than the bare proxy, which writes every event on its own).
pub(super) fn render_references(rows: &[Row]) -> String {
    let cpu = |row: &Row| {
        row.proxy
            .as_ref()
            .and_then(|usage| usage.cpu_per_request_us(row.result.requests))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "router against the references, per round (cpu µs per request):"
    );
    for (index, router) in rows.iter().enumerate() {
        if router.target != Target::Router {
            continue;
        }
        // The references measured right after it, in the same mode, before the next router run.
        let round = rows[index + 1..]
            .iter()
            .take_while(|it| it.target != Target::Router)
            .filter(|it| it.stream == router.stream && it.connections == router.connections);
        let (mut nginx, mut bare) = (None, None);
        for row in round {
            match row.target {
                Target::Nginx => nginx = cpu(row),
                Target::BareProxy => bare = cpu(row),
                Target::Router | Target::Mock => {}
            }
        }
        let (Some(us), Some(nginx), Some(bare)) = (cpu(router), nginx, bare) else {
            continue;
        };
        let _ = writeln!(
            out,
            "{:<6} {:>5} conns: router {us:.1}, nginx {nginx:.1} ({:.2}×), bare proxy {bare:.1} (router − bare proxy {:+.1})",
            if router.stream { "stream" } else { "json" },
            router.connections,
            us / nginx,
            us - bare,
        );
    }
    out
}
