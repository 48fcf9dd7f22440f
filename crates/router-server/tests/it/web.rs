//! The pages in a real headless Chromium, driven over WebDriver (`chromedriver`): sign in with a
//! client key, save the Auto Router's allowed models and dial, and see an `openrouter/auto`
//! request follow them; a request's plugin still overrides; another key sees neither; a form
//! post without its CSRF token and a change to a read-only config are refused. Each page's
//! screenshot is written under the test's target directory.
//!
//! Needs `chromium` and `chromium-driver` (Debian: `apt-get install chromium chromium-driver`,
//! which `.ci/run` does).

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use router_mock::MockProvider;
use router_server::RunningServer;
use serde_json::{Value, json};

use crate::support::{PROVIDER_KEY, client, mock, spawn};

const ALICE: &str = "sk-alice-key";
const BOB: &str = "sk-bob-key";

fn config(mock: &MockProvider, editable: bool) -> router_server::config::Config {
    let mut text = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[settings]
editable = {editable}

[[keys]]
name = "alice"
key = "{ALICE}"

[[keys]]
name = "bob"
key = "{BOB}"

[providers.alpha]
display_name = "Alpha AI"
base_url = "{}"
api_key = "{PROVIDER_KEY}"
"#,
        mock.base_url()
    );
    for (id, prompt, completion) in [
        ("anthropic/claude-sonnet-4.5", 3.0, 15.0),
        ("anthropic/claude-haiku-4.5", 1.0, 5.0),
        ("openai/gpt-5.1", 1.25, 10.0),
        ("openai/gpt-5-mini", 0.25, 2.0),
    ] {
        text.push_str(&format!(
            "\n[[models]]\nid = \"{id}\"\n[[models.endpoints]]\nprovider = \"alpha\"\nupstream_model = \"up\"\ncontext_length = 100000\npricing = {{ prompt = {prompt}, completion = {completion} }}\n"
        ));
    }
    router_server::config::load_str(&text, &|_| None).unwrap_or_else(|err| panic!("{err}"))
}

/// `chromedriver` on a free port, killed at the end of the test.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|it| it.is_file())
}

async fn start_driver() -> Driver {
    let driver = find_program(&["chromedriver"]).unwrap_or_else(|| {
        panic!(
            "chromedriver is not installed: the page tests need a headless Chromium. \
             On Debian: `apt-get install chromium chromium-driver` (`.ci/run` installs them)"
        )
    });
    assert!(
        find_program(&["chromium", "chromium-browser"]).is_some(),
        "chromium is not installed: on Debian `apt-get install chromium chromium-driver`"
    );
    let port = StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    // Wait until it accepts connections.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver { child, url }
}

async fn browser(driver: &Driver) -> Client {
    let binary = find_program(&["chromium", "chromium-browser"]).unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": binary,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1000"],
        }),
    );
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|err| panic!("cannot start headless chromium through chromedriver: {err}"))
}

/// Writes the page's screenshot to `<target tmp>/ui-screenshots/<name>.png`.
async fn screenshot(browser: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Opens `path` of `server`.
async fn open(browser: &Client, server: &RunningServer, path: &str) {
    browser
        .goto(&format!("{}{path}", server.url()))
        .await
        .unwrap();
}

/// The elements `css` selects.
async fn all(browser: &Client, css: &str) -> Vec<fantoccini::elements::Element> {
    browser.find_all(Locator::Css(css)).await.unwrap()
}

/// Clicks the element `css` selects.
async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until the page has an element `css` selects.
async fn wait_for(browser: &Client, css: &str) {
    browser.wait().for_element(Locator::Css(css)).await.unwrap();
}

async fn sign_in(browser: &Client, server: &RunningServer, key: &str) {
    open(browser, server, "/ui/sign-in").await;
    browser
        .find(Locator::Css("#key"))
        .await
        .unwrap()
        .send_keys(key)
        .await
        .unwrap();
    click(browser, "button[type=submit]").await;
    wait_for(browser, "#auto-router").await;
}

async fn sign_out(browser: &Client) {
    click(browser, "header form button").await;
    wait_for(browser, "#key").await;
}

/// The session cookie the browser holds, for posting forms without the browser.
async fn session_cookie(browser: &Client) -> String {
    browser
        .get_all_cookies()
        .await
        .unwrap()
        .into_iter()
        .find(|it| it.name() == "turnout_session")
        .map(|it| format!("turnout_session={}", it.value()))
        .unwrap()
}

async fn auto_request(
    server: &RunningServer,
    key: &str,
    plugins: Option<Value>,
) -> (String, String) {
    let mut body = json!({
        "model": "openrouter/auto",
        "messages": [{"role": "user", "content": "Write a short poem about the sea."}],
    });
    if let Some(plugins) = plugins {
        body["plugins"] = plugins;
    }
    let response = client()
        .post(format!("{}/api/v1/chat/completions", server.url()))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    (
        header("x-turnout-served-model"),
        header("x-turnout-auto-tradeoff"),
    )
}

#[tokio::test]
async fn saved_auto_router_settings_route_the_key_s_requests_and_only_its_own() {
    let alpha = mock().await;
    let server = spawn(config(&alpha, true)).await;
    let driver = start_driver().await;
    let browser = browser(&driver).await;

    browser.goto(&format!("{}/ui", server.url())).await.unwrap();
    wait_for(&browser, "#key").await;
    screenshot(&browser, "sign-in").await;
    sign_in(&browser, &server, ALICE).await;
    let page = browser.source().await.unwrap();
    assert!(!page.contains(ALICE), "the key is shown back");

    // Allowed models `anthropic/*`, checked live against the catalog; the dial at 2.
    browser
        .find(Locator::Css("#allowed_models"))
        .await
        .unwrap()
        .send_keys("anthropic/*")
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::XPath(
            "//div[@id='allowed_models-matches'][contains(., 'anthropic/claude-haiku-4.5')]",
        ))
        .await
        .unwrap();
    let matches = browser
        .find(Locator::Css("#allowed_models-matches"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(matches.contains("anthropic/claude-sonnet-4.5"), "{matches}");
    assert!(!matches.contains("openai/"), "{matches}");
    browser
        .execute(
            "const d=document.getElementById('cost_quality_tradeoff');d.value='2';d.dispatchEvent(new Event('input'));",
            vec![],
        )
        .await
        .unwrap();
    screenshot(&browser, "settings-auto-router").await;
    click(&browser, "#auto-router button[type=submit]").await;
    wait_for(&browser, ".notice.saved").await;
    let effective = browser
        .find(Locator::Css("#effective + p + div table"))
        .await
        .unwrap()
        .html(false)
        .await
        .unwrap();
    assert!(effective.contains("data-layer=\"saved\""), "{effective}");
    screenshot(&browser, "settings-saved").await;

    // The key's `openrouter/auto` requests without a plugin route inside `anthropic/*` at 2.
    for _ in 0..3 {
        let (served, tradeoff) = auto_request(&server, ALICE, None).await;
        assert!(served.starts_with("anthropic/"), "{served}");
        assert_eq!(tradeoff, "2");
    }
    // A request's plugin still overrides.
    let (served, tradeoff) = auto_request(
        &server,
        ALICE,
        Some(json!([{"id": "auto-router", "allowed_models": ["openai/*"], "cost_quality_tradeoff": 9}])),
    )
    .await;
    assert!(served.starts_with("openai/"), "{served}");
    assert_eq!(tradeoff, "9");
    // Another key's requests keep the defaults.
    let (_, tradeoff) = auto_request(&server, BOB, None).await;
    assert_eq!(tradeoff, "7");

    // Activity shows the generations, each opening its receipt.
    open(&browser, &server, "/ui/activity").await;
    let rows = all(&browser, "tbody tr[data-status=ok]").await;
    assert_eq!(rows.len(), 4);
    assert!(browser.source().await.unwrap().contains("<svg"));
    screenshot(&browser, "activity").await;
    click(&browser, "tbody tr[data-status=ok] a").await;
    let receipt = browser
        .wait()
        .for_element(Locator::XPath("//h2[text()='Attempts']"))
        .await
        .unwrap();
    drop(receipt);
    assert!(browser.source().await.unwrap().contains("Alpha AI"));
    screenshot(&browser, "generation").await;
    open(&browser, &server, "/ui/models").await;
    assert!(
        browser
            .source()
            .await
            .unwrap()
            .contains("anthropic/claude-haiku-4.5")
    );
    screenshot(&browser, "models").await;

    // Bob sees neither Alice's settings nor her activity.
    sign_out(&browser).await;
    sign_in(&browser, &server, BOB).await;
    let allowed = browser
        .find(Locator::Css("#allowed_models"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(allowed.as_deref(), Some(""));
    open(&browser, &server, "/ui/activity").await;
    let rows = all(&browser, "tbody tr[data-status]").await;
    assert_eq!(rows.len(), 1, "bob sees only his own request");

    // A form post without the CSRF token is refused, and changes nothing.
    let cookie = session_cookie(&browser).await;
    let refused = client()
        .post(format!("{}/ui/settings/plugins/auto-router", server.url()))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("allowed_models=openai%2F*&cost_quality_tradeoff=0")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let (_, tradeoff) = auto_request(&server, BOB, None).await;
    assert_eq!(tradeoff, "7");

    browser.close().await.unwrap();
}

#[tokio::test]
async fn a_read_only_config_refuses_changes() {
    let alpha = mock().await;
    let server = spawn(config(&alpha, false)).await;
    let driver = start_driver().await;
    let browser = browser(&driver).await;
    sign_in(&browser, &server, ALICE).await;
    let page = browser.source().await.unwrap();
    assert!(page.contains("Read-only"));
    assert!(
        browser
            .find(Locator::Css("#auto-router button[type=submit]"))
            .await
            .is_err(),
        "a read-only page has no Save button"
    );
    let disabled = browser
        .find(Locator::Css("#allowed_models"))
        .await
        .unwrap()
        .attr("disabled")
        .await
        .unwrap();
    assert!(disabled.is_some());
    screenshot(&browser, "settings-read-only").await;
    // Even with the session's CSRF token, a post is refused.
    let csrf = browser
        .find(Locator::Css("#auto-router input[name=csrf]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let cookie = session_cookie(&browser).await;
    let refused = client()
        .post(format!("{}/ui/settings/plugins/auto-router", server.url()))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&key=alice&allowed_models=openai%2F*&cost_quality_tradeoff=0"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let (_, tradeoff) = auto_request(&server, ALICE, None).await;
    assert_eq!(tradeoff, "7");
    browser.close().await.unwrap();
}
