//! Token usage and what it costs at an endpoint's prices.

use crate::catalog::Pricing;

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
}
