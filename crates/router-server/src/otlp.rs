//! OpenTelemetry traces over OTLP/HTTP (protobuf), when `telemetry.otlp_endpoint` is set: one
//! span per request and one child span per attempt, with OpenTelemetry's `gen_ai.*` attributes.
//!
//! Spans are made from the generation record when a request ends (with the request's own start
//! and end times), handed to the SDK's batch processor, and exported from its own thread, so the
//! request path only queues them.
//!
//! | Attribute | Request span | Attempt span |
//! | --- | --- | --- |
//! | `gen_ai.operation.name` | `chat` | `chat` |
//! | `gen_ai.request.model` | the model (or router) the client named | the model tried |
//! | `gen_ai.response.model` | the model that answered | the model, if it answered |
//! | `gen_ai.provider.name` | the provider that answered | the provider called |
//! | `gen_ai.response.id` | our `gen-…` id | |
//! | `gen_ai.response.finish_reasons` | the finish reason | |
//! | `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens` | the billed tokens | |
//! | `turnout.cost_usd`, `turnout.attempts` | the billed cost, the number of attempts | |
//! | `http.response.status_code`, `error.type` | | the attempt's status and error type |

use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};

use crate::records::GenerationRecord;

/// How often the batch processor exports.
const EXPORT_DELAY: Duration = Duration::from_secs(1);

/// Why the exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the OTLP exporter for `{endpoint}`: {message}")]
pub struct OtlpError {
    /// The configured endpoint.
    pub endpoint: String,
    /// What went wrong.
    pub message: String,
}

/// The tracer and its provider (which owns the export thread).
pub(crate) struct Otlp {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Otlp {
    /// An exporter to `endpoint` (the collector's base URL; `/v1/traces` is appended).
    pub(crate) fn new(endpoint: &str) -> Result<Self, OtlpError> {
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(url)
            .with_headers(std::collections::HashMap::new())
            .build()
            .map_err(|err| OtlpError {
                endpoint: endpoint.to_owned(),
                message: err.to_string(),
            })?;
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_scheduled_delay(EXPORT_DELAY)
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(Resource::builder().with_service_name("turnout").build())
            .build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "turnout");
        Ok(Self { provider, tracer })
    }

    /// Queues the spans of one finished request.
    pub(crate) fn export(&self, record: &GenerationRecord) {
        let start = UNIX_EPOCH + Duration::from_millis(record.created_at_ms);
        let end = start + Duration::from_millis(record.latency_ms);
        let requested = record
            .router
            .as_deref()
            .or(record.requested_models.first().map(|it| &**it))
            .unwrap_or_default()
            .to_owned();
        let mut attributes = vec![
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.request.model", requested.clone()),
            KeyValue::new("gen_ai.response.id", record.id.clone()),
            KeyValue::new(
                "gen_ai.usage.input_tokens",
                i64::try_from(record.prompt_tokens).unwrap_or(i64::MAX),
            ),
            KeyValue::new(
                "gen_ai.usage.output_tokens",
                i64::try_from(record.completion_tokens).unwrap_or(i64::MAX),
            ),
            KeyValue::new("turnout.cost_usd", record.cost_usd),
            KeyValue::new(
                "turnout.attempts",
                i64::try_from(record.attempts.len()).unwrap_or(i64::MAX),
            ),
        ];
        if let Some(model) = &record.model {
            attributes.push(KeyValue::new("gen_ai.response.model", model.clone()));
        }
        if let Some(provider) = &record.provider {
            attributes.push(KeyValue::new("gen_ai.provider.name", provider.clone()));
        }
        if let Some(reason) = &record.finish_reason {
            attributes.push(KeyValue::new(
                "gen_ai.response.finish_reasons",
                opentelemetry::Value::Array(
                    vec![opentelemetry::StringValue::from(reason.clone())].into(),
                ),
            ));
        }
        let root = self
            .tracer
            .span_builder(format!("chat {requested}"))
            .with_kind(SpanKind::Server)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &Context::new());
        let cx = Context::new().with_span(root);
        let mut at = start;
        for attempt in &record.attempts {
            let attempt_end = at + Duration::from_millis(attempt.elapsed_ms);
            let mut attributes = vec![
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("gen_ai.request.model", attempt.model.clone()),
            ];
            if let Some(provider) = &attempt.provider {
                attributes.push(KeyValue::new("gen_ai.provider.name", provider.clone()));
            }
            if let Some(status) = attempt.status {
                attributes.push(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status),
                ));
            }
            match &attempt.error_type {
                Some(error) => attributes.push(KeyValue::new("error.type", error.clone())),
                None => attributes.push(KeyValue::new(
                    "gen_ai.response.model",
                    attempt.model.clone(),
                )),
            }
            let mut span = self
                .tracer
                .span_builder(format!("chat {}", attempt.model))
                .with_kind(SpanKind::Client)
                .with_start_time(at)
                .with_attributes(attributes)
                .start_with_context(&self.tracer, &cx);
            span.end_with_timestamp(attempt_end);
            at = attempt_end;
        }
        cx.span().end_with_timestamp(end.max(at));
    }
}

impl Drop for Otlp {
    fn drop(&mut self) {
        // Exports what is queued; a collector that is down only costs a logged error.
        if let Err(err) = self.provider.shutdown() {
            tracing::debug!(error = %err, "OTLP exporter shutdown");
        }
    }
}
