//! Tests of `bench`.

use super::*;

#[test]
fn the_reproduce_line_names_the_options_that_change_the_measurement() {
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }
    let line = |argv: &[&str]| {
        let cli =
            Cli::try_parse_from(std::iter::once("bench").chain(argv.iter().copied())).unwrap();
        reproduce_command(&cli.bench)
    };
    assert_eq!(line(&[]), "cargo xtask bench --no-criterion");
    assert_eq!(
        line(&["--nginx", "--connections", "32", "--rounds", "3"]),
        "cargo xtask bench --no-criterion --nginx --connections 32 --rounds 3"
    );
    assert_eq!(
        line(&["--quick", "--connections", "1,32,256", "--rounds", "1"]),
        "cargo xtask bench --no-criterion --quick"
    );
    assert!(Cli::try_parse_from(["bench", "--rounds", "0"]).is_err());
}

#[test]
fn bench_config_points_the_router_at_the_mock() {
    let config = bench_config(
        "127.0.0.1:4000".parse().unwrap(),
        "http://127.0.0.1:5000/v1",
        None,
    );
    assert!(config.contains("listen = \"127.0.0.1:4000\""), "{config}");
    assert!(
        config.contains("base_url = \"http://127.0.0.1:5000/v1\""),
        "{config}"
    );
    assert!(
        config.contains(&format!("key = \"{CLIENT_KEY}\"")),
        "{config}"
    );
    assert!(
        config.contains(&format!("upstream_model = \"{UPSTREAM_MODEL}\"")),
        "{config}"
    );
    assert!(!config.contains("[redis]"), "{config}");
    let limited = bench_config(
        "127.0.0.1:4000".parse().unwrap(),
        "http://127.0.0.1:5000/v1",
        Some("redis://127.0.0.1:6379/0"),
    );
    assert!(
        limited.contains("rpm = ") && limited.contains("url = \"redis://127.0.0.1:6379/0\""),
        "{limited}"
    );
}

#[test]
fn ttfb_report_shows_what_the_router_adds() {
    let ttfb = |first_event_p50_us: f64, last_byte_p50_us: f64| ttfb::Ttfb {
        requests: 500,
        first_byte_p50_us: first_event_p50_us,
        first_event_p50_us,
        first_event_p99_us: first_event_p50_us * 2.0,
        last_byte_p50_us,
    };
    let report = render_ttfb(&ttfb(25.0, 30.0), &ttfb(165.0, 290.0));
    assert!(report.contains("(500 each)"), "{report}");
    assert!(
        report.contains("router adds 140 µs to the first event (p50) and 260 µs"),
        "{report}"
    );
    let router_line = report.lines().find(|it| it.starts_with("router ")).unwrap();
    let cells: Vec<&str> = router_line.split_whitespace().collect();
    assert_eq!(cells, ["router", "165", "165", "330", "290"]);
}

#[test]
fn the_probe_request_is_a_complete_streaming_request() {
    let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let request = raw_stream_request(addr, "/api/v1/chat/completions", PUBLIC_MODEL);
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("POST /api/v1/chat/completions HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(body["model"], PUBLIC_MODEL);
}

#[test]
fn finds_the_mock_address_in_its_url() {
    assert_eq!(
        host_port("http://127.0.0.1:40123/v1").unwrap(),
        "127.0.0.1:40123".parse().unwrap()
    );
    assert!(host_port("https://example.com/v1").is_err());
}

#[test]
fn table_shows_added_latency_and_router_costs() {
    let summary = |requests: u64, p50_us: f64| wrk::Summary {
        requests,
        duration_us: 1_000_000,
        p50_us,
        p99_us: p50_us * 2.0,
        errors: 0,
        non_2xx: 0,
    };
    let rows = [
        Row {
            target: Target::Mock,
            stream: false,
            connections: 32,
            result: summary(40_000, 700.0),
            proxy: None,
        },
        Row {
            target: Target::Router,
            stream: false,
            connections: 32,
            result: summary(20_000, 1_000.0),
            proxy: Some(proc_stats::Usage {
                cpu: Duration::from_millis(500),
                peak_rss_kib: 20 * 1024,
            }),
        },
    ];
    let table = render_table(&rows);
    let router_line = table.lines().find(|it| it.starts_with("router")).unwrap();
    let cells: Vec<&str> = router_line.split_whitespace().collect();
    // target mode conns req/s p50 p99 +p50 cpu rss errors
    assert_eq!(
        cells,
        [
            "router", "json", "32", "20000", "1.000", "2.000", "0.300", "25.0", "20.0", "0"
        ]
    );
    let mock_line = table.lines().find(|it| it.starts_with("mock")).unwrap();
    assert!(mock_line.contains(" - "), "{mock_line}");
}

#[test]
fn references_compare_each_router_run_with_its_own_round() {
    let row = |target: Target, requests: u64, cpu_ms: u64| Row {
        target,
        stream: false,
        connections: 32,
        result: wrk::Summary {
            requests,
            duration_us: 1_000_000,
            p50_us: 1_000.0,
            p99_us: 2_000.0,
            errors: 0,
            non_2xx: 0,
        },
        proxy: (target != Target::Mock).then(|| proc_stats::Usage {
            cpu: Duration::from_millis(cpu_ms),
            peak_rss_kib: 1024,
        }),
    };
    // Two rounds: 25 µs against nginx's 12.5 and the bare proxy's 10; then 30 against 15 and 12.
    let rows = [
        row(Target::Mock, 40_000, 0),
        row(Target::Router, 20_000, 500),
        row(Target::Nginx, 40_000, 500),
        row(Target::BareProxy, 50_000, 500),
        row(Target::Mock, 40_000, 0),
        row(Target::Router, 20_000, 600),
        row(Target::Nginx, 40_000, 600),
        row(Target::BareProxy, 50_000, 600),
    ];
    let report = render_references(&rows);
    let lines: Vec<&str> = report.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{report}");
    assert!(
        lines[0].contains(
            "router 25.0, nginx 12.5 (2.00×), bare proxy 10.0 (router − bare proxy +15.0)"
        ),
        "{report}"
    );
    assert!(
        lines[1].contains(
            "router 30.0, nginx 15.0 (2.00×), bare proxy 12.0 (router − bare proxy +18.0)"
        ),
        "{report}"
    );
}
