//! `POST /api/v1/messages`: Anthropic's Messages API in front of the same routing as chat
//! completions. Requests in Anthropic's shape (a recorded Claude Code request among them) reach
//! the providers as chat requests with `cache_control` intact; answers, streams and errors come
//! back in Anthropic's shapes; and the official `anthropic` Python package and
//! `@anthropic-ai/sdk` complete conversations against it.
//!
//! The providers here are router-mock's OpenAI-compatible ones. [`SERVED_BY`] lists the catalog
//! models the same conversation is served by, one per provider kind: a new kind is a new row.

use std::path::Path;
use std::process::Command;

use router_mock::{Behavior, Failure, REASONING_SIGNATURE};
use serde_json::{Value, json};

use crate::support::{self, CLIENT_KEY, Gateway, assert_no_secret};

/// `[front.model_aliases]` of these tests (Anthropic's names for test models), `test/agent`
/// (tools, images and structured output, at alpha's `agent-alpha` then beta's `agent-beta`),
/// `test/caller` (tools, at alpha's `caller`) and `test/limited` (at alpha's `limited`).
pub(crate) const ALIASES: &str = r#"
[front.model_aliases]
"claude-sonnet-4-5" = "test/agent"
"claude-haiku-4-5" = "test/caller"

[[models]]
id = "test/agent"
name = "Test: Agent"

  [[models.endpoints]]
  provider = "alpha"
  upstream_model = "agent-alpha"
  context_length = 65536
  capabilities = { tools = true, vision = true, structured_output = true }
  pricing = { prompt = 3.0, completion = 15.0, cache_read = 0.3 }

  [[models.endpoints]]
  provider = "beta"
  upstream_model = "agent-beta"
  context_length = 65536
  capabilities = { tools = true, vision = true, structured_output = true }
  pricing = { prompt = 3.0, completion = 15.0, cache_read = 0.3 }

[[models]]
id = "test/caller"
name = "Test: Caller"

  [[models.endpoints]]
  provider = "alpha"
  upstream_model = "caller"
  context_length = 8192
  capabilities = { tools = true }
  pricing = { prompt = 1.0, completion = 1.0 }

[[models]]
id = "test/limited"
name = "Test: Limited"

  [[models.endpoints]]
  provider = "alpha"
  upstream_model = "limited"
  context_length = 8192
  pricing = { prompt = 1.0, completion = 1.0 }
"#;

/// The catalog models the same conversation is served by, each with its provider kind and the
/// upstream model name its first endpoint calls.
const SERVED_BY: &[(&str, &str, &str)] = &[("openai", "test/agent", "agent-alpha")];

/// Starts the gateway with [`ALIASES`].
pub(crate) async fn gateway() -> Gateway {
    Gateway::start_with(ALIASES).await
}

fn messages_url(gateway: &Gateway) -> String {
    format!("{}/api/v1/messages", gateway.server.url())
}

/// Posts `body` to `/api/v1/messages` with Anthropic's headers.
async fn post(gateway: &Gateway, body: &Value) -> reqwest::Response {
    gateway
        .client
        .post(messages_url(gateway))
        .header("x-api-key", CLIENT_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("request failed")
}

fn hello(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 256,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hello"}],
    })
}

/// The named events of an Anthropic stream, comments left out; checks the framing.
pub(crate) fn named_events(text: &str) -> Vec<(String, Value)> {
    assert_no_secret(text);
    assert!(text.ends_with("\n\n"), "unterminated stream: {text:?}");
    text.split_terminator("\n\n")
        .filter(|event| !event.starts_with(':'))
        .map(|event| {
            let (name, data) = event
                .split_once('\n')
                .unwrap_or_else(|| panic!("not an event: {event:?}"));
            let name = name
                .strip_prefix("event: ")
                .unwrap_or_else(|| panic!("no event name: {event:?}"));
            let data = data
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("no data: {event:?}"));
            let data: Value =
                serde_json::from_str(data).unwrap_or_else(|err| panic!("{err}: {data}"));
            assert_eq!(data["type"], name, "{event}");
            (name.to_owned(), data)
        })
        .collect()
}

/// An Anthropic error: the status, `error.type`, and the body (checked to be the envelope).
async fn anthropic_error(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_no_secret(&text);
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
    assert_eq!(body["type"], "error", "{text}");
    assert!(body["error"]["message"].is_string(), "{text}");
    let kind = body["error"]["type"].as_str().unwrap().to_owned();
    (status, kind, body)
}

#[tokio::test]
async fn a_message_is_answered_in_anthropic_shape_by_every_provider_kind() {
    let gateway = gateway().await;
    for (kind, model, upstream) in SERVED_BY {
        let response = post(&gateway, &hello(model, false)).await;
        assert_eq!(response.status(), 200, "{kind}");
        let generation_id = response.headers()["x-generation-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            response.headers()["x-turnout-served-model"],
            *model,
            "{kind}: the route receipt is there"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "message", "{kind}: {body}");
        assert_eq!(body["id"], generation_id, "{kind}");
        assert_eq!(body["role"], "assistant");
        assert_eq!(body["model"], *model);
        assert_eq!(
            body["content"],
            json!([{"type": "text", "text": "Mock reply to: Hello"}])
        );
        assert_eq!(body["stop_reason"], "end_turn");
        assert!(
            body["usage"]["input_tokens"].as_u64().unwrap() > 0,
            "{body}"
        );
        assert!(
            body["usage"]["output_tokens"].as_u64().unwrap() > 0,
            "{body}"
        );
        assert_eq!(body["usage"]["cache_read_input_tokens"], 0);
        let call = gateway.alpha.calls().pop().unwrap();
        assert_eq!(call.model, *upstream);
        assert_eq!(
            call.body["messages"],
            json!([{"role": "user", "content": "Hello"}])
        );
        assert_eq!(call.body["max_tokens"], 256);
        // The exchange left its generation record, found by the message's id.
        let record: Value = gateway
            .client
            .get(format!(
                "{}/api/v1/generation?id={generation_id}",
                gateway.server.url()
            ))
            .bearer_auth(CLIENT_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(record["data"]["model"], *model, "{record}");
        assert!(
            record["data"]["total_cost"].as_f64().unwrap() > 0.0,
            "{record}"
        );
    }
}

#[tokio::test]
async fn anthropic_model_names_and_bearer_keys_work() {
    let gateway = gateway().await;
    let response = gateway
        .client
        .post(messages_url(&gateway))
        .bearer_auth(CLIENT_KEY)
        .json(&hello("claude-haiku-4-5-20251001", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "test/caller", "{body}");
    let auto = post(&gateway, &hello("openrouter/auto", false)).await;
    assert_eq!(auto.status(), 200);
    assert_eq!(auto.headers()["x-turnout-router"], "openrouter/auto");
    let body: Value = auto.json().await.unwrap();
    assert_eq!(body["type"], "message", "{body}");
    let legacy = gateway
        .client
        .post(format!("{}/v1/messages", gateway.server.url()))
        .header("x-api-key", CLIENT_KEY)
        .json(&hello("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status(), 200);
}

#[tokio::test]
async fn a_stream_is_anthropics_event_sequence_with_thinking_and_signature() {
    let gateway = gateway().await;
    gateway.behave(
        "agent-alpha",
        Behavior {
            reasoning: Some("Think first.".to_owned()),
            reply: Some("Two words".to_owned()),
            ..Behavior::default()
        },
    );
    let mut body = hello("claude-sonnet-4-5", true);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let response = post(&gateway, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = named_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(events[0].1["message"]["model"], "test/agent");
    assert_eq!(events[2].1["content_block"]["type"], "thinking");
    assert_eq!(
        events[3].1["delta"],
        json!({"type": "thinking_delta", "thinking": "Think first."})
    );
    assert_eq!(
        events[4].1["delta"],
        json!({"type": "signature_delta", "signature": REASONING_SIGNATURE})
    );
    assert_eq!(
        events[6].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    assert_eq!(events[6].1["index"], 1);
    let text: String = events[7..9]
        .iter()
        .map(|(_, data)| data["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Two words");
    assert_eq!(events[10].1["delta"]["stop_reason"], "end_turn");
    assert!(events[10].1["usage"]["output_tokens"].as_u64().unwrap() > 0);
    // The thinking budget became OpenRouter's `reasoning`, which an OpenAI-compatible provider
    // receives as `reasoning_effort` (a budget up to 2048 tokens is `low`).
    let call = gateway.alpha.calls().pop().unwrap();
    assert_eq!(call.body["reasoning_effort"], "low");
    assert_eq!(call.body["stream"], true);
}

#[tokio::test]
async fn a_tool_call_then_its_result_round_trips() {
    let gateway = gateway().await;
    gateway.behave(
        "agent-alpha",
        Behavior {
            tool_call: Some("get_weather".to_owned()),
            ..Behavior::default()
        },
    );
    let tools = json!([{
        "name": "get_weather",
        "description": "The weather in a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }]);
    let mut body = hello("claude-sonnet-4-5", false);
    body["tools"] = tools.clone();
    body["tool_choice"] = json!({"type": "auto"});
    let answer: Value = post(&gateway, &body).await.json().await.unwrap();
    assert_eq!(answer["stop_reason"], "tool_use", "{answer}");
    let tool_use = &answer["content"][0];
    assert_eq!(tool_use["type"], "tool_use");
    assert_eq!(tool_use["name"], "get_weather");
    // The mock fills the tool's schema: `city` is a string.
    assert_eq!(tool_use["input"], json!({"city": "mock"}));
    let call = gateway.alpha.calls().pop().unwrap();
    assert_eq!(
        call.body["tools"],
        json!([{"type": "function", "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }}])
    );
    assert_eq!(call.body["tool_choice"], "auto");

    // The result turn: the tool_use goes back as a tool call, the result as a tool message.
    gateway.behave("agent-alpha", Behavior::default());
    let mut body = hello("claude-sonnet-4-5", false);
    body["tools"] = tools;
    body["messages"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": answer["content"]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "Sunny"}
        ]},
    ]);
    let response = post(&gateway, &body).await;
    assert_eq!(response.status(), 200);
    let call = gateway.alpha.calls().pop().unwrap();
    let messages = call.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[1]["tool_calls"][0]["id"], tool_use["id"]);
    assert_eq!(
        messages[1]["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"mock"}"#
    );
    assert_eq!(
        messages[2],
        json!({"role": "tool", "content": "Sunny", "tool_call_id": tool_use["id"]})
    );
}

#[tokio::test]
async fn a_claude_code_request_is_served_with_its_cache_control_unchanged() {
    let gateway = gateway().await;
    let fixture: Value = serde_json::from_str(include_str!("fixtures/claude_code_messages.json"))
        .expect("the fixture is JSON");
    let mut request = gateway.client.post(messages_url(&gateway));
    for (name, value) in fixture["headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    let response = request
        .header("x-api-key", CLIENT_KEY)
        .json(&fixture["body"])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = named_events(&response.text().await.unwrap());
    assert_eq!(events.first().unwrap().0, "message_start");
    assert_eq!(events.last().unwrap().0, "message_stop");

    let call = gateway.alpha.calls().pop().unwrap();
    assert_eq!(call.model, "agent-alpha", "the alias chose test/agent");
    let sent = &fixture["body"];
    let system = &call.body["messages"][0];
    assert_eq!(system["role"], "system");
    for (idx, block) in sent["system"].as_array().unwrap().iter().enumerate() {
        assert_eq!(system["content"][idx]["text"], block["text"]);
        assert_eq!(
            system["content"][idx]["cache_control"], block["cache_control"],
            "system[{idx}]"
        );
    }
    let user = &call.body["messages"][1];
    assert_eq!(
        user["content"][1]["cache_control"],
        sent["messages"][0]["content"][1]["cache_control"]
    );
    assert!(user["content"][0].get("cache_control").is_none());
    assert_eq!(
        call.body["tools"][1]["cache_control"],
        sent["tools"][1]["cache_control"]
    );
    assert_eq!(
        call.body["tools"][0]["function"]["parameters"],
        sent["tools"][0]["input_schema"]
    );
    // A budget over 16384 tokens is `high` for an OpenAI-compatible provider.
    assert_eq!(call.body["reasoning_effort"], "high");
    // `metadata.user_id` became `user`, which reaches providers only as a stable hash.
    let user = call.body["user"].as_str().unwrap();
    assert!(user.starts_with("u-"), "{user}");
    assert_ne!(call.body["user"], sent["metadata"]["user_id"]);
    assert_eq!(call.body["temperature"], 1);
    assert_eq!(call.body["max_tokens"], 32000);
}

#[tokio::test]
async fn errors_come_in_anthropics_envelope_with_its_statuses() {
    let gateway = gateway().await;

    let response = gateway
        .client
        .post(messages_url(&gateway))
        .header("x-api-key", "sk-wrong")
        .json(&hello("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    let (status, kind, _) = anthropic_error(response).await;
    assert_eq!((status, kind.as_str()), (401, "authentication_error"));

    let mut missing = hello("claude-sonnet-4-5", false);
    missing.as_object_mut().unwrap().remove("max_tokens");
    let (status, kind, body) = anthropic_error(post(&gateway, &missing).await).await;
    assert_eq!((status, kind.as_str()), (400, "invalid_request_error"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens"),
        "{body}"
    );

    let (status, kind, body) =
        anthropic_error(post(&gateway, &hello("nope/missing", false)).await).await;
    assert_eq!((status, kind.as_str()), (400, "invalid_request_error"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope/missing")
    );

    gateway.behave(
        "agent-alpha",
        Behavior {
            fail: Some(Failure::rate_limit(Some(7))),
            ..Behavior::default()
        },
    );
    gateway.behave(
        "agent-beta",
        Behavior {
            fail: Some(Failure::rate_limit(Some(3))),
            ..Behavior::default()
        },
    );
    let response = post(&gateway, &hello("claude-sonnet-4-5", true)).await;
    assert_eq!(response.headers()["retry-after"], "3");
    let generation_id = response.headers()["x-generation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, kind, body) = anthropic_error(response).await;
    assert_eq!((status, kind.as_str()), (429, "rate_limit_error"));
    assert_eq!(body["request_id"], generation_id);

    gateway.behave(
        "agent-alpha",
        Behavior {
            fail: Some(Failure::overloaded()),
            ..Behavior::default()
        },
    );
    gateway.behave(
        "agent-beta",
        Behavior {
            fail: Some(Failure::overloaded()),
            ..Behavior::default()
        },
    );
    let (status, kind, _) =
        anthropic_error(post(&gateway, &hello("claude-sonnet-4-5", false)).await).await;
    assert_eq!((status, kind.as_str()), (529, "overloaded_error"));
}

#[tokio::test]
async fn a_stream_failing_after_its_first_token_ends_with_an_error_event() {
    let gateway = gateway().await;
    gateway.behave(
        "agent-alpha",
        Behavior {
            reply: Some("one two three four".to_owned()),
            fail_after_chunks: Some(2),
            ..Behavior::default()
        },
    );
    let response = post(&gateway, &hello("claude-sonnet-4-5", true)).await;
    assert_eq!(response.status(), 200);
    let events = named_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "error",
        ]
    );
    let error = &events.last().unwrap().1["error"];
    assert!(
        error["type"].as_str().unwrap().ends_with("_error"),
        "{error}"
    );
    assert!(error["message"].is_string());
}

#[tokio::test]
async fn a_fallback_before_the_first_token_is_invisible() {
    let gateway = gateway().await;
    gateway.behave(
        "caller",
        Behavior {
            fail: Some(Failure::overloaded()),
            ..Behavior::default()
        },
    );
    let mut body = hello("claude-haiku-4-5", true);
    body["fallbacks"] = json!([{"model": "claude-sonnet-4-5"}]);
    let response = post(&gateway, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-turnout-fallback-depth"], "1");
    let events = named_events(&response.text().await.unwrap());
    assert_eq!(events[0].1["message"]["model"], "test/agent");
    assert!(events.iter().all(|(name, _)| name != "error"));
    assert_eq!(events.last().unwrap().0, "message_stop");
}

#[tokio::test]
async fn the_anthropic_python_sdk_works_against_the_server() {
    let gateway = gateway().await;
    gateway.alpha.set_behavior(
        "agent-alpha",
        Behavior {
            reasoning: Some("Think first.".to_owned()),
            ..Behavior::default()
        },
    );
    gateway.alpha.set_behavior(
        "caller",
        Behavior {
            tool_call: Some("get_weather".to_owned()),
            ..Behavior::default()
        },
    );
    gateway.alpha.set_behavior(
        "limited",
        Behavior {
            fail: Some(Failure::rate_limit(None)),
            ..Behavior::default()
        },
    );
    let base_url = format!("{}/api", gateway.server.url());
    let output = tokio::task::spawn_blocking(move || {
        let python = support::sdk_python();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/anthropic_sdk.py");
        support::run(
            Command::new(python)
                .arg(script)
                .arg(base_url)
                .arg(CLIENT_KEY),
        )
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the anthropic SDK script failed:\n{}",
        support::describe(&output)
    );
}

#[tokio::test]
async fn the_anthropic_typescript_sdk_works_against_the_server() {
    let gateway = gateway().await;
    let base_url = format!("{}/api", gateway.server.url());
    let output = tokio::task::spawn_blocking(move || {
        let node_path = support::anthropic_node_modules();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/anthropic_sdk.mjs");
        support::run(
            Command::new("node")
                .arg(script)
                .arg(base_url)
                .arg(CLIENT_KEY)
                .env("NODE_PATH", node_path),
        )
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the @anthropic-ai/sdk script failed:\n{}",
        support::describe(&output)
    );
}
