//! OpenRouter's key provisioning API over real HTTP: the provisioning key of `[keys_api]`
//! makes a key whose secret is shown once and works at once, lists it with its usage beside
//! the config file's keys, changes its limit, disables and removes it; config keys cannot be
//! changed or removed through the API, and client keys cannot use it. Keys made through the
//! API survive a restart on a records file.

use router_mock::Behavior;
use router_server::RunningServer;
use router_server::config;
use serde_json::{Value, json};

use crate::configs;
use crate::support::{client, mock, spawn};

const PROVISIONING: &str = "sk-provisioning-test";

fn config_text(records: Option<&std::path::Path>) -> String {
    let records = records
        .map(|it| format!("records_path = \"{}\"\n", it.display()))
        .unwrap_or_default();
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
{records}
[keys_api]
provisioning_key = "{PROVISIONING}"

[[keys]]
name = "config-key"
key = "sk-config"
{}{}"#,
        configs::mock_provider("alpha", None),
        configs::model(
            "test/chat",
            "chat",
            &["alpha"],
            "{ prompt = 0, completion = 3000 }"
        ),
    )
}

struct Api {
    server: RunningServer,
    client: reqwest::Client,
}

impl Api {
    async fn start(mock_url: String, records: Option<&std::path::Path>) -> Api {
        let config = config::load_str(&config_text(records), &|name: &str| {
            (name == "MOCK_ALPHA").then(|| mock_url.clone())
        })
        .unwrap_or_else(|err| panic!("{err}"));
        Api {
            server: spawn(config).await,
            client: client(),
        }
    }

    async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.server.url());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, url).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn chat(&self, key: &str) -> u16 {
        let body = json!({
            "model": "test/chat",
            "max_tokens": 1,
            "messages": [{"role": "user", "content": "Hello"}],
        });
        self.call("POST", "/api/v1/chat/completions", key, Some(body))
            .await
            .0
    }
}

#[tokio::test]
async fn the_provisioning_key_creates_uses_lists_changes_and_deletes_keys() {
    let alpha = mock().await;
    // Each answer has one completion token: $0.003.
    alpha.set_behavior(
        "chat-alpha",
        Behavior {
            completion_tokens: Some(1),
            ..Behavior::default()
        },
    );
    let dir = std::env::temp_dir().join(format!("turnout-keys-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let records = dir.join("records.sqlite3");
    let api = Api::start(alpha.base_url(), Some(&records)).await;

    // Client keys cannot use the API, and the provisioning key cannot chat.
    assert_eq!(
        api.call("GET", "/api/v1/keys", "sk-config", None).await.0,
        401
    );
    assert_eq!(api.chat(PROVISIONING).await, 401);

    let (status, created) = api
        .call(
            "POST",
            "/api/v1/keys",
            PROVISIONING,
            Some(json!({"name": "team-b", "limit": 0.005, "limit_reset": "monthly"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk-tn-v1-"), "{secret}");
    let data = &created["data"];
    let hash = data["hash"].as_str().unwrap().to_owned();
    assert_eq!(data["name"], "team-b");
    assert_eq!(data["limit"], 0.005);
    assert_eq!(data["limit_reset"], "monthly");
    assert_eq!(data["disabled"], false);
    assert!(!data.to_string().contains(&secret));

    // The secret works at once, with the key's limit: $0.003, $0.006, then 402.
    assert_eq!(api.chat(&secret).await, 200);
    assert_eq!(api.chat(&secret).await, 200);
    assert_eq!(api.chat(&secret).await, 402);
    let (status, me) = api.call("GET", "/api/v1/key", &secret, None).await;
    assert_eq!(status, 200);
    assert_eq!(me["data"]["label"], "team-b");
    assert_eq!(me["data"]["limit_remaining"], 0.0);

    // Listed with its usage beside the config key, and never with its secret.
    let (status, listed) = api.call("GET", "/api/v1/keys", PROVISIONING, None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["config-key", "team-b"]);
    assert!(!listed.to_string().contains(&secret));
    let (status, one) = api
        .call("GET", &format!("/api/v1/keys/{hash}"), PROVISIONING, None)
        .await;
    assert_eq!(status, 200);
    assert!(one["data"]["usage"].as_f64().unwrap() > 0.0, "{one}");
    assert!(!one.to_string().contains(&secret));

    // A higher limit lets it answer again; disabling it shuts it out.
    let path = format!("/api/v1/keys/{hash}");
    let (status, patched) = api
        .call("PATCH", &path, PROVISIONING, Some(json!({"limit": 1.0})))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["limit"], 1.0);
    assert_eq!(api.chat(&secret).await, 200);
    let (status, _) = api
        .call(
            "PATCH",
            &path,
            PROVISIONING,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(api.chat(&secret).await, 401);

    // Config keys are read-only here.
    let config_hash = listed["data"][0]["hash"].as_str().unwrap().to_owned();
    let (status, refused) = api
        .call(
            "DELETE",
            &format!("/api/v1/keys/{config_hash}"),
            PROVISIONING,
            None,
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("config file")
    );
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/keys",
            PROVISIONING,
            Some(json!({"name": "config-key"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/keys",
            PROVISIONING,
            Some(json!({"name": "x", "limit": -1})),
        )
        .await;
    assert_eq!(status, 400);

    // Kept in the records file: a restarted server knows the key (enabled again, its limit
    // back under the $0.009 it spent) and what it spent: its credit stays used up until its
    // limit is raised.
    let (status, _) = api
        .call(
            "PATCH",
            &path,
            PROVISIONING,
            Some(json!({"disabled": false, "limit": 0.008})),
        )
        .await;
    assert_eq!(status, 200);
    drop(api);
    let api = Api::start(alpha.base_url(), Some(&records)).await;
    assert_eq!(api.chat(&secret).await, 402);
    let (status, _) = api
        .call("PATCH", &path, PROVISIONING, Some(json!({"limit": 1.0})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(api.chat(&secret).await, 200);

    let (status, deleted) = api.call("DELETE", &path, PROVISIONING, None).await;
    assert_eq!((status, deleted), (200, json!({"deleted": true})));
    assert_eq!(api.chat(&secret).await, 401);
    assert_eq!(api.call("GET", &path, PROVISIONING, None).await.0, 404);
    drop(api);
    let _ = std::fs::remove_dir_all(&dir);
}
