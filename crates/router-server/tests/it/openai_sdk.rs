//! The official `openai` Python package, pointed at the server, completes chats (streaming and
//! not) and raises its own error types for a 401 and a 400.
//!
//! The package is installed from PyPI into a virtualenv under the target directory on the first
//! run and reused afterwards, at the exact versions of `openai_sdk.requirements.txt` (its
//! dependencies pinned too). Missing `python3` or a failing install fails the test: CI installs
//! Python.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{CLIENT_KEY, Gateway};

#[tokio::test]
async fn the_openai_python_sdk_works_against_the_server() {
    let gateway = Gateway::start().await;
    let base_url = format!("{}/api/v1", gateway.server.url());
    let output = tokio::task::spawn_blocking(move || {
        let python = openai_virtualenv();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/openai_sdk.py");
        run(Command::new(python)
            .arg(script)
            .arg(base_url)
            .arg(CLIENT_KEY))
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the openai SDK script failed:\n{}",
        describe(&output)
    );
}

/// The Python of a virtualenv with the pinned `openai` installed, creating it when needed. A
/// copy of the requirements in the virtualenv says what it holds: when the file changes, the
/// pinned versions are installed again.
fn openai_virtualenv() -> PathBuf {
    let requirements =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/openai_sdk.requirements.txt");
    let pinned = std::fs::read_to_string(&requirements).unwrap();
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openai-venv");
    let python = venv.join("bin/python");
    let installed_stamp = venv.join("turnout-requirements.txt");
    if python.exists()
        && std::fs::read_to_string(&installed_stamp).is_ok_and(|installed| installed == pinned)
        && run(Command::new(&python).args(["-c", "import openai"]))
            .status
            .success()
    {
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
            "--requirement",
        ])
        .arg(&requirements));
    assert!(
        installed.status.success(),
        "`pip install --requirement {}` failed:\n{}",
        requirements.display(),
        describe(&installed)
    );
    std::fs::write(&installed_stamp, pinned).unwrap();
    python
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"))
}

fn describe(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
