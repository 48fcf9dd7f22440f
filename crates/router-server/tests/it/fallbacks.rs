//! Model fallbacks (`model` + `models`): every trigger moves on to the next model, invisibly, and
//! the answer is priced at the model that answered; when every model fails the last error is
//! answered with every attempt; models that cannot take the request are skipped without a call;
//! the fallback policy (request or key) can stop fallback.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use router_mock::{Behavior, Failure};
use serde_json::{Value, json};

use crate::fleet::{
    FALLBACK_PRICES, Fleet, FleetOptions, OTHER_KEY, STRICT_KEY, closed_port_url, generation_id,
    header, routed_body,
};
use crate::support::{
    CLIENT_KEY, assert_close, assert_no_secret, data, error_response, expected_cost, read_events,
};

/// What the primary does, and how its attempt shows in `X-Turnout-Attempts`.
struct Trigger {
    behavior: Behavior,
    attempt: &'static str,
}

fn failing(failure: Failure) -> Behavior {
    Behavior {
        fail: Some(failure),
        ..Behavior::default()
    }
}

/// Runs `a/primary` (failing as `trigger` says) with `b/fallback` behind it, and checks that the
/// fallback answered, priced at its own prices, after exactly one call to each mock.
async fn falls_back(fleet: &Fleet, trigger: Trigger, stream: bool) {
    fleet.primary.set_behavior("primary-up", trigger.behavior);
    let response = fleet
        .chat(&routed_body(Some("a/primary"), &["b/fallback"], stream))
        .await;
    assert_eq!(response.status(), 200);
    assert_no_secret(&format!("{:?}", response.headers()));
    assert_eq!(
        header(&response, "x-turnout-attempts"),
        Some(
            format!(
                "a/primary@primary={};b/fallback@fallback=200",
                trigger.attempt
            )
            .as_str()
        )
    );
    assert_eq!(
        header(&response, "x-turnout-served-model"),
        Some("b/fallback")
    );
    assert_eq!(header(&response, "x-turnout-fallback-depth"), Some("1"));
    let id = generation_id(&response);
    let (body, usage) = if stream {
        let events = read_events(response).await;
        let chunks: Vec<Value> = data(&events).into_iter().cloned().collect();
        for chunk in &chunks {
            assert_eq!(chunk["model"], "b/fallback", "{chunk}");
            assert_eq!(chunk["provider"], "Fallback Cloud", "{chunk}");
            assert!(chunk.get("error").is_none(), "{chunk}");
        }
        let last = chunks.last().unwrap().clone();
        let usage = last["usage"].clone();
        (last, usage)
    } else {
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["model"], "b/fallback");
        assert_eq!(body["provider"], "Fallback Cloud");
        assert_eq!(
            body["choices"][0]["message"]["content"],
            router_mock::default_reply("Hello")
        );
        let usage = body["usage"].clone();
        (body, usage)
    };
    assert!(usage["completion_tokens"].as_u64().unwrap() > 0, "{usage}");
    assert_close(&usage["cost"], expected_cost(&usage, FALLBACK_PRICES));
    assert_close(
        &usage["cost_details"]["upstream_inference_prompt_cost"],
        usage["prompt_tokens"].as_f64().unwrap() * FALLBACK_PRICES.0 / 1e6,
    );
    assert_eq!(
        body["_metadata"]["openRouter"]["modelRouting"],
        json!({"requested": ["a/primary", "b/fallback"], "actual": "b/fallback"})
    );
    let fallback_calls = fleet.fallback.calls();
    assert_eq!(fallback_calls.len(), 1);
    assert_eq!(fallback_calls[0].model, "fallback-up");
    assert_eq!(fallback_calls[0].stream, stream);
    assert!(fleet.tiny.calls().is_empty());

    // The record is the caller's, and nobody else's.
    let record = fleet.wait_for_generation(&id).await;
    assert_eq!(record["model"], "b/fallback");
    assert_eq!(record["provider_name"], "Fallback Cloud");
    assert_eq!(record["streamed"], stream);
    assert_eq!(record["cancelled"], false);
    assert_eq!(
        record["requested_models"],
        json!(["a/primary", "b/fallback"])
    );
    assert_close(&record["total_cost"], usage["cost"].as_f64().unwrap());
    assert_eq!(record["tokens_completion"], usage["completion_tokens"]);
    let responses = record["provider_responses"].as_array().unwrap();
    assert_eq!(responses.len(), 2, "{record}");
    assert_eq!(responses[1]["status"], 200);
    assert_eq!(responses[1]["provider_name"], "Fallback Cloud");
    let (status, body) = fleet.generation_as(OTHER_KEY, &id).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], 404);
}

/// [`falls_back`] for a non-streaming and a streaming request, with one call to the primary each.
async fn falls_back_both_ways(fleet: &Fleet, trigger: impl Fn() -> Trigger) {
    falls_back(fleet, trigger(), false).await;
    assert_eq!(fleet.primary.calls().len(), 1);
    fleet.primary.reset_calls();
    fleet.fallback.reset_calls();
    falls_back(fleet, trigger(), true).await;
    assert_eq!(fleet.primary.calls().len(), 1);
}

#[tokio::test]
async fn a_rate_limit_with_retry_after_falls_back() {
    let fleet = Fleet::start().await;
    falls_back_both_ways(&fleet, || Trigger {
        behavior: failing(Failure::rate_limit(Some(30))),
        attempt: "429:rate_limit_exceeded",
    })
    .await;
}

#[tokio::test]
async fn a_500_falls_back() {
    let fleet = Fleet::start().await;
    falls_back_both_ways(&fleet, || Trigger {
        behavior: failing(Failure::status(500)),
        attempt: "500:provider_unavailable",
    })
    .await;
}

#[tokio::test]
async fn a_503_falls_back() {
    let fleet = Fleet::start().await;
    falls_back_both_ways(&fleet, || Trigger {
        behavior: failing(Failure::overloaded()),
        attempt: "503:provider_overloaded",
    })
    .await;
}

#[tokio::test]
async fn a_context_length_400_falls_back() {
    let fleet = Fleet::start().await;
    falls_back_both_ways(&fleet, || Trigger {
        behavior: failing(Failure::context_length()),
        attempt: "400:context_length_exceeded",
    })
    .await;
}

#[tokio::test]
async fn a_moderation_403_falls_back_by_default() {
    let fleet = Fleet::start().await;
    falls_back_both_ways(&fleet, || Trigger {
        behavior: failing(Failure::moderation()),
        attempt: "403:content_policy_violation",
    })
    .await;
}

#[tokio::test]
async fn a_non_json_200_falls_back() {
    let fleet = Fleet::start().await;
    falls_back_both_ways(&fleet, || Trigger {
        behavior: Behavior {
            non_json: true,
            ..Behavior::default()
        },
        // A 200 whose body is not a completion (for a stream: whose first event is not JSON).
        attempt: "200:provider_unavailable",
    })
    .await;
}

#[tokio::test]
async fn a_timeout_before_the_first_token_falls_back() {
    // The primary's first-byte (and so first-token) timeout is 1 s; a hung call never answers.
    let fleet = Fleet::start().await;
    falls_back_both_ways(&fleet, || Trigger {
        behavior: Behavior {
            hang: true,
            ..Behavior::default()
        },
        attempt: "-:timeout",
    })
    .await;
}

#[tokio::test]
async fn a_refused_connection_falls_back() {
    let fleet = Fleet::start_with(FleetOptions {
        primary_url: Some(closed_port_url().await),
        ..FleetOptions::default()
    })
    .await;
    for stream in [false, true] {
        fleet.fallback.reset_calls();
        falls_back(
            &fleet,
            Trigger {
                behavior: Behavior::default(),
                attempt: "-:provider_unavailable",
            },
            stream,
        )
        .await;
    }
    assert!(fleet.primary.calls().is_empty());
}

/// A provider that answers a stream with its `200` headers and then never sends a byte.
async fn stalling_provider() -> (String, tokio::task::JoinHandle<()>) {
    let router = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|| async {
            let never = futures_util::stream::pending::<Result<bytes::Bytes, Infallible>>();
            let mut response = Response::new(Body::from_stream(never));
            response.headers_mut().insert(
                CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/event-stream"),
            );
            response
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (format!("http://{addr}/v1"), task)
}

#[tokio::test]
async fn a_stream_that_stalls_after_its_headers_falls_back_at_the_first_token_timeout() {
    let (url, stalling) = stalling_provider().await;
    // Headers come at once, so only the first-token timeout can end the attempt.
    let fleet = Fleet::start_with(FleetOptions {
        primary_url: Some(url),
        primary_timeouts: Some("first_byte_timeout_ms = 600000\nfirst_token_timeout_ms = 300"),
        ..FleetOptions::default()
    })
    .await;
    falls_back(
        &fleet,
        Trigger {
            behavior: Behavior::default(),
            attempt: "-:timeout",
        },
        true,
    )
    .await;
    stalling.abort();
}

#[tokio::test]
async fn models_alone_makes_its_first_entry_the_primary() {
    let fleet = Fleet::start().await;
    fleet
        .primary
        .set_behavior("primary-up", failing(Failure::status(500)));
    let response = fleet
        .chat(&routed_body(None, &["a/primary", "b/fallback"], false))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-turnout-requested-models"),
        Some("a/primary,b/fallback")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "b/fallback");
    assert_eq!(fleet.primary.calls().len(), 1);
    assert_eq!(fleet.fallback.calls().len(), 1);
}

#[tokio::test]
async fn when_every_model_fails_the_last_error_is_answered_with_every_attempt() {
    let fleet = Fleet::start().await;
    fleet
        .primary
        .set_behavior("primary-up", failing(Failure::status(500)));
    fleet
        .fallback
        .set_behavior("fallback-up", failing(Failure::rate_limit(Some(3))));
    for stream in [false, true] {
        let response = fleet
            .chat(&routed_body(Some("a/primary"), &["b/fallback"], stream))
            .await;
        // The primary gave no Retry-After, so none is sent (OpenRouter sends one only when
        // every provider gave a hint).
        assert_eq!(header(&response, "retry-after"), None);
        assert_eq!(
            header(&response, "x-turnout-attempts"),
            Some(
                "a/primary@primary=500:provider_unavailable;b/fallback@fallback=429:rate_limit_exceeded"
            )
        );
        assert_eq!(header(&response, "x-turnout-served-model"), None);
        let id = generation_id(&response);
        let (status, error) = error_response(response).await;
        assert_eq!(status, 429, "{error}");
        assert_eq!(
            error["error"]["message"],
            "the provider is rate limited; retry after 3 seconds"
        );
        let metadata = &error["error"]["metadata"];
        assert_eq!(metadata["error_type"], "rate_limit_exceeded");
        assert_eq!(metadata["provider_name"], "Fallback Cloud");
        let attempts = metadata["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 2, "{error}");
        assert_eq!(attempts[0]["model"], "a/primary");
        assert_eq!(attempts[0]["provider"], "primary");
        assert_eq!(attempts[0]["status"], 500);
        assert_eq!(attempts[0]["error_type"], "provider_unavailable");
        assert_eq!(attempts[1]["model"], "b/fallback");
        assert_eq!(attempts[1]["provider"], "fallback");
        assert_eq!(attempts[1]["status"], 429);
        assert_eq!(attempts[1]["error"], "rate_limited");
        assert!(attempts.iter().all(|it| it["elapsed_ms"].is_u64()));

        let record = fleet.wait_for_generation(&id).await;
        assert!(record["provider_name"].is_null(), "{record}");
        assert_eq!(record["total_cost"], 0.0);
        assert_eq!(record["provider_responses"].as_array().unwrap().len(), 2);
    }
    assert_eq!(fleet.primary.calls().len(), 2);
    assert_eq!(fleet.fallback.calls().len(), 2);
}

#[tokio::test]
async fn retry_after_is_the_smallest_when_every_provider_gave_one() {
    let fleet = Fleet::start().await;
    fleet
        .primary
        .set_behavior("primary-up", failing(Failure::rate_limit(Some(3))));
    fleet
        .fallback
        .set_behavior("fallback-up", failing(Failure::rate_limit(Some(9))));
    let response = fleet
        .chat(&routed_body(Some("a/primary"), &["b/fallback"], false))
        .await;
    assert_eq!(header(&response, "retry-after"), Some("3"));
    let (status, error) = error_response(response).await;
    assert_eq!(status, 429);
    // The message is still the last attempt's.
    assert_eq!(
        error["error"]["message"],
        "the provider is rate limited; retry after 9 seconds"
    );
}

/// A prompt of about 60 tokens by the plan's estimate: too long for `c/small`'s 16.
fn long_prompt() -> String {
    "many words in a long prompt ".repeat(8)
}

#[tokio::test]
async fn a_model_whose_context_is_too_small_is_skipped_without_a_call() {
    let fleet = Fleet::start().await;
    for stream in [false, true] {
        let body = json!({
            "model": "c/small",
            "models": ["b/fallback"],
            "stream": stream,
            "messages": [{"role": "user", "content": long_prompt()}],
        });
        let response = fleet.chat(&body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "x-turnout-attempts"),
            Some("c/small@-=400:context_length_exceeded;b/fallback@fallback=200")
        );
        assert_eq!(header(&response, "x-turnout-fallback-depth"), Some("1"));
        let id = generation_id(&response);
        let model = if stream {
            let events = read_events(response).await;
            data(&events).last().unwrap()["model"].clone()
        } else {
            response.json::<Value>().await.unwrap()["model"].clone()
        };
        assert_eq!(model, "b/fallback");
        let record = fleet.wait_for_generation(&id).await;
        let skipped = &record["provider_responses"][0];
        assert_eq!(skipped["model_permaslug"], "c/small");
        assert_eq!(skipped["status"], 400);
        assert!(skipped.get("provider_name").is_none(), "{record}");
    }
    assert!(fleet.tiny.calls().is_empty(), "the small model was called");
    assert_eq!(fleet.fallback.calls().len(), 2);

    // Alone, the skip is the answer: its status and message, without a call.
    let body = json!({
        "model": "c/small",
        "messages": [{"role": "user", "content": long_prompt()}],
    });
    let response = fleet.chat(&body).await;
    assert_eq!(
        header(&response, "x-turnout-attempts"),
        Some("c/small@-=400:context_length_exceeded")
    );
    let (status, error) = error_response(response).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum context length is 16 tokens"),
        "{error}"
    );
    assert_eq!(
        error["error"]["metadata"]["error_type"],
        "context_length_exceeded"
    );
    assert!(error["error"]["metadata"]["attempts"][0]["provider"].is_null());
    assert!(fleet.tiny.calls().is_empty());
}

/// Asserts a moderation refusal of the primary came back as is, without trying the fallback.
async fn refused_without_fallback(fleet: &Fleet, response: reqwest::Response) {
    assert_eq!(
        header(&response, "x-turnout-attempts"),
        Some("a/primary@primary=403:content_policy_violation")
    );
    let (status, error) = error_response(response).await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(
        error["error"]["metadata"]["error_type"],
        "content_policy_violation"
    );
    assert!(fleet.fallback.calls().is_empty(), "the fallback was called");
}

#[tokio::test]
async fn a_request_policy_can_keep_a_moderation_refusal_from_falling_back() {
    let fleet = Fleet::start().await;
    fleet
        .primary
        .set_behavior("primary-up", failing(Failure::moderation()));
    let mut body = routed_body(Some("a/primary"), &["b/fallback"], false);
    body["fallback_policy"] = json!({"except": ["moderation"]});
    refused_without_fallback(&fleet, fleet.chat(&body).await).await;
    // The policy is the router's: it never reaches the provider.
    let calls = fleet.primary.calls();
    assert!(calls[0].body.get("fallback_policy").is_none(), "{calls:?}");

    // Other failures still fall back under that policy.
    fleet
        .primary
        .set_behavior("primary-up", failing(Failure::status(500)));
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(fleet.fallback.calls().len(), 1);
}

#[tokio::test]
async fn a_key_policy_keeps_a_moderation_refusal_unless_the_request_says_otherwise() {
    let fleet = Fleet::start().await;
    fleet
        .primary
        .set_behavior("primary-up", failing(Failure::moderation()));
    let body = routed_body(Some("a/primary"), &["b/fallback"], true);
    refused_without_fallback(&fleet, fleet.chat_as(STRICT_KEY, &body).await).await;

    // Another key has the default policy.
    let response = fleet.chat_as(CLIENT_KEY, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(fleet.fallback.calls().len(), 1);

    // The request's own policy wins over the key's.
    let mut body = body;
    body["fallback_policy"] = json!({"on": ["moderation"]});
    let response = fleet.chat_as(STRICT_KEY, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(fleet.fallback.calls().len(), 2);
}

#[tokio::test]
async fn more_models_than_the_limit_is_a_400_without_a_call() {
    let fleet = Fleet::start().await;
    let body = routed_body(
        Some("a/primary"),
        &["b/fallback", "c/small", "b/fallback", "a/primary"],
        false,
    );
    let (status, error) = error_response(fleet.chat(&body).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "'models' array must have 3 items or fewer."
    );
    // Three are fine, duplicates and all.
    let body = routed_body(
        Some("a/primary"),
        &["b/fallback", "b/fallback", "a/primary"],
        false,
    );
    let response = fleet.chat(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-turnout-requested-models"),
        Some("a/primary,b/fallback")
    );
    assert_eq!(fleet.primary.calls().len(), 1);
    assert!(fleet.fallback.calls().is_empty());

    let (status, error) = error_response(
        fleet
            .chat(&routed_body(Some("a/primary"), &["z/unknown"], false))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "z/unknown is not a valid model ID"
    );
    assert_eq!(fleet.primary.calls().len(), 1);
}
