//! The model pages as the official SDKs read them: `endpoints.list` and `models.get` of the
//! `openrouter` Python package and of `@openrouter/sdk` (TypeScript, which validates every
//! response against its schemas), and `models.retrieve` of the `openai` Python package.
//!
//! The packages are installed at pinned versions under the target directory on the first run
//! (a virtualenv for Python, an npm prefix for Node) and reused afterwards. Missing `python3` or
//! `npm`, or a failing install, fails the test: CI installs both.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{CLIENT_KEY, Gateway, chat_body};

/// The Python packages, pinned.
const PYTHON_PACKAGES: [&str; 2] = ["openrouter==1.3.84", "openai==3.63.0"];

/// The npm package, pinned.
const NPM_PACKAGE: &str = "@openrouter/sdk@1.3.19";

/// A gateway whose `test/two` endpoints both answered once (so their statistics are not null).
async fn warmed_gateway() -> Gateway {
    let gateway = Gateway::start().await;
    for order in [["alpha", "beta"], ["beta", "alpha"]] {
        let mut body = chat_body("test/two", false);
        body["provider"] = serde_json::json!({"order": order});
        assert_eq!(gateway.chat(&body).await.status(), 200);
    }
    gateway
}

#[tokio::test]
async fn the_python_sdks_read_the_model_pages() {
    let gateway = warmed_gateway().await;
    let base_url = format!("{}/api/v1", gateway.server.url());
    let output = tokio::task::spawn_blocking(move || {
        let python = virtualenv();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/sdk_pages.py");
        run(Command::new(python)
            .arg(script)
            .arg(base_url)
            .arg(CLIENT_KEY))
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the Python SDK script failed:\n{}",
        describe(&output)
    );
}

#[tokio::test]
async fn the_typescript_sdk_reads_the_model_pages() {
    let gateway = warmed_gateway().await;
    let base_url = format!("{}/api/v1", gateway.server.url());
    let output = tokio::task::spawn_blocking(move || {
        let prefix = npm_prefix();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/sdk_pages.mjs");
        run(Command::new("node")
            .arg(script)
            .arg(prefix)
            .arg(base_url)
            .arg(CLIENT_KEY))
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the TypeScript SDK script failed:\n{}",
        describe(&output)
    );
}

/// The Python of a virtualenv with [`PYTHON_PACKAGES`], creating it when needed.
pub(crate) fn virtualenv() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-pages-venv");
    let python = venv.join("bin/python");
    let marker = venv.join(PYTHON_PACKAGES.join("+"));
    if python.exists() && marker.exists() {
        return python;
    }
    let created = run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    assert!(
        created.status.success(),
        "cannot create a virtualenv with `python3 -m venv`:\n{}",
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
        .args(PYTHON_PACKAGES));
    assert!(
        installed.status.success(),
        "`pip install {}` failed:\n{}",
        PYTHON_PACKAGES.join(" "),
        describe(&installed)
    );
    std::fs::write(&marker, b"").unwrap();
    python
}

/// A directory with [`NPM_PACKAGE`] installed in its `node_modules`, installing it when needed.
pub(crate) fn npm_prefix() -> PathBuf {
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-pages-npm");
    let marker = prefix.join(NPM_PACKAGE.replace('/', "+"));
    if marker.exists() {
        return prefix;
    }
    std::fs::create_dir_all(&prefix).unwrap();
    std::fs::write(
        prefix.join("package.json"),
        br#"{"name":"sdk-pages","private":true}"#,
    )
    .unwrap();
    let installed = run(Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .arg(NPM_PACKAGE));
    assert!(
        installed.status.success(),
        "`npm install {NPM_PACKAGE}` failed (is npm installed?):\n{}",
        describe(&installed)
    );
    std::fs::write(&marker, b"").unwrap();
    prefix
}

pub(crate) fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"))
}

pub(crate) fn describe(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
