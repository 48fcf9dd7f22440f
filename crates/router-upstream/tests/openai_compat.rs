//! The OpenAI-compatible client against real HTTP: the `router-mock` provider on `127.0.0.1:0`,
//! and for a few transport cases a raw TCP listener.
//!
//! Each test asserts on what the client returned and, where it matters, on what the mock
//! recorded (path, headers, body, and whether the client went away).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside `#[test]` functions fail the test by panicking"
)]

use std::time::Duration;

use futures_util::StreamExt;
use router_core::fallback::{FailureClass, FallbackPolicy};
use router_core::request::ChatRequest;
use router_core::response::{ChatChunk, FinishReason};
use router_core::secret::Secret;
use router_mock::{Behavior, CallOutcome, Failure, MockConfig, MockProvider};
use router_upstream::{ChunkStream, ProviderClient, ProviderKind, ProviderSettings, UpstreamError};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &str = "sk-test-4f9a8c7e1d2b";

/// Generous: only there so a broken test fails instead of hanging.
const GUARD: Duration = Duration::from_secs(20);

const BODY: &str = r#"{"model":"openrouter/auto","messages":[{"role":"user","content":"Hello"}],"temperature":0.3,"x_custom":{"keep":[1,"two"]},"stream":true,"stream_options":{"include_usage":false}}"#;

fn request() -> ChatRequest<'static> {
    ChatRequest::parse(BODY.as_bytes()).unwrap()
}

async fn mock(models: Vec<(&str, Behavior)>) -> MockProvider {
    let mut config = MockConfig::default();
    for (model, behavior) in models {
        config.models.insert(model.to_owned(), behavior);
    }
    MockProvider::start(config).await.unwrap()
}

fn settings(base_url: &str) -> ProviderSettings {
    let mut settings = ProviderSettings::new(
        "mockai",
        ProviderKind::OpenAiCompatible,
        base_url,
        Secret::new(KEY),
    );
    settings.connect_timeout = Duration::from_secs(5);
    settings.first_byte_timeout = Duration::from_secs(10);
    settings.idle_timeout = Duration::from_secs(10);
    settings.total_timeout = Duration::from_secs(15);
    settings
}

fn client(base_url: &str) -> ProviderClient {
    ProviderClient::new(settings(base_url)).unwrap()
}

/// An endpoint that serves `model` and lists no parameters (so every field is forwarded).
fn endpoint(model: &str) -> router_core::catalog::Endpoint {
    router_core::catalog::Endpoint {
        provider: "mock".to_owned(),
        upstream_model: model.to_owned(),
        pricing: router_core::catalog::Pricing::default(),
        context_length: 128_000,
        max_output: None,
        supported_parameters: Vec::new(),
        capabilities: router_core::catalog::Capabilities::default(),
        traits: Default::default(),
    }
}

async fn complete(
    client: &ProviderClient,
    model: &str,
) -> Result<router_core::response::ChatResponse, UpstreamError> {
    tokio::time::timeout(GUARD, client.complete(&endpoint(model), &request()))
        .await
        .expect("complete hung")
}

async fn open_stream(client: &ProviderClient, model: &str) -> Result<ChunkStream, UpstreamError> {
    tokio::time::timeout(GUARD, client.stream(&endpoint(model), &request()))
        .await
        .expect("stream hung")
}

/// Every item of a stream: the chunks, then the error that ended it, if any.
async fn drain(mut stream: ChunkStream) -> (Vec<ChatChunk>, Option<UpstreamError>) {
    let mut chunks = Vec::new();
    loop {
        let next = tokio::time::timeout(GUARD, stream.next())
            .await
            .expect("stream hung");
        match next {
            Some(Ok(chunk)) => chunks.push(chunk),
            Some(Err(err)) => {
                assert!(
                    stream.next().await.is_none(),
                    "the stream ends after an error"
                );
                return (chunks, Some(err));
            }
            None => return (chunks, None),
        }
    }
}

/// The concatenated `delta.content` of the chunks.
fn content(chunks: &[ChatChunk]) -> String {
    let mut text = String::new();
    for chunk in chunks {
        let choices: Vec<Value> = serde_json::from_str(chunk.choices.get()).unwrap();
        for choice in choices {
            if let Some(part) = choice["delta"]["content"].as_str() {
                text.push_str(part);
            }
        }
    }
    text
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn assert_no_key(err: &UpstreamError) {
    let shown = format!("{err} {err:?} {}", err.client_message());
    assert!(
        !shown.to_lowercase().contains(KEY),
        "the key leaked: {shown}"
    );
}

#[tokio::test]
async fn complete_returns_choices_usage_and_finish_reason() {
    let mock = mock(vec![]).await;
    let response = complete(&client(&mock.base_url()), "gpt-mock")
        .await
        .unwrap();

    let choices: Vec<Value> = serde_json::from_str(response.choices.get()).unwrap();
    assert_eq!(choices[0]["message"]["content"], "Mock reply to: Hello");
    assert_eq!(response.finish_reason, Some(FinishReason::Stop));
    assert_eq!(response.usage.completion_tokens, 4);
    assert!(response.usage.prompt_tokens >= 1);
    assert_eq!(
        response.usage.total_tokens,
        response.usage.prompt_tokens + response.usage.completion_tokens
    );
    assert!(
        response
            .upstream_id
            .is_some_and(|id| id.starts_with("chatcmpl-"))
    );
    assert_eq!(response.system_fingerprint.as_deref(), Some("fp_mock"));

    let calls = mock.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.model, "gpt-mock");
    assert!(!call.stream);
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        header(&call.headers, "content-type"),
        Some("application/json")
    );
    assert_eq!(header(&call.headers, "accept"), Some("application/json"));
    assert_eq!(call.body["temperature"], 0.3);
    assert_eq!(
        call.body["x_custom"],
        serde_json::json!({"keep": [1, "two"]})
    );
    assert!(call.body.get("stream").is_none());
    assert!(call.body.get("stream_options").is_none());
    assert_eq!(call.body["messages"][0]["content"], "Hello");
}

#[tokio::test]
async fn stream_ends_at_done_with_a_usage_chunk() {
    let mock = mock(vec![]).await;
    let stream = open_stream(&client(&mock.base_url()), "gpt-mock")
        .await
        .unwrap();
    let (chunks, err) = drain(stream).await;
    assert!(err.is_none(), "{err:?}");

    assert_eq!(content(&chunks), "Mock reply to: Hello");
    assert!(chunks[0].has_output);
    let finishes: Vec<_> = chunks
        .iter()
        .filter_map(|it| it.finish_reason.clone())
        .collect();
    assert_eq!(finishes, [FinishReason::Stop]);
    let last = chunks.last().unwrap();
    assert_eq!(last.choices.get(), "[]");
    let usage = last.usage.expect("the last chunk carries usage");
    assert_eq!(usage.completion_tokens, 4);
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|it| it.usage.is_none())
    );

    let call = &mock.calls()[0];
    assert!(call.stream);
    assert_eq!(call.body["stream_options"]["include_usage"], true);
    assert_eq!(header(&call.headers, "accept"), Some("text/event-stream"));
    assert_eq!(call.body["temperature"], 0.3);
    assert_eq!(call.outcome, CallOutcome::Completed);
}

#[tokio::test]
async fn streamed_tool_calls_count_as_output() {
    let tool = Behavior {
        tool_call: Some("get_weather".to_owned()),
        ..Behavior::default()
    };
    let mock = mock(vec![("tooly", tool)]).await;
    let stream = open_stream(&client(&mock.base_url()), "tooly")
        .await
        .unwrap();
    let (chunks, err) = drain(stream).await;
    assert!(err.is_none(), "{err:?}");
    assert!(chunks[0].has_output);
    assert!(
        chunks
            .iter()
            .any(|it| it.finish_reason == Some(FinishReason::ToolCalls))
    );
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let mock = mock(vec![(
        "limited",
        Behavior {
            fail: Some(Failure::rate_limit(Some(7))),
            ..Behavior::default()
        },
    )])
    .await;
    let client = client(&mock.base_url());
    let from_complete = complete(&client, "limited").await.unwrap_err();
    let from_stream = open_stream(&client, "limited").await.err().unwrap();
    for err in [from_complete, from_stream] {
        assert_eq!(err.class, FailureClass::RateLimited);
        assert_eq!(err.status, Some(429));
        assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(err.provider_code.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(err.provider, "mockai");
        assert_eq!(err.client_status(), 429);
        assert!(FallbackPolicy::default().should_fall_back(err.class));
    }
}

#[tokio::test]
async fn server_errors_are_unavailable() {
    let mock = mock(vec![
        (
            "broken",
            Behavior {
                fail: Some(Failure::status(500)),
                ..Behavior::default()
            },
        ),
        (
            "busy",
            Behavior {
                fail: Some(Failure::status(503)),
                ..Behavior::default()
            },
        ),
        (
            "overloaded",
            Behavior {
                fail: Some(Failure::overloaded()),
                ..Behavior::default()
            },
        ),
    ])
    .await;
    let client = client(&mock.base_url());
    let cases = [
        ("broken", 500, 502),
        ("busy", 503, 503),
        ("overloaded", 503, 503),
    ];
    for (model, status, client_status) in cases {
        let err = complete(&client, model).await.unwrap_err();
        assert_eq!(err.class, FailureClass::Unavailable, "{model}");
        assert_eq!(err.status, Some(status), "{model}");
        assert_eq!(err.client_status(), client_status, "{model}");
        assert!(FallbackPolicy::default().should_fall_back(err.class));
        assert_eq!(
            err.client_message(),
            match client_status {
                503 => "the provider is overloaded",
                _ => "the provider is unavailable",
            }
        );
    }
}

#[tokio::test]
async fn context_length_and_moderation_are_the_clients_errors() {
    let mock = mock(vec![
        (
            "small",
            Behavior {
                fail: Some(Failure::context_length()),
                ..Behavior::default()
            },
        ),
        (
            "strict",
            Behavior {
                fail: Some(Failure::moderation()),
                ..Behavior::default()
            },
        ),
    ])
    .await;
    let client = client(&mock.base_url());

    let err = complete(&client, "small").await.unwrap_err();
    assert_eq!(err.class, FailureClass::ContextLength);
    assert_eq!(err.client_status(), 400);
    assert_eq!(err.error_type(), "context_length_exceeded");
    assert!(
        err.client_message().contains("maximum context length"),
        "{}",
        err.client_message()
    );

    let err = open_stream(&client, "strict").await.err().unwrap();
    assert_eq!(err.class, FailureClass::Moderation);
    assert_eq!(err.status, Some(403));
    assert_eq!(err.client_status(), 403);
    assert!(
        err.client_message().contains("flagged"),
        "{}",
        err.client_message()
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_invalid_response() {
    let mock = mock(vec![(
        "garbled",
        Behavior {
            non_json: true,
            ..Behavior::default()
        },
    )])
    .await;
    let client = client(&mock.base_url());

    let err = complete(&client, "garbled").await.unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidResponse);
    assert_eq!(err.status, Some(200));
    assert_eq!(err.client_status(), 502);
    assert!(err.detail.contains("<html>oops</html>"), "{}", err.detail);
    assert_eq!(
        err.client_message(),
        "the provider returned an invalid response"
    );

    let stream = open_stream(&client, "garbled").await.unwrap();
    let (chunks, err) = drain(stream).await;
    assert!(chunks.is_empty());
    assert_eq!(err.unwrap().class, FailureClass::InvalidResponse);
}

#[tokio::test]
async fn a_hung_provider_times_out_and_is_hung_up_on() {
    let mock = mock(vec![(
        "stuck",
        Behavior {
            hang: true,
            ..Behavior::default()
        },
    )])
    .await;
    let mut settings = settings(&mock.base_url());
    settings.first_byte_timeout = Duration::from_millis(200);
    let client = ProviderClient::new(settings).unwrap();

    let err = complete(&client, "stuck").await.unwrap_err();
    assert_eq!(err.class, FailureClass::Timeout);
    assert_eq!(err.client_status(), 408);
    assert!(mock.wait_for_disconnect(0, GUARD).await);

    let err = open_stream(&client, "stuck").await.err().unwrap();
    assert_eq!(err.class, FailureClass::Timeout);
    assert!(mock.wait_for_disconnect(1, GUARD).await);
}

#[tokio::test]
async fn the_total_timeout_bounds_a_slow_body() {
    let slow = Behavior {
        first_token_latency: Duration::from_secs(30),
        ..Behavior::default()
    };
    let mock = mock(vec![("slow", slow)]).await;
    let mut settings = settings(&mock.base_url());
    settings.total_timeout = Duration::from_millis(300);
    let client = ProviderClient::new(settings).unwrap();
    let err = complete(&client, "slow").await.unwrap_err();
    assert_eq!(err.class, FailureClass::Timeout);
}

/// Streams `reply` paced at `tokens_per_second` under an idle timeout of `idle_ms`, and returns
/// the mock (to check on its connection) and what the stream gave.
async fn paced_stream(
    tokens_per_second: f64,
    reply: &str,
    idle_ms: u64,
) -> (MockProvider, Vec<ChatChunk>, Option<UpstreamError>) {
    let paced = Behavior {
        tokens_per_second: Some(tokens_per_second),
        reply: Some(reply.to_owned()),
        ..Behavior::default()
    };
    let mock = mock(vec![("paced", paced)]).await;
    let mut settings = settings(&mock.base_url());
    settings.idle_timeout = Duration::from_millis(idle_ms);
    let client = ProviderClient::new(settings).unwrap();
    let stream = open_stream(&client, "paced").await.unwrap();
    let (chunks, err) = drain(stream).await;
    (mock, chunks, err)
}

#[tokio::test]
async fn a_stream_that_goes_quiet_times_out() {
    let (mock, chunks, err) = paced_stream(0.1, "one two three", 300).await;
    assert_eq!(content(&chunks), "one ");
    assert_eq!(err.unwrap().class, FailureClass::Timeout);
    assert!(mock.wait_for_disconnect(0, GUARD).await);
}

#[tokio::test]
async fn a_slow_stream_that_never_pauses_for_the_idle_timeout_completes() {
    // 20 tokens at 20 per second: about a second in all, 50 ms between two of them, so the
    // idle timer fires mid-stream and must be moved on rather than end the stream.
    let reply = "a b c d e f g h i j k l m n o p q r s t";
    let (_mock, chunks, err) = paced_stream(20.0, reply, 500).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(content(&chunks), reply);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = client(&format!("http://{addr}/v1"));
    let err = complete(&client, "gpt-mock").await.unwrap_err();
    assert_eq!(err.class, FailureClass::Connect);
    assert_eq!(err.status, None);
    assert_eq!(err.client_status(), 502);
    assert!(FallbackPolicy::default().should_fall_back(err.class));
    let err = open_stream(&client, "gpt-mock").await.err().unwrap();
    assert_eq!(err.class, FailureClass::Connect);
}

#[tokio::test]
async fn a_stream_cut_before_the_end_is_interrupted() {
    // Paced, so the headers and the first chunk leave the mock before it cuts the connection:
    // the cut follows the last chunk at once and may overtake it.
    let cut = Behavior {
        reply: Some("alpha beta gamma delta".to_owned()),
        fail_after_chunks: Some(2),
        tokens_per_second: Some(20.0),
        ..Behavior::default()
    };
    let mock = mock(vec![("cut", cut)]).await;
    let stream = open_stream(&client(&mock.base_url()), "cut").await.unwrap();
    let (chunks, err) = drain(stream).await;
    let text = content(&chunks);
    assert!("alpha beta ".starts_with(&text), "{text:?}");
    let err = err.expect("the cut is reported");
    assert_eq!(err.class, FailureClass::StreamInterrupted);
    assert_eq!(err.client_status(), 502);
}

#[tokio::test]
async fn dropping_a_stream_closes_the_upstream_connection() {
    let slow = Behavior {
        tokens_per_second: Some(2.0),
        reply: Some("a b c d e f g h i j k l m n o p".to_owned()),
        ..Behavior::default()
    };
    let mock = mock(vec![("slow", slow)]).await;
    let mut stream = open_stream(&client(&mock.base_url()), "slow")
        .await
        .unwrap();
    let first = tokio::time::timeout(GUARD, stream.next()).await.unwrap();
    assert!(first.unwrap().unwrap().has_output);
    drop(stream);
    assert!(mock.wait_for_disconnect(0, GUARD).await);
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_never_shows_the_key() {
    let config = MockConfig {
        api_key: Some("the-right-key".to_owned()),
        ..MockConfig::default()
    };
    let mock = MockProvider::start(config).await.unwrap();
    let client = client(&mock.base_url());
    let from_complete = complete(&client, "gpt-mock").await.unwrap_err();
    let from_stream = open_stream(&client, "gpt-mock").await.err().unwrap();
    for err in [from_complete, from_stream] {
        assert_eq!(err.class, FailureClass::Auth);
        assert_eq!(err.status, Some(401));
        // OpenRouter answers the last attempt's error; the message says whose key failed.
        assert_eq!(err.client_status(), 401);
        assert!(err.client_message().contains("not your key"));
        assert_eq!(err.provider_code.as_deref(), Some("invalid_api_key"));
        assert_no_key(&err);
    }
}

#[tokio::test]
async fn no_key_means_no_authorization_header_and_extra_headers_are_sent() {
    let mock = mock(vec![]).await;
    let mut settings = settings(&mock.base_url());
    settings.api_key = Secret::new("");
    settings.extra_headers = vec![("HTTP-Referer".to_owned(), "https://example.test".to_owned())];
    let client = ProviderClient::new(settings).unwrap();
    complete(&client, "gpt-mock").await.unwrap();
    let call = &mock.calls()[0];
    assert_eq!(call.authorization, None);
    assert_eq!(
        header(&call.headers, "http-referer"),
        Some("https://example.test")
    );
}

/// A one-shot HTTP server that answers every request with `status` and a body that quotes the
/// request's `Authorization` header back, as a careless provider might, in the letter case
/// `case` gives it.
async fn echoing_server(status: u16, case: fn(&str) -> String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|it| it == b"\r\n\r\n") {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let text = String::from_utf8_lossy(&request).to_lowercase();
                let authorization = text
                    .lines()
                    .find_map(|line| line.strip_prefix("authorization: "))
                    .unwrap_or("")
                    .trim();
                let authorization = case(authorization);
                let body = serde_json::json!({"error": {
                    "message": format!("Key {authorization} is not valid here"),
                    "type": "invalid_request_error",
                    "code": authorization,
                }})
                .to_string();
                let response = format!(
                    "HTTP/1.1 {status} Nope\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn a_provider_that_echoes_the_key_has_it_scrubbed() {
    for case in [str::to_lowercase, str::to_uppercase] {
        for status in [400, 401, 500] {
            let base_url = echoing_server(status, case).await;
            let client = client(&base_url);
            let err = complete(&client, "gpt-mock").await.unwrap_err();
            assert_eq!(err.status, Some(status));
            assert!(err.detail.contains("***"), "{}", err.detail);
            assert_no_key(&err);
            assert!(
                !err.provider_code
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(KEY)
            );
        }
    }
}

#[tokio::test]
async fn one_client_serves_many_requests_concurrently() {
    let mock = mock(vec![]).await;
    let client = client(&mock.base_url());
    let calls = (0..16).map(|idx| {
        let client = client.clone();
        async move {
            match idx % 2 {
                0 => complete(&client, "gpt-mock").await.map(|_| ()),
                _ => drain(open_stream(&client, "gpt-mock").await?)
                    .await
                    .1
                    .map_or(Ok(()), Err),
            }
        }
    });
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(mock.calls().len(), 16);
}

/// A TCP proxy in front of `target` that counts the connections it accepts.
async fn counting_proxy(
    target: std::net::SocketAddr,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (format!("http://{addr}/v1"), accepted)
}

#[tokio::test]
async fn sequential_requests_reuse_one_pooled_connection() {
    let mock = mock(vec![]).await;
    let (base_url, accepted) = counting_proxy(mock.addr()).await;
    let client = client(&base_url);
    for _ in 0..3 {
        complete(&client, "gpt-mock").await.unwrap();
    }
    assert_eq!(mock.calls().len(), 3);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_answer_over_max_response_bytes_is_invalid_and_read_no_further() {
    let huge = Behavior {
        huge_body_bytes: Some(1 << 30),
        ..Behavior::default()
    };
    let mock = mock(vec![("huge", huge)]).await;
    let mut settings = settings(&mock.base_url());
    settings.max_response_bytes = 1024 * 1024;
    let client = ProviderClient::new(settings).unwrap();

    let err = complete(&client, "huge").await.unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidResponse, "{err:?}");
    assert!(FallbackPolicy::default().should_fall_back(err.class));
    assert!(err.detail.contains("max_response_bytes"), "{err:?}");
    assert!(mock.wait_for_disconnect(0, GUARD).await);

    let stream = open_stream(&client, "huge").await.unwrap();
    let (chunks, err) = drain(stream).await;
    assert!(chunks.is_empty());
    let err = err.unwrap();
    assert_eq!(err.class, FailureClass::InvalidResponse, "{err:?}");
    assert!(err.detail.contains("larger than 1048576 bytes"), "{err:?}");
    assert!(mock.wait_for_disconnect(1, GUARD).await);
}
