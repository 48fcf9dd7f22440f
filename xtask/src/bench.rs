//! `cargo xtask bench`: the criterion benches of the request path, then a load test on loopback.
//!
//! The load test builds release `router-server` and `router-mock`, starts the mock on core 1 and
//! the router on core 0 with one tokio worker, and drives both with `wrk` (also on core 1): the
//! router in front of the mock, and the mock directly, at several connection counts, streaming
//! and not. It reads the router's CPU time and peak RSS from `/proc`, so the CPU cost per request
//! is the router's alone. Then it times the first byte of streamed answers one request at a time
//! ([`ttfb`]), the mock's and the router's, since `wrk` only reports whole responses. With
//! `--nginx` it also measures nginx as a plain reverse proxy on the router's core ([`nginx`]),
//! the cost of the simplest proxy on the same machine, and router-mock's `bare-proxy`, the
//! router's HTTP stack (hyper and tokio) proxying with nothing else: for answers read whole,
//! the router's cost minus the bare proxy's is what Turnout's own work adds (a stream can cost
//! the router less, since the bare proxy writes every event on its own). Everything
//! listens on 127.0.0.1, every run is bounded in time, and the [`crate::cmd::Children`] guard
//! kills both servers on the way out, error or not.
//!
//! [`report`] writes the results: the table, the references per round, the probe's times.

mod nginx;
mod proc_stats;
mod report;
mod ttfb;
mod wrk;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

use self::report::{render_references, render_table, render_ttfb};
use crate::cmd::{self, Children};

/// Options of `cargo xtask bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Shorter runs: criterion's warm-up and measurement times and each load run are cut down.
    #[arg(long)]
    quick: bool,
    /// Seconds per load run (default 5, or 2 with `--quick`).
    #[arg(long)]
    seconds: Option<u32>,
    /// Connection counts to run at.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 32, 256])]
    connections: Vec<u32>,
    /// Runs per mode and connection count, the targets taking turns: the machine's speed drifts,
    /// so runs made side by side are what compare.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Skip the criterion benches.
    #[arg(long)]
    no_criterion: bool,
    /// Skip the load test.
    #[arg(long)]
    no_load: bool,
    /// Use the `router-server` and `router-mock` binaries in this folder (and `bare-proxy`, with
    /// `--nginx`) instead of building them (to compare two builds with the same harness).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Streamed requests timed one at a time for the time-to-first-byte probe (0 skips it).
    #[arg(long, default_value_t = 500)]
    ttfb_requests: usize,
    /// Also measure nginx as a reverse proxy in front of the same mock, on the router's core
    /// (installs Debian's `nginx` if missing): the reference cost of a proxy on this machine.
    /// router-mock's `bare-proxy` (hyper and tokio alone) is measured beside it.
    #[arg(long)]
    nginx: bool,
    /// Give the bench key credit, request and token limits too high to refuse anything, counted
    /// in this Redis (`redis://127.0.0.1:6379/0`; start it yourself), to measure what shared key
    /// limits cost a request.
    #[arg(long, value_name = "URL")]
    limits_redis: Option<String>,
    /// TOML appended to the router's bench config (a `[redis]` section, say): what a feature
    /// costs is the difference with a run without it.
    #[arg(long, value_name = "FILE")]
    config_extra: Option<PathBuf>,
}

/// The client key in the bench config.
const CLIENT_KEY: &str = "sk-turnout-bench";
/// The provider key the router (and the reference proxies) send the mock.
const MOCK_KEY: &str = "sk-mock-bench";
/// The model id the router serves in the bench config.
const PUBLIC_MODEL: &str = "bench/chat";
/// The model name the router sends upstream (and the direct runs send to the mock).
const UPSTREAM_MODEL: &str = "bench-upstream";
/// The core the router runs on; the mock and `wrk` share the other one.
const ROUTER_CORE: &str = "0";
const LOAD_CORE: &str = "1";

/// Runs the criterion benches, then the load test.
pub(crate) fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if !args.no_criterion {
        let mut bench = cmd::cargo();
        bench.args(["bench", "-p", "benches", "--locked"]);
        if args.quick {
            bench.args(["--", "--warm-up-time", "1", "--measurement-time", "2"]);
        }
        cmd::run("criterion benches", &mut bench)?;
    }
    if !args.no_load {
        load_test(args)?;
    }
    Ok(())
}

/// One measured load run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Router,
    Mock,
    Nginx,
    /// router-mock's `bare-proxy`: the router's HTTP stack with none of its work.
    BareProxy,
}

/// The result of one `wrk` run, with the proxy's (router's or nginx's) resource use when it was the target.
#[derive(Debug, Clone)]
struct Row {
    target: Target,
    stream: bool,
    connections: u32,
    result: wrk::Summary,
    proxy: Option<proc_stats::Usage>,
}

fn load_test(args: &BenchArgs) -> anyhow::Result<()> {
    let seconds = args.seconds.unwrap_or(if args.quick { 2 } else { 5 });
    if args.connections.is_empty() || args.connections.contains(&0) {
        bail!("--connections needs counts of at least 1");
    }
    if !cmd::on_path("taskset") {
        bail!("the load test pins processes with `taskset` (Debian package util-linux)");
    }
    if !cmd::on_path("wrk") {
        cmd::apt_install("wrk", "the load test drives the servers with `wrk`")?;
    }
    let n_cores = std::thread::available_parallelism().map_or(1, usize::from);
    if n_cores < 2 {
        bail!(
            "the load test pins the router and the load to different cores: need 2, have {n_cores}"
        );
    }

    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => {
            cmd::run(
                "build release binaries",
                cmd::cargo().args([
                    "build",
                    "--release",
                    "--locked",
                    "-p",
                    "router-server",
                    "-p",
                    "router-mock",
                    "--bins",
                ]),
            )?;
            target_dir()?.join("release")
        }
    };
    let work = TempDir::new()?;
    let mut children = Children::default();

    // The mock, on the load core.
    let mock_log = work.path().join("router-mock.log");
    let mock_stdout = children.spawn(
        "router-mock",
        Command::new("taskset")
            .args(["-c", LOAD_CORE])
            .arg(bin_dir.join("router-mock"))
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(File::create(&mock_log)?),
    )?;
    let mock_stdout = mock_stdout
        .stdout
        .take()
        .context("router-mock's stdout is not piped")?;
    let mock_url = wait_for_line(mock_stdout, "listening on ", Duration::from_secs(30))
        .with_context(|| format!("router-mock did not start; its log:\n{}", tail(&mock_log)))?;
    let mock_base = mock_url
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .with_context(|| format!("no URL in router-mock's line {mock_url:?}"))?
        .trim_end_matches('/')
        .to_owned();
    let mock_addr = host_port(&mock_base)?;

    // The router, alone on its core with one tokio worker.
    let router_addr = free_loopback_addr()?;
    let config = work.path().join("turnout-bench.toml");
    let mut config_text = bench_config(router_addr, &mock_base, args.limits_redis.as_deref());
    if let Some(extra) = &args.config_extra {
        let extra = std::fs::read_to_string(extra)
            .with_context(|| format!("cannot read --config-extra {}", extra.display()))?;
        config_text = format!("{config_text}\n{extra}");
    }
    std::fs::write(&config, config_text)?;
    let router_log = work.path().join("router-server.log");
    let router_output = File::create(&router_log)?;
    let router_pid = children
        .spawn(
            "router-server",
            Command::new("taskset")
                .args(["-c", ROUTER_CORE])
                .arg(bin_dir.join("router-server"))
                .arg("--config")
                .arg(&config)
                .env("TOKIO_WORKER_THREADS", "1")
                .stdout(router_output.try_clone()?)
                .stderr(router_output),
        )?
        .id();
    wait_until_listening(router_addr, &mut children, Duration::from_secs(60)).with_context(
        || {
            format!(
                "router-server did not start; its log:\n{}",
                tail(&router_log)
            )
        },
    )?;

    // nginx, when asked for, on the router's core (the router idles while nginx is measured).
    let nginx = if args.nginx {
        let addr = free_loopback_addr()?;
        let pid = nginx::start(&mut children, work.path(), ROUTER_CORE, addr, mock_addr)?;
        wait_until_listening(addr, &mut children, Duration::from_secs(30))?;
        Some((addr, pid))
    } else {
        None
    };
    // The bare proxy beside it, also on the router's core.
    let bare_proxy = if args.nginx {
        let addr = free_loopback_addr()?;
        let pid = children
            .spawn(
                "bare-proxy",
                Command::new("taskset")
                    .args(["-c", ROUTER_CORE])
                    .arg(bin_dir.join("bare-proxy"))
                    .args([addr.to_string(), mock_addr.to_string(), MOCK_KEY.to_owned()])
                    .stdout(Stdio::null()),
            )?
            .id();
        wait_until_listening(addr, &mut children, Duration::from_secs(30))?;
        Some((addr, pid))
    } else {
        None
    };

    // One request each way, so a broken setup fails here with the answer, not as a table of errors.
    for stream in [false, true] {
        if let Some((addr, _)) = nginx {
            smoke_check(addr, "/v1/chat/completions", UPSTREAM_MODEL, stream)
                .context("nginx in front of the mock")?;
        }
        if let Some((addr, _)) = bare_proxy {
            smoke_check(addr, "/v1/chat/completions", UPSTREAM_MODEL, stream)
                .context("bare-proxy in front of the mock")?;
        }
        smoke_check(
            router_addr,
            "/api/v1/chat/completions",
            PUBLIC_MODEL,
            stream,
        )
        .with_context(|| format!("router-server's log:\n{}", tail(&router_log)))?;
        smoke_check(mock_addr, "/v1/chat/completions", UPSTREAM_MODEL, stream)?;
    }

    let scripts = LuaScripts::write(work.path())?;
    eprintln!("\n==> warming up (1 s each)");
    for (addr, path, script) in [
        (mock_addr, "/v1/chat/completions", &scripts.mock_json),
        (mock_addr, "/v1/chat/completions", &scripts.mock_stream),
        (
            router_addr,
            "/api/v1/chat/completions",
            &scripts.router_json,
        ),
        (
            router_addr,
            "/api/v1/chat/completions",
            &scripts.router_stream,
        ),
    ] {
        wrk::run(LOAD_CORE, &url(addr, path), script, 32, 1)?;
    }
    for (addr, _) in nginx.iter().chain(&bare_proxy) {
        for script in [&scripts.mock_json, &scripts.mock_stream] {
            wrk::run(
                LOAD_CORE,
                &url(*addr, "/v1/chat/completions"),
                script,
                32,
                1,
            )?;
        }
    }

    let mut rows = Vec::new();
    for stream in [false, true] {
        for (&connections, round) in args
            .connections
            .iter()
            .flat_map(|it| std::iter::repeat_n(it, args.rounds as usize).zip(1..))
        {
            let mode = if stream { "stream" } else { "json" };
            eprintln!(
                "==> {mode}, {connections} connection(s), round {round} of {}, {seconds} s per target",
                args.rounds
            );
            let mock_script = if stream {
                &scripts.mock_stream
            } else {
                &scripts.mock_json
            };
            let result = wrk::run(
                LOAD_CORE,
                &url(mock_addr, "/v1/chat/completions"),
                mock_script,
                connections,
                seconds,
            )?;
            rows.push(Row {
                target: Target::Mock,
                stream,
                connections,
                result,
                proxy: None,
            });

            let router_script = if stream {
                &scripts.router_stream
            } else {
                &scripts.router_json
            };
            rows.push(measure(
                Target::Router,
                router_pid,
                &url(router_addr, "/api/v1/chat/completions"),
                router_script,
                (stream, connections, seconds),
            )?);
            for (target, (addr, pid)) in [(Target::Nginx, nginx), (Target::BareProxy, bare_proxy)]
                .into_iter()
                .filter_map(|(target, it)| Some((target, it?)))
            {
                rows.push(measure(
                    target,
                    pid,
                    &url(addr, "/v1/chat/completions"),
                    mock_script,
                    (stream, connections, seconds),
                )?);
            }
            children.check_running()?;
        }
    }

    let ttfb = if args.ttfb_requests > 0 {
        eprintln!(
            "==> time to first byte, {} streamed requests one at a time",
            args.ttfb_requests
        );
        let mock = ttfb::probe(
            mock_addr,
            raw_stream_request(mock_addr, "/v1/chat/completions", UPSTREAM_MODEL).as_bytes(),
            args.ttfb_requests,
        )?;
        let router = ttfb::probe(
            router_addr,
            raw_stream_request(router_addr, "/api/v1/chat/completions", PUBLIC_MODEL).as_bytes(),
            args.ttfb_requests,
        )?;
        children.check_running()?;
        Some((mock, router))
    } else {
        None
    };
    drop(children);

    println!(
        "\nrouter-server pinned to core {ROUTER_CORE} (TOKIO_WORKER_THREADS=1: one thread, \
         tokio's current-thread scheduler); router-mock and wrk (1 thread) on core {LOAD_CORE}; \
         {seconds} s per run; loopback only"
    );
    println!("{}", render_table(&rows));
    if args.nginx {
        println!("{}", render_references(&rows));
    }
    if let Some((mock, router)) = ttfb {
        println!("{}", render_ttfb(&mock, &router));
    }
    match &args.config_extra {
        Some(extra) => println!(
            "reproduce: {} --config-extra {}",
            reproduce_command(args),
            extra.display()
        ),
        None => println!("reproduce: {}", reproduce_command(args)),
    }
    Ok(())
}

/// The command that repeats this load test: the options that change what it measures.
fn reproduce_command(args: &BenchArgs) -> String {
    let connections: Vec<String> = args.connections.iter().map(u32::to_string).collect();
    format!(
        "cargo xtask bench --no-criterion{}{}{}{}{}",
        if args.quick { " --quick" } else { "" },
        if args.nginx { " --nginx" } else { "" },
        match &args.limits_redis {
            Some(url) => format!(" --limits-redis {url}"),
            None => String::new(),
        },
        match connections.join(",").as_str() {
            "1,32,256" => String::new(),
            other => format!(" --connections {other}"),
        },
        match args.rounds {
            1 => String::new(),
            rounds => format!(" --rounds {rounds}"),
        }
    )
}

/// One `wrk` run against a proxy (the router or nginx) with `pid`'s CPU time and peak RSS over
/// it; `run` is (streaming, connections, seconds).
fn measure(
    target: Target,
    pid: u32,
    url: &str,
    script: &Path,
    (stream, connections, seconds): (bool, u32, u32),
) -> anyhow::Result<Row> {
    let clock_ticks = proc_stats::clock_ticks_per_second();
    proc_stats::reset_peak_rss(pid);
    let before = proc_stats::cpu_ticks(pid)?;
    let result = wrk::run(LOAD_CORE, url, script, connections, seconds)?;
    let after = proc_stats::cpu_ticks(pid)?;
    Ok(Row {
        target,
        stream,
        connections,
        result,
        proxy: Some(proc_stats::Usage {
            cpu: proc_stats::ticks_to_duration(after.saturating_sub(before), clock_ticks),
            peak_rss_kib: proc_stats::peak_rss_kib(pid)?,
        }),
    })
}

/// The router config for the bench: one client key, one provider (the mock), one model. With
/// `limits_redis`, the key has credit, request and token limits too high to refuse anything,
/// counted in that Redis.
fn bench_config(listen: SocketAddr, mock_base: &str, limits_redis: Option<&str>) -> String {
    let (limits, redis) = match limits_redis {
        Some(url) => (
            "limit = 1000000\nrpm = 1000000000\ntpm = 1000000000000\n".to_owned(),
            format!("\n[redis]\nurl = \"{url}\"\n"),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        r#"# Written by `cargo xtask bench`: the router in front of one router-mock.
[server]
listen = "{listen}"

[[keys]]
name = "bench"
key = "{CLIENT_KEY}"
{limits}

[providers.mock]
display_name = "Mock"
kind = "openai"
base_url = "{mock_base}"
api_key = "{MOCK_KEY}"

[[models]]
id = "{PUBLIC_MODEL}"
name = "Bench: Chat"

[[models.endpoints]]
provider = "mock"
upstream_model = "{UPSTREAM_MODEL}"
context_length = 128000
max_output = 16384
pricing = {{ prompt = 1.25, completion = 10.0 }}
{redis}"#
    )
}

/// A realistic small chat request for `model`.
fn request_body(model: &str, stream: bool) -> String {
    serde_json::json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a concise assistant. Answer in one or two sentences."},
            {"role": "user", "content": "What is the capital of France, and what river runs through it?"}
        ],
        "temperature": 0.7,
        "max_tokens": 128,
        "stream": stream,
    })
    .to_string()
}

/// The four `wrk` scripts: router or mock, JSON or streaming.
struct LuaScripts {
    router_json: PathBuf,
    router_stream: PathBuf,
    mock_json: PathBuf,
    mock_stream: PathBuf,
}

impl LuaScripts {
    fn write(dir: &Path) -> anyhow::Result<Self> {
        let write = |name: &str, model: &str, stream: bool| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            let script = wrk::lua_script(&request_body(model, stream), CLIENT_KEY)?;
            std::fs::write(&path, script)?;
            Ok(path)
        };
        Ok(Self {
            router_json: write("router-json.lua", PUBLIC_MODEL, false)?,
            router_stream: write("router-stream.lua", PUBLIC_MODEL, true)?,
            mock_json: write("mock-json.lua", UPSTREAM_MODEL, false)?,
            mock_stream: write("mock-stream.lua", UPSTREAM_MODEL, true)?,
        })
    }
}

/// A complete keep-alive HTTP/1.1 streaming request for `model`, as the TTFB probe sends it.
fn raw_stream_request(addr: SocketAddr, path: &str, model: &str) -> String {
    let body = request_body(model, true);
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {CLIENT_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Where cargo puts build output (honours `CARGO_TARGET_DIR`).
fn target_dir() -> anyhow::Result<PathBuf> {
    let metadata =
        cmd::output(cmd::cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    let metadata: serde_json::Value = serde_json::from_str(&metadata)?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` has no target_directory")
}

/// Reads `stdout` until a line contains `marker` and returns that line; the rest of the output is
/// drained in the background so the child never blocks on a full pipe.
fn wait_for_line(
    stdout: impl Read + Send + 'static,
    marker: &str,
    timeout: Duration,
) -> anyhow::Result<String> {
    let (sender, receiver) = mpsc::channel();
    let marker = marker.to_owned();
    std::thread::spawn(move || {
        let mut sender = Some(sender);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains(&marker)
                && let Some(sender) = sender.take()
            {
                let _ = sender.send(line);
            }
        }
    });
    receiver
        .recv_timeout(timeout)
        .context("no start-up line before the timeout or the end of its output")
}

/// An address on 127.0.0.1 that was free a moment ago.
fn free_loopback_addr() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// Waits until `addr` accepts TCP connections, failing early when a child exits.
fn wait_until_listening(
    addr: SocketAddr,
    children: &mut Children,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        children.check_running()?;
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("nothing listens on {addr} after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One request over a fresh connection; fails unless the answer is a 200 with the expected body.
fn smoke_check(addr: SocketAddr, path: &str, model: &str, stream: bool) -> anyhow::Result<()> {
    let body = request_body(model, stream);
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {CLIENT_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    conn.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response)
        .with_context(|| format!("reading the answer from {addr}{path}"))?;
    let response = String::from_utf8_lossy(&response);
    let expected = if stream {
        "data: [DONE]"
    } else {
        "\"choices\""
    };
    if !response.starts_with("HTTP/1.1 200") || !response.contains(expected) {
        bail!("POST http://{addr}{path} (stream: {stream}) did not succeed:\n{response}");
    }
    Ok(())
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// `127.0.0.1:1234` out of `http://127.0.0.1:1234/v1`.
fn host_port(base_url: &str) -> anyhow::Result<SocketAddr> {
    let rest = base_url
        .strip_prefix("http://")
        .with_context(|| format!("not an http:// URL: {base_url}"))?;
    let host_port = rest.split('/').next().unwrap_or(rest);
    host_port
        .parse()
        .with_context(|| format!("not an IP address and port: {host_port}"))
}

/// The last lines of a log file, for error messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A private scratch folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("turnout-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests;
