//! What went wrong talking to a provider, classified so the fallback loop never string-matches.
//!
//! Every failure of a provider call is an [`UpstreamError`]: the provider's name, its
//! [`FailureClass`] (the provider-neutral vocabulary of `router_core::fallback`, which the
//! request's fallback policy reads to decide whether the next attempt is tried), the HTTP status
//! and provider code when there was one, a `Retry-After` hint, and a `detail` for logs. Each
//! error answers the questions the server asks of it:
//!
//! - [`UpstreamError::fault`]: whose fault is it (the provider's, the client's, ours)? The
//!   server's endpoint health reads it: a failure the client caused does not count against the
//!   endpoint.
//! - [`UpstreamError::client_status`], [`UpstreamError::error_type`],
//!   [`UpstreamError::client_message`]: what to tell our client when this is the final error.
//!
//! The provider's API key never appears in any of it: every text taken from a provider or from
//! the transport goes through a scrubber before it is stored.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use router_core::fallback::FailureClass;

use crate::transport::TransportError;

/// A failed provider call.
#[derive(Debug, thiserror::Error)]
#[error("provider `{provider}`: {class}{}: {detail}", status_suffix(*.status))]
pub struct UpstreamError {
    /// The provider's name (its slug, such as `openai`).
    pub provider: String,
    /// What kind of failure it was, in the provider-neutral terms the fallback policy reads.
    pub class: FailureClass,
    /// The HTTP status the provider answered with, if it answered.
    pub status: Option<u16>,
    /// How long the provider asked us to wait (`Retry-After`, `retry-after-ms`).
    pub retry_after: Option<Duration>,
    /// The provider's own error code (OpenAI's `error.code`, else `error.type`).
    pub provider_code: Option<String>,
    /// The provider's own error message, when it sent one: shown to clients for the errors their
    /// request caused (see [`UpstreamError::client_message`]). Secrets scrubbed, truncated.
    pub provider_message: Option<String>,
    /// The upstream message or body, or the transport error, truncated to about 1 KiB. For logs
    /// only; secrets scrubbed.
    pub detail: String,
}

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The provider failed: down, slow, rate-limited, or it answered nonsense.
    Upstream,
    /// The client's request caused it (too long, flagged, invalid parameters).
    Client,
    /// Our own configuration: the provider refused our key, or does not have the model we map to.
    Internal,
}

// === impl UpstreamError ===

impl UpstreamError {
    /// An error with no status, code or hint. `detail` is stored as given: scrub it first if it
    /// may contain a secret.
    pub fn new(
        provider: impl Into<String>,
        class: FailureClass,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            class,
            status: None,
            retry_after: None,
            provider_code: None,
            provider_message: None,
            detail: detail.into(),
        }
    }

    /// Whose fault this is.
    pub fn fault(&self) -> Fault {
        match self.class {
            FailureClass::ContextLength
            | FailureClass::Moderation
            | FailureClass::BadRequest
            | FailureClass::Unsupported => Fault::Client,
            FailureClass::Auth | FailureClass::NotFound => Fault::Internal,
            FailureClass::RateLimited
            | FailureClass::Unavailable
            | FailureClass::Timeout
            | FailureClass::Connect
            | FailureClass::InvalidResponse
            | FailureClass::StreamInterrupted => Fault::Upstream,
        }
    }

    /// The HTTP status to answer our client with when this is the final error.
    ///
    /// A provider's 401 and 402, when they are the last attempt's, are answered as themselves
    /// (OpenRouter returns the last attempt's error), with a message that says it is the
    /// gateway's provider key or account, not the client's key; a provider's other refusals of
    /// our credentials (403) become 502.
    pub fn client_status(&self) -> u16 {
        match self.class {
            FailureClass::Auth if matches!(self.status, Some(401 | 402)) => {
                self.status.unwrap_or(502)
            }
            FailureClass::RateLimited => 429,
            FailureClass::ContextLength | FailureClass::BadRequest => 400,
            FailureClass::Moderation => 403,
            FailureClass::Unavailable if self.is_overloaded() => 503,
            FailureClass::Timeout => 408,
            // Never produced by a call (the plan skips such a model); answered as a skip is.
            FailureClass::Unsupported => 404,
            FailureClass::Unavailable
            | FailureClass::Connect
            | FailureClass::Auth
            | FailureClass::NotFound
            | FailureClass::InvalidResponse
            | FailureClass::StreamInterrupted => 502,
        }
    }

    /// OpenRouter's typed `error_type` for this error (`error.metadata.error_type`).
    pub fn error_type(&self) -> &'static str {
        match self.class {
            FailureClass::Auth if self.status == Some(401) => "authentication",
            FailureClass::Auth if self.status == Some(402) => "payment_required",
            FailureClass::RateLimited => "rate_limit_exceeded",
            FailureClass::ContextLength => "context_length_exceeded",
            FailureClass::Moderation => "content_policy_violation",
            FailureClass::Unavailable if self.is_overloaded() => "provider_overloaded",
            FailureClass::Timeout => "timeout",
            FailureClass::BadRequest => "invalid_request",
            FailureClass::Unsupported => "not_found",
            // Our provider key failing is not the client's authentication problem.
            FailureClass::Unavailable
            | FailureClass::Connect
            | FailureClass::Auth
            | FailureClass::NotFound
            | FailureClass::InvalidResponse
            | FailureClass::StreamInterrupted => "provider_unavailable",
        }
    }

    /// A message that is safe to show our client.
    ///
    /// For errors the client's request caused (context length, moderation, bad request) this is
    /// the provider's own message, scrubbed of secrets; otherwise a fixed message that reveals no
    /// internal detail.
    pub fn client_message(&self) -> String {
        let generic = match self.class {
            FailureClass::ContextLength => "the prompt is too long for the model's context window",
            FailureClass::Moderation => "the request was flagged by the provider's moderation",
            FailureClass::BadRequest => "the provider rejected the request as invalid",
            FailureClass::RateLimited => {
                return match self.retry_after {
                    Some(wait) => format!(
                        "the provider is rate limited; retry after {} seconds",
                        wait.as_secs_f64().ceil()
                    ),
                    None => "the provider is rate limited; retry shortly".to_owned(),
                };
            }
            FailureClass::Unavailable if self.is_overloaded() => "the provider is overloaded",
            FailureClass::Unavailable => "the provider is unavailable",
            FailureClass::Timeout => "the provider did not respond in time",
            FailureClass::Connect => "could not connect to the provider",
            FailureClass::Auth if self.status == Some(401) => {
                "the provider refused the gateway's credentials (the provider key in the \
                 gateway's config, not your key)"
            }
            FailureClass::Auth if self.status == Some(402) => {
                "the provider's account behind this gateway is out of credit (not your key's \
                 limit)"
            }
            FailureClass::Auth => {
                "the provider is unavailable (it refused the gateway's credentials)"
            }
            FailureClass::NotFound => "the model is not available at the provider",
            FailureClass::InvalidResponse => "the provider returned an invalid response",
            FailureClass::StreamInterrupted => "the provider's stream was interrupted",
            FailureClass::Unsupported => "the provider does not support what the request needs",
        };
        match (self.fault(), &self.provider_message) {
            (Fault::Client, Some(message)) if !message.is_empty() => message.clone(),
            _ => generic.to_owned(),
        }
    }

    /// Whether the provider said it is overloaded (503, 529 or an `overloaded` code).
    fn is_overloaded(&self) -> bool {
        matches!(self.status, Some(503 | 529))
            || self
                .provider_code
                .as_deref()
                .is_some_and(|code| code.contains("overloaded"))
    }
}

fn status_suffix(status: Option<u16>) -> String {
    status.map_or_else(String::new, |status| format!(" (HTTP {status})"))
}

// === classification ===

/// The parts of a provider error body we use, from any of the shapes providers send.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ProviderErrorBody {
    /// `error.message` (or `message`, `detail`, or `error` when it is a string).
    pub(crate) message: Option<String>,
    /// `error.code` when it is a string, else `error.type`, else `error.metadata.error_type`.
    pub(crate) code: Option<String>,
    /// `error.code` when it is an integer (OpenRouter-style errors carry an HTTP status there).
    pub(crate) numeric_code: Option<u16>,
}

impl ProviderErrorBody {
    /// Reads an error body. Anything that is not one of the known shapes gives an empty result.
    pub(crate) fn parse(body: &[u8]) -> Self {
        // The error path is cold: a `Value` keeps the many provider shapes simple to read.
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => Self::from_value(&value),
            Err(_) => Self::default(),
        }
    }

    /// Reads the `error` member of a chunk or body (`{"message", "type", "code"}` or a string).
    pub(crate) fn from_error_member(error: &serde_json::Value) -> Self {
        let mut parsed = Self::default();
        match error {
            serde_json::Value::String(message) => parsed.message = Some(message.clone()),
            serde_json::Value::Object(object) => {
                parsed.message = object
                    .get("message")
                    .and_then(|it| it.as_str())
                    .map(str::to_owned);
                let code = object.get("code");
                parsed.numeric_code = code
                    .and_then(|it| it.as_u64())
                    .and_then(|it| u16::try_from(it).ok());
                parsed.code = code
                    .and_then(|it| it.as_str())
                    .or_else(|| {
                        object
                            .get("metadata")
                            .and_then(|it| it.get("provider_code"))
                            .and_then(|it| it.as_str())
                    })
                    .or_else(|| object.get("type").and_then(|it| it.as_str()))
                    .or_else(|| {
                        object
                            .get("metadata")
                            .and_then(|it| it.get("error_type"))
                            .and_then(|it| it.as_str())
                    })
                    .map(str::to_owned);
            }
            _ => {}
        }
        parsed
    }

    fn from_value(value: &serde_json::Value) -> Self {
        if let Some(error) = value.get("error")
            && !error.is_null()
        {
            return Self::from_error_member(error);
        }
        let text = |key: &str| value.get(key).and_then(|it| it.as_str()).map(str::to_owned);
        Self {
            message: text("message").or_else(|| text("detail")),
            code: text("code").or_else(|| text("type")),
            numeric_code: None,
        }
    }

    /// Message and code, lowercased, for keyword matching.
    fn haystack(&self) -> String {
        let mut text = String::new();
        for part in [&self.code, &self.message].into_iter().flatten() {
            text.push_str(&part.to_ascii_lowercase());
            text.push(' ');
        }
        text
    }
}

const CONTEXT_MARKERS: &[&str] = &[
    "context_length",
    "context length",
    "context window",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "string_too_long",
    "token_limit",
    "tokens_exceeded",
];

const MODERATION_MARKERS: &[&str] = &[
    "moderation",
    "flagged",
    "content_policy",
    "content policy",
    "content_filter",
    "safety system",
];

/// Classifies an error response: its HTTP status (if any; `None` for an error inside a 200 body
/// or a stream) and its body.
pub(crate) fn classify(status: Option<u16>, body: &ProviderErrorBody) -> FailureClass {
    let status = status.or(body.numeric_code);
    let haystack = body.haystack();
    let mentions = |markers: &[&str]| markers.iter().any(|marker| haystack.contains(marker));
    match status {
        Some(429) => FailureClass::RateLimited,
        Some(400 | 413 | 422) if mentions(CONTEXT_MARKERS) => FailureClass::ContextLength,
        Some(400 | 403) if mentions(MODERATION_MARKERS) => FailureClass::Moderation,
        Some(401..=403) => FailureClass::Auth,
        Some(404) => FailureClass::NotFound,
        Some(408 | 504 | 524) => FailureClass::Timeout,
        Some(500..=599) => FailureClass::Unavailable,
        Some(400..=499) => FailureClass::BadRequest,
        Some(_) => FailureClass::InvalidResponse,
        None => classify_by_code(&haystack, mentions),
    }
}

/// Classifies an error that came without a status, by its code and message.
fn classify_by_code(haystack: &str, mentions: impl Fn(&[&str]) -> bool) -> FailureClass {
    let has = |needle: &str| haystack.contains(needle);
    if has("rate_limit") || has("rate limit") || has("too many requests") {
        FailureClass::RateLimited
    } else if mentions(CONTEXT_MARKERS) {
        FailureClass::ContextLength
    } else if mentions(MODERATION_MARKERS) {
        FailureClass::Moderation
    } else if has("timeout") || has("timed out") {
        FailureClass::Timeout
    } else if has("authentication") || has("api_key") || has("api key") || has("permission") {
        FailureClass::Auth
    } else if has("not_found") || has("not found") {
        FailureClass::NotFound
    } else if has("invalid_request") {
        FailureClass::BadRequest
    } else {
        // A provider error of unknown kind, such as `server_error` or `overloaded_error`.
        FailureClass::Unavailable
    }
}

/// How long the provider asked us to wait: `retry-after-ms`, else `Retry-After` in seconds or as
/// an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|it| it.to_str().ok());
    if let Some(millis) = header("retry-after-ms").and_then(|it| it.trim().parse::<f64>().ok())
        && millis.is_finite()
        && millis >= 0.0
    {
        return Some(Duration::from_secs_f64(millis / 1000.0));
    }
    let value = header("retry-after")?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Builds the error for a non-2xx response (or a 2xx whose body is an error object).
pub(crate) fn from_response(
    provider: &str,
    scrubber: &Scrubber<'_>,
    status: Option<StatusCode>,
    retry_after: Option<Duration>,
    body: &[u8],
) -> UpstreamError {
    let parsed = ProviderErrorBody::parse(body);
    from_parsed(
        provider,
        scrubber,
        status.map(|it| it.as_u16()),
        retry_after,
        parsed,
        body,
    )
}

/// Builds the error for a parsed provider error; `raw` is the text it came from (the `detail`
/// when the provider sent no message).
pub(crate) fn from_parsed(
    provider: &str,
    scrubber: &Scrubber<'_>,
    status: Option<u16>,
    retry_after: Option<Duration>,
    parsed: ProviderErrorBody,
    raw: &[u8],
) -> UpstreamError {
    let class = classify(status, &parsed);
    let provider_message = parsed.message.as_deref().map(|it| scrubber.clean(it));
    let detail = match &provider_message {
        Some(message) => message.clone(),
        None => scrubber.clean(&String::from_utf8_lossy(raw)),
    };
    UpstreamError {
        provider: provider.to_owned(),
        class,
        status: status.or(parsed.numeric_code),
        retry_after,
        provider_code: parsed.code.as_deref().map(|it| scrubber.clean(it)),
        provider_message,
        detail,
    }
}

/// Builds the error for a transport failure (connect, timeout, dropped connection).
pub(crate) fn from_transport(
    provider: &str,
    scrubber: &Scrubber<'_>,
    err: TransportError,
    otherwise: FailureClass,
) -> UpstreamError {
    let kind = if err.is_timeout() {
        FailureClass::Timeout
    } else if err.is_connect() {
        FailureClass::Connect
    } else if err.is_too_large() {
        FailureClass::InvalidResponse
    } else {
        otherwise
    };
    UpstreamError::new(provider, kind, scrubber.clean(&err.describe()))
}

// === Scrubber ===

/// Removes a secret from text taken from a provider or the transport, and truncates it.
///
/// The secret is found in any ASCII letter case: a provider that echoes the key upper-cased (in
/// an error message, say) must not get it into our logs or a client's message either.
#[derive(Clone, Copy)]
pub(crate) struct Scrubber<'a> {
    secret: &'a str,
}

/// The most text of an error we keep.
const MAX_DETAIL_BYTES: usize = 1024;

/// What stands in for a removed secret.
const MASK: &str = "***";

impl<'a> Scrubber<'a> {
    /// A scrubber for `secret` (nothing is removed when it is empty).
    pub(crate) fn new(secret: &'a str) -> Self {
        Self { secret }
    }

    /// `text` without the secret (in any ASCII case), truncated to about 1 KiB.
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut clean = self.without_secret(text);
        if clean.len() > MAX_DETAIL_BYTES {
            let mut end = MAX_DETAIL_BYTES;
            while !clean.is_char_boundary(end) {
                end -= 1;
            }
            clean.truncate(end);
            clean.push('…');
        }
        clean
    }

    /// `text` with every occurrence of the secret, in any ASCII case, replaced by [`MASK`].
    fn without_secret(&self, text: &str) -> String {
        let secret = self.secret.as_bytes();
        if secret.is_empty() || text.len() < secret.len() {
            return text.to_owned();
        }
        // ASCII lowercasing keeps every byte where it is, so offsets in `lower` are offsets in
        // `text`; and a match starts and ends on ASCII bytes or whole characters of the secret,
        // so the cuts fall on character boundaries.
        let lower_secret = secret.to_ascii_lowercase();
        let lower_text = text.to_ascii_lowercase();
        let mut clean = String::with_capacity(text.len());
        let mut copied = 0;
        for start in memchr::memmem::find_iter(lower_text.as_bytes(), &lower_secret) {
            if start < copied {
                continue;
            }
            clean.push_str(&text[copied..start]);
            clean.push_str(MASK);
            copied = start + secret.len();
        }
        clean.push_str(&text[copied..]);
        clean
    }
}

#[cfg(test)]
mod tests;
