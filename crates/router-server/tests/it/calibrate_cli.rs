//! `router-server calibrate` and `router-server eval-router`, the shipped binary's offline
//! tools: a profile fitted from labelled rows on the command line is served, and routes as its
//! rows taught it; data named other than by catalog ids is refused without `--map`.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::auto_router::{DemoFleet, auto_body, header};
use crate::process::TempDir;
use crate::support::{describe, run};

const CODER: &str = "qwen/qwen3-coder";
const CHATTY: &str = "mistralai/mistral-small-3.2-24b-instruct";

/// Labelled rows of two kinds: code questions only `coder` answers well, small talk only
/// `chatty` does; `coder` costs ten times more.
fn rows(coder: &str, chatty: &str) -> String {
    (0..80)
        .map(|idx| {
            let code = idx % 2 == 0;
            let prompt = if code {
                format!(
                    "Fix the bug in this python function number {idx}: def f(x): return x[{idx}]"
                )
            } else {
                format!("hello friend, how are you today? tell me about your weekend {idx}")
            };
            let (coder_quality, chatty_quality) = if code { (1.0, 0.1) } else { (0.2, 1.0) };
            json!({
                "id": format!("row-{idx}"),
                "prompt": prompt,
                "quality": {coder: coder_quality, chatty: chatty_quality},
                "cost": {coder: 0.01, chatty: 0.001},
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// `router-server <args>`, run to its end.
fn router_server(args: &[&str], dir: &Path) -> std::process::Output {
    run(Command::new(env!("CARGO_BIN_EXE_router-server"))
        .args(args)
        .current_dir(dir))
}

/// The model the fleet serves `prompt` with at dial 0 among the two calibrated models.
async fn served(fleet: &DemoFleet, prompt: &str) -> String {
    let plugin = json!({"allowed_models": [CODER, CHATTY], "cost_quality_tradeoff": 0});
    let response = fleet.chat(&auto_body(prompt, Some(plugin))).await;
    assert_eq!(response.status(), 200);
    header(&response, "x-turnout-served-model")
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_profile_calibrated_by_the_binary_is_served_and_routes_as_its_rows_say() {
    let dir = TempDir::new("calibrate-cli");
    std::fs::write(dir.path().join("rows.jsonl"), rows(CODER, CHATTY)).unwrap();
    let output = router_server(
        &["calibrate", "--data", "rows.jsonl", "--out", "profile.json"],
        dir.path(),
    );
    assert!(output.status.success(), "{}", describe(&output));
    let profile: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("profile.json")).unwrap()).unwrap();
    assert!(profile["models"].get(CODER).is_some(), "{profile}");

    let output = router_server(
        &["eval-router", "--data", "rows.jsonl", "--folds", "2"],
        dir.path(),
    );
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("APGR"),
        "{}",
        describe(&output)
    );

    let path = dir.path().join("profile.json");
    let path = path.display().to_string().replace('\\', "/");
    let fleet = DemoFleet::start_with(&format!("[routing.auto]\nprofile = \"{path}\"\n")).await;
    assert_eq!(
        served(
            &fleet,
            "Fix the bug in this python function: def g(y): return y[3]"
        )
        .await,
        CODER
    );
    assert_eq!(
        served(
            &fleet,
            "hello friend, how are you today? tell me about your holiday"
        )
        .await,
        CHATTY
    );
}

#[test]
fn data_not_keyed_by_catalog_ids_needs_a_map() {
    let dir = TempDir::new("calibrate-cli-map");
    std::fs::write(dir.path().join("rows.jsonl"), rows("coder-large", CHATTY)).unwrap();
    let output = router_server(
        &["calibrate", "--data", "rows.jsonl", "--out", "profile.json"],
        dir.path(),
    );
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("coder-large") && stderr.contains("--map"),
        "{stderr}"
    );
    assert!(!dir.path().join("profile.json").exists());

    let output = router_server(
        &[
            "calibrate",
            "--data",
            "rows.jsonl",
            "--out",
            "profile.json",
            "--map",
            &format!("coder-large={CODER}"),
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", describe(&output));
    let profile: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("profile.json")).unwrap()).unwrap();
    assert!(profile["models"].get(CODER).is_some(), "{profile}");
}
