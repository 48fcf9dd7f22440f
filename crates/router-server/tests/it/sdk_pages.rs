//! The model pages as the official SDKs read them: `endpoints.list` and `models.get` of the
//! `openrouter` Python package and of `@openrouter/sdk` (TypeScript, which validates every
//! response against its schemas), and `models.retrieve` of the `openai` Python package.
//!
//! The packages are installed at pinned versions under the target directory on the first run
//! (a virtualenv for Python, an npm prefix for Node) and reused afterwards. Missing `python3` or
//! `npm`, or a failing install, fails the test: CI installs both.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sdk_env::{self, describe, run};
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
    let args: Vec<&OsStr> = PYTHON_PACKAGES.iter().map(OsStr::new).collect();
    sdk_env::virtualenv("sdk-pages-venv", &args, &PYTHON_PACKAGES.join("\n"))
}

/// A directory with [`NPM_PACKAGE`] installed in its `node_modules`, installing it when needed.
pub(crate) fn npm_prefix() -> PathBuf {
    sdk_env::npm_prefix("sdk-pages-npm", NPM_PACKAGE)
}
