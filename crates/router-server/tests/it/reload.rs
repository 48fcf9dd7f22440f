//! Config hot reload: a new model appears without a restart, an invalid file is refused and the
//! old config keeps serving, and a stream in flight during a reload completes.

use std::path::PathBuf;
use std::time::Duration;

use router_mock::{Behavior, MockProvider};
use router_server::ReloadError;
use router_server::config::ConfigError;
use serde_json::Value;

use crate::support::{CLIENT_KEY, PROVIDER_KEY, chat_body, client, data, mock, read_events, spawn};

fn config_text(mock: &MockProvider, models: &[&str]) -> String {
    let mut text = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[[keys]]
name = "test"
key = "{CLIENT_KEY}"

[providers.alpha]
base_url = "{}"
api_key = "{PROVIDER_KEY}"
"#,
        mock.base_url()
    );
    for id in models {
        text.push_str(&format!(
            "\n[[models]]\nid = \"{id}\"\n[[models.endpoints]]\nprovider = \"alpha\"\nupstream_model = \"up\"\ncontext_length = 8192\npricing = {{ prompt = 1.0, completion = 2.0 }}\n"
        ));
    }
    text
}

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("turnout-reload-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("turnout.toml")
}

async fn model_ids(url: &str) -> Vec<String> {
    let body: Value = client()
        .get(format!("{url}/api/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_model_appears_and_an_invalid_file_is_refused() {
    let alpha = mock().await;
    let path = temp_file("models");
    std::fs::write(&path, config_text(&alpha, &["a/one"])).unwrap();
    let config = router_server::config::load_file(&path).unwrap();
    let server = spawn(config).await;
    assert!(!model_ids(&server.url()).await.contains(&"a/two".to_owned()));

    std::fs::write(&path, config_text(&alpha, &["a/one", "a/two"])).unwrap();
    let reloaded = server.reload_from(&path).unwrap();
    assert_eq!(reloaded.models, 2);
    assert!(reloaded.need_restart.is_empty());
    assert!(model_ids(&server.url()).await.contains(&"a/two".to_owned()));
    let response = client()
        .post(format!("{}/api/v1/chat/completions", server.url()))
        .bearer_auth(CLIENT_KEY)
        .json(&chat_body("a/two", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // An endpoint naming a provider that does not exist, and a bad listen address.
    let invalid = config_text(&alpha, &["a/one", "a/three"])
        .replace(
            "[[models]]\nid = \"a/three\"\n[[models.endpoints]]\nprovider = \"alpha\"",
            "[[models]]\nid = \"a/three\"\n[[models.endpoints]]\nprovider = \"nobody\"",
        )
        .replace("listen = \"127.0.0.1:0\"", "listen = \"not an address\"");
    std::fs::write(&path, invalid).unwrap();
    let err = server.reload_from(&path).unwrap_err();
    let ReloadError::Config(ConfigError::Invalid(problems)) = err else {
        panic!("{err:?}");
    };
    let paths: Vec<&str> = problems.iter().map(|it| it.path.as_str()).collect();
    assert!(paths.contains(&"server.listen"), "{paths:?}");
    assert!(
        paths.contains(&"models[1].endpoints[0].provider"),
        "{paths:?}"
    );
    // The last good config keeps serving.
    let ids = model_ids(&server.url()).await;
    assert!(ids.contains(&"a/two".to_owned()) && !ids.contains(&"a/three".to_owned()));
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn a_file_change_is_picked_up_by_the_watcher() {
    let alpha = mock().await;
    let path = temp_file("watch");
    std::fs::write(&path, config_text(&alpha, &["a/one"])).unwrap();
    let config = router_server::config::load_file(&path).unwrap();
    let mut server = spawn(config).await;
    server.watch_config(path.clone());
    // Let the watcher start before the change (the change is then what it sees).
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::fs::write(&path, config_text(&alpha, &["a/one", "a/new"])).unwrap();
    // Wait for the reload (the test's own timeout bounds this).
    let mut seen = false;
    for _ in 0..200 {
        if model_ids(&server.url()).await.contains(&"a/new".to_owned()) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "the watcher did not reload the changed file");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn a_stream_in_flight_during_a_reload_completes() {
    let alpha = mock().await;
    alpha.set_behavior(
        "up",
        Behavior {
            reply: Some("one two three four five six seven eight".to_owned()),
            tokens_per_second: Some(40.0),
            ..Behavior::default()
        },
    );
    let path = temp_file("stream");
    std::fs::write(&path, config_text(&alpha, &["a/one"])).unwrap();
    let config = router_server::config::load_file(&path).unwrap();
    let server = spawn(config).await;
    let response = client()
        .post(format!("{}/api/v1/chat/completions", server.url()))
        .bearer_auth(CLIENT_KEY)
        .json(&chat_body("a/one", true))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The stream has started; now the model it uses disappears from the config.
    std::fs::write(&path, config_text(&alpha, &["a/other"])).unwrap();
    server.reload_from(&path).unwrap();
    assert!(!model_ids(&server.url()).await.contains(&"a/one".to_owned()));
    let events = read_events(response).await;
    let chunks = data(&events);
    let text: String = chunks
        .iter()
        .filter_map(|it| it["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three four five six seven eight");
    assert!(chunks.iter().all(|it| it.get("error").is_none()));
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
