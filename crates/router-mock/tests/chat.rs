//! The OpenAI wire format over real HTTP: completion and chunk shapes, usage, prompt caching,
//! tool calls, and the side endpoints.

mod support;

use router_mock::{Behavior, MockConfig, MockProvider};
use serde_json::{Value, json};
use support::{chat, chat_stream, client, post, read_stream, start};

#[tokio::test]
async fn non_streaming_answer_has_openai_shape_and_deterministic_usage() {
    let mock = MockProvider::start(MockConfig::default()).await.unwrap();
    let body = json!({
        "model": "openai/gpt-mock",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is the capital"},
                {"type": "image_url", "image_url": {"url": "data:x"}},
                {"type": "text", "text": "of France, and why is it that city?"}
            ]}
        ]
    });
    let response = post(&mock, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let completion: Value = response.json().await.unwrap();

    let user_text = "What is the capital\nof France, and why is it that city?";
    let reply = format!("Mock reply to: {}", &user_text[..40]);
    assert!(
        completion["id"]
            .as_str()
            .unwrap()
            .starts_with("chatcmpl-mock-")
    );
    assert_eq!(completion["object"], "chat.completion");
    assert!(completion["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(completion["model"], "openai/gpt-mock");
    assert_eq!(completion["system_fingerprint"], "fp_mock");
    let choice = &completion["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], reply.as_str());
    assert_eq!(choice["finish_reason"], "stop");
    assert!(choice["logprobs"].is_null());
    assert!(choice["message"].get("tool_calls").is_none());

    let usage = &completion["usage"];
    let prompt_chars = "Be brief.".len() + user_text.len();
    let words = reply.split_whitespace().count() as u64;
    assert_eq!(usage["prompt_tokens"], (prompt_chars / 4) as u64);
    assert_eq!(usage["completion_tokens"], words);
    assert_eq!(usage["total_tokens"], (prompt_chars / 4) as u64 + words);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 0);
}

#[tokio::test]
async fn scripted_reply_and_token_override_are_used() {
    let mock = start([(
        "m",
        Behavior {
            reply: Some("Exactly this text".to_owned()),
            completion_tokens: Some(42),
            ..Behavior::default()
        },
    )])
    .await;
    let completion: Value = post(&mock, &chat("m", "x")).await.json().await.unwrap();
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        "Exactly this text"
    );
    assert_eq!(completion["usage"]["completion_tokens"], 42);
    // A one-character prompt still counts as one token.
    assert_eq!(completion["usage"]["prompt_tokens"], 1);
    assert_eq!(completion["usage"]["total_tokens"], 43);

    let other: Value = post(&mock, &chat("other", "hi"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        other["choices"][0]["message"]["content"],
        "Mock reply to: hi"
    );
}

#[tokio::test]
async fn stream_sends_one_chunk_per_word_then_finish_and_done() {
    let mock = start([(
        "m",
        Behavior {
            reply: Some("one two three".to_owned()),
            ..Behavior::default()
        },
    )])
    .await;
    let response = post(&mock, &chat_stream("m", "count", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let read = read_stream(response).await;
    assert!(!read.cut);
    assert_eq!(read.events.last().unwrap(), "[DONE]");
    assert_eq!(read.contents(), ["one ", "two ", "three"]);

    let chunks = read.chunks();
    assert_eq!(chunks.len(), 4, "three words and the finish chunk");
    let id = chunks[0]["id"].as_str().unwrap();
    for chunk in &chunks {
        assert_eq!(chunk["id"], id);
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "m");
        assert!(chunk["created"].is_u64());
        assert!(chunk.get("usage").is_none());
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(
        chunks[..3]
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn stream_sends_a_usage_chunk_only_when_asked() {
    let mock = start([(
        "m",
        Behavior {
            reply: Some("alpha beta".to_owned()),
            ..Behavior::default()
        },
    )])
    .await;
    let read = read_stream(post(&mock, &chat_stream("m", "abcdefgh", true)).await).await;
    assert_eq!(read.events.last().unwrap(), "[DONE]");
    let chunks = read.chunks();
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["object"], "chat.completion.chunk");
    assert_eq!(usage_chunk["id"], chunks[0]["id"]);
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 2);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 2);
    assert_eq!(usage_chunk["usage"]["total_tokens"], 4);
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "stop"
    );
    assert_eq!(
        chunks.iter().filter(|c| c.get("usage").is_some()).count(),
        1
    );
}

#[tokio::test]
async fn paced_stream_delivers_every_chunk() {
    let mock = start([(
        "m",
        Behavior {
            reply: Some("a b c d".to_owned()),
            tokens_per_second: Some(200.0),
            ..Behavior::default()
        },
    )])
    .await;
    let read = read_stream(post(&mock, &chat_stream("m", "x", false)).await).await;
    assert_eq!(read.contents(), ["a ", "b ", "c ", "d"]);
    assert_eq!(read.events.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn repeated_prompt_prefix_reports_cached_tokens() {
    let mock = MockProvider::start(MockConfig::default()).await.unwrap();
    let system = "You are a careful assistant who answers briefly.";
    let first_turn = json!({"model": "m", "messages": [
        {"role": "system", "content": system},
        {"role": "user", "content": "Tell me about the Rhine."}
    ]});
    let cached = |completion: &Value| {
        completion["usage"]["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap()
    };
    let first: Value = post(&mock, &first_turn).await.json().await.unwrap();
    assert_eq!(cached(&first), 0);

    let repeat: Value = post(&mock, &first_turn).await.json().await.unwrap();
    let prompt_tokens = repeat["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(cached(&repeat) > 0);
    assert_eq!(cached(&repeat), prompt_tokens);

    let next_turn = json!({"model": "m", "messages": [
        {"role": "system", "content": system},
        {"role": "user", "content": "Tell me about the Rhine."},
        {"role": "assistant", "content": "It is a river."},
        {"role": "user", "content": "And the Danube?"}
    ]});
    let next: Value = post(&mock, &next_turn).await.json().await.unwrap();
    assert_eq!(cached(&next), cached(&repeat));
    assert!(cached(&next) < next["usage"]["prompt_tokens"].as_u64().unwrap());

    // Another model has its own cache, and a different question is no hit.
    let elsewhere: Value = post(
        &mock,
        &json!({"model": "n", "messages": first_turn["messages"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(cached(&elsewhere), 0);
    let other_question: Value = post(
        &mock,
        &json!({"model": "m", "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "Tell me about the Seine."}
        ]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(cached(&other_question), 0);
}

#[tokio::test]
async fn tool_call_answers_with_a_function_call() {
    let mock = start([(
        "m",
        Behavior {
            tool_call: Some("get_weather".to_owned()),
            ..Behavior::default()
        },
    )])
    .await;
    let completion: Value = post(&mock, &chat("m", "weather?"))
        .await
        .json()
        .await
        .unwrap();
    let choice = &completion["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{}");
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert!(completion["usage"]["completion_tokens"].as_u64().unwrap() > 0);

    let read = read_stream(post(&mock, &chat_stream("m", "weather?", false)).await).await;
    let chunks = read.chunks();
    let head = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(head["index"], 0);
    assert_eq!(head["function"]["name"], "get_weather");
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{}");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    assert_eq!(read.events.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn behaviour_can_change_at_run_time() {
    let mock = MockProvider::start(MockConfig::default()).await.unwrap();
    let reply = |completion: Value| completion["choices"][0]["message"]["content"].clone();
    mock.set_default(Behavior {
        reply: Some("default now".to_owned()),
        ..Behavior::default()
    });
    assert_eq!(
        reply(post(&mock, &chat("a", "x")).await.json().await.unwrap()),
        "default now"
    );
    mock.set_behavior(
        "a",
        Behavior {
            reply: Some("just a".to_owned()),
            ..Behavior::default()
        },
    );
    assert_eq!(
        reply(post(&mock, &chat("a", "x")).await.json().await.unwrap()),
        "just a"
    );
    assert_eq!(
        reply(post(&mock, &chat("b", "x")).await.json().await.unwrap()),
        "default now"
    );
}

#[tokio::test]
async fn models_health_and_unknown_paths() {
    let mock = start([
        ("zeta", Behavior::default()),
        ("alpha", Behavior::default()),
    ])
    .await;
    let client = client();
    let root = format!("http://{}", mock.addr());
    let models: Value = client
        .get(format!("{}/models", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alpha", "zeta"]);
    assert_eq!(models["object"], "list");

    let health = client.get(format!("{root}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let missing = client.get(format!("{root}/v1/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["message"], "Invalid URL (GET /v1/nope)");
}

#[tokio::test]
async fn invalid_requests_get_openai_400s() {
    let mock = MockProvider::start(MockConfig::default()).await.unwrap();
    let client = client();
    let url = format!("{}/chat/completions", mock.base_url());
    let not_json = client.post(&url).body("{nope").send().await.unwrap();
    assert_eq!(not_json.status(), 400);
    let error: Value = not_json.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");

    let no_model = post(
        &mock,
        &json!({"messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(no_model.status(), 400);
    let error: Value = no_model.json().await.unwrap();
    assert_eq!(
        error["error"]["message"],
        "you must provide a model parameter"
    );

    let no_messages = post(&mock, &json!({"model": "m"})).await;
    assert_eq!(no_messages.status(), 400);
    let error: Value = no_messages.json().await.unwrap();
    assert_eq!(error["error"]["param"], "messages");

    let calls = mock.calls();
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .iter()
            .all(|c| c.outcome == router_mock::CallOutcome::Rejected)
    );
    assert_eq!(calls[0].body, Value::String("{nope".to_owned()));
}

#[tokio::test]
async fn serves_many_concurrent_connections() {
    let mock = start([(
        "m",
        Behavior {
            first_token_latency: std::time::Duration::from_millis(50),
            ..Behavior::default()
        },
    )])
    .await;
    let client = client();
    let url = format!("{}/chat/completions", mock.base_url());
    let requests = (0..256).map(|idx| {
        let request = client
            .post(&url)
            .json(&chat("m", &format!("request {idx}")));
        async move {
            let completion: Value = request.send().await.unwrap().json().await.unwrap();
            completion["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    });
    let replies = futures_util::future::join_all(requests).await;
    for (idx, reply) in replies.iter().enumerate() {
        assert_eq!(reply, &format!("Mock reply to: request {idx}"));
    }
    assert_eq!(mock.calls().len(), 256);
}
