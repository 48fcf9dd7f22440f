//! The Messages answer readers on answers and streams from Anthropic's documentation, and the
//! request writer on the requests it documents.

use proptest::prelude::*;
use router_core::catalog::{Capabilities, Endpoint, Pricing};
use router_core::request::ChatRequest;
use serde_json::{Value, json};

use super::*;
use crate::anthropic::request::write_body;
use crate::event_stream::pieces::{Outcome, assemble, read_in_pieces};

const TOOL_USE: &str = include_str!("../../../tests/fixtures/anthropic/tool_use.sse");
const THINKING: &str = include_str!("../../../tests/fixtures/anthropic/thinking.sse");
const ERROR_MID_STREAM: &str =
    include_str!("../../../tests/fixtures/anthropic/error_mid_stream.sse");
const MESSAGE: &str = include_str!("../../../tests/fixtures/anthropic/message.json");

fn read(wire: &str) -> Vec<Outcome> {
    read_in_pieces(StreamReader::new(false), wire.as_bytes(), &[])
}

fn endpoint(max_output: Option<u32>) -> Endpoint {
    Endpoint {
        provider: "anthropic".to_owned(),
        upstream_model: "claude-opus-4-6".to_owned(),
        pricing: Pricing::default(),
        context_length: 200_000,
        max_output,
        supported_parameters: Vec::new(),
        capabilities: Capabilities::default(),
        traits: Default::default(),
    }
}

#[test]
fn a_tool_call_split_across_events_is_one_call_with_index_0() {
    let outcomes = read(TOOL_USE);
    let (content, calls, _) = assemble(&outcomes);
    assert_eq!(
        content,
        "Okay, let's check the weather for San Francisco, CA:"
    );
    assert_eq!(
        calls,
        [(
            "get_weather".to_owned(),
            r#"{"location": "San Francisco, CA", "unit": "fahrenheit"}"#.to_owned()
        )]
    );
    let Some(Outcome::Chunk(choices, finish, usage, _)) = outcomes.iter().rev().nth(1) else {
        panic!("{outcomes:?}");
    };
    assert_eq!(finish, &Some(FinishReason::ToolCalls));
    let choices: Value = serde_json::from_str(choices).unwrap();
    assert_eq!(choices[0]["native_finish_reason"], "tool_use");
    // Usage arrives in two halves: the prompt in message_start, the output in message_delta.
    assert_eq!(
        usage,
        &Some(Usage {
            prompt_tokens: 472 + 100 + 300,
            completion_tokens: 89,
            total_tokens: 472 + 100 + 300 + 89,
            cached_tokens: 300,
            cache_write_tokens: 100,
            reasoning_tokens: 0,
        })
    );
    assert_eq!(outcomes.last(), Some(&Outcome::Done));
    let Outcome::Chunk(first, ..) = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert!(first.contains(r#""role":"assistant""#), "{first}");
}

#[test]
fn thinking_becomes_reasoning_with_its_signature() {
    let outcomes = read(THINKING);
    let (content, _, reasoning) = assemble(&outcomes);
    assert_eq!(content, "27 * 453 = 12,231");
    assert_eq!(
        reasoning,
        "Let me solve this step by step:\n\n1. First break down 27 * 453\n2. 453 = 400 + 50 + 3"
    );
    let signed = outcomes.iter().any(|outcome| {
        matches!(outcome, Outcome::Chunk(choices, ..) if choices.contains(r#""signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds""#))
    });
    assert!(signed, "{outcomes:?}");
    let excluded = read_in_pieces(StreamReader::new(true), THINKING.as_bytes(), &[]);
    let (content, _, reasoning) = assemble(&excluded);
    assert_eq!(
        (content.as_str(), reasoning.as_str()),
        ("27 * 453 = 12,231", "")
    );
    assert!(
        excluded
            .iter()
            .all(|it| !format!("{it:?}").contains("signature"))
    );
}

#[test]
fn an_error_event_ends_the_stream_with_its_type() {
    let outcomes = read(ERROR_MID_STREAM);
    assert_eq!(
        outcomes.last(),
        Some(&Outcome::Error(
            Some("overloaded_error".to_owned()),
            Some("Overloaded".to_owned())
        ))
    );
    assert_eq!(assemble(&outcomes).0, "Hello");
}

proptest! {
    #[test]
    fn any_split_of_a_recorded_stream_reads_the_same(
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        which in 0..3_usize,
    ) {
        let wire = [TOOL_USE, THINKING, ERROR_MID_STREAM][which];
        let whole = read(wire);
        let split = read_in_pieces(StreamReader::new(false), wire.as_bytes(), &cuts);
        prop_assert_eq!(split, whole);
    }
}

#[test]
fn a_documented_message_reads_into_one_choice() {
    let response = parse_response(MESSAGE.as_bytes(), false).unwrap();
    let choices: Value = serde_json::from_str(response.choices.get()).unwrap();
    assert_eq!(
        choices,
        json!([{"index":0,"message":{"role":"assistant","content":"I'll check the weather.",
            "reasoning":"The user wants the weather.",
            "reasoning_details":[{"type":"reasoning.text","text":"The user wants the weather.","signature":"WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve","format":"anthropic-claude-v1","index":0}],
            "tool_calls":[{"id":"toolu_01A09q90qw90lq917835lq9","type":"function","function":{"name":"get_weather","arguments":"{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\"}"}}]},
            "finish_reason":"tool_calls","native_finish_reason":"tool_use","logprobs":null}])
    );
    assert_eq!(response.usage.prompt_tokens, 2095 + 2051);
    assert_eq!(response.usage.cache_write_tokens, 2051);
    assert_eq!(
        response.upstream_id.as_deref(),
        Some("msg_01Aq9w938a90dw8q")
    );
}

#[test]
fn an_error_body_is_an_error() {
    let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let Err(BodyProblem::Error(error)) = parse_response(body, false) else {
        panic!("expected an error");
    };
    assert_eq!(error.code.as_deref(), Some("overloaded_error"));
}

#[test]
fn a_request_becomes_the_documented_messages_body() {
    let body = r#"{"model":"anthropic/claude-opus-4.6","messages":[
        {"role":"system","content":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral","ttl":"1h"}}]},
        {"role":"user","content":[{"type":"text","text":"What is in this image?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]},
        {"role":"assistant","content":"Let me check.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
        {"role":"tool","tool_call_id":"toolu_1","content":"Sunny"}],
        "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}},"cache_control":{"type":"ephemeral"}}],
        "tool_choice":"required","parallel_tool_calls":false,"stop":["END"],"temperature":0.5,"top_k":5,"user":"u1",
        "provider":{"order":["anthropic"]},"models":["a/b"],"plugins":[],"session_id":"s","transforms":[],"route":"fallback","usage":{"include":true}}"#;
    let request = ChatRequest::parse(body.as_bytes()).unwrap();
    let written = write_body(&endpoint(Some(32_000)), &request, true).unwrap();
    let sent: Value = serde_json::from_slice(&written.body).unwrap();
    assert_eq!(
        sent,
        json!({
            "model": "claude-opus-4-6",
            "max_tokens": 32000,
            "system": [{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral","ttl":"1h"}}],
            "messages": [
                {"role":"user","content":[
                    {"type":"text","text":"What is in this image?"},
                    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
                    {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]},
                {"role":"assistant","content":[
                    {"type":"text","text":"Let me check."},
                    {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Paris"}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"Sunny"}]}]}
            ],
            "tools": [{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}}},"cache_control":{"type":"ephemeral"}}],
            "tool_choice": {"type":"any","disable_parallel_tool_use":true},
            "stop_sequences": ["END"],
            "temperature": 0.5,
            "top_k": 5,
            "metadata": {"user_id": crate::canonical::options::hashed_user("u1")},
            "stream": true
        })
    );
    let text = String::from_utf8(written.body).unwrap();
    assert!(
        text.contains(r#""cache_control":{"type":"ephemeral","ttl":"1h"}"#),
        "{text}"
    );
}

#[test]
fn max_tokens_defaults_and_thinking_keeps_room_for_the_answer() {
    let plain = ChatRequest::parse(br#"{"messages":[{"role":"user","content":"x"}]}"#).unwrap();
    let sent: Value =
        serde_json::from_slice(&write_body(&endpoint(None), &plain, false).unwrap().body).unwrap();
    assert_eq!(
        sent["max_tokens"],
        crate::anthropic::request::DEFAULT_MAX_TOKENS
    );
    let thinking = ChatRequest::parse(
        br#"{"messages":[{"role":"user","content":"x"}],"max_tokens":1000,"temperature":0.2,"reasoning":{"max_tokens":4000}}"#,
    )
    .unwrap();
    let sent: Value =
        serde_json::from_slice(&write_body(&endpoint(None), &thinking, false).unwrap().body)
            .unwrap();
    assert_eq!(
        sent["thinking"],
        json!({"type":"enabled","budget_tokens":4000})
    );
    assert_eq!(sent["max_tokens"], 5000);
    assert!(sent.get("temperature").is_none(), "{sent}");
}
