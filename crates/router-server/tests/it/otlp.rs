//! OTLP export: with `telemetry.otlp_endpoint` pointing at a receiver the test starts, a request
//! sends one span with the `gen_ai.*` attributes and one child span per attempt.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use tokio::net::TcpListener;

use crate::support::{Gateway, chat_body};

type Received = Arc<Mutex<Vec<Span>>>;

/// An OTLP/HTTP receiver on `127.0.0.1:0`: decodes each `/v1/traces` body and keeps its spans.
async fn receiver() -> (String, Received) {
    async fn traces(State(received): State<Received>, body: Bytes) -> &'static str {
        let request = ExportTraceServiceRequest::decode(body).unwrap();
        let mut spans = received.lock().unwrap();
        for resource in request.resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        ""
    }
    let received = Received::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new()
        .route("/v1/traces", post(traces))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

fn attribute(span: &Span, key: &str) -> Option<AnyValue> {
    span.attributes
        .iter()
        .find(|it| it.key == key)
        .and_then(|it| it.value.clone())
        .and_then(|it| it.value)
}

#[tokio::test]
async fn a_request_exports_its_spans_with_gen_ai_attributes() {
    let (url, received) = receiver().await;
    // Inserted at the end of `[server]`: the table that follows is `[telemetry]`.
    let gateway = Gateway::start_with(&format!("[telemetry]\notlp_endpoint = \"{url}\"")).await;
    let response = gateway.chat(&chat_body("test/one", false)).await;
    assert_eq!(response.status(), 200);
    let _ = response.bytes().await.unwrap();
    // The batch processor exports about every second; wait for it (bounded by the loop).
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = received.lock().unwrap().clone();
        if spans.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let root = spans
        .iter()
        .find(|it| it.parent_span_id.is_empty())
        .unwrap_or_else(|| panic!("no request span in {spans:?}"));
    assert_eq!(
        attribute(root, "gen_ai.request.model"),
        Some(AnyValue::StringValue("test/one".to_owned()))
    );
    assert_eq!(
        attribute(root, "gen_ai.response.model"),
        Some(AnyValue::StringValue("test/one".to_owned()))
    );
    let Some(AnyValue::IntValue(input)) = attribute(root, "gen_ai.usage.input_tokens") else {
        panic!("{root:?}");
    };
    let Some(AnyValue::IntValue(output)) = attribute(root, "gen_ai.usage.output_tokens") else {
        panic!("{root:?}");
    };
    assert!(input > 0 && output > 0);
    let attempt = spans
        .iter()
        .find(|it| it.parent_span_id == root.span_id)
        .unwrap_or_else(|| panic!("no attempt span in {spans:?}"));
    assert_eq!(attempt.trace_id, root.trace_id);
    assert_eq!(
        attribute(attempt, "gen_ai.provider.name"),
        Some(AnyValue::StringValue("Alpha AI".to_owned()))
    );
}
