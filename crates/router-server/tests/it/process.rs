//! The real `router-server` binary as a child process: started on a config file that points at
//! a mock provider, found by the address it logs, signalled with `kill`, and measured through
//! `/proc/<pid>/status`.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::{CLIENT_KEY, PROVIDER_KEY};

/// A config for the binary: one provider at `base_url`, model `test/one` served as
/// `one-upstream`, the test client key, and `server` extra `[server]` keys.
pub(crate) fn config(base_url: &str, server: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
{server}

[[keys]]
name = "test"
key = "{CLIENT_KEY}"

[providers.alpha]
display_name = "Alpha AI"
base_url = "{base_url}"
api_key = "{PROVIDER_KEY}"

[[models]]
id = "test/one"
name = "Test: One"

  [[models.endpoints]]
  provider = "alpha"
  upstream_model = "one-upstream"
  context_length = 8192
  pricing = {{ prompt = 2.0, completion = 8.0 }}
"#
    )
}

/// A fresh directory under the system's temporary directory, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "turnout-it-{name}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary, running.
pub(crate) struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    /// Writes `config` to `dir/turnout.toml`, starts the binary on it and waits until it says
    /// where it listens.
    pub(crate) fn start(dir: &Path, config: &str) -> ServerProcess {
        let path = dir.join("turnout.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_router-server"))
            .arg("--config")
            .arg(&path)
            .args(["--workers", "2"])
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (found, addr) = mpsc::channel();
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(sender) = found.take_if(|_| line.contains("Turnout is listening"))
                    && let Some(at) = line.find("http://")
                {
                    let rest = &line[at + "http://".len()..];
                    let end = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == ':'))
                        .unwrap_or(rest.len());
                    let _ = sender.send(rest[..end].to_owned());
                }
            }
        });
        let addr = addr
            .recv_timeout(Duration::from_secs(60))
            .expect("router-server did not start")
            .parse()
            .unwrap();
        ServerProcess { child, addr }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends `signal` (`TERM`, `INT`, `KILL`) with `kill`.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
    pub(crate) fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in {status}"))
    }

    /// Waits for the process to exit (at most a minute).
    pub(crate) async fn wait(mut self) -> ExitStatus {
        for _ in 0..6000 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("router-server did not exit");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
