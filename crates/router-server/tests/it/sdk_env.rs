//! The SDKs' environments, made once under the target directory and reused: a Python virtualenv
//! with pinned packages, an npm prefix with a pinned package, and running a command to its end.
//!
//! Each environment keeps a stamp of what was installed in it; it is installed again when what
//! is asked for changes, and the stamp is written only after the install succeeded. Tests run
//! in parallel and several share an environment, so making one holds a lock: the second test
//! waits, then finds the stamp and uses what the first made.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// The file in an environment that says what it holds.
const STAMP: &str = "turnout-pins.txt";

/// Held while an environment is checked and made, so that two tests never make one at once.
static MAKING: Mutex<()> = Mutex::new(());

/// The lock on making environments; a test that panicked while holding it left at worst an
/// environment without its stamp, which the next one makes again.
fn making() -> MutexGuard<'static, ()> {
    MAKING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where the environment `name` lives.
fn home(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Whether the environment at `dir` holds `pins`.
fn holds(dir: &Path, pins: &str) -> bool {
    std::fs::read_to_string(dir.join(STAMP)).is_ok_and(|it| it == pins)
}

/// The Python of the virtualenv `name` after `pip install <pip_args>`, creating it when it does
/// not hold `pins` (the packages asked for, or the requirements file's text).
pub(crate) fn virtualenv(name: &str, pip_args: &[&std::ffi::OsStr], pins: &str) -> PathBuf {
    let _making = making();
    let venv = home(name);
    let python = venv.join("bin/python");
    if python.exists() && holds(&venv, pins) {
        return python;
    }
    let created = run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    assert!(
        created.status.success(),
        "cannot create a virtualenv with `python3 -m venv` (is python3 with venv installed?):\n{}",
        describe(&created)
    );
    let installed = run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(pip_args));
    assert!(
        installed.status.success(),
        "`pip install {pins}` failed:\n{}",
        describe(&installed)
    );
    std::fs::write(venv.join(STAMP), pins).expect("cannot write the virtualenv's pins");
    python
}

/// The npm prefix `name` with `package` (`name@version`) installed in its `node_modules`.
pub(crate) fn npm_prefix(name: &str, package: &str) -> PathBuf {
    let _making = making();
    let prefix = home(name);
    if holds(&prefix, package) {
        return prefix;
    }
    std::fs::create_dir_all(&prefix).expect("cannot create the npm prefix");
    let manifest = prefix.join("package.json");
    if !manifest.exists() {
        std::fs::write(&manifest, br#"{"name":"turnout-tests","private":true}"#)
            .expect("cannot write the npm prefix's package.json");
    }
    let installed = run(Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .arg(package));
    assert!(
        installed.status.success(),
        "`npm install {package}` failed (are node and npm installed?):\n{}",
        describe(&installed)
    );
    std::fs::write(prefix.join(STAMP), package).expect("cannot write the npm pins");
    prefix
}

/// Runs `command` to its end.
pub(crate) fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"))
}

/// A finished command's status and output, for a failure message.
pub(crate) fn describe(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
