//! Token usage and what it costs at an endpoint's prices.
//!
//! A request is priced by the endpoint that answered it ([`cost`]), and billed under
//! OpenRouter's Zero Completion Insurance ([`billed_cost`]):
//!
//! - a generation with **zero completion tokens**, or whose **`finish_reason` is `error`**, costs
//!   nothing at all (prompt, completion, reasoning and the per-request price);
//! - a stream cut short after it produced output is billed for what it produced: its cost is that
//!   of the usage it reported (or that was counted) up to the failure, unless the stream ended
//!   with `finish_reason: "error"`, which ZCI makes free.
//!
//! OpenRouter's own wording insures "0 completion tokens and a blank/null finish_reason" or an
//! `error` finish reason; Turnout insures every zero-completion generation whatever its finish
//! reason (an empty answer is worth nothing to the client), a strict superset.

use crate::catalog::Pricing;
use crate::response::FinishReason;

/// Tokens a provider reports for one generation, provider-neutral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// All prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// All completion tokens, reasoning included.
    pub completion_tokens: u64,
    /// `prompt_tokens + completion_tokens`, as the provider reported it.
    pub total_tokens: u64,
    /// Prompt tokens read from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Prompt tokens written to the provider's prompt cache.
    pub cache_write_tokens: u64,
    /// Completion tokens spent on reasoning.
    pub reasoning_tokens: u64,
}

/// The price of one generation, in USD.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    /// Everything: prompt plus completion plus the per-request price.
    pub total: f64,
    /// Prompt tokens (uncached, cache reads, cache writes) plus the per-request price.
    pub prompt: f64,
    /// Completion and reasoning tokens.
    pub completion: f64,
}

/// What `usage` costs at `pricing`.
pub fn cost(pricing: &Pricing, usage: &Usage) -> Cost {
    let cached = usage.cached_tokens.min(usage.prompt_tokens);
    let cache_write = usage.cache_write_tokens.min(usage.prompt_tokens - cached);
    let uncached = usage.prompt_tokens - cached - cache_write;
    let prompt = uncached as f64 * pricing.prompt
        + cached as f64 * pricing.cache_read.unwrap_or(pricing.prompt)
        + cache_write as f64 * pricing.cache_write.unwrap_or(pricing.prompt)
        + pricing.request;
    let reasoning = usage.reasoning_tokens.min(usage.completion_tokens);
    let completion = (usage.completion_tokens - reasoning) as f64 * pricing.completion
        + reasoning as f64 * pricing.reasoning.unwrap_or(pricing.completion);
    Cost {
        total: prompt + completion,
        prompt,
        completion,
    }
}

/// What the client is billed for a generation: [`cost`], or zero under Zero Completion Insurance
/// (no completion tokens, or a `finish_reason` of `error`). See the module docs.
pub fn billed_cost(pricing: &Pricing, usage: &Usage, finish_reason: Option<&FinishReason>) -> Cost {
    if is_insured(usage, finish_reason) {
        return Cost::default();
    }
    cost(pricing, usage)
}

/// Whether Zero Completion Insurance makes the generation free: it produced no completion
/// tokens, or it ended with `finish_reason: "error"`.
pub fn is_insured(usage: &Usage, finish_reason: Option<&FinishReason>) -> bool {
    usage.completion_tokens == 0 || finish_reason == Some(&FinishReason::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_each_kind_of_token_at_its_rate() {
        let pricing = Pricing {
            prompt: 1e-6,
            completion: 4e-6,
            cache_read: Some(1e-7),
            cache_write: Some(2e-6),
            reasoning: None,
            request: 0.001,
        };
        let usage = Usage {
            prompt_tokens: 1000,
            completion_tokens: 200,
            total_tokens: 1200,
            cached_tokens: 600,
            cache_write_tokens: 100,
            reasoning_tokens: 50,
        };
        let cost = cost(&pricing, &usage);
        let prompt = 300.0 * 1e-6 + 600.0 * 1e-7 + 100.0 * 2e-6 + 0.001;
        assert!((cost.prompt - prompt).abs() < 1e-12);
        assert!((cost.completion - 200.0 * 4e-6).abs() < 1e-12);
        assert!((cost.total - (prompt + 200.0 * 4e-6)).abs() < 1e-12);
    }

    #[test]
    fn inconsistent_counts_do_not_underflow() {
        let usage = Usage {
            prompt_tokens: 5,
            cached_tokens: 9,
            cache_write_tokens: 9,
            ..Usage::default()
        };
        let cost = cost(
            &Pricing {
                prompt: 1.0,
                ..Pricing::default()
            },
            &usage,
        );
        // All five prompt tokens count as cache reads, billed at the prompt price (no read price).
        assert_eq!(cost.prompt, 5.0);
    }

    #[test]
    fn zero_completion_insurance() {
        let pricing = Pricing {
            prompt: 1e-6,
            completion: 2e-6,
            request: 0.01,
            ..Pricing::default()
        };
        let usage = Usage {
            prompt_tokens: 100,
            completion_tokens: 10,
            total_tokens: 110,
            ..Usage::default()
        };
        let stop = Some(&FinishReason::Stop);
        assert_eq!(billed_cost(&pricing, &usage, stop), cost(&pricing, &usage));
        assert!(billed_cost(&pricing, &usage, None).total > 0.0);
        assert_eq!(
            billed_cost(&pricing, &usage, Some(&FinishReason::Error)),
            Cost::default()
        );
        let empty = Usage {
            completion_tokens: 0,
            total_tokens: 100,
            ..usage
        };
        assert_eq!(billed_cost(&pricing, &empty, stop), Cost::default());
        assert_eq!(billed_cost(&pricing, &empty, None), Cost::default());
    }
}
