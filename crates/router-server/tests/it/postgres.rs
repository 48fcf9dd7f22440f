//! A real PostgreSQL server for the tests: `initdb` into a temporary directory, then `pg_ctl`
//! starts it on a free port of 127.0.0.1 (its unix socket in the same directory) and stops it,
//! mid-test too.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, every PostgreSQL command runs
//! as `nobody` through `setpriv`, and the directory belongs to `nobody`. The binaries are found in
//! `/usr/lib/postgresql/<version>/bin` (Debian's layout) or on the `PATH`; without them the test
//! fails with the command that installs them.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The unprivileged user PostgreSQL runs as when the tests run as root.
const UNPRIVILEGED: u32 = 65534;

/// A PostgreSQL server in a temporary directory; stopped and removed on drop.
pub(crate) struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_nobody: bool,
    running: bool,
}

impl Postgres {
    /// Initialises a cluster and starts it. Fails (it does not skip) when PostgreSQL is missing.
    pub(crate) async fn start() -> Postgres {
        let bin = binaries().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's initdb and pg_ctl are missing: install them with \
                 `apt-get install postgresql`"
            )
        });
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("turnout-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let as_nobody = is_root();
        if as_nobody {
            std::os::unix::fs::chown(&dir, Some(UNPRIVILEGED), Some(UNPRIVILEGED)).unwrap();
        }
        let mut postgres = Postgres {
            bin,
            dir,
            port,
            as_nobody,
            running: false,
        };
        let data = postgres.data();
        let init = postgres
            .command("initdb")
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .output()
            .unwrap();
        assert!(init.status.success(), "initdb failed: {}", describe(&init));
        postgres.resume().await;
        postgres
    }

    /// `postgres://postgres@127.0.0.1:port/postgres`.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (a fast shutdown: clients are disconnected).
    pub(crate) fn stop(&mut self) {
        if !self.running {
            return;
        }
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-m", "fast", "-w", "stop", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.running = false;
    }

    /// Starts the stopped server again on the same port and data.
    pub(crate) async fn resume(&mut self) {
        let data = self.data();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -F",
            self.port,
            self.dir.display()
        );
        let start = self
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .arg("-D")
            .arg(&data)
            .arg("start")
            .output()
            .unwrap();
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        assert!(
            start.status.success(),
            "pg_ctl start failed: {}\n{log}",
            describe(&start)
        );
        self.running = true;
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("PostgreSQL did not listen on port {}", self.port);
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `tool` of the PostgreSQL binaries, as `nobody` when we are root.
    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        let mut command = if self.as_nobody {
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={UNPRIVILEGED}"))
                .arg(format!("--regid={UNPRIVILEGED}"))
                .arg("--clear-groups")
                .arg(program);
            command
        } else {
            Command::new(program)
        };
        command.current_dir(&self.dir).stdin(Stdio::null());
        command
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            let _ = self
                .command("pg_ctl")
                .args(["-m", "immediate", "-w", "stop", "-D"])
                .arg(&data)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory holding `initdb` and `pg_ctl`: Debian's newest version, else the `PATH`'s.
fn binaries() -> Option<PathBuf> {
    let debian = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(debian)
        .into_iter()
        .flatten()
        .flatten()
        .map(|it| it.path().join("bin"))
        .filter(|it| it.join("initdb").is_file() && it.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    if let Some(newest) = versions.pop() {
        return Some(newest);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|it| String::from_utf8_lossy(&it.stdout).trim() == "0")
}

fn describe(output: &std::process::Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
