//! Mock LLM providers over real HTTP, for tests, benchmarks and the `cargo xtask serve` demo.
//!
//! A [`MockProvider`] listens on a real socket (by default `127.0.0.1:0`) and speaks OpenAI's
//! `POST /v1/chat/completions`, Anthropic's `POST /v1/messages` and Gemini's
//! `POST /v1beta/models/{model}:generateContent` (and `:streamGenerateContent`), streaming
//! (SSE) and not. What each model does is scripted by a
//! [`Behavior`]: latency before the first byte, stream pacing, the reply text, an error status
//! with a `Retry-After`, a stream cut after N chunks, a body that is not JSON, a hang, a tool
//! call. Every request is recorded ([`MockProvider::calls`]), including whether its client went
//! away early ([`MockProvider::wait_for_disconnect`]). Replies and usage are deterministic, and
//! a repeated prompt prefix is reported as `prompt_tokens_details.cached_tokens`.
//!
//! Also served: `GET /v1/models` (the configured model names) and `GET /health`.
//!
//! ```
//! use router_mock::{Behavior, Failure, MockConfig, MockProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = MockConfig::default();
//! config.models.insert(
//!     "flaky".to_owned(),
//!     Behavior { fail: Some(Failure::rate_limit(Some(2))), ..Behavior::default() },
//! );
//! let mock = MockProvider::start(config).await?;
//!
//! let client = reqwest::Client::builder().build()?;
//! let response: serde_json::Value = client
//!     .post(format!("{}/chat/completions", mock.base_url()))
//!     .json(&serde_json::json!({
//!         "model": "gpt-mock",
//!         "messages": [{"role": "user", "content": "Hello"}],
//!     }))
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(response["choices"][0]["message"]["content"], "Mock reply to: Hello");
//! assert_eq!(mock.calls()[0].model, "gpt-mock");
//!
//! let limited = client
//!     .post(format!("{}/chat/completions", mock.base_url()))
//!     .json(&serde_json::json!({"model": "flaky", "messages": [{"role": "user", "content": "Hi"}]}))
//!     .send()
//!     .await?;
//! assert_eq!(limited.status(), 429);
//! assert_eq!(limited.headers()["retry-after"], "2");
//! mock.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - `script`: [`Behavior`], [`Failure`], [`FailureKind`] and the binary's [`Script`] file.
//! - `server`: [`MockConfig`], [`MockProvider`] (start, stop, scripts at run time, calls), the
//!   accept loop.
//! - `openai`: OpenAI's chat completions wire format: the handler, `openai::answer` (JSON and
//!   SSE bodies, and the paced playback of a stream every format uses), `openai::error`.
//! - `anthropic`: Anthropic's Messages API (`POST /v1/messages`), its event stream and errors.
//! - `gemini`: Gemini's `generateContent` and `streamGenerateContent?alt=sse`
//!   (`POST /v1beta/models/{model}:{method}`) and its errors.
//! - `plan`: the answer every format gives to the same question: tool calls with arguments
//!   sampled from the tool's schema, JSON for a schema, thinking when asked.
//! - `recorder`: [`RecordedCall`], [`CallOutcome`] and disconnect detection.
//! - `prompt_cache`: the simulated prompt cache behind `cached_tokens`.
//! - `reply`: deterministic reply text ([`default_reply`]) and token counts.

mod anthropic;
mod gemini;
mod native;
mod openai;
mod plan;
mod prompt_cache;
mod recorder;
mod reply;
mod script;
mod server;

pub use anthropic::THINKING_SIGNATURE;
pub use gemini::THOUGHT_SIGNATURE;
pub use recorder::{CallOutcome, RecordedCall};
pub use reply::default_reply;
pub use script::{Behavior, Failure, FailureKind, Script};
pub use server::{MockConfig, MockProvider};

/// The signature of every scripted reasoning piece ([`Behavior::reasoning`]).
pub const REASONING_SIGNATURE: &str = "mock-signature-v1";
