//! Which of a request's tuning parameters an endpoint receives.
//!
//! OpenRouter ignores a sampling parameter that the chosen provider does not support (`top_k`
//! sent to OpenAI, `logit_bias` to most others) instead of failing the request, and a provider
//! called directly often rejects unknown fields with a 400. So, like OpenRouter, a parameter
//! from OpenRouter's tuning vocabulary is left out of the upstream body when the endpoint lists
//! its `supported_parameters` and that list lacks it. Everything else is forwarded as sent:
//! fields outside the vocabulary (a provider's own extensions), parameters that change what
//! the request means (`tools`, `response_format`, `max_tokens`: the plan only picks endpoints
//! that can take those), and every field when the endpoint lists nothing.

/// OpenRouter's tuning parameters: dropping one changes how an answer is sampled, never what
/// was asked.
const TUNING: &[&str] = &[
    "frequency_penalty",
    "include_reasoning",
    "logit_bias",
    "logprobs",
    "min_p",
    "parallel_tool_calls",
    "presence_penalty",
    "reasoning",
    "reasoning_effort",
    "repetition_penalty",
    "seed",
    "stop",
    "temperature",
    "top_a",
    "top_k",
    "top_logprobs",
    "top_p",
    "verbosity",
    "web_search_options",
];

/// Whether the request field `key` goes to an endpoint that supports `supported` (its
/// `supported_parameters`; empty when the catalog does not say).
pub fn forwarded(key: &str, supported: &[String]) -> bool {
    supported.is_empty() || !TUNING.contains(&key) || supported.iter().any(|it| it == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|it| (*it).to_owned()).collect()
    }

    #[test]
    fn unsupported_tuning_parameters_are_left_out() {
        let openai = list(&["temperature", "top_p", "tools", "seed"]);
        assert!(forwarded("temperature", &openai));
        assert!(forwarded("seed", &openai));
        assert!(!forwarded("top_k", &openai));
        assert!(!forwarded("repetition_penalty", &openai));
    }

    #[test]
    fn everything_else_is_forwarded() {
        let openai = list(&["temperature"]);
        // What the request means, and a provider's own extensions.
        for key in [
            "tools",
            "response_format",
            "max_tokens",
            "x_vendor_flag",
            "user",
        ] {
            assert!(forwarded(key, &openai), "{key}");
        }
        // An endpoint that lists nothing gets every field.
        assert!(forwarded("top_k", &[]));
    }
}
