//! Writes the upstream request body for an OpenAI-compatible provider, straight from raw JSON.
//!
//! No `serde_json::Value` is built: `messages` and every pass-through field are copied byte for
//! byte from the client's body, and only the model id and the keys are re-encoded. Three of
//! OpenRouter's fields are translated rather than copied: `reasoning` (and the legacy
//! `include_reasoning`) becomes OpenAI's `reasoning_effort`, with `exclude` enforced on the
//! answer; `user` is sent as a stable hash.

use router_core::catalog::Endpoint;
use router_core::parameters;
use router_core::request::ChatRequest;

use crate::canonical::options::{Effort, OptionError, Reasoning, hashed_user};

use crate::exchange::Written;

/// The body for `endpoint`: `model` (its upstream name), `messages`, every pass-through field
/// the endpoint takes ([`parameters::forwarded`]) in the client's order, and
/// `stream`/`stream_options` when streaming (usage is always asked for).
pub(crate) fn write_body(
    endpoint: &Endpoint,
    request: &ChatRequest<'_>,
    stream: bool,
) -> Result<Written, OptionError> {
    let upstream_model = endpoint.upstream_model.as_str();
    let supported = endpoint.supported_parameters.as_slice();
    let passthrough_len: usize = request
        .passthrough
        .iter()
        .map(|(key, raw)| key.len() + raw.get().len() + 4)
        .sum();
    let mut body = Vec::with_capacity(
        64 + upstream_model.len() + request.messages_raw.get().len() + passthrough_len,
    );
    body.extend_from_slice(b"{\"model\":");
    write_json_string(&mut body, upstream_model);
    body.extend_from_slice(b",\"messages\":");
    body.extend_from_slice(request.messages_raw.get().as_bytes());
    let mut reasoning_fields = false;
    let mut sent_effort = false;
    for (key, raw) in &request.passthrough {
        match key.as_ref() {
            "reasoning" | "include_reasoning" => {
                reasoning_fields = true;
                continue;
            }
            "reasoning_effort" => {
                reasoning_fields = true;
                sent_effort = parameters::forwarded(key, supported);
            }
            "user" => {
                // Only a hash of the end user's id goes upstream; anything but a string is
                // not an id and is left out.
                if let Ok(user) = serde_json::from_str::<std::borrow::Cow<'_, str>>(raw.get()) {
                    body.extend_from_slice(b",\"user\":");
                    write_json_string(&mut body, &hashed_user(&user));
                }
                continue;
            }
            _ => {}
        }
        if !parameters::forwarded(key, supported) {
            continue;
        }
        body.push(b',');
        write_json_string(&mut body, key);
        body.push(b':');
        body.extend_from_slice(raw.get().as_bytes());
    }
    let reasoning = match reasoning_fields {
        true => Reasoning::read(request)?,
        false => Reasoning::default(),
    };
    if reasoning.enabled && !sent_effort && parameters::forwarded("reasoning", supported) {
        body.extend_from_slice(b",\"reasoning_effort\":");
        write_json_string(&mut body, effort_of(&reasoning).as_openai());
    }
    if stream {
        body.extend_from_slice(b",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    }
    body.push(b'}');
    Ok(Written {
        body,
        exclude_reasoning: reasoning.exclude,
    })
}

/// The effort for OpenAI: the one asked for, else one that fits a thinking budget of
/// `max_tokens`, else `medium`.
fn effort_of(reasoning: &Reasoning) -> Effort {
    match (reasoning.effort, reasoning.max_tokens) {
        (Some(effort), _) => effort,
        (None, Some(0..=2048)) => Effort::Low,
        (None, Some(2049..=16_384)) | (None, None) => Effort::Medium,
        (None, Some(_)) => Effort::High,
    }
}

/// Writes `text` as a JSON string.
fn write_json_string(body: &mut Vec<u8>, text: &str) {
    // Writing a `str` into a `Vec` cannot fail: serde_json only errors on I/O or non-string keys.
    if serde_json::to_writer(&mut *body, text).is_err() {
        body.extend_from_slice(b"\"\"");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;

    fn parse(body: &str) -> ChatRequest<'_> {
        ChatRequest::parse(body.as_bytes()).unwrap()
    }

    /// An endpoint named `model` upstream that supports `supported` (empty: unlisted).
    fn endpoint(model: &str, supported: &[&str]) -> Endpoint {
        Endpoint {
            provider: "p".to_owned(),
            upstream_model: model.to_owned(),
            pricing: router_core::catalog::Pricing::default(),
            context_length: 8192,
            max_output: None,
            supported_parameters: supported.iter().map(|it| (*it).to_owned()).collect(),
            capabilities: router_core::catalog::Capabilities::default(),
            traits: Default::default(),
        }
    }

    #[test]
    fn carries_model_messages_and_passthrough_verbatim() {
        let client_body = r#"{"model":"openrouter/auto","temperature":0.7,"messages":[{"role":"user","content":"h\u00e9 \"q\""}],"stream":true,"stream_options":{"include_usage":false},"x_vendor":{"deep":[1, 2.50, null]},"tools":[{"type":"function","function":{"name":"f"}}]}"#;
        let request = parse(client_body);
        let body = String::from_utf8(
            write_body(&endpoint("gpt-4o-mini", &[]), &request, false)
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(
            body,
            r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"h\u00e9 \"q\""}],"temperature":0.7,"x_vendor":{"deep":[1, 2.50, null]},"tools":[{"type":"function","function":{"name":"f"}}]}"#
        );
        let value: Value = serde_json::from_str(&body).unwrap();
        assert!(value.get("stream").is_none() && value.get("stream_options").is_none());
    }

    #[test]
    fn streaming_asks_for_usage() {
        let request = parse(r#"{"messages":[{"role":"user","content":"x"}],"seed":7}"#);
        let body = write_body(&endpoint("m", &[]), &request, true)
            .unwrap()
            .body;
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["stream"], Value::Bool(true));
        assert_eq!(value["stream_options"]["include_usage"], Value::Bool(true));
        assert_eq!(value["seed"], 7);
        assert_eq!(value["model"], "m");
    }

    #[test]
    fn escapes_model_ids_and_keys() {
        // The key arrives escaped in the client's body and is decoded by the parser; it must be
        // re-escaped on the way out.
        let client_body =
            r#"{"messages":[{"role":"user","content":"x"}],"we\"ird\\key\n":1,"caf\u00e9":"x"}"#;
        let request = parse(client_body);
        let body = write_body(&endpoint("vendor/\"model\"\u{1}", &[]), &request, false)
            .unwrap()
            .body;
        let value: BTreeMap<String, Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["model"], "vendor/\"model\"\u{1}");
        assert_eq!(value["we\"ird\\key\n"], 1);
        assert_eq!(value["café"], "x");
        assert_eq!(value.len(), 4);
    }

    #[test]
    fn leaves_out_tuning_parameters_the_endpoint_does_not_support() {
        let request = parse(
            r#"{"messages":[{"role":"user","content":"x"}],"temperature":0.2,"top_k":40,"repetition_penalty":1.1,"x_vendor":1,"tools":[]}"#,
        );
        let openai = endpoint("gpt", &["temperature", "tools"]);
        let value: BTreeMap<String, Value> =
            serde_json::from_slice(&write_body(&openai, &request, false).unwrap().body).unwrap();
        let keys: Vec<&str> = value.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["messages", "model", "temperature", "tools", "x_vendor"]
        );
        let unlisted: BTreeMap<String, Value> = serde_json::from_slice(
            &write_body(&endpoint("m", &[]), &request, false)
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(
            unlisted["top_k"], 40,
            "an endpoint that lists nothing gets everything"
        );
    }

    #[test]
    fn reasoning_becomes_reasoning_effort_and_user_a_hash() {
        let request = parse(
            r#"{"messages":[{"role":"user","content":"x"}],"reasoning":{"effort":"high","max_tokens":1000,"exclude":true},"include_reasoning":true,"user":"alice"}"#,
        );
        let written = write_body(&endpoint("m", &[]), &request, false).unwrap();
        assert!(written.exclude_reasoning);
        let value: BTreeMap<String, Value> = serde_json::from_slice(&written.body).unwrap();
        let keys: Vec<&str> = value.keys().map(String::as_str).collect();
        assert_eq!(keys, ["messages", "model", "reasoning_effort", "user"]);
        assert_eq!(value["reasoning_effort"], "high");
        assert_eq!(value["user"], hashed_user("alice"));
        let budget = parse(
            r#"{"messages":[{"role":"user","content":"x"}],"reasoning":{"max_tokens":1000}}"#,
        );
        let value: Value = serde_json::from_slice(
            &write_body(&endpoint("m", &[]), &budget, false)
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(value["reasoning_effort"], "low");
        let unsupported = endpoint("m", &["temperature"]);
        let value: Value =
            serde_json::from_slice(&write_body(&unsupported, &request, false).unwrap().body)
                .unwrap();
        assert!(value.get("reasoning_effort").is_none(), "{value}");
        let bad =
            parse(r#"{"messages":[{"role":"user","content":"x"}],"reasoning":{"effort":"huge"}}"#);
        let err = write_body(&endpoint("m", &[]), &bad, false).unwrap_err();
        assert_eq!(err.field, "reasoning.effort");
    }
}
