//! Limits on what a provider can make the server hold: an answer longer than
//! `providers.*.max_response_bytes` (default 32 MiB) is read no further, fails as an invalid
//! response, and falls back like any other provider failure, streaming or not.
//!
//! The memory check needs a process of its own: the other tests of this binary run on other
//! threads of the same process and would move its resident set. So the test re-runs this binary
//! with a filter that selects only [`huge_answers_in_a_process_of_their_own`] and the variable
//! [`CHILD`] set; that test reads `/proc/self/status` around its requests (the server runs in it)
//! and does nothing in a process without the variable.

use std::process::Command;

use router_mock::{Behavior, CallOutcome};
use serde_json::{Value, json};

use crate::support::{Gateway, chat_body, content, data, error_response, read_events};

/// Set in the child process that runs the measured test.
const CHILD: &str = "TURNOUT_TEST_HUGE_ANSWERS_CHILD";

/// What the mock sends: 1 GiB.
const HUGE_BYTES: u64 = 1 << 30;

/// The most the resident set may grow while 1 GiB answers are refused.
const RSS_BUDGET_BYTES: u64 = 64 * 1024 * 1024;

#[test]
fn a_provider_sending_1_gib_fails_as_invalid_and_falls_back_within_64_mb() {
    let exe = std::env::current_exe().unwrap();
    let output = Command::new(exe)
        .args([
            "--exact",
            "limits_upstream::huge_answers_in_a_process_of_their_own",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the measured run failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed") && stderr.contains("resident set grew by"),
        "the measured test did not run:\n{stdout}\n{stderr}"
    );
}

/// The measured part of the test above; passes at once unless [`CHILD`] is set.
#[tokio::test]
async fn huge_answers_in_a_process_of_their_own() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let gateway = Gateway::start().await;
    // Warm up: connections, pools and buffers that any request needs.
    for stream in [false, true] {
        let response = gateway.chat(&chat_body("test/one", stream)).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
    let before = status_kib("VmRSS");
    // Start the peak from here (`5` resets VmHWM; kernels before 4.0 keep the old peak, which
    // only makes the check stricter).
    let _ = std::fs::write("/proc/self/clear_refs", "5");

    gateway.alpha.set_behavior(
        "one-upstream",
        Behavior {
            huge_body_bytes: Some(HUGE_BYTES),
            ..Behavior::default()
        },
    );

    // Alone, the model's one endpoint fails: an invalid response, read no further.
    let response = gateway.chat(&chat_body("test/one", false)).await;
    let (status, body) = error_response(response).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(
        body["error"]["message"],
        "the provider returned an invalid response"
    );
    assert!(
        gateway
            .alpha
            .wait_for_disconnect(2, std::time::Duration::from_secs(10))
            .await,
        "the server kept reading the huge body"
    );

    // With a second model listed, it answers instead.
    let mut request = chat_body("test/one", false);
    request["models"] = json!(["test/one", "test/two"]);
    let response = gateway.chat(&request).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "test/two", "{body}");
    assert!(body["choices"][0]["message"]["content"].is_string());

    // A stream whose first event never ends falls back the same way.
    let mut request = chat_body("test/one", true);
    request["models"] = json!(["test/one", "test/two"]);
    let response = gateway.chat(&request).await;
    assert_eq!(response.status(), 200);
    let events = read_events(response).await;
    let chunks = data(&events);
    assert!(
        chunks
            .iter()
            .all(|chunk| chunk["model"] == "test/two" && chunk.get("error").is_none()),
        "{events:?}"
    );
    assert!(!content(&chunks).is_empty(), "{events:?}");

    let huge_calls: Vec<_> = gateway
        .alpha
        .calls()
        .into_iter()
        .filter(|call| call.model == "one-upstream")
        .skip(2)
        .collect();
    assert_eq!(huge_calls.len(), 3, "{huge_calls:?}");
    assert!(
        huge_calls
            .iter()
            .all(|call| call.outcome != CallOutcome::Completed),
        "a 1 GiB body was read to its end: {huge_calls:?}"
    );

    let peak = status_kib("VmHWM").max(status_kib("VmRSS"));
    let grown = peak.saturating_sub(before) * 1024;
    eprintln!("resident set grew by {} KiB", grown / 1024);
    assert!(
        grown < RSS_BUDGET_BYTES,
        "the resident set grew by {grown} bytes reading 1 GiB answers (from {before} KiB)"
    );
}

/// A `kB` line of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status:\n{status}"))
}
