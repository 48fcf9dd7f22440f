//! Scripted faults over real HTTP: error statuses and bodies, `Retry-After`, non-JSON bodies,
//! streams cut after N chunks, hangs, and detection of clients that go away.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use router_mock::{Behavior, CallOutcome, Failure, FailureKind};
use serde_json::Value;
use support::{chat, chat_stream, client, post, read_stream, start};

/// Generous: only there so a broken test fails instead of hanging.
const WAIT: Duration = Duration::from_secs(10);

fn failing(failure: Failure) -> Behavior {
    Behavior {
        fail: Some(failure),
        ..Behavior::default()
    }
}

#[tokio::test]
async fn each_failure_kind_has_its_status_body_and_retry_after() {
    struct Case {
        failure: Failure,
        status: u16,
        kind: &'static str,
        code: Option<&'static str>,
        message_has: &'static str,
        retry_after: Option<&'static str>,
    }
    let cases = [
        Case {
            failure: Failure::rate_limit(Some(7)),
            status: 429,
            kind: "requests",
            code: Some("rate_limit_exceeded"),
            message_has: "Rate limit reached for m",
            retry_after: Some("7"),
        },
        Case {
            failure: Failure::context_length(),
            status: 400,
            kind: "invalid_request_error",
            code: Some("context_length_exceeded"),
            message_has: "This model's maximum context length is 8192 tokens",
            retry_after: None,
        },
        Case {
            failure: Failure::moderation(),
            status: 403,
            kind: "invalid_request_error",
            code: Some("content_policy_violation"),
            message_has: "flagged",
            retry_after: None,
        },
        Case {
            failure: Failure {
                retry_after: Some(30),
                ..Failure::overloaded()
            },
            status: 503,
            kind: "server_error",
            code: None,
            message_has: "overloaded",
            retry_after: Some("30"),
        },
        Case {
            failure: Failure {
                status: 529,
                retry_after: None,
                kind: FailureKind::Overloaded,
            },
            status: 529,
            kind: "server_error",
            code: None,
            message_has: "overloaded",
            retry_after: None,
        },
        Case {
            failure: Failure::status(500),
            status: 500,
            kind: "server_error",
            code: None,
            message_has: "The server had an error",
            retry_after: None,
        },
        Case {
            failure: Failure::status(404),
            status: 404,
            kind: "invalid_request_error",
            code: Some("model_not_found"),
            message_has: "The model `m` does not exist",
            retry_after: None,
        },
        Case {
            failure: Failure::status(401),
            status: 401,
            kind: "invalid_request_error",
            code: Some("invalid_api_key"),
            message_has: "Incorrect API key",
            retry_after: None,
        },
    ];
    let mock = start([]).await;
    for case in cases {
        mock.set_behavior("m", failing(case.failure.clone()));
        for stream in [false, true] {
            let body = match stream {
                false => chat("m", "hello"),
                true => chat_stream("m", "hello", true),
            };
            let response = post(&mock, &body).await;
            let label = format!("{:?} stream={stream}", case.failure);
            assert_eq!(response.status(), case.status, "{label}");
            assert_eq!(
                response.headers()["content-type"],
                "application/json",
                "{label}"
            );
            assert_eq!(
                response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap()),
                case.retry_after,
                "{label}"
            );
            let error: Value = response.json().await.unwrap();
            let error = &error["error"];
            assert_eq!(error["type"], case.kind, "{label}");
            assert_eq!(error["code"].as_str(), case.code, "{label}");
            assert!(error.get("param").is_some(), "{label}");
            let message = error["message"].as_str().unwrap();
            assert!(message.contains(case.message_has), "{label}: {message}");
        }
    }
    let calls = mock.calls();
    assert_eq!(calls.len(), 16);
    assert!(calls.iter().all(|c| c.outcome == CallOutcome::Failed));
}

#[tokio::test]
async fn non_json_answers_200_with_a_body_that_does_not_parse() {
    let mock = start([(
        "m",
        Behavior {
            non_json: true,
            ..Behavior::default()
        },
    )])
    .await;
    let response = post(&mock, &chat("m", "x")).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert_eq!(text, "<html>oops</html>");
    assert!(serde_json::from_str::<Value>(&text).is_err());

    let response = post(&mock, &chat_stream("m", "x", false)).await;
    assert_eq!(response.status(), 200);
    let read = read_stream(response).await;
    assert_eq!(read.events[0], "not-json");
    assert!(serde_json::from_str::<Value>(&read.events[0]).is_err());
}

#[tokio::test]
async fn fail_after_chunks_sends_exactly_n_chunks_then_cuts_the_connection() {
    let mock = start([(
        "m",
        Behavior {
            reply: Some("one two three four five".to_owned()),
            fail_after_chunks: Some(2),
            ..Behavior::default()
        },
    )])
    .await;
    let read = read_stream(post(&mock, &chat_stream("m", "x", true)).await).await;
    assert!(read.cut, "the body must end with an error, not cleanly");
    assert_eq!(read.contents(), ["one ", "two "]);
    assert!(!read.events.iter().any(|event| event == "[DONE]"));
    assert!(
        read.chunks()
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
    assert_eq!(mock.calls()[0].outcome, CallOutcome::Failed);

    // Zero chunks: the headers arrive, then the connection is cut.
    mock.set_behavior(
        "m",
        Behavior {
            fail_after_chunks: Some(0),
            ..Behavior::default()
        },
    );
    let read = read_stream(post(&mock, &chat_stream("m", "x", false)).await).await;
    assert!(read.cut);
    assert!(read.events.is_empty());

    // Non-streaming requests ignore it.
    let completion: Value = post(&mock, &chat("m", "x")).await.json().await.unwrap();
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn hang_until_the_client_gives_up_is_recorded_as_a_disconnect() {
    let mock = start([(
        "m",
        Behavior {
            hang: true,
            ..Behavior::default()
        },
    )])
    .await;
    let result = client()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(&chat("m", "x"))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert!(mock.wait_for_disconnect(0, WAIT).await);
    assert_eq!(mock.calls()[0].outcome, CallOutcome::ClientDisconnected);
}

#[tokio::test]
async fn a_client_leaving_during_latency_is_a_disconnect() {
    let mock = start([(
        "m",
        Behavior {
            first_token_latency: Duration::from_secs(60),
            ..Behavior::default()
        },
    )])
    .await;
    let result = client()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(&chat_stream("m", "x", false))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(result.is_err());
    assert!(mock.wait_for_disconnect(0, WAIT).await);
}

#[tokio::test]
async fn a_client_leaving_mid_stream_is_a_disconnect() {
    let reply = vec!["word"; 500].join(" ");
    let mock = start([(
        "m",
        Behavior {
            reply: Some(reply),
            tokens_per_second: Some(20.0),
            ..Behavior::default()
        },
    )])
    .await;
    let response = post(&mock, &chat_stream("m", "x", false)).await;
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    assert_eq!(mock.calls()[0].outcome, CallOutcome::InProgress);
    drop(body);
    assert!(mock.wait_for_disconnect(0, WAIT).await);
    assert_eq!(mock.calls()[0].outcome, CallOutcome::ClientDisconnected);
}

#[tokio::test]
async fn wait_for_disconnect_is_false_for_completed_calls_and_timeouts() {
    let mock = start([(
        "slow",
        Behavior {
            hang: true,
            ..Behavior::default()
        },
    )])
    .await;
    let completion = post(&mock, &chat("m", "x")).await;
    assert_eq!(completion.status(), 200);
    assert!(!mock.wait_for_disconnect(0, WAIT).await);

    // A call still hanging, with its client still there: the wait times out.
    let url = format!("{}/chat/completions", mock.base_url());
    let hanging = tokio::spawn(async move {
        client()
            .post(url)
            .json(&chat("slow", "x"))
            .timeout(WAIT)
            .send()
            .await
    });
    while mock.calls().len() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !mock
            .wait_for_disconnect(1, Duration::from_millis(100))
            .await
    );
    assert_eq!(mock.calls()[1].outcome, CallOutcome::InProgress);
    hanging.abort();
    assert!(mock.wait_for_disconnect(1, WAIT).await);
}
