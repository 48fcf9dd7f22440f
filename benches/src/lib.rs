//! Shared inputs for the criterion benches: realistic request bodies, catalogs of any size,
//! provider responses and streams, built the same way every run so results compare.
//!
//! The fixtures are deterministic (no randomness, no clock): a bench run measures code, not
//! input variation.

use std::fmt::Write as _;

use router_core::catalog::{
    Capabilities, Catalog, DataCollection, Endpoint, EndpointTraits, Model, Pricing,
};
use router_core::json::RawJson;
use router_core::pricing::Usage;
use router_core::response::{ChatResponse, FinishReason};

/// About as many bytes of JSON text as one token, the same rule as
/// [`router_core::request::estimate_tokens`].
const BYTES_PER_TOKEN: usize = 4;

/// Words for generated message text: plain prose with the odd character JSON must escape.
const WORDS: &[&str] = &[
    "the",
    "router",
    "sends",
    "each",
    "request",
    "to",
    "a",
    "provider",
    "and",
    "streams",
    "tokens",
    "back",
    "while",
    "keeping",
    "costs",
    "low;",
    "\"quoted\"",
    "text",
    "with",
    "newlines\n",
    "and",
    "unicode",
    "café",
    "→",
    "tabs\t",
    "numbers",
    "42",
    "3.14",
];

/// A small chat request: a system prompt and one user turn, with the sampling parameters a
/// typical SDK sends. About 120 bytes of messages.
pub fn small_request_body(stream: bool) -> Vec<u8> {
    request_body_with_prompt_tokens(0, stream)
}

/// A chat request whose messages hold at least `prompt_tokens` tokens (by the four-bytes rule),
/// as a multi-turn conversation: system prompt, then user and assistant turns of about 200
/// tokens each, ending with a user turn.
pub fn request_body_with_prompt_tokens(prompt_tokens: usize, stream: bool) -> Vec<u8> {
    let mut messages = vec![serde_json::json!({
        "role": "system",
        "content": "You are a helpful assistant. Answer briefly and cite your sources."
    })];
    let mut bytes = 0;
    let mut turn = 0;
    loop {
        let role = if turn % 2 == 0 { "user" } else { "assistant" };
        let text = if prompt_tokens == 0 {
            "What is the capital of France, and which river runs through it?".to_owned()
        } else {
            prose(turn, 200 * BYTES_PER_TOKEN)
        };
        bytes += text.len();
        messages.push(serde_json::json!({"role": role, "content": text}));
        turn += 1;
        if role == "user" && bytes >= prompt_tokens * BYTES_PER_TOKEN {
            break;
        }
    }
    let body = serde_json::json!({
        "model": "openai/gpt-5.1",
        "messages": messages,
        "temperature": 0.7,
        "top_p": 0.95,
        "max_tokens": 1024,
        "stream": stream,
        "user": "user-1234",
        "metadata": {"team": "search", "trace": "abc123"},
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Deterministic prose of at least `min_bytes` bytes; `seed` varies the word order.
fn prose(seed: usize, min_bytes: usize) -> String {
    let mut text = String::with_capacity(min_bytes + 16);
    let mut idx = seed;
    while text.len() < min_bytes {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS[idx % WORDS.len()]);
        idx = idx.wrapping_mul(31).wrapping_add(7);
    }
    text
}

/// A catalog of `n_models` models named `author-{i % 16}/model-{i}`; every third model has a
/// second provider.
pub fn catalog(n_models: usize) -> Catalog {
    let models = (0..n_models)
        .map(|idx| {
            let mut endpoints = vec![endpoint("openai", idx)];
            if idx % 3 == 0 {
                endpoints.push(endpoint("together", idx));
            }
            Model {
                id: model_id(idx).into(),
                name: format!("Model {idx}"),
                created: 1_700_000_000 + idx as u64,
                description: format!("Bench model number {idx}."),
                endpoints,
            }
        })
        .collect();
    match Catalog::new(models) {
        Ok(catalog) => catalog,
        Err(err) => panic!("bench catalog is invalid: {err}"),
    }
}

/// A catalog of `n_models` models (ids as [`model_id`]), each served by `n_endpoints` providers
/// `p0`, `p1`, … at growing prices, with quantizations, data policies and configured speeds
/// that differ: the input of provider selection.
pub fn selection_catalog(n_models: usize, n_endpoints: usize) -> Catalog {
    let models = (0..n_models)
        .map(|idx| Model {
            id: model_id(idx).into(),
            name: format!("Model {idx}"),
            created: 1_700_000_000 + idx as u64,
            description: format!("Bench model number {idx}."),
            endpoints: (0..n_endpoints)
                .map(|at| {
                    let mut endpoint = endpoint(&format!("p{at}"), idx);
                    endpoint.pricing.prompt *= 1.0 + at as f64;
                    endpoint.pricing.completion *= 1.0 + at as f64;
                    endpoint.traits = EndpointTraits {
                        provider_name: format!("Provider {at}"),
                        quantization: Some(["fp8", "bf16"][at % 2].to_owned()),
                        data_collection: if at % 2 == 0 {
                            DataCollection::Allow
                        } else {
                            DataCollection::Deny
                        },
                        zdr: at == 1,
                        latency: Some(0.2 + 0.1 * at as f64),
                        throughput: Some(100.0 - 10.0 * at as f64),
                    };
                    endpoint
                })
                .collect(),
        })
        .collect();
    match Catalog::new(models) {
        Ok(catalog) => catalog,
        Err(err) => panic!("bench catalog is invalid: {err}"),
    }
}

/// A `provider` object that sets every member OpenRouter documents.
pub const FULL_PROVIDER_OBJECT: &str = r#"{"order":["p2","Provider 1"],"allow_fallbacks":true,"only":["p0","p1","p2","p3"],"ignore":["p9"],"sort":{"by":"throughput","partition":"model"},"max_price":{"prompt":"100","completion":100,"request":1},"require_parameters":true,"data_collection":"allow","zdr":false,"quantizations":["fp8","bf16","unknown"],"preferred_min_throughput":{"p50":10,"p90":5},"preferred_max_latency":2,"enforce_distillable_text":false}"#;

/// [`FULL_PROVIDER_OBJECT`] without `order` and `sort`: every member still set, and the
/// endpoints load-balanced.
pub const BALANCED_PROVIDER_OBJECT: &str = r#"{"allow_fallbacks":true,"only":["p0","p1","p2","p3"],"ignore":["p9"],"max_price":{"prompt":"100","completion":100,"request":1},"require_parameters":true,"data_collection":"allow","zdr":false,"quantizations":["fp8","bf16","unknown"],"preferred_min_throughput":{"p50":10,"p90":5},"preferred_max_latency":2,"enforce_distillable_text":false}"#;

/// The id of model `idx` of [`catalog`].
pub fn model_id(idx: usize) -> String {
    format!("author-{}/model-{idx}", idx % 16)
}

fn endpoint(provider: &str, idx: usize) -> Endpoint {
    Endpoint {
        provider: provider.to_owned(),
        upstream_model: format!("upstream-model-{idx}"),
        pricing: Pricing {
            prompt: 1.25e-6,
            completion: 1e-5,
            cache_read: Some(1.25e-7),
            ..Pricing::default()
        },
        context_length: 128_000,
        max_output: Some(16_384),
        supported_parameters: [
            "temperature",
            "top_p",
            "max_tokens",
            "tools",
            "response_format",
        ]
        .map(str::to_owned)
        .into(),
        capabilities: Capabilities {
            tools: true,
            vision: idx.is_multiple_of(2),
            structured_output: true,
        },
        traits: Default::default(),
    }
}

/// The `choices` of a non-streaming answer of about `completion_bytes` bytes of text, in
/// OpenAI's shape.
pub fn response_choices(completion_bytes: usize) -> RawJson {
    let choices = serde_json::json!([{
        "index": 0,
        "message": {"role": "assistant", "content": prose(3, completion_bytes), "refusal": null},
        "logprobs": null,
        "finish_reason": "stop",
    }]);
    raw(&choices)
}

/// A canonical response as a provider client produces it, with `completion_bytes` of text.
pub fn chat_response(completion_bytes: usize) -> ChatResponse {
    ChatResponse {
        upstream_id: Some("chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT".to_owned()),
        choices: response_choices(completion_bytes),
        usage: usage(),
        finish_reason: Some(FinishReason::Stop),
        system_fingerprint: Some("fp_44709d6fcb".to_owned()),
        service_tier: Some("default".to_owned()),
    }
}

/// Token counts of a typical short exchange.
pub fn usage() -> Usage {
    Usage {
        prompt_tokens: 1_200,
        completion_tokens: 180,
        total_tokens: 1_380,
        cached_tokens: 1_024,
        cache_write_tokens: 0,
        reasoning_tokens: 0,
    }
}

/// The `choices` of one stream chunk carrying one word.
pub fn chunk_choices() -> RawJson {
    raw(&serde_json::json!([{
        "index": 0,
        "delta": {"content": " river"},
        "logprobs": null,
        "finish_reason": null,
    }]))
}

/// A provider's streaming answer as it arrives on the wire: `n_chunks` `data:` events of one
/// word each in OpenAI's shape, a finish chunk, a usage chunk and `data: [DONE]`.
pub fn provider_stream(n_chunks: usize) -> Vec<u8> {
    let mut out = String::new();
    let prefix = r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-5.1-2025-11-13","service_tier":"default","system_fingerprint":"fp_44709d6fcb","choices":"#;
    for idx in 0..n_chunks {
        let word = WORDS[idx % WORDS.len()];
        let word = serde_json::to_string(&format!(" {word}")).unwrap_or_default();
        let _ = write!(
            out,
            "{prefix}[{{\"index\":0,\"delta\":{{\"content\":{word}}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        );
    }
    let _ = write!(
        out,
        "{prefix}[{{\"index\":0,\"delta\":{{}},\"logprobs\":null,\"finish_reason\":\"stop\"}}]}}\n\n"
    );
    let _ = write!(
        out,
        "{prefix}[],\"usage\":{{\"prompt_tokens\":1200,\"completion_tokens\":{n_chunks},\"total_tokens\":{}}}}}\n\ndata: [DONE]\n\n",
        1200 + n_chunks
    );
    out.into_bytes()
}

fn raw(value: &serde_json::Value) -> RawJson {
    match RawJson::parse(&value.to_string()) {
        Ok(raw) => raw,
        Err(err) => panic!("bench fixture is not JSON: {err}"),
    }
}

/// Anthropic's streaming answer of `n_chunks` words, as Anthropic sends it: `message_start`,
/// a text block of one `text_delta` per word, `message_delta` with the stop reason and usage,
/// `message_stop`.
pub fn anthropic_stream(n_chunks: usize) -> Vec<u8> {
    let mut out = String::new();
    out.push_str("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1200,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n");
    out.push_str("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n");
    for idx in 0..n_chunks {
        let word =
            serde_json::to_string(&format!(" {}", WORDS[idx % WORDS.len()])).unwrap_or_default();
        let _ = write!(
            out,
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{word}}}}}\n\n"
        );
    }
    let _ = write!(
        out,
        "event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\n\nevent: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{n_chunks}}}}}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
    );
    out.into_bytes()
}

/// Gemini's streaming answer of `n_chunks` words (`streamGenerateContent?alt=sse`): one
/// `GenerateContentResponse` per word with its usage so far, the last with `finishReason`.
pub fn gemini_stream(n_chunks: usize) -> Vec<u8> {
    let mut out = String::new();
    for idx in 0..n_chunks {
        let word =
            serde_json::to_string(&format!(" {}", WORDS[idx % WORDS.len()])).unwrap_or_default();
        let finish = match idx + 1 == n_chunks {
            true => ",\"finishReason\":\"STOP\"",
            false => "",
        };
        let _ = write!(
            out,
            "data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": {word}}}],\"role\": \"model\"}}{finish},\"index\": 0}}],\"usageMetadata\": {{\"promptTokenCount\": 1200,\"candidatesTokenCount\": {},\"totalTokenCount\": {}}},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"mEq1aPa_LpWg1dkP5Ni1gAM\"}}\r\n\r\n",
            idx + 1,
            1201 + idx
        );
    }
    out.into_bytes()
}

/// A `redis-server` on a free loopback port, for the benches of what replicas share in Redis;
/// killed when dropped.
pub struct RedisServer {
    child: std::process::Child,
    port: u16,
}

impl RedisServer {
    /// Starts one and waits until it listens; `None` when `redis-server` cannot be run.
    pub fn start() -> Option<Self> {
        use std::process::{Command, Stdio};
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir", "/tmp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = Self { child, port };
        for _ in 0..500 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        None
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use router_core::request::ChatRequest;

    use super::*;

    #[test]
    fn request_bodies_parse_and_reach_their_size() {
        let small = small_request_body(false);
        let parsed = ChatRequest::parse(&small).unwrap();
        assert_eq!(parsed.messages.len(), 2);
        assert!(!parsed.stream);

        let large = request_body_with_prompt_tokens(4096, true);
        let parsed = ChatRequest::parse(&large).unwrap();
        assert!(parsed.stream);
        assert!(parsed.features().prompt_tokens_estimate >= 4096);
        assert_eq!(
            parsed.messages.last().unwrap().role,
            router_core::request::Role::User
        );
        // The escapes in the prose survive the round trip.
        assert!(parsed.messages[1].text().contains('"'));
    }

    #[test]
    fn catalog_has_the_requested_models() {
        let catalog = catalog(100);
        assert_eq!(catalog.len(), 100);
        let idx = catalog.find(&model_id(99)).unwrap();
        assert_eq!(catalog.model(idx).endpoints.len(), 2);
        assert_eq!(
            catalog
                .model(catalog.find(&model_id(1)).unwrap())
                .endpoints
                .len(),
            1
        );
    }

    #[test]
    fn provider_stream_is_well_formed_sse() {
        let stream = String::from_utf8(provider_stream(5)).unwrap();
        let events: Vec<&str> = stream.split_terminator("\n\n").collect();
        assert_eq!(events.len(), 5 + 3);
        for event in &events[..events.len() - 1] {
            let json = event.strip_prefix("data: ").unwrap();
            serde_json::from_str::<serde_json::Value>(json).unwrap();
        }
        assert_eq!(events.last().unwrap(), &"data: [DONE]");
        serde_json::from_str::<serde_json::Value>(chunk_choices().get()).unwrap();
        assert!(chat_response(500).choices.get().len() > 500);
    }

    #[test]
    fn every_format_replays_its_stream_whole() {
        use router_upstream::ProviderKind;
        use router_upstream::replay::read_stream;
        for (kind, wire, expected) in [
            (ProviderKind::OpenAiCompatible, provider_stream(20), 22),
            (ProviderKind::Anthropic, anthropic_stream(20), 22),
            (ProviderKind::Gemini, gemini_stream(20), 20),
        ] {
            let mut text = String::new();
            let n_chunks = read_stream(kind, &wire, 7, |chunk| {
                let choices: serde_json::Value = serde_json::from_str(chunk.choices.get()).unwrap();
                if let Some(content) = choices[0]["delta"]["content"].as_str() {
                    text.push_str(content);
                }
            });
            assert_eq!(n_chunks, Ok(expected), "{kind:?}");
            assert_eq!(text.split_whitespace().count(), 20, "{kind:?}: {text}");
        }
    }
}
