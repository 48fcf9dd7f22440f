//! The Anthropic and Gemini clients against real HTTP: the `router-mock` provider on
//! `127.0.0.1:0` speaking each format.
//!
//! Each test asserts on the canonical answer the client returned (streamed answers are
//! assembled from their chunks) and on what the mock recorded (path, headers, body).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside `#[test]` functions fail the test by panicking"
)]

use std::time::Duration;

use futures_util::StreamExt;
use router_core::catalog::Endpoint;
use router_core::fallback::{FailureClass, FallbackPolicy};
use router_core::pricing::Usage;
use router_core::request::ChatRequest;
use router_core::response::{ChatResponse, FinishReason};
use router_core::secret::Secret;
use router_mock::{Behavior, Failure, FailureKind, MockConfig, MockProvider};
use router_upstream::{ProviderClient, ProviderKind, ProviderSettings, UpstreamError};
use serde_json::{Value, json};

const KEY: &str = "sk-native-9c1e44aa7b";

/// Generous: only there so a broken test fails instead of hanging.
const GUARD: Duration = Duration::from_secs(20);

const KINDS: [ProviderKind; 3] = [
    ProviderKind::OpenAiCompatible,
    ProviderKind::Anthropic,
    ProviderKind::Gemini,
];

async fn mock(models: Vec<(&str, Behavior)>) -> MockProvider {
    let mut config = MockConfig {
        api_key: Some(KEY.to_owned()),
        ..MockConfig::default()
    };
    for (model, behavior) in models {
        config.models.insert(model.to_owned(), behavior);
    }
    MockProvider::start(config).await.unwrap()
}

fn client(mock: &MockProvider, kind: ProviderKind) -> ProviderClient {
    let base_url = match kind {
        ProviderKind::Gemini => mock.gemini_base_url(),
        _ => mock.base_url(),
    };
    let mut settings = ProviderSettings::new("native", kind, base_url, Secret::new(KEY));
    settings.first_byte_timeout = Duration::from_secs(10);
    settings.idle_timeout = Duration::from_secs(10);
    settings.total_timeout = Duration::from_secs(15);
    ProviderClient::new(settings).unwrap()
}

fn endpoint(model: &str) -> Endpoint {
    Endpoint {
        provider: "native".to_owned(),
        upstream_model: model.to_owned(),
        pricing: router_core::catalog::Pricing::default(),
        context_length: 200_000,
        max_output: Some(8192),
        supported_parameters: Vec::new(),
        capabilities: router_core::catalog::Capabilities::default(),
        traits: Default::default(),
    }
}

/// A canonical answer, from a response or assembled from a stream.
#[derive(Debug, Default, PartialEq)]
struct Answer {
    content: String,
    reasoning: String,
    /// Name and arguments of each tool call, in index order.
    tool_calls: Vec<(String, String)>,
    finish: Option<FinishReason>,
    native_finish: Option<String>,
    usage: Usage,
    /// The first chunk said `role: assistant` (always true for a whole response).
    role: bool,
    /// `reasoning_details` blocks seen.
    details: Vec<Value>,
}

fn answer_of(response: &ChatResponse) -> Answer {
    let choices: Value = serde_json::from_str(response.choices.get()).unwrap();
    let choice = &choices[0];
    let message = &choice["message"];
    assert_eq!(choice["index"], 0);
    Answer {
        content: message["content"].as_str().unwrap_or_default().to_owned(),
        reasoning: message["reasoning"].as_str().unwrap_or_default().to_owned(),
        tool_calls: message["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|call| {
                (
                    call["function"]["name"].as_str().unwrap().to_owned(),
                    call["function"]["arguments"].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
        finish: response.finish_reason.clone(),
        native_finish: choice["native_finish_reason"].as_str().map(str::to_owned),
        usage: response.usage,
        role: message["role"] == "assistant",
        details: message["reasoning_details"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    }
}

async fn complete(
    client: &ProviderClient,
    model: &str,
    body: &str,
) -> Result<ChatResponse, UpstreamError> {
    let request = ChatRequest::parse(body.as_bytes()).unwrap();
    tokio::time::timeout(GUARD, client.complete(&endpoint(model), &request))
        .await
        .expect("complete hung")
}

/// Streams `body` and assembles the answer; the error that ended the stream, if any.
async fn stream(
    client: &ProviderClient,
    model: &str,
    body: &str,
) -> Result<(Answer, Option<UpstreamError>), UpstreamError> {
    let request = ChatRequest::parse(body.as_bytes()).unwrap();
    let mut chunks = tokio::time::timeout(GUARD, client.stream(&endpoint(model), &request))
        .await
        .expect("stream hung")?;
    let mut answer = Answer::default();
    let mut first = true;
    let mut calls: Vec<(String, String)> = Vec::new();
    while let Some(item) = tokio::time::timeout(GUARD, chunks.next()).await.unwrap() {
        let chunk = match item {
            Ok(chunk) => chunk,
            Err(err) => return Ok((answer, Some(err))),
        };
        if let Some(usage) = chunk.usage {
            answer.usage = usage;
        }
        let choices: Value = serde_json::from_str(chunk.choices.get()).unwrap();
        let Some(choice) = choices.get(0) else {
            continue;
        };
        assert_eq!(choice["index"], 0, "{choice}");
        let delta = &choice["delta"];
        if first {
            answer.role = delta["role"] == "assistant";
            first = false;
        }
        answer.content += delta["content"].as_str().unwrap_or_default();
        answer.reasoning += delta["reasoning"].as_str().unwrap_or_default();
        answer.details.extend(
            delta["reasoning_details"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = usize::try_from(call["index"].as_u64().unwrap()).unwrap();
            if index == calls.len() {
                calls.push((String::new(), String::new()));
            }
            let (name, arguments) = &mut calls[index];
            *name += call["function"]["name"].as_str().unwrap_or_default();
            *arguments += call["function"]["arguments"].as_str().unwrap_or_default();
        }
        if chunk.finish_reason.is_some() {
            answer.finish = chunk.finish_reason.clone();
            answer.native_finish = choice["native_finish_reason"].as_str().map(str::to_owned);
        }
    }
    answer.tool_calls = calls;
    Ok((answer, None))
}

fn body(extra: &str) -> String {
    format!(
        r#"{{"model":"x","messages":[{{"role":"system","content":"Be brief."}},{{"role":"user","content":"What is the weather in Paris?"}}]{extra}}}"#
    )
}

const TOOLS: &str = r#","tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}}}]"#;

#[tokio::test]
async fn every_kind_gives_the_same_text_answer_streaming_and_not() {
    let mock = mock(vec![]).await;
    for kind in KINDS {
        let client = client(&mock, kind);
        let whole = answer_of(&complete(&client, "m", &body("")).await.unwrap());
        assert_eq!(
            whole.content, "Mock reply to: What is the weather in Paris?",
            "{kind:?}"
        );
        assert_eq!(whole.finish, Some(FinishReason::Stop), "{kind:?}");
        assert!(whole.role && whole.tool_calls.is_empty(), "{kind:?}");
        assert!(
            whole.usage.prompt_tokens > 0 && whole.usage.completion_tokens == 9,
            "{kind:?} {:?}",
            whole.usage
        );
        let (streamed, err) = stream(&client, "m", &body("")).await.unwrap();
        assert!(err.is_none(), "{kind:?} {err:?}");
        assert!(streamed.role, "{kind:?}");
        assert_eq!(streamed.content, whole.content, "{kind:?}");
        assert_eq!(streamed.finish, whole.finish, "{kind:?}");
        assert_eq!(streamed.usage.completion_tokens, 9, "{kind:?}");
    }
}

#[tokio::test]
async fn every_kind_calls_the_offered_tool_with_the_same_arguments() {
    let mock = mock(vec![]).await;
    for kind in KINDS {
        let client = client(&mock, kind);
        let whole = answer_of(&complete(&client, "m", &body(TOOLS)).await.unwrap());
        let expected = vec![(
            "get_weather".to_owned(),
            r#"{"city":"mock","days":1}"#.to_owned(),
        )];
        assert_eq!(whole.tool_calls, expected, "{kind:?}");
        assert_eq!(whole.finish, Some(FinishReason::ToolCalls), "{kind:?}");
        let (streamed, err) = stream(&client, "m", &body(TOOLS)).await.unwrap();
        assert!(err.is_none(), "{kind:?} {err:?}");
        assert_eq!(streamed.tool_calls, expected, "{kind:?}");
        assert_eq!(streamed.finish, Some(FinishReason::ToolCalls), "{kind:?}");
    }
}

#[tokio::test]
async fn tool_calls_and_results_go_back_in_each_format() {
    let mock = mock(vec![]).await;
    let turn = r#"{"model":"x","messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"{\"temp\":21}"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}"#;
    for kind in [ProviderKind::Anthropic, ProviderKind::Gemini] {
        mock.reset_calls();
        let client = client(&mock, kind);
        let whole = answer_of(&complete(&client, "m", turn).await.unwrap());
        assert!(
            whole.tool_calls.is_empty(),
            "a tool result is answered with text"
        );
        assert_eq!(whole.content, "Mock reply to: Weather?");
        let sent = &mock.calls()[0].body;
        match kind {
            ProviderKind::Anthropic => {
                assert_eq!(
                    sent["messages"][1]["content"][0],
                    json!({"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}})
                );
                assert_eq!(
                    sent["messages"][2]["content"][0],
                    json!({"type":"tool_result","tool_use_id":"call_1","content":[{"type":"text","text":"{\"temp\":21}"}]})
                );
            }
            _ => {
                assert_eq!(sent["contents"][1]["role"], "model");
                assert_eq!(
                    sent["contents"][1]["parts"][0]["functionCall"],
                    json!({"id":"call_1","name":"get_weather","args":{"city":"Paris"}})
                );
                assert_eq!(
                    sent["contents"][2]["parts"][0]["functionResponse"],
                    json!({"id":"call_1","name":"get_weather","response":{"temp":21}})
                );
            }
        }
    }
}

#[tokio::test]
async fn every_kind_answers_json_for_a_schema() {
    let mock = mock(vec![]).await;
    let format = r#","response_format":{"type":"json_schema","json_schema":{"name":"weather","strict":true,"schema":{"type":"object","properties":{"city":{"type":"string"},"sunny":{"type":"boolean"}},"required":["city","sunny"],"additionalProperties":false}}}"#;
    for kind in KINDS {
        let client = client(&mock, kind);
        let whole = answer_of(&complete(&client, "m", &body(format)).await.unwrap());
        let value: Value = serde_json::from_str(&whole.content).unwrap();
        assert_eq!(value, json!({"city":"mock","sunny":true}), "{kind:?}");
        let (streamed, _) = stream(&client, "m", &body(format)).await.unwrap();
        assert_eq!(streamed.content, whole.content, "{kind:?}");
    }
}

#[tokio::test]
async fn reasoning_is_asked_for_in_each_format_and_excluded_on_request() {
    let mock = mock(vec![]).await;
    for kind in KINDS {
        mock.reset_calls();
        let client = client(&mock, kind);
        let asked = body(r#","reasoning":{"effort":"high"}"#);
        let whole = answer_of(&complete(&client, "m", &asked).await.unwrap());
        assert_eq!(
            whole.reasoning, "Mock thinking about: What is the weather in Paris?",
            "{kind:?}"
        );
        assert!(
            whole.usage.reasoning_tokens > 0 || kind == ProviderKind::Anthropic,
            "{kind:?}"
        );
        let (streamed, _) = stream(&client, "m", &asked).await.unwrap();
        assert_eq!(streamed.reasoning, whole.reasoning, "{kind:?}");
        let sent = &mock.calls()[0].body;
        match kind {
            ProviderKind::Anthropic => {
                assert_eq!(
                    sent["thinking"],
                    json!({"type":"enabled","budget_tokens":6553})
                );
                assert_eq!(
                    whole.details[0]["signature"],
                    router_mock::THINKING_SIGNATURE
                );
                assert!(
                    streamed
                        .details
                        .iter()
                        .any(|it| it["signature"] == router_mock::THINKING_SIGNATURE)
                );
            }
            ProviderKind::Gemini => {
                assert_eq!(
                    sent["generationConfig"]["thinkingConfig"],
                    json!({"thinkingBudget":6553,"includeThoughts":true})
                );
            }
            ProviderKind::OpenAiCompatible => {
                assert_eq!(sent["reasoning_effort"], "high");
                assert!(sent.get("reasoning").is_none(), "{sent}");
            }
        }
        let excluded = body(r#","reasoning":{"effort":"high","exclude":true}"#);
        let whole = answer_of(&complete(&client, "m", &excluded).await.unwrap());
        assert_eq!(whole.reasoning, "", "{kind:?}");
        assert!(whole.details.is_empty(), "{kind:?}");
        assert_eq!(
            whole.content,
            "Mock reply to: What is the weather in Paris?"
        );
        let (streamed, _) = stream(&client, "m", &excluded).await.unwrap();
        assert_eq!(streamed.reasoning, "", "{kind:?}");
        assert!(streamed.details.is_empty(), "{kind:?}");
        let legacy = body(r#","include_reasoning":false,"reasoning":{}"#);
        let whole = answer_of(&complete(&client, "m", &legacy).await.unwrap());
        assert_eq!(whole.reasoning, "", "{kind:?}");
    }
}

#[tokio::test]
async fn thinking_blocks_go_back_to_anthropic_with_their_signature() {
    let mock = mock(vec![]).await;
    let client = client(&mock, ProviderKind::Anthropic);
    let turn = r#"{"model":"x","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello","reasoning":"hmm","reasoning_details":[{"type":"reasoning.text","text":"hmm","signature":"sig-1","format":"anthropic-claude-v1","index":0}]},{"role":"user","content":"Again"}],"reasoning":{"max_tokens":2048}}"#;
    complete(&client, "m", turn).await.unwrap();
    let sent = &mock.calls()[0].body;
    assert_eq!(
        sent["messages"][1]["content"][0],
        json!({"type":"thinking","thinking":"hmm","signature":"sig-1"})
    );
    assert_eq!(
        sent["messages"][1]["content"][1],
        json!({"type":"text","text":"Hello"})
    );
    assert_eq!(sent["thinking"]["budget_tokens"], 2048);
}

#[tokio::test]
async fn cache_control_reaches_anthropic_byte_for_byte_and_is_counted() {
    let mock = mock(vec![]).await;
    let client = client(&mock, ProviderKind::Anthropic);
    let control = r#"{"type" : "ephemeral","ttl":"1h"}"#;
    let turn = format!(
        r#"{{"model":"x","messages":[{{"role":"system","content":[{{"type":"text","text":"A long system prompt that is worth caching.","cache_control":{control}}}]}},{{"role":"user","content":[{{"type":"text","text":"Question","cache_control":{{"type":"ephemeral"}}}}]}}]}}"#
    );
    let first = complete(&client, "m", &turn).await.unwrap();
    let raw = mock.calls()[0].raw_body.clone();
    let raw = String::from_utf8(raw).unwrap();
    assert!(
        raw.contains(&format!(r#""cache_control":{control}"#)),
        "{raw}"
    );
    assert!(first.usage.cache_write_tokens > 0, "{:?}", first.usage);
    assert_eq!(first.usage.cached_tokens, 0);
    let second = complete(&client, "m", &turn).await.unwrap();
    assert!(second.usage.cached_tokens > 0, "{:?}", second.usage);
    assert_eq!(second.usage.prompt_tokens, first.usage.prompt_tokens);
}

#[tokio::test]
async fn finish_reasons_are_normalized_with_the_native_value_kept() {
    let cases = [
        (ProviderKind::Anthropic, "max_tokens", FinishReason::Length),
        (ProviderKind::Anthropic, "end_turn", FinishReason::Stop),
        (ProviderKind::Anthropic, "stop_sequence", FinishReason::Stop),
        (ProviderKind::Gemini, "MAX_TOKENS", FinishReason::Length),
        (ProviderKind::Gemini, "SAFETY", FinishReason::ContentFilter),
        (
            ProviderKind::Gemini,
            "RECITATION",
            FinishReason::ContentFilter,
        ),
        (
            ProviderKind::OpenAiCompatible,
            "max_tokens",
            FinishReason::Length,
        ),
        (
            ProviderKind::OpenAiCompatible,
            "end_turn",
            FinishReason::Stop,
        ),
    ];
    for (kind, native, expected) in cases {
        let behavior = Behavior {
            finish_reason: Some(native.to_owned()),
            ..Behavior::default()
        };
        let mock = mock(vec![("m", behavior)]).await;
        let client = client(&mock, kind);
        let whole = answer_of(&complete(&client, "m", &body("")).await.unwrap());
        assert_eq!(whole.finish, Some(expected.clone()), "{kind:?} {native}");
        assert_eq!(
            whole.native_finish.as_deref(),
            Some(native),
            "{kind:?} {native}"
        );
        if native == "SAFETY" {
            continue;
        }
        let (streamed, err) = stream(&client, "m", &body("")).await.unwrap();
        assert!(err.is_none(), "{err:?}");
        assert_eq!(streamed.finish, Some(expected), "{kind:?} {native}");
        assert_eq!(
            streamed.native_finish.as_deref(),
            Some(native),
            "{kind:?} {native}"
        );
    }
}

#[tokio::test]
async fn a_mid_stream_error_event_or_safety_block_ends_the_stream_with_an_error() {
    let behavior = Behavior {
        error_after_chunks: Some(2),
        ..Behavior::default()
    };
    let mock = mock(vec![("m", behavior)]).await;
    for (kind, expected) in [
        (ProviderKind::Anthropic, FailureClass::Unavailable),
        (ProviderKind::Gemini, FailureClass::Moderation),
        (ProviderKind::OpenAiCompatible, FailureClass::Unavailable),
    ] {
        let client = client(&mock, kind);
        let (answer, err) = stream(&client, "m", &body("")).await.unwrap();
        let err = err.expect("the stream ends with an error");
        assert_eq!(err.class, expected, "{kind:?} {err:?}");
        assert_eq!(answer.content, "Mock reply ", "{kind:?}");
        assert!(!format!("{err} {err:?}").contains(KEY));
    }
}

#[tokio::test]
async fn errors_are_classified_and_never_carry_the_key() {
    let cases = [
        (Failure::overloaded(), FailureClass::Unavailable),
        (Failure::status(529), FailureClass::Unavailable),
        (Failure::rate_limit(Some(3)), FailureClass::RateLimited),
        (Failure::context_length(), FailureClass::ContextLength),
        (Failure::status(401), FailureClass::Auth),
    ];
    for (failure, expected) in cases {
        let behavior = Behavior {
            fail: Some(failure.clone()),
            ..Behavior::default()
        };
        let mock = mock(vec![("m", behavior)]).await;
        for kind in [ProviderKind::Anthropic, ProviderKind::Gemini] {
            let client = client(&mock, kind);
            let err = complete(&client, "m", &body("")).await.unwrap_err();
            assert_eq!(err.class, expected, "{kind:?} {failure:?} {err:?}");
            assert!(!format!("{err} {err:?}").contains(KEY));
            let err = stream(&client, "m", &body("")).await.err().unwrap();
            assert_eq!(err.class, expected, "{kind:?} {failure:?}");
        }
    }
}

#[tokio::test]
async fn keys_travel_in_headers_and_users_only_hashed() {
    let mock = mock(vec![]).await;
    let with_user = body(r#","user":"alice@example.com""#);
    for kind in KINDS {
        mock.reset_calls();
        let client = client(&mock, kind);
        complete(&client, "gemini-2.5-flash", &with_user)
            .await
            .unwrap();
        stream(&client, "gemini-2.5-flash", &with_user)
            .await
            .unwrap();
        for call in mock.calls() {
            assert!(
                !call.path_and_query.contains(KEY),
                "{kind:?} {}",
                call.path_and_query
            );
            let body = call.body.to_string();
            assert!(!body.contains("alice"), "{kind:?} {body}");
            let key_header = match kind {
                ProviderKind::OpenAiCompatible => "authorization",
                ProviderKind::Anthropic => "x-api-key",
                ProviderKind::Gemini => "x-goog-api-key",
            };
            let sent = call.headers.iter().find(|(name, _)| name == key_header);
            assert!(
                sent.is_some_and(|(_, value)| value.contains(KEY)),
                "{kind:?}"
            );
        }
        let calls = mock.calls();
        match kind {
            ProviderKind::Gemini => {
                assert_eq!(
                    calls[0].path,
                    "/v1beta/models/gemini-2.5-flash:generateContent"
                );
                assert_eq!(
                    calls[1].path_and_query,
                    "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
                );
            }
            ProviderKind::Anthropic => {
                assert_eq!(calls[0].path, "/v1/messages");
                assert_eq!(
                    calls[0].body["metadata"]["user_id"].as_str().unwrap().len(),
                    34
                );
                let version = calls[0]
                    .headers
                    .iter()
                    .find(|(name, _)| name == "anthropic-version");
                assert!(version.is_some());
            }
            ProviderKind::OpenAiCompatible => {
                assert!(calls[0].body["user"].as_str().unwrap().starts_with("u-"));
            }
        }
    }
}

#[tokio::test]
async fn every_kind_reads_an_answer_up_to_max_response_bytes_and_no_further() {
    let huge = Behavior {
        huge_body_bytes: Some(1 << 30),
        ..Behavior::default()
    };
    let mock = mock(vec![("huge", huge)]).await;
    for kind in KINDS {
        mock.reset_calls();
        let base_url = match kind {
            ProviderKind::Gemini => mock.gemini_base_url(),
            _ => mock.base_url(),
        };
        let mut settings = ProviderSettings::new("native", kind, base_url, Secret::new(KEY));
        settings.max_response_bytes = 1024 * 1024;
        let client = ProviderClient::new(settings).unwrap();

        let err = complete(&client, "huge", &body("")).await.unwrap_err();
        assert_eq!(err.class, FailureClass::InvalidResponse, "{kind:?} {err:?}");
        assert!(FallbackPolicy::default().should_fall_back(err.class));
        assert!(
            err.detail.contains("max_response_bytes"),
            "{kind:?} {err:?}"
        );
        assert!(mock.wait_for_disconnect(0, GUARD).await, "{kind:?}");

        let (answer, err) = stream(&client, "huge", &body("")).await.unwrap();
        assert_eq!(answer, Answer::default(), "{kind:?}");
        let err = err.unwrap();
        assert_eq!(err.class, FailureClass::InvalidResponse, "{kind:?} {err:?}");
        assert!(
            err.detail.contains("larger than 1048576 bytes"),
            "{kind:?} {err:?}"
        );
        assert!(mock.wait_for_disconnect(1, GUARD).await, "{kind:?}");
    }
}

#[tokio::test]
async fn a_key_echoed_back_in_another_case_is_scrubbed_in_every_kind() {
    let echo = Behavior {
        fail: Some(Failure {
            status: 401,
            retry_after: None,
            kind: FailureKind::EchoKey,
        }),
        ..Behavior::default()
    };
    let mock = mock(vec![("echo", echo)]).await;
    for kind in KINDS {
        let client = client(&mock, kind);
        for err in [
            complete(&client, "echo", &body("")).await.unwrap_err(),
            stream(&client, "echo", &body("")).await.err().unwrap(),
        ] {
            assert_eq!(err.class, FailureClass::Auth, "{kind:?} {err:?}");
            let shown = format!("{err} {err:?} {}", err.client_message());
            assert!(
                !shown
                    .to_ascii_lowercase()
                    .contains(&KEY.to_ascii_lowercase()),
                "{kind:?}: the key leaked: {shown}"
            );
            assert!(shown.contains("***"), "{kind:?}: {shown}");
        }
    }
}
