//! The generation record of one request, written when its [`Receipt`] drops, whatever
//! happened: an answer, an error, or a client that went away (then the record says
//! `cancelled`). Dropping also reports the request to the metrics (and its span to OTLP) and
//! settles the key's limits with the real cost and tokens. Writing only queues the record
//! ([`crate::records::Records::record`]), so the request path never waits on the store.

use router_core::pricing::{self, Usage};

use super::attempt_log::millis;
use super::receipt::Receipt;
use super::route::AUTO_ROUTER_ID;
use crate::metrics::{Observation, StatusClass};
use crate::records::{self, GenerationRecord, Word};
use crate::sticky::Session;

impl Drop for Receipt {
    /// Queues the generation record (never blocks).
    fn drop(&mut self) {
        let record = self.record();
        self.observe(&record);
        if let Some(admission) = self.limits.take() {
            let tokens = record.prompt_tokens + record.completion_tokens;
            self.app.limits().settle(admission, record.cost_usd, tokens);
        }
        self.app.records().record(record);
    }
}

impl Receipt {
    /// The generation record as things stand. Takes the receipt's generation id and session
    /// id (the receipt is dropping) instead of copying them.
    fn record(&mut self) -> GenerationRecord {
        let attempts = self
            .attempts
            .records()
            .iter()
            .map(|record| records::AttemptRecord {
                model: self.app.model_id(record.model).clone(),
                provider: record.endpoint.map(|endpoint| {
                    self.app
                        .provider(record.model, endpoint)
                        .display_name
                        .clone()
                }),
                status: match record.failure {
                    Some(failure) => failure.status,
                    None => Some(200),
                },
                error_type: record.failure.map(|it| Word::Borrowed(it.error_type)),
                elapsed_ms: millis(record.elapsed),
            })
            .collect();
        let mut record = GenerationRecord {
            id: std::mem::take(&mut self.id),
            key_name: self.key.name.clone(),
            created_at_ms: self.created_at_ms,
            requested_models: self
                .requested
                .iter()
                .map(|it| self.app.model_id(*it).clone())
                .collect(),
            model: None,
            provider: None,
            attempts,
            prompt_tokens: 0,
            completion_tokens: 0,
            cached_tokens: 0,
            reasoning_tokens: 0,
            cost_usd: 0.0,
            latency_ms: millis(self.arrived.elapsed()),
            time_to_first_token_ms: None,
            finish_reason: None,
            streamed: self.streamed,
            cancelled: !self.finished,
            router: self.auto.map(|_| Word::Borrowed(AUTO_ROUTER_ID)),
            upstream_id: None,
            session_id: self.session.as_mut().map(|it| std::mem::take(&mut it.id)),
            cache_savings_usd: 0.0,
        };
        let Some(served) = &self.served else {
            return record;
        };
        let target = self.app.target(&served.attempt);
        // A stream cut short before the provider reported usage is billed for what it
        // produced: the prompt estimate and one token per output chunk relayed.
        let (usage, cost) = match (served.usage, served.cost) {
            (Some(usage), Some(cost)) => (usage, cost),
            (usage, _) => {
                let usage = usage.unwrap_or(Usage {
                    prompt_tokens: u64::from(self.prompt_tokens_estimate),
                    completion_tokens: served.output_chunks,
                    total_tokens: u64::from(self.prompt_tokens_estimate) + served.output_chunks,
                    ..Usage::default()
                });
                let cost = pricing::billed_cost(
                    &target.endpoint.pricing,
                    &usage,
                    served.finish_reason.as_ref(),
                );
                (usage, cost)
            }
        };
        record.model = Some(self.app.model_id(served.attempt.model).clone());
        record.provider = Some(target.provider.display_name.clone());
        record.prompt_tokens = usage.prompt_tokens;
        record.completion_tokens = usage.completion_tokens;
        record.cached_tokens = usage.cached_tokens;
        record.cache_savings_usd = cache_savings(&target.endpoint.pricing, &usage);
        record.reasoning_tokens = usage.reasoning_tokens;
        record.cost_usd = cost.total;
        record.time_to_first_token_ms = Some(millis(served.time_to_first_token));
        record.finish_reason = served
            .finish_reason
            .as_ref()
            .map(|it| Word::Borrowed(it.as_str()));
        record.upstream_id = served.upstream_id.clone();
        record
    }

    /// Reports the finished request to the metrics.
    fn observe(&self, record: &GenerationRecord) {
        let attempts = self.attempts.records();
        let interrupted = self
            .served
            .as_ref()
            .and_then(|_| attempts.last())
            .and_then(|it| it.failure);
        let abort = match (self.streamed, self.finished, interrupted) {
            (true, false, _) => Some("client_gone"),
            (true, true, Some(failure)) => Some(failure.error_type),
            _ => None,
        };
        let status = if self.finished {
            StatusClass::of(self.status)
        } else {
            StatusClass::Cancelled
        };
        self.app.metrics().observe(&Observation {
            model: self
                .served
                .as_ref()
                .map(|it| it.attempt.model)
                .or_else(|| self.requested.first().copied()),
            status,
            duration: self.arrived.elapsed().as_secs_f64(),
            ttft: self
                .served
                .as_ref()
                .map(|it| it.time_to_first_token.as_secs_f64()),
            tokens: (record.prompt_tokens, record.completion_tokens),
            cost: record.cost_usd,
            attempts,
            catalog: self.app.catalog(),
            abort,
            sticky: self.session.as_ref().map(Session::metric_index),
        });
        if let Some(otlp) = self.app.metrics().telemetry().otlp() {
            otlp.export(record);
        }
    }
}

/// What reading `usage.cached_tokens` from the cache saved against the prompt price.
fn cache_savings(pricing: &router_core::catalog::Pricing, usage: &Usage) -> f64 {
    let read_price = pricing.cache_read.unwrap_or(pricing.prompt);
    (usage.cached_tokens as f64 * (pricing.prompt - read_price)).max(0.0)
}
