//! The official `openai` Python package, pointed at the server, completes chats (streaming and
//! not) and raises its own error types for a 401 and a 400.
//!
//! The package is installed from PyPI into a virtualenv under the target directory on the first
//! run and reused afterwards, at the exact versions of `openai_sdk.requirements.txt` (its
//! dependencies pinned too). Missing `python3` or a failing install fails the test: CI installs
//! Python.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sdk_env::{self, describe, run};
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
pub(crate) fn openai_virtualenv() -> PathBuf {
    let requirements =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/openai_sdk.requirements.txt");
    let pinned = std::fs::read_to_string(&requirements).unwrap();
    let args = [OsStr::new("--requirement"), requirements.as_os_str()];
    sdk_env::virtualenv("openai-venv", &args, &pinned)
}
