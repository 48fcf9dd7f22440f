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

[settings]
admin_key = "sk-admin-test"

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

/// The value of cookie `name` that `response` sets.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|it| it.to_str().ok())
        .filter_map(|it| it.split(';').next()?.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// `pairs` as an `application/x-www-form-urlencoded` body.
fn form_body(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|byte| match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    char::from(byte).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `value` of the form's hidden `csrf` input in `page`.
fn form_csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    page[at..].split('"').next().unwrap().to_owned()
}

/// `GET url` on the pages with the session cookie `session`.
async fn ui_get(client: &reqwest::Client, url: &str, session: &str) -> reqwest::Response {
    client
        .get(url)
        .header("cookie", format!("turnout_session={session}"))
        .send()
        .await
        .unwrap()
}

/// Signs in to the pages with `key` over plain HTTP: the session cookie, or the status of a
/// refusal.
async fn ui_sign_in(
    client: &reqwest::Client,
    server: &RunningServer,
    key: &str,
) -> Result<String, u16> {
    let page = client
        .get(format!("{}/ui/sign-in", server.url()))
        .send()
        .await
        .unwrap();
    let form_cookie = set_cookie(&page, "turnout_sign_in").unwrap();
    let csrf = form_csrf(&page.text().await.unwrap());
    let signed = client
        .post(format!("{}/ui/sign-in", server.url()))
        .header("cookie", format!("turnout_sign_in={form_cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("key", key), ("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    match set_cookie(&signed, "turnout_session") {
        Some(session) if signed.status().is_redirection() => Ok(session),
        _ => Err(signed.status().as_u16()),
    }
}

#[tokio::test]
async fn a_key_made_through_the_api_signs_in_to_the_pages_while_it_is_enabled() {
    let alpha = mock().await;
    let api = Api::start(alpha.base_url(), None).await;
    let pages = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (status, created) = api
        .call(
            "POST",
            "/api/v1/keys",
            PROVISIONING,
            Some(json!({"name": "made-key"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["key"].as_str().unwrap().to_owned();
    let hash = created["data"]["hash"].as_str().unwrap().to_owned();
    assert_eq!(
        ui_sign_in(&pages, &api.server, "sk-unknown").await,
        Err(401)
    );

    // Signed in, the key sees and saves its own Auto Router settings...
    let session = ui_sign_in(&pages, &api.server, &secret).await.unwrap();
    let settings_url = format!("{}/ui/settings/plugins/auto-router", api.server.url());
    let page = ui_get(&pages, &settings_url, &session).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("name=\"key\" value=\"made-key\""), "{page}");
    let saved = pages
        .post(&settings_url)
        .header("cookie", format!("turnout_session={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("csrf", form_csrf(&page).as_str()),
            ("key", "made-key"),
            ("allowed_models", "test/*"),
            ("excluded_models", ""),
            ("cost_quality_tradeoff", "3"),
        ]))
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_redirection(), "{}", saved.status());
    let page = ui_get(&pages, &settings_url, &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(">test/*</textarea>"), "{page}");
    // The admin finds it beside the config's key.
    let admin = ui_sign_in(&pages, &api.server, "sk-admin-test")
        .await
        .unwrap();
    let page = ui_get(&pages, &format!("{settings_url}?key=made-key"), &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<option>config-key</option><option selected>made-key</option>"),
        "{page}"
    );
    assert!(page.contains(">test/*</textarea>"), "{page}");

    // ...until it is disabled: its session ends and it cannot sign in again.
    let (status, _) = api
        .call(
            "PATCH",
            &format!("/api/v1/keys/{hash}"),
            PROVISIONING,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    let after = ui_get(&pages, &settings_url, &session).await;
    assert!(after.status().is_redirection());
    assert_eq!(after.headers()["location"], "/ui/sign-in");
    assert_eq!(ui_sign_in(&pages, &api.server, &secret).await, Err(401));
}
