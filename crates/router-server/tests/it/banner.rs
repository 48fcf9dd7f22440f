//! The start-up banner: with a provider key in the environment, the server binary serves the
//! provider template, prints the client key to use and a curl line, and that request works.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use router_mock::{MockConfig, MockProvider};
use serde_json::Value;

use crate::support::{PROVIDER_KEY, client};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn with_a_provider_key_the_banner_prints_the_client_key_and_its_curl_works() {
    let openai = MockProvider::start(MockConfig {
        api_key: Some(PROVIDER_KEY.to_owned()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("turnout-banner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_router-server"));
    command
        .current_dir(&dir)
        .env_clear()
        .env("OPENAI_API_KEY", PROVIDER_KEY)
        .env("OPENAI_BASE_URL", openai.base_url())
        .env("TURNOUT_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut server = Server(command.spawn().unwrap());
    let stdout = server.0.stdout.take().unwrap();
    // Read the banner up to its curl line's body on a thread (the read blocks), then keep
    // draining the server's output so that its later lines never meet a closed pipe.
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut sender = Some(sender);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.is_none() {
                continue;
            }
            let done = line.trim_start().starts_with("-d ");
            text.push_str(&line);
            text.push('\n');
            if done && let Some(sender) = sender.take() {
                let _ = sender.send(std::mem::take(&mut text));
            }
        }
        if let Some(sender) = sender {
            let _ = sender.send(text);
        }
    });
    let banner = receiver.await.unwrap();

    assert!(
        banner.contains(
            "Mode: template config/providers.toml with 1 provider from the environment (openai)"
        ),
        "{banner}"
    );
    assert!(banner.contains("Client key: sk-turnout-local"), "{banner}");
    assert!(!banner.contains(PROVIDER_KEY), "{banner}");
    let url = banner
        .lines()
        .find_map(|it| it.strip_prefix("Turnout is listening on "))
        .unwrap()
        .to_owned();
    let bearer = banner
        .lines()
        .find_map(|it| it.trim().strip_prefix("-H \"Authorization: Bearer "))
        .and_then(|it| it.strip_suffix("\" \\"))
        .unwrap()
        .to_owned();
    assert_eq!(bearer, "sk-turnout-local");
    let body = banner
        .lines()
        .find_map(|it| it.trim().strip_prefix("-d '"))
        .and_then(|it| it.strip_suffix('\''))
        .unwrap()
        .to_owned();

    let response = client()
        .post(format!("{url}/api/v1/chat/completions"))
        .header("Authorization", format!("Bearer {bearer}"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["provider"], "OpenAI");
    assert_eq!(openai.calls().len(), 1);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
