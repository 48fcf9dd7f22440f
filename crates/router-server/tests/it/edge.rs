//! The edge's protocols: HTTP/2 with prior knowledge answers as HTTP/1.1 does, TLS termination
//! with a certificate made for the test, and errors in the API's shape from every path.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::process::TempDir;
use crate::support::{CLIENT_KEY, Gateway, chat_body, error_response, read_events};

/// What must be equal between two protocols' answers: the status, the content type, and the
/// body without what differs per request (ids, timestamps, cached tokens).
async fn comparable(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|it| it.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let mut body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if let Some(object) = body.as_object_mut() {
        object.remove("id");
        object.remove("created");
        // The mock caches prompts: the second call reads its prompt from the cache.
        object.remove("usage");
    }
    (status, content_type, body)
}

/// Requests every protocol must answer alike: (method, path, key, body).
fn requests() -> Vec<(Method, &'static str, Option<&'static str>, Option<String>)> {
    let chat = Some(chat_body("test/one", false).to_string());
    vec![
        (Method::GET, "/health", None, None),
        (Method::GET, "/api/v1/models", None, None),
        (
            Method::POST,
            "/api/v1/chat/completions",
            Some(CLIENT_KEY),
            chat.clone(),
        ),
        (Method::POST, "/api/v1/chat/completions", None, chat.clone()),
        (
            Method::POST,
            "/api/v1/chat/completions",
            Some("sk-wrong"),
            chat,
        ),
        (
            Method::POST,
            "/api/v1/chat/completions",
            Some(CLIENT_KEY),
            Some("{\"model\":".to_owned()),
        ),
        (
            Method::POST,
            "/api/v1/chat/completions",
            Some(CLIENT_KEY),
            Some("x".repeat(5000)),
        ),
        (Method::GET, "/api/v1/nowhere", None, None),
        (Method::DELETE, "/api/v1/models", None, None),
        (Method::GET, "/api/v1/models/%ff/%fe/endpoints", None, None),
        (Method::GET, "/api/v1/generation", Some(CLIENT_KEY), None),
    ]
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    (method, path, key, body): &(Method, &'static str, Option<&'static str>, Option<String>),
) -> reqwest::Response {
    let mut request = client.request(method.clone(), format!("{base}{path}"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.clone());
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn http2_prior_knowledge_gets_the_same_answers_as_http1() {
    let gateway = Gateway::start().await;
    let base = gateway.server.url();
    let http1 = reqwest::Client::builder().http1_only().build().unwrap();
    let http2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for request in requests() {
        let one = send(&http1, &base, &request).await;
        assert_eq!(one.version(), reqwest::Version::HTTP_11);
        let two = send(&http2, &base, &request).await;
        assert_eq!(two.version(), reqwest::Version::HTTP_2);
        let (one, two) = (comparable(one).await, comparable(two).await);
        assert_eq!(one, two, "{request:?}");
        if one.0 >= 400 {
            assert_eq!(one.1.as_deref(), Some("application/json"), "{request:?}");
            assert_eq!(one.2["error"]["code"], one.0, "{request:?}");
        }
    }
    // Streams too: the same events, ending with `[DONE]`.
    let stream = (
        Method::POST,
        "/api/v1/chat/completions",
        Some(CLIENT_KEY),
        Some(chat_body("test/one", true).to_string()),
    );
    for client in [&http1, &http2] {
        let events = read_events(send(client, &base, &stream).await).await;
        assert_eq!(events.last(), Some(&crate::support::Event::Done));
        let chunks = crate::support::data(&events);
        assert_eq!(
            crate::support::content(&chunks),
            crate::support::content(&chunks)
        );
        assert!(!chunks.is_empty());
    }
}

#[tokio::test]
async fn errors_from_every_path_are_in_the_api_shape() {
    let gateway = Gateway::start().await;
    let base = gateway.server.url();
    for (method, path, status) in [
        (Method::GET, "/api/v1/models/%ff/%fe/endpoints", 400),
        (Method::GET, "/api/v1/nowhere", 404),
        (Method::GET, "/", 404),
        (Method::PUT, "/api/v1/chat/completions", 405),
        (Method::POST, "/health", 405),
        (Method::GET, "/api/v1/generation?id=%ff", 401),
    ] {
        let response = gateway
            .client
            .request(method.clone(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        let (got, body) = error_response(response).await;
        assert_eq!(got, status, "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn tls_is_terminated_with_the_configured_certificate() {
    let dir = TempDir::new("tls");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let gateway = Gateway::start_with(&format!(
        "tls = {{ cert = {:?}, key = {:?} }}",
        cert.display().to_string(),
        key.display().to_string()
    ))
    .await;
    let addr = gateway.server.addr();
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let base = format!("https://localhost:{}", addr.port());
    for http2 in [false, true] {
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([root.clone()])
            .resolve("localhost", addr)
            .timeout(Duration::from_secs(30));
        builder = if http2 {
            builder.http2_prior_knowledge()
        } else {
            builder.http1_only()
        };
        let client = builder.build().unwrap();
        let response = client
            .post(format!("{base}/api/v1/chat/completions"))
            .bearer_auth(CLIENT_KEY)
            .json(&chat_body("test/one", true))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let expected = if http2 {
            reqwest::Version::HTTP_2
        } else {
            reqwest::Version::HTTP_11
        };
        assert_eq!(response.version(), expected);
        let events = read_events(response).await;
        assert_eq!(events.last(), Some(&crate::support::Event::Done));
    }
    // Plain HTTP on the TLS port is not served.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(format!("http://{addr}/health"))
        .send()
        .await;
    assert!(plain.is_err() || plain.is_ok_and(|it| it.status() != 200));
}
