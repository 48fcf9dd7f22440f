//! A chat completion as OpenRouter answers it: the `chat.completion` body, and the
//! `chat.completion.chunk` events of a stream (the per-generation [`ChunkPrefix`], the usage
//! chunk, the error chunk), each with the fields the router owns and the provider's `choices`
//! copied verbatim.

use crate::json::RawJson;
use crate::json::write::{push_decimal, push_json_str, push_u64};
use crate::pricing::{Cost, Usage};
use crate::response::ChatResponse;

/// The fields the router owns in every response and chunk of one generation.
#[derive(Debug, Clone, Copy)]
pub struct Generation<'a> {
    /// Our generation id, `gen-…`.
    pub id: &'a str,
    /// Unix seconds when the request arrived.
    pub created: u64,
    /// The public id of the model that answered (`openai/gpt-5.1`).
    pub model: &'a str,
    /// Display name of the provider that answered (`OpenAI`).
    pub provider: &'a str,
}

/// An error to report inside a stream whose `200` status has already been sent.
#[derive(Debug, Clone, Copy)]
pub struct StreamError<'a> {
    /// The HTTP-style status code (an integer, as SDKs require).
    pub code: u16,
    /// A message safe to show the client.
    pub message: &'a str,
    /// OpenRouter's typed error (`provider_unavailable`, `timeout`, …).
    pub error_type: &'a str,
    /// The routing metadata, when a model answered before the stream failed.
    pub routing: Option<ModelRouting<'a>>,
}

/// `_metadata.openRouter.modelRouting` of a routed response: the models the client asked for
/// and the one that answered.
#[derive(Debug, Clone, Copy)]
pub struct ModelRouting<'a> {
    /// The requested models, in the order they were to be tried (duplicates removed).
    pub requested: &'a [&'a str],
    /// The model that answered.
    pub actual: &'a str,
}

/// Appends a non-streaming `chat.completion` body.
pub fn completion(
    out: &mut Vec<u8>,
    generation: &Generation<'_>,
    response: &ChatResponse,
    cost: &Cost,
) {
    push_completion(out, generation, response, cost, None);
}

/// Appends a non-streaming `chat.completion` body with its `_metadata` routing block.
pub fn routed_completion(
    out: &mut Vec<u8>,
    generation: &Generation<'_>,
    response: &ChatResponse,
    cost: &Cost,
    routing: &ModelRouting<'_>,
) {
    push_completion(out, generation, response, cost, Some(routing));
}

fn push_completion(
    out: &mut Vec<u8>,
    generation: &Generation<'_>,
    response: &ChatResponse,
    cost: &Cost,
    routing: Option<&ModelRouting<'_>>,
) {
    out.reserve(response.choices.get().len() + 640);
    push_identity(out, generation, b"chat.completion");
    out.extend_from_slice(b",\"system_fingerprint\":");
    match &response.system_fingerprint {
        Some(fingerprint) => push_json_str(out, fingerprint),
        None => out.extend_from_slice(b"null"),
    }
    if let Some(tier) = &response.service_tier {
        out.extend_from_slice(b",\"service_tier\":");
        push_json_str(out, tier);
    }
    out.extend_from_slice(b",\"choices\":");
    out.extend_from_slice(response.choices.get().as_bytes());
    out.extend_from_slice(b",\"usage\":");
    push_usage(out, &response.usage, cost);
    if let Some(routing) = routing {
        push_routing(out, routing);
    }
    out.push(b'}');
}

/// The constant start of every `data:` event of one stream, up to and including `"choices":`.
#[derive(Debug, Clone)]
pub struct ChunkPrefix {
    bytes: Vec<u8>,
}

impl ChunkPrefix {
    /// Renders the prefix for `generation`.
    pub fn new(generation: &Generation<'_>) -> Self {
        let mut bytes = Vec::with_capacity(192);
        bytes.extend_from_slice(b"data: ");
        push_identity(&mut bytes, generation, b"chat.completion.chunk");
        bytes.extend_from_slice(b",\"choices\":");
        Self { bytes }
    }

    /// Appends one `data:` event carrying `choices` verbatim.
    pub fn chunk(&self, out: &mut Vec<u8>, choices: &RawJson) {
        out.reserve(self.bytes.len() + choices.get().len() + 3);
        out.extend_from_slice(&self.bytes);
        out.extend_from_slice(choices.get().as_bytes());
        out.extend_from_slice(b"}\n\n");
    }

    /// Appends the usage event (`choices: []` and `usage` with its cost) that ends a stream's data.
    pub fn usage_chunk(&self, out: &mut Vec<u8>, usage: &Usage, cost: &Cost) {
        self.push_usage_chunk(out, usage, cost, None);
    }

    /// [`ChunkPrefix::usage_chunk`] with the `_metadata` routing block.
    pub fn routed_usage_chunk(
        &self,
        out: &mut Vec<u8>,
        usage: &Usage,
        cost: &Cost,
        routing: &ModelRouting<'_>,
    ) {
        self.push_usage_chunk(out, usage, cost, Some(routing));
    }

    fn push_usage_chunk(
        &self,
        out: &mut Vec<u8>,
        usage: &Usage,
        cost: &Cost,
        routing: Option<&ModelRouting<'_>>,
    ) {
        out.reserve(self.bytes.len() + 400);
        out.extend_from_slice(&self.bytes);
        out.extend_from_slice(b"[],\"usage\":");
        push_usage(out, usage, cost);
        if let Some(routing) = routing {
            push_routing(out, routing);
        }
        out.extend_from_slice(b"}\n\n");
    }
}

/// Appends the final `data:` event of a stream that failed after its `200` was sent: a top-level
/// `error` and a choice with `finish_reason: "error"`.
pub fn error_chunk(out: &mut Vec<u8>, generation: &Generation<'_>, error: &StreamError<'_>) {
    out.reserve(384 + error.message.len());
    out.extend_from_slice(b"data: ");
    push_identity(out, generation, b"chat.completion.chunk");
    out.extend_from_slice(b",\"error\":{\"code\":");
    push_u64(out, u64::from(error.code));
    out.extend_from_slice(b",\"message\":");
    push_json_str(out, error.message);
    out.extend_from_slice(b",\"metadata\":{\"error_type\":");
    push_json_str(out, error.error_type);
    out.extend_from_slice(
        b"}},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]",
    );
    if let Some(routing) = &error.routing {
        push_routing(out, routing);
    }
    out.extend_from_slice(b"}\n\n");
}

/// `{"id":…,"provider":…,"model":…,"object":…,"created":…` (no closing brace).
fn push_identity(out: &mut Vec<u8>, generation: &Generation<'_>, object: &[u8]) {
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, generation.id);
    out.extend_from_slice(b",\"provider\":");
    push_json_str(out, generation.provider);
    out.extend_from_slice(b",\"model\":");
    push_json_str(out, generation.model);
    out.extend_from_slice(b",\"object\":\"");
    out.extend_from_slice(object);
    out.extend_from_slice(b"\",\"created\":");
    push_u64(out, generation.created);
}

/// `,"_metadata":{"openRouter":{"modelRouting":{"requested":[…],"actual":…}}}`.
fn push_routing(out: &mut Vec<u8>, routing: &ModelRouting<'_>) {
    out.extend_from_slice(b",\"_metadata\":{\"openRouter\":{\"modelRouting\":{\"requested\":[");
    for (idx, model) in routing.requested.iter().enumerate() {
        if idx > 0 {
            out.push(b',');
        }
        push_json_str(out, model);
    }
    out.extend_from_slice(b"],\"actual\":");
    push_json_str(out, routing.actual);
    out.extend_from_slice(b"}}}");
}

fn push_usage(out: &mut Vec<u8>, usage: &Usage, cost: &Cost) {
    out.extend_from_slice(b"{\"prompt_tokens\":");
    push_u64(out, usage.prompt_tokens);
    out.extend_from_slice(b",\"completion_tokens\":");
    push_u64(out, usage.completion_tokens);
    out.extend_from_slice(b",\"total_tokens\":");
    push_u64(out, usage.total_tokens);
    out.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":");
    push_u64(out, usage.cached_tokens);
    out.extend_from_slice(b",\"cache_write_tokens\":");
    push_u64(out, usage.cache_write_tokens);
    out.extend_from_slice(b"},\"completion_tokens_details\":{\"reasoning_tokens\":");
    push_u64(out, usage.reasoning_tokens);
    out.extend_from_slice(b"},\"cost\":");
    push_decimal(out, cost.total);
    out.extend_from_slice(
        b",\"is_byok\":false,\"cost_details\":{\"upstream_inference_cost\":null,\"upstream_inference_prompt_cost\":",
    );
    push_decimal(out, cost.prompt);
    out.extend_from_slice(b",\"upstream_inference_completions_cost\":");
    push_decimal(out, cost.completion);
    out.extend_from_slice(b"}}");
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::catalog::Pricing;
    use crate::pricing::cost;
    use crate::render::DONE;

    fn generation() -> Generation<'static> {
        Generation {
            id: "gen-1700000000-abc",
            created: 1_700_000_000,
            model: "openai/gpt-5.1",
            provider: "Open\"AI",
        }
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap_or_else(|err| {
            panic!("{err}: {}", String::from_utf8_lossy(bytes));
        })
    }

    #[test]
    fn completion_owns_identity_and_usage_and_keeps_choices_verbatim() {
        let choices = r#"[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop","x":[1, 2]}]"#;
        let response = ChatResponse {
            upstream_id: Some("chatcmpl-1".to_owned()),
            choices: RawJson::parse(choices).unwrap(),
            usage: Usage {
                prompt_tokens: 10,
                completion_tokens: 4,
                total_tokens: 14,
                cached_tokens: 2,
                cache_write_tokens: 0,
                reasoning_tokens: 1,
            },
            finish_reason: None,
            system_fingerprint: None,
            service_tier: Some("default".to_owned()),
        };
        let pricing = Pricing {
            prompt: 1.25e-6,
            completion: 1e-5,
            ..Pricing::default()
        };
        let cost = cost(&pricing, &response.usage);
        let mut out = Vec::new();
        completion(&mut out, &generation(), &response, &cost);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains(choices), "{text}");
        let body = json(&out);
        assert_eq!(body["id"], "gen-1700000000-abc");
        assert_eq!(body["provider"], "Open\"AI");
        assert_eq!(body["model"], "openai/gpt-5.1");
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["created"], 1_700_000_000);
        assert!(body["system_fingerprint"].is_null());
        assert!(body.as_object().unwrap().contains_key("system_fingerprint"));
        assert_eq!(body["service_tier"], "default");
        let usage = &body["usage"];
        assert_eq!(usage["prompt_tokens"], 10);
        assert_eq!(usage["total_tokens"], 14);
        assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 2);
        assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 1);
        assert_eq!(usage["is_byok"], false);
        let close = |value: &Value, expected: f64| {
            (value.as_f64().unwrap() - expected).abs() <= expected * 1e-11
        };
        assert!(close(&usage["cost"], cost.total), "{usage}");
        let details = &usage["cost_details"];
        assert!(details["upstream_inference_cost"].is_null());
        assert!(close(
            &details["upstream_inference_prompt_cost"],
            cost.prompt
        ));
        assert!(close(
            &details["upstream_inference_completions_cost"],
            cost.completion
        ));
    }

    #[test]
    fn stream_events_share_the_prefix_and_end_with_usage() {
        let prefix = ChunkPrefix::new(&generation());
        let choices =
            RawJson::parse(r#"[{"index":0,"delta":{"content":"a"},"finish_reason":null}]"#)
                .unwrap();
        let mut out = Vec::new();
        prefix.chunk(&mut out, &choices);
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 5,
            total_tokens: 8,
            ..Usage::default()
        };
        prefix.usage_chunk(
            &mut out,
            &usage,
            &Cost {
                total: 0.5,
                prompt: 0.25,
                completion: 0.25,
            },
        );
        out.extend_from_slice(DONE);
        let text = String::from_utf8(out).unwrap();
        let events: Vec<&str> = text.split_terminator("\n\n").collect();
        assert_eq!(events.len(), 3, "{text}");
        let first = json(events[0].strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["choices"][0]["delta"]["content"], "a");
        let last = json(events[1].strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(last["id"], first["id"]);
        assert_eq!(last["created"], first["created"]);
        assert_eq!(last["choices"], Value::Array(Vec::new()));
        assert_eq!(last["usage"]["completion_tokens"], 5);
        assert_eq!(last["usage"]["cost"], 0.5);
        assert_eq!(events[2], "data: [DONE]");
    }

    #[test]
    fn error_chunk_has_an_integer_code_and_a_terminating_choice() {
        let mut out = Vec::new();
        error_chunk(
            &mut out,
            &generation(),
            &StreamError {
                code: 502,
                message: "upstream \"failed\"",
                error_type: "provider_unavailable",
                routing: None,
            },
        );
        assert!(out.ends_with(b"\n\n"));
        let text = String::from_utf8(out).unwrap();
        let chunk = json(text.trim_end().strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(chunk["error"]["code"], 502);
        assert_eq!(chunk["error"]["message"], "upstream \"failed\"");
        assert_eq!(
            chunk["error"]["metadata"]["error_type"],
            "provider_unavailable"
        );
        assert_eq!(chunk["choices"][0]["finish_reason"], "error");
        assert_eq!(chunk["choices"][0]["index"], 0);
        for key in ["id", "object", "created", "model", "provider"] {
            assert!(chunk.get(key).is_some(), "{key}");
        }
        assert!(chunk.get("_metadata").is_none(), "{chunk}");
    }

    #[test]
    fn routed_bodies_and_last_chunks_carry_model_routing() {
        let requested = ["a/primary", "b/\"fallback\""];
        let routing = ModelRouting {
            requested: &requested,
            actual: "b/\"fallback\"",
        };
        let expected = serde_json::json!({
            "openRouter": {"modelRouting": {"requested": requested, "actual": requested[1]}}
        });
        let response = ChatResponse {
            upstream_id: None,
            choices: RawJson::empty_array(),
            usage: Usage::default(),
            finish_reason: None,
            system_fingerprint: None,
            service_tier: None,
        };
        let mut out = Vec::new();
        routed_completion(
            &mut out,
            &generation(),
            &response,
            &Cost::default(),
            &routing,
        );
        let body = json(&out);
        assert_eq!(body["_metadata"], expected);
        assert_eq!(body["usage"]["cost"], 0);

        let prefix = ChunkPrefix::new(&generation());
        let mut out = Vec::new();
        prefix.routed_usage_chunk(&mut out, &Usage::default(), &Cost::default(), &routing);
        let text = String::from_utf8(out).unwrap();
        let chunk = json(text.trim_end().strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(chunk["_metadata"], expected);
        assert_eq!(chunk["choices"], serde_json::json!([]));

        let mut out = Vec::new();
        error_chunk(
            &mut out,
            &generation(),
            &StreamError {
                code: 502,
                message: "cut",
                error_type: "provider_unavailable",
                routing: Some(routing),
            },
        );
        let text = String::from_utf8(out).unwrap();
        let chunk = json(text.trim_end().strip_prefix("data: ").unwrap().as_bytes());
        assert_eq!(chunk["_metadata"], expected);
        assert_eq!(chunk["choices"][0]["finish_reason"], "error");

        // Without routing the bodies are unchanged.
        let mut out = Vec::new();
        completion(&mut out, &generation(), &response, &Cost::default());
        assert!(json(&out).get("_metadata").is_none());
    }
}
