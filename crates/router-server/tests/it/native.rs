//! The native provider kinds end to end: one model served by an OpenAI-compatible mock, one by
//! an Anthropic mock and one by a Gemini mock (all `router-mock`, each speaking its format),
//! asked the same questions through the server, by the official `openai` Python package and by
//! plain HTTP.

use std::path::Path;
use std::process::Command;

use router_mock::{Behavior, MockProvider};
use router_server::RunningServer;
use router_server::config;
use serde_json::{Value, json};

use crate::openai_sdk::openai_virtualenv;
use crate::sdk_env::{describe, run};
use crate::support::{
    CLIENT_KEY, Event, PROVIDER_KEY, assert_close, assert_no_secret, client, data, mock,
    read_events, spawn,
};

/// The three models, one per kind, with the prices of `test/claude` and `test/gemini`
/// including cache reads and writes (USD per million tokens).
const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"

[[keys]]
name = "test"
key = "sk-client-test"

[providers.compat]
display_name = "Compat"
kind = "openai"
base_url = "${MOCK_OPENAI}"
api_key = "sk-provider-SECRET-123"

[providers.claude]
display_name = "Claude Cloud"
kind = "anthropic"
base_url = "${MOCK_ANTHROPIC}"
api_key = "sk-provider-SECRET-123"

[providers.gemini]
display_name = "Gemini Cloud"
kind = "gemini"
base_url = "${MOCK_GEMINI}"
api_key = "sk-provider-SECRET-123"

[[models]]
id = "test/compat"
  [[models.endpoints]]
  provider = "compat"
  upstream_model = "compat-model"
  context_length = 100000
  capabilities = { tools = true, structured_output = true, vision = true }
  pricing = { prompt = 2.0, completion = 8.0 }

[[models]]
id = "test/claude"
  [[models.endpoints]]
  provider = "claude"
  upstream_model = "claude-model"
  context_length = 100000
  capabilities = { tools = true, structured_output = true, vision = true }
  max_output = 8192
  pricing = { prompt = 2.0, completion = 8.0, cache_read = 0.2, cache_write = 2.5 }

[[models]]
id = "test/gemini"
  [[models.endpoints]]
  provider = "gemini"
  upstream_model = "gemini-model"
  context_length = 100000
  capabilities = { tools = true, structured_output = true, vision = true }
  pricing = { prompt = 2.0, completion = 8.0 }

[[models]]
id = "test/blocked-then-compat"
  [[models.endpoints]]
  provider = "gemini"
  upstream_model = "gemini-blocked"
  context_length = 100000
  capabilities = { tools = true, structured_output = true, vision = true }
  pricing = { prompt = 2.0, completion = 8.0 }
  [[models.endpoints]]
  provider = "compat"
  upstream_model = "compat-model"
  context_length = 100000
  capabilities = { tools = true, structured_output = true, vision = true }
  pricing = { prompt = 2.0, completion = 8.0 }
"#;

const MODELS: [&str; 3] = ["test/compat", "test/claude", "test/gemini"];

struct Native {
    server: RunningServer,
    openai: MockProvider,
    anthropic: MockProvider,
    gemini: MockProvider,
    client: reqwest::Client,
}

impl Native {
    async fn start() -> Native {
        let (openai, anthropic, gemini) = (mock().await, mock().await, mock().await);
        let config = config::load_str(CONFIG, &|name: &str| match name {
            "MOCK_OPENAI" => Some(openai.base_url()),
            "MOCK_ANTHROPIC" => Some(anthropic.base_url()),
            "MOCK_GEMINI" => Some(gemini.gemini_base_url()),
            _ => None,
        })
        .unwrap_or_else(|err| panic!("{err}"));
        Native {
            server: spawn(config).await,
            openai,
            anthropic,
            gemini,
            client: client(),
        }
    }

    fn mocks(&self) -> [&MockProvider; 3] {
        [&self.openai, &self.anthropic, &self.gemini]
    }

    async fn chat(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/chat/completions", self.server.url()))
            .bearer_auth(CLIENT_KEY)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A non-streaming answer's body, checked to be a 200 without the provider key.
    async fn answer(&self, body: &Value) -> Value {
        let response = self.chat(body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_no_secret(&text);
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }
}

fn question(model: &str, extra: Value) -> Value {
    let mut body = json!({
        "model": model,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

#[tokio::test]
async fn the_openai_sdk_gets_the_same_answers_from_every_kind() {
    let native = Native::start().await;
    let base_url = format!("{}/api/v1", native.server.url());
    let output = tokio::task::spawn_blocking(move || {
        let python = openai_virtualenv();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/native_sdk.py");
        run(Command::new(python)
            .arg(script)
            .arg(base_url)
            .arg(CLIENT_KEY)
            .args(MODELS))
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the SDK script failed:\n{}",
        describe(&output)
    );
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), MODELS.len() * 4 * 2);
    let answer = |model: &str, case: &str, stream: bool| {
        let line = lines
            .iter()
            .find(|it| it["model"] == model && it["case"] == case && it["stream"] == stream)
            .unwrap_or_else(|| panic!("no answer for {model} {case} {stream}"));
        line["answer"].clone()
    };
    for case in ["text", "tools", "json_schema", "reasoning"] {
        for stream in [false, true] {
            let reference = answer("test/compat", case, stream);
            for model in &MODELS[1..] {
                let other = answer(model, case, stream);
                assert_eq!(other, reference, "{model} {case} stream={stream}");
            }
        }
        // A stream and a whole answer agree too.
        assert_eq!(
            answer("test/compat", case, false),
            answer("test/compat", case, true),
            "{case}"
        );
    }
    let tools = answer("test/claude", "tools", true);
    assert_eq!(
        tools["tool_calls"],
        json!([["get_weather", {"city": "mock", "days": 1}]])
    );
    assert_eq!(tools["finish_reason"], "tool_calls");
    let schema = answer("test/gemini", "json_schema", false);
    let content: Value = serde_json::from_str(schema["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({"city": "mock", "sunny": true}));
    let reasoning = answer("test/gemini", "reasoning", true);
    assert_eq!(
        reasoning["reasoning"],
        "Mock thinking about: What is the weather in Paris?"
    );
    let text = answer("test/claude", "text", false);
    assert_eq!(
        text["content"],
        "Mock reply to: What is the weather in Paris?"
    );
    assert!(text["usage"]["cost"].as_f64().unwrap() > 0.0, "{text}");
}

#[tokio::test]
async fn cache_control_reaches_anthropic_intact_and_cache_tokens_are_priced_at_their_rates() {
    let native = Native::start().await;
    let control = r#"{"type":"ephemeral","ttl":"1h"}"#;
    let body = format!(
        r#"{{"model":"test/claude","messages":[{{"role":"system","content":[{{"type":"text","text":"You answer questions about the weather, briefly and precisely, in one sentence.","cache_control":{control}}}]}},{{"role":"user","content":"What is the weather in Paris?"}}]}}"#
    );
    let mut usages = Vec::new();
    for _ in 0..2 {
        let response = native
            .client
            .post(format!("{}/api/v1/chat/completions", native.server.url()))
            .bearer_auth(CLIENT_KEY)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        usages.push(answer["usage"].clone());
    }
    for call in native.anthropic.calls() {
        let raw = String::from_utf8(call.raw_body).unwrap();
        assert!(
            raw.contains(&format!(r#""cache_control":{control}"#)),
            "{raw}"
        );
    }
    let (first, second) = (&usages[0], &usages[1]);
    let written = first["prompt_tokens_details"]["cache_write_tokens"]
        .as_f64()
        .unwrap();
    let read = second["prompt_tokens_details"]["cached_tokens"]
        .as_f64()
        .unwrap();
    assert!(written > 0.0 && read > 0.0, "{first} {second}");
    let prompt = first["prompt_tokens"].as_f64().unwrap();
    let completion = first["completion_tokens"].as_f64().unwrap();
    assert_close(
        &first["cost"],
        ((prompt - written) * 2.0 + written * 2.5 + completion * 8.0) / 1e6,
    );
    assert_close(
        &second["cost"],
        ((prompt - read) * 2.0 + read * 0.2 + completion * 8.0) / 1e6,
    );
}

#[tokio::test]
async fn excluded_reasoning_never_reaches_the_client_and_users_reach_providers_hashed() {
    let native = Native::start().await;
    for model in MODELS {
        for stream in [false, true] {
            let body = question(
                model,
                json!({"stream": stream, "user": "alice@example.com",
                       "reasoning": {"effort": "high", "exclude": true}}),
            );
            let response = native.chat(&body).await;
            assert_eq!(response.status(), 200);
            let text = response.text().await.unwrap();
            for member in ["\"reasoning\"", "reasoning_details", "Mock thinking"] {
                assert!(!text.contains(member), "{model} stream={stream}: {text}");
            }
            assert!(text.contains("Paris?"), "{text}");
        }
        let legacy = question(model, json!({"include_reasoning": false, "reasoning": {}}));
        let answer = native.answer(&legacy).await;
        assert!(
            answer["choices"][0]["message"].get("reasoning").is_none(),
            "{answer}"
        );
        let shown = native
            .answer(&question(model, json!({"reasoning": {"enabled": true}})))
            .await;
        assert!(
            shown["choices"][0]["message"]["reasoning"].is_string(),
            "{shown}"
        );
    }
    for mock in native.mocks() {
        for call in mock.calls() {
            let raw = String::from_utf8_lossy(&call.raw_body).into_owned();
            assert!(!raw.contains("alice"), "{raw}");
            assert!(!call.path_and_query.contains(PROVIDER_KEY));
        }
    }
}

#[tokio::test]
async fn native_finish_reasons_are_normalized_and_kept() {
    let native = Native::start().await;
    let cases = [
        ("test/claude", "max_tokens", "length"),
        ("test/claude", "end_turn", "stop"),
        ("test/gemini", "MAX_TOKENS", "length"),
        ("test/gemini", "SAFETY", "content_filter"),
        ("test/compat", "max_tokens", "length"),
        ("test/compat", "end_turn", "stop"),
    ];
    for (model, native_reason, expected) in cases {
        let behavior = Behavior {
            finish_reason: Some(native_reason.to_owned()),
            ..Behavior::default()
        };
        for mock in native.mocks() {
            mock.set_default(behavior.clone());
        }
        let answer = native.answer(&question(model, json!({}))).await;
        let choice = &answer["choices"][0];
        assert_eq!(
            choice["finish_reason"], expected,
            "{model} {native_reason}: {answer}"
        );
        assert_eq!(choice["native_finish_reason"], native_reason, "{answer}");
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["message"]["role"], "assistant");
        if native_reason == "SAFETY" {
            continue;
        }
        let response = native.chat(&question(model, json!({"stream": true}))).await;
        let events = read_events(response).await;
        let chunks = data(&events);
        let finish = chunks
            .iter()
            .flat_map(|chunk| chunk["choices"].as_array().unwrap())
            .find(|choice| !choice["finish_reason"].is_null())
            .unwrap_or_else(|| panic!("no finish in {events:?}"));
        assert_eq!(finish["finish_reason"], expected, "{model} {native_reason}");
        assert_eq!(finish["native_finish_reason"], native_reason);
    }
}

#[tokio::test]
async fn a_mid_stream_anthropic_error_and_a_gemini_safety_block_end_the_stream_with_the_error_chunk()
 {
    let native = Native::start().await;
    let behavior = Behavior {
        error_after_chunks: Some(2),
        ..Behavior::default()
    };
    for mock in native.mocks() {
        mock.set_default(behavior.clone());
    }
    for model in ["test/claude", "test/gemini"] {
        let response = native.chat(&question(model, json!({"stream": true}))).await;
        assert_eq!(response.status(), 200);
        let events = read_events(response).await;
        assert_eq!(events.last(), Some(&Event::Done), "{events:?}");
        let chunks = data(&events);
        let last = chunks.last().unwrap();
        assert!(last["error"]["code"].is_u64(), "{model}: {last}");
        assert_eq!(last["choices"][0]["finish_reason"], "error", "{last}");
        let text: String = chunks
            .iter()
            .flat_map(|chunk| chunk["choices"].as_array().unwrap())
            .filter_map(|choice| choice["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Mock reply ", "{model}");
    }
    // Blocked before the first token, a request falls back to the next endpoint.
    native.gemini.set_behavior(
        "gemini-blocked",
        Behavior {
            error_after_chunks: Some(0),
            ..Behavior::default()
        },
    );
    native.openai.set_default(Behavior::default());
    let response = native
        .chat(&question(
            "test/blocked-then-compat",
            json!({"stream": true}),
        ))
        .await;
    let events = read_events(response).await;
    let chunks = data(&events);
    assert!(
        chunks.iter().all(|chunk| chunk.get("error").is_none()),
        "{events:?}"
    );
    assert_eq!(chunks[0]["provider"], "Compat", "{events:?}");
}

impl Native {
    /// `POST /api/v1/messages` (Anthropic's format) with `body`.
    async fn messages(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/messages", self.server.url()))
            .header("x-api-key", CLIENT_KEY)
            .header("anthropic-version", "2023-06-01")
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn an_anthropic_format_conversation_is_served_by_every_kind() {
    let native = Native::start().await;
    for model in MODELS {
        let response = native
            .messages(&json!({
                "model": model,
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "Hello"}],
            }))
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_no_secret(&text);
        assert_eq!(status, 200, "{model}: {text}");
        let message: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(message["type"], "message", "{model}: {message}");
        assert_eq!(message["model"], model);
        assert_eq!(message["content"][0]["type"], "text", "{model}: {message}");
        assert!(
            message["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("Hello"),
            "{model}: {message}"
        );
        assert_eq!(message["stop_reason"], "end_turn", "{model}: {message}");
        assert!(message["usage"]["output_tokens"].as_u64().unwrap() > 0);
    }
}

#[tokio::test]
async fn a_fallback_from_a_failing_anthropic_provider_to_gemini_is_invisible_to_a_messages_client()
{
    let native = Native::start().await;
    native.anthropic.set_behavior(
        "claude-model",
        Behavior {
            fail: Some(router_mock::Failure::status(503)),
            ..Behavior::default()
        },
    );
    let body = json!({
        "model": "test/claude",
        "models": ["test/gemini"],
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hello"}],
    });
    let message: Value = native.messages(&body).await.json().await.unwrap();
    assert_eq!(message["type"], "message", "{message}");
    assert_eq!(message["model"], "test/gemini", "{message}");
    assert_eq!(message["content"][0]["type"], "text", "{message}");

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let response = native.messages(&streamed).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"message_start"), "{text}");
    assert_eq!(events.last(), Some(&"message_stop"), "{text}");
    assert!(!events.contains(&"error"), "{text}");
    assert!(text.contains("test/gemini"), "{text}");
    // The Anthropic provider was asked both times and failed; Gemini answered both.
    assert_eq!(native.anthropic.calls().len(), 2);
    assert_eq!(native.gemini.calls().len(), 2);
}

#[tokio::test]
async fn a_claude_code_request_reaches_an_anthropic_provider_with_its_cache_control_byte_for_byte()
{
    let native = Native::start().await;
    let fixture: Value = serde_json::from_str(include_str!("fixtures/claude_code_messages.json"))
        .expect("the fixture is JSON");
    let mut body = fixture["body"].clone();
    body["model"] = json!("test/claude");
    // Within `test/claude`'s 8192 output tokens (Claude Code asks for 32000).
    body["max_tokens"] = json!(4096);
    if body["thinking"].is_object() {
        body["thinking"]["budget_tokens"] = json!(2048);
    }
    let mut request = native
        .client
        .post(format!("{}/api/v1/messages", native.server.url()));
    for (name, value) in fixture["headers"].as_object().unwrap() {
        request = request.header(name.as_str(), value.as_str().unwrap());
    }
    let sent = serde_json::to_vec(&body).unwrap();
    let response = request
        .header("x-api-key", CLIENT_KEY)
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    let call = native
        .anthropic
        .calls()
        .pop()
        .expect("the Anthropic mock was called");
    let count = |haystack: &[u8], needle: &[u8]| {
        haystack
            .windows(needle.len())
            .filter(|window| *window == needle)
            .count()
    };
    // Every `cache_control` object the client sent reaches Anthropic as the same bytes.
    for block in [
        &br#""cache_control":{"type":"ephemeral"}"#[..],
        &br#""cache_control":{"ttl":"1h","type":"ephemeral"}"#[..],
    ] {
        assert!(count(&sent, block) > 0);
        assert_eq!(
            count(&call.raw_body, block),
            count(&sent, block),
            "{}",
            String::from_utf8_lossy(&call.raw_body)
        );
    }
}
