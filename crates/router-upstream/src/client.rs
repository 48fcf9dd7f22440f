//! Provider settings and [`ProviderClient`], one pooled HTTP client per provider.
//!
//! A [`ProviderClient`] owns one pooled HTTP client (keep-alive, `TCP_NODELAY`, the provider's
//! key and extra headers as default headers; see the `transport` module) and dispatches each call
//! to the wire format of its [`ProviderKind`]. It is cheap to clone: clones share the pool.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::Stream;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use router_core::catalog::Endpoint;
use router_core::fallback::FailureClass;
use router_core::request::ChatRequest;
use router_core::response::{ChatChunk, ChatResponse};
use router_core::secret::Secret;
use serde::Deserialize;

use crate::anthropic::{self, Anthropic};
use crate::error::{Scrubber, UpstreamError};
use crate::exchange;
use crate::gemini::Gemini;
use crate::openai_compat::OpenAiCompat;
use crate::transport::Transport;

/// A stream of chunks from a provider.
///
/// It ends (`None`) after the provider's `[DONE]`, or at a clean end of the body after a
/// `finish_reason`. After an `Err` item it ends. Dropping it closes the upstream connection,
/// which cancels the generation at providers that support that.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, UpstreamError>> + Send>>;

/// A provider's settings cannot make a client (a malformed base URL or header): only from
/// [`ProviderClient::new`], at start-up or reload, never from a call. The provider key is
/// scrubbed from `detail`.
#[derive(Debug, thiserror::Error)]
#[error("provider `{provider}`: {detail}")]
pub struct ClientConfigError {
    /// The provider's name.
    pub provider: String,
    /// What is wrong with its settings.
    pub detail: String,
}

/// Which wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum ProviderKind {
    /// OpenAI's chat completions API, or a compatible one (vLLM, Together, DeepInfra, Groq, ...).
    #[serde(rename = "openai", alias = "openai-compatible")]
    OpenAiCompatible,
    /// Anthropic's Messages API (`POST {base_url}/messages`, `x-api-key`).
    #[serde(rename = "anthropic")]
    Anthropic,
    /// Google's Gemini API (`POST {base_url}/models/{model}:generateContent`, and
    /// `:streamGenerateContent?alt=sse`; the key in `x-goog-api-key`, never in the URL).
    #[serde(rename = "gemini", alias = "google")]
    Gemini,
}

impl ProviderKind {
    /// The config name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAiCompatible => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
        }
    }
}

/// How to reach one provider.
///
/// `Debug` shows neither the key nor the values of `extra_headers` (they may hold credentials).
#[derive(Clone)]
pub struct ProviderSettings {
    /// The provider's slug, such as `openai`; named in errors and logs.
    pub name: String,
    /// The wire format it speaks.
    pub kind: ProviderKind,
    /// The API base, such as `https://api.openai.com/v1`; chat requests go to
    /// `{base_url}/chat/completions` (`{base_url}/messages` for Anthropic,
    /// `{base_url}/models/{model}:generateContent` for Gemini).
    pub base_url: String,
    /// The provider API key, sent as `Authorization: Bearer <key>` (`x-api-key` for Anthropic,
    /// `x-goog-api-key` for Gemini); no header when empty.
    pub api_key: Secret,
    /// Time allowed to open a connection (TCP and TLS). Default 5 s.
    pub connect_timeout: Duration,
    /// Time allowed from sending the request to the response headers. Default 60 s.
    pub first_byte_timeout: Duration,
    /// Longest gap allowed between two chunks of a stream. Default 60 s.
    pub idle_timeout: Duration,
    /// Time allowed for the whole request, body included (a non-streaming body, or the whole
    /// stream). Default 600 s.
    pub total_timeout: Duration,
    /// Headers sent on every request (for example `HTTP-Referer`, an organization header).
    pub extra_headers: Vec<(String, String)>,
    /// The largest answer read from the provider: a non-streaming body, or one event of a
    /// stream. A longer one is an [`FailureClass::InvalidResponse`], read no further than this.
    /// Default [`ProviderSettings::DEFAULT_MAX_RESPONSE_BYTES`].
    pub max_response_bytes: usize,
}

impl ProviderSettings {
    /// The default of [`ProviderSettings::max_response_bytes`]: 32 MiB, room for base64 images.
    pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

    /// Settings with the default timeouts and limits and no extra headers.
    pub fn new(
        name: impl Into<String>,
        kind: ProviderKind,
        base_url: impl Into<String>,
        api_key: Secret,
    ) -> Self {
        Self {
            name: name.into(),
            kind,
            base_url: base_url.into(),
            api_key,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(600),
            extra_headers: Vec::new(),
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self
            .extra_headers
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        f.debug_struct("ProviderSettings")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("connect_timeout", &self.connect_timeout)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("extra_headers", &header_names)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// A client for one provider, with its own connection pool.
#[derive(Clone)]
pub struct ProviderClient {
    pub(crate) inner: Arc<Inner>,
}

/// What every call of a provider client needs.
pub(crate) struct Inner {
    pub(crate) settings: ProviderSettings,
    /// The pooled client for the chat URL of the kind (parsed once).
    pub(crate) transport: Transport,
    /// Gemini names the model and the method in the URL: one transport per model and method,
    /// built on first use from `transport` and sharing its connection pool (the models are the
    /// catalog's, so the map stays small).
    pub(crate) by_path: Mutex<HashMap<String, Arc<Transport>>>,
}

impl ProviderClient {
    /// Builds the client: validates the base URL and headers and sets up the connection pool.
    pub fn new(settings: ProviderSettings) -> Result<Self, ClientConfigError> {
        let scrubber = Scrubber::new(settings.api_key.expose());
        let config_error = |detail: String| ClientConfigError {
            provider: settings.name.clone(),
            detail: scrubber.clean(&detail),
        };
        let chat_url = chat_url(&settings.base_url, settings.kind).map_err(config_error)?;
        let headers = default_headers(&settings).map_err(config_error)?;
        let transport = Transport::new(
            chat_url,
            headers,
            USER_AGENT,
            settings.connect_timeout,
            Transport::proxy_in_env(),
        )
        .map_err(config_error)?;
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                transport,
                by_path: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.inner.settings.name
    }

    /// The wire format the provider speaks.
    pub fn kind(&self) -> ProviderKind {
        self.inner.settings.kind
    }

    /// Sends a non-streaming chat completion to `endpoint` (named by its `upstream_model`, the
    /// provider's own model id; tuning parameters it does not support are left out).
    pub async fn complete(
        &self,
        endpoint: &Endpoint,
        request: &ChatRequest<'_>,
    ) -> Result<ChatResponse, UpstreamError> {
        let inner = &self.inner;
        match inner.settings.kind {
            ProviderKind::OpenAiCompatible => {
                exchange::complete::<OpenAiCompat>(inner, endpoint, request).await
            }
            ProviderKind::Anthropic => {
                exchange::complete::<Anthropic>(inner, endpoint, request).await
            }
            ProviderKind::Gemini => exchange::complete::<Gemini>(inner, endpoint, request).await,
        }
    }

    /// Starts a streaming chat completion. Resolves once the provider answered with 2xx headers;
    /// anything that fails before that is an `Err` here, anything after is an `Err` item.
    pub async fn stream(
        &self,
        endpoint: &Endpoint,
        request: &ChatRequest<'_>,
    ) -> Result<ChunkStream, UpstreamError> {
        let inner = &self.inner;
        match inner.settings.kind {
            ProviderKind::OpenAiCompatible => {
                exchange::stream::<OpenAiCompat>(inner, endpoint, request).await
            }
            ProviderKind::Anthropic => {
                exchange::stream::<Anthropic>(inner, endpoint, request).await
            }
            ProviderKind::Gemini => exchange::stream::<Gemini>(inner, endpoint, request).await,
        }
    }
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient")
            .field("name", &self.inner.settings.name)
            .field("kind", &self.inner.settings.kind)
            .field("base_url", &self.inner.settings.base_url)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// A scrubber for this provider's key.
    pub(crate) fn scrubber(&self) -> Scrubber<'_> {
        Scrubber::new(self.settings.api_key.expose())
    }

    /// The provider's name.
    pub(crate) fn name(&self) -> &str {
        &self.settings.name
    }

    /// The transport for `{base_url}/{path}`, built the first time `path` is asked for; it
    /// shares the provider's connection pool.
    pub(crate) fn transport_for(&self, path: &str) -> Result<Arc<Transport>, UpstreamError> {
        let mut by_path = self.by_path.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(transport) = by_path.get(path) {
            return Ok(Arc::clone(transport));
        }
        // The base URL was checked when the client was built, so only the endpoint's model name
        // can make this URL unusable: the provider cannot be asked for that model.
        let config_error = |detail: String| {
            UpstreamError::new(
                self.name(),
                FailureClass::NotFound,
                self.scrubber().clean(&detail),
            )
        };
        let joined = format!("{}/{path}", self.settings.base_url.trim_end_matches('/'));
        let url = reqwest::Url::parse(&joined)
            .map_err(|err| config_error(format!("invalid URL `{joined}`: {err}")))?;
        let transport = self
            .transport
            .with_url(url)
            .map(Arc::new)
            .map_err(config_error)?;
        by_path.insert(path.to_owned(), Arc::clone(&transport));
        Ok(transport)
    }
}

/// The `user-agent` of every request.
const USER_AGENT: &str = concat!("turnout/", env!("CARGO_PKG_VERSION"));

/// The chat URL of `kind` under `base_url` (`/chat/completions`, `/messages`; for Gemini, whose
/// URLs name the model, `/models`), checked to be an absolute http(s) URL.
fn chat_url(base_url: &str, kind: ProviderKind) -> Result<reqwest::Url, String> {
    let path = match kind {
        ProviderKind::OpenAiCompatible => "chat/completions",
        ProviderKind::Anthropic => "messages",
        ProviderKind::Gemini => "models",
    };
    let joined = format!("{}/{path}", base_url.trim_end_matches('/'));
    let url = reqwest::Url::parse(&joined)
        .map_err(|err| format!("invalid base_url `{base_url}`: {err}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        scheme => Err(format!(
            "invalid base_url `{base_url}`: scheme `{scheme}` is not http or https"
        )),
    }
}

/// The headers sent on every request: the key (marked sensitive), the content type and the
/// configured extras.
fn default_headers(settings: &ProviderSettings) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::with_capacity(2 + settings.extra_headers.len());
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let key = settings.api_key.expose();
    if !key.is_empty() {
        let (name, value) = match settings.kind {
            ProviderKind::OpenAiCompatible => (header::AUTHORIZATION, format!("Bearer {key}")),
            ProviderKind::Anthropic => (HeaderName::from_static("x-api-key"), key.to_owned()),
            // Gemini also takes `?key=`; a URL ends up in logs, a header does not.
            ProviderKind::Gemini => (HeaderName::from_static("x-goog-api-key"), key.to_owned()),
        };
        let mut value = HeaderValue::try_from(value)
            .map_err(|_| "the API key contains characters not allowed in a header".to_owned())?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    if settings.kind == ProviderKind::Anthropic {
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(anthropic::API_VERSION),
        );
    }
    for (name, value) in &settings.extra_headers {
        let header_name = HeaderName::try_from(name.as_str())
            .map_err(|_| format!("extra header name `{name}` is not a valid header name"))?;
        let mut header_value = HeaderValue::try_from(value.as_str())
            .map_err(|_| format!("extra header `{name}` has a value not allowed in a header"))?;
        // Extra headers may carry credentials (`api-key`, `x-api-key`): never print them.
        header_value.set_sensitive(true);
        headers.append(header_name, header_value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(base_url: &str) -> ProviderSettings {
        ProviderSettings::new(
            "acme",
            ProviderKind::OpenAiCompatible,
            base_url,
            Secret::new("sk-test-secret"),
        )
    }

    #[test]
    fn joins_the_chat_path_onto_the_base_url() {
        for base in ["http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/"] {
            assert_eq!(
                chat_url(base, ProviderKind::OpenAiCompatible)
                    .unwrap()
                    .as_str(),
                "http://127.0.0.1:9/v1/chat/completions"
            );
            let client = ProviderClient::new(settings(base)).unwrap();
            assert!(client.inner.transport.is_plain());
        }
    }

    #[test]
    fn rejects_unusable_settings_without_leaking_the_key() {
        let mut bad_header = settings("http://127.0.0.1:9/v1");
        bad_header.extra_headers = vec![("bad header".to_owned(), "x".to_owned())];
        let mut bad_key = settings("http://127.0.0.1:9/v1");
        bad_key.api_key = Secret::new("sk-line\nbreak");
        for settings in [
            settings("not a url"),
            settings("ftp://x/v1"),
            bad_header,
            bad_key,
        ] {
            let err = ProviderClient::new(settings).unwrap_err();
            assert_eq!(err.provider, "acme");
            assert!(!format!("{err} {err:?}").contains("sk-"), "{err:?}");
        }
    }

    #[test]
    fn kind_reads_both_config_names() {
        for name in ["\"openai\"", "\"openai-compatible\""] {
            let kind: ProviderKind = serde_json::from_str(name).unwrap();
            assert_eq!(kind, ProviderKind::OpenAiCompatible);
        }
        assert_eq!(
            serde_json::from_str::<ProviderKind>("\"anthropic\"").unwrap(),
            ProviderKind::Anthropic
        );
        assert_eq!(
            serde_json::from_str::<ProviderKind>("\"gemini\"").unwrap(),
            ProviderKind::Gemini
        );
        assert!(serde_json::from_str::<ProviderKind>("\"cohere\"").is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let mut settings = settings("http://127.0.0.1:9/v1");
        settings.extra_headers = vec![("api-key".to_owned(), "azure-secret".to_owned())];
        let client = ProviderClient::new(settings.clone()).unwrap();
        let text = format!("{settings:?} {client:?}");
        assert!(!text.contains("sk-test-secret"), "{text}");
        assert!(!text.contains("azure-secret"), "{text}");
        assert!(text.contains("api-key"), "{text}");
    }
}
