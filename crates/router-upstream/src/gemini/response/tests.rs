//! The Gemini answer readers on answers and streams shaped as Google's documentation shows
//! them, and the request writer.

use proptest::prelude::*;
use router_core::catalog::{Capabilities, Endpoint, Pricing};
use router_core::fallback::FailureClass;
use router_core::request::ChatRequest;
use serde_json::{Value, json};

use super::*;
use crate::event_stream::pieces::{Outcome, assemble, read_in_pieces};
use crate::gemini::request::write_body;

const FUNCTION_CALL: &str = include_str!("../../../tests/fixtures/gemini/function_call.sse");
const SAFETY: &str = include_str!("../../../tests/fixtures/gemini/safety_mid_stream.sse");
const BLOCKED: &str = include_str!("../../../tests/fixtures/gemini/prompt_blocked.json");
const RESPONSE: &str = include_str!("../../../tests/fixtures/gemini/response.json");

fn read(wire: &str) -> Vec<Outcome> {
    read_in_pieces(StreamReader::new(false), wire.as_bytes(), &[])
}

#[test]
fn function_calls_get_indices_ids_and_the_usage_on_the_last_event() {
    let outcomes = read(FUNCTION_CALL);
    let (content, calls, _) = assemble(&outcomes);
    assert_eq!(content, "I'll look that up.");
    assert_eq!(
        calls,
        [
            (
                "get_current_weather".to_owned(),
                r#"{"location": "Boston, MA"}"#.to_owned()
            ),
            (
                "get_current_weather".to_owned(),
                r#"{"location": "New York, NY"}"#.to_owned()
            ),
        ]
    );
    let Some(Outcome::Chunk(choices, finish, usage, _)) = outcomes.last() else {
        panic!("{outcomes:?}");
    };
    assert_eq!(finish, &Some(FinishReason::ToolCalls));
    let choices: Value = serde_json::from_str(choices).unwrap();
    assert_eq!(choices[0]["native_finish_reason"], "STOP");
    assert_eq!(choices[0]["delta"]["tool_calls"][1]["id"], "call_gm_1");
    assert_eq!(
        choices[0]["delta"]["reasoning_details"][0]["data"],
        "CiQBVKhc7oDCeT"
    );
    assert_eq!(
        usage,
        &Some(Usage {
            prompt_tokens: 30,
            completion_tokens: 68,
            total_tokens: 98,
            cached_tokens: 10,
            cache_write_tokens: 0,
            reasoning_tokens: 50,
        })
    );
    // Only the first chunk says who speaks.
    let roles = outcomes
        .iter()
        .filter(|it| matches!(it, Outcome::Chunk(choices, ..) if choices.contains("\"role\"")))
        .count();
    assert_eq!(roles, 1);
}

#[test]
fn a_safety_stop_mid_stream_is_a_moderation_error() {
    let outcomes = read(SAFETY);
    assert_eq!(assemble(&outcomes).0, "Here is how");
    let Some(Outcome::Error(code, message)) = outcomes.last() else {
        panic!("{outcomes:?}");
    };
    assert_eq!(code.as_deref(), Some("SAFETY"));
    let body = ProviderErrorBody {
        code: code.clone(),
        message: message.clone(),
        numeric_code: None,
    };
    assert_eq!(
        crate::error::classify(None, &body),
        FailureClass::Moderation
    );
}

proptest! {
    #[test]
    fn any_split_of_a_recorded_stream_reads_the_same(
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        which in 0..2_usize,
    ) {
        let wire = [FUNCTION_CALL, SAFETY][which];
        let whole = read(wire);
        let split = read_in_pieces(StreamReader::new(false), wire.as_bytes(), &cuts);
        prop_assert_eq!(split, whole);
    }
}

#[test]
fn a_blocked_prompt_is_an_error_and_a_max_tokens_stop_is_length() {
    let Err(BodyProblem::Error(error)) = parse_response(BLOCKED.as_bytes(), false) else {
        panic!("expected an error");
    };
    assert_eq!(error.code.as_deref(), Some("SAFETY"));
    let response = parse_response(RESPONSE.as_bytes(), false).unwrap();
    assert_eq!(response.finish_reason, Some(FinishReason::Length));
    let choices: Value = serde_json::from_str(response.choices.get()).unwrap();
    assert_eq!(
        choices,
        json!([{"index":0,"message":{"role":"assistant","content":"It is sunny in Paris.",
            "reasoning":"**Considering the city** The user asks about Paris."},
            "finish_reason":"length","native_finish_reason":"MAX_TOKENS","logprobs":null}])
    );
    assert_eq!(response.usage.reasoning_tokens, 22);
    assert_eq!(response.usage.completion_tokens, 28);
    assert_eq!(response.usage.cached_tokens, 4);
    let excluded = parse_response(RESPONSE.as_bytes(), true).unwrap();
    assert!(!excluded.choices.get().contains("reasoning"));
}

#[test]
fn a_request_becomes_the_documented_generate_content_body() {
    let body = r#"{"model":"google/gemini-2.5-flash","messages":[
        {"role":"system","content":"You are terse."},
        {"role":"user","content":[{"type":"text","text":"Weather here?"},{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}}]},
        {"role":"assistant","content":null,"tool_calls":[{"id":"call_gm_0","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}],
         "reasoning_details":[{"type":"reasoning.encrypted","data":"CiQBVKhc7oDCeT","format":"google-gemini-v1","index":0}]},
        {"role":"tool","tool_call_id":"call_gm_0","content":"Sunny"}],
        "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"additionalProperties":false}}}],
        "tool_choice":{"type":"function","function":{"name":"get_weather"}},
        "temperature":0.3,"top_p":0.9,"top_k":20,"max_tokens":500,"stop":"END","seed":7,
        "response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"}}},
        "reasoning":{"effort":"low"},"user":"u1"}"#;
    let request = ChatRequest::parse(body.as_bytes()).unwrap();
    let endpoint = Endpoint {
        provider: "google".to_owned(),
        upstream_model: "gemini-2.5-flash".to_owned(),
        pricing: Pricing::default(),
        context_length: 1_000_000,
        max_output: Some(65_536),
        supported_parameters: Vec::new(),
        capabilities: Capabilities::default(),
        traits: Default::default(),
    };
    let sent: Value =
        serde_json::from_slice(&write_body(&endpoint, &request).unwrap().body).unwrap();
    assert_eq!(
        sent,
        json!({
            "contents": [
                {"role":"user","parts":[{"text":"Weather here?"},{"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}}]},
                {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"location":"Paris"}},"thoughtSignature":"CiQBVKhc7oDCeT"}]},
                {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"content":"Sunny"}}}]}
            ],
            "systemInstruction": {"parts":[{"text":"You are terse."}]},
            "tools": [{"functionDeclarations":[{"name":"get_weather","parametersJsonSchema":{"type":"object","properties":{"location":{"type":"string"}},"additionalProperties":false}}]}],
            "toolConfig": {"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}},
            "generationConfig": {
                "temperature":0.3,"topP":0.9,"topK":20,"maxOutputTokens":500,"stopSequences":["END"],"seed":7,
                "responseMimeType":"application/json","responseJsonSchema":{"type":"object"},
                "thinkingConfig":{"thinkingBudget":1024,"includeThoughts":true}
            }
        })
    );
    assert!(!sent.to_string().contains("u1"));
}
