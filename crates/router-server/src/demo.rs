//! The demo mode: mock providers on loopback behind the demo catalog, so the server can be tried
//! without any provider account (`router-server --demo`, or `cargo xtask serve` without config).
//!
//! One [`MockProvider`] is started per demo provider on `127.0.0.1:0`, each with its own
//! latency and pace so streams look real. The catalog is `config/demo.toml` (embedded in the
//! binary); its `${TURNOUT_DEMO_URL_<PROVIDER>}` placeholders are filled with the mocks' base
//! URLs, and every other variable comes from the environment. As in `config/providers.toml`, the
//! Anthropic models are served in Anthropic's Messages format and the Google ones in Gemini's
//! (a mock speaks all three formats under its one base URL).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use router_mock::{Behavior, MockConfig, MockProvider};
use tokio::net::TcpListener;

use crate::app::StartError;
use crate::config::{self, Config, ConfigError};
use crate::serve::{self, RunningServer};

/// The demo config, with placeholders for the mocks' URLs.
const DEMO_TOML: &str = include_str!("../../../config/demo.toml");

/// The client key of the demo catalog.
pub const DEMO_KEY: &str = "sk-turnout-demo";

/// The prefix of the variables that carry each mock's base URL.
const URL_VAR_PREFIX: &str = "TURNOUT_DEMO_URL_";

/// How one demo provider behaves.
#[derive(Debug, Clone, Copy)]
struct DemoProvider {
    /// The provider's name in `demo.toml`.
    name: &'static str,
    /// Delay before the first token.
    first_token_latency: Duration,
    /// Stream pace.
    tokens_per_second: f64,
}

/// The providers of `demo.toml`, each a little different.
const DEMO_PROVIDERS: [DemoProvider; 6] = [
    demo_provider("openai", 120, 90.0),
    demo_provider("anthropic", 180, 70.0),
    demo_provider("google-ai-studio", 90, 130.0),
    demo_provider("deepseek", 200, 50.0),
    demo_provider("together", 60, 150.0),
    demo_provider("deepinfra", 30, 110.0),
];

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A mock provider could not listen.
    #[error("cannot start the mock provider `{provider}`")]
    Mock {
        /// The provider.
        provider: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The demo config did not load (a bug, or a bad `TURNOUT_LISTEN`).
    #[error("the demo config is invalid")]
    Config(#[from] ConfigError),
    /// The server could not listen on its address.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The server did not start.
    #[error("the server did not start")]
    Start(#[from] StartError),
}

/// The mock providers of the demo, running. They stop when this is dropped.
#[derive(Debug)]
pub struct DemoProviders {
    mocks: Vec<(&'static str, MockProvider)>,
}

/// A running demo: the server and its mock providers.
#[derive(Debug)]
pub struct Demo {
    server: RunningServer,
    providers: DemoProviders,
}

// === impl DemoProviders ===

impl DemoProviders {
    /// Starts one mock per demo provider on `127.0.0.1:0`.
    pub async fn start() -> Result<Self, DemoError> {
        let mut mocks = Vec::with_capacity(DEMO_PROVIDERS.len());
        for provider in DEMO_PROVIDERS {
            let config = MockConfig {
                default: Behavior {
                    first_token_latency: provider.first_token_latency,
                    tokens_per_second: Some(provider.tokens_per_second),
                    ..Behavior::default()
                },
                // Nobody reads the calls of a long-running demo; do not let them pile up.
                record_calls: false,
                ..MockConfig::default()
            };
            let mock = MockProvider::start(config)
                .await
                .map_err(|source| DemoError::Mock {
                    provider: provider.name,
                    source,
                })?;
            mocks.push((provider.name, mock));
        }
        Ok(Self { mocks })
    }

    /// The demo config pointing at these mocks; other `${VAR}`s come from `env`.
    pub fn config(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        config::load_str(
            DEMO_TOML,
            &|name: &str| match name.strip_prefix(URL_VAR_PREFIX) {
                Some(provider) => self
                    .mocks
                    .iter()
                    .find(|(name, _)| url_var_suffix(name) == provider)
                    .map(|(_, mock)| mock.base_url())
                    .or_else(|| env(name)),
                None => env(name),
            },
        )
    }
}

// === impl Demo ===

impl Demo {
    /// Starts the mocks and the server. The server listens on `listen` when given, else on the
    /// demo config's address (`TURNOUT_LISTEN`, default `127.0.0.1:8080`).
    pub async fn start(listen: Option<SocketAddr>) -> Result<Self, DemoError> {
        let providers = DemoProviders::start().await?;
        let mut config = providers.config(&|name| std::env::var(name).ok())?;
        if let Some(listen) = listen {
            config.server.listen = listen;
        }
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| DemoError::Bind { addr, source })?;
        let server = serve::spawn(config, listener).await?;
        Ok(Self { server, providers })
    }

    /// The server.
    pub fn server(&self) -> &RunningServer {
        &self.server
    }

    /// Stops the server (see [`RunningServer::shutdown`]), then the mocks.
    pub async fn shutdown(self, grace: Duration) -> io::Result<()> {
        let result = self.server.shutdown(grace).await;
        for (_, mock) in self.providers.mocks {
            mock.shutdown().await;
        }
        result
    }
}

/// What to paste to try the demo at `url` (`http://host:port`): the key, a curl line, a
/// streaming one, and the OpenAI Python SDK.
pub fn instructions(url: &str) -> String {
    format!(
        r#"Turnout demo: {url} (mock providers, real catalog and prices)
Client key: {DEMO_KEY}

Try it:
  curl {url}/api/v1/chat/completions \
    -H "Authorization: Bearer {DEMO_KEY}" \
    -H "Content-Type: application/json" \
    -d '{{"model":"openai/gpt-5.1","messages":[{{"role":"user","content":"Hello"}}]}}'

Streaming:
  curl -N {url}/api/v1/chat/completions \
    -H "Authorization: Bearer {DEMO_KEY}" \
    -H "Content-Type: application/json" \
    -d '{{"model":"anthropic/claude-sonnet-4.5","stream":true,"messages":[{{"role":"user","content":"Tell me a story"}}]}}'

Python (pip install openai):
  from openai import OpenAI
  client = OpenAI(base_url="{url}/api/v1", api_key="{DEMO_KEY}")
  reply = client.chat.completions.create(
      model="openai/gpt-5.1", messages=[{{"role": "user", "content": "Hello"}}])
  print(reply.choices[0].message.content)

Models: curl {url}/api/v1/models
"#
    )
}

const fn demo_provider(
    name: &'static str,
    first_token_latency_ms: u64,
    tokens_per_second: f64,
) -> DemoProvider {
    DemoProvider {
        name,
        first_token_latency: Duration::from_millis(first_token_latency_ms),
        tokens_per_second,
    }
}

/// `google-ai-studio` → `GOOGLE_AI_STUDIO`, as in `demo.toml`.
fn url_var_suffix(provider: &str) -> String {
    provider
        .chars()
        .map(|it| match it {
            '-' | '/' => '_',
            other => other.to_ascii_uppercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_follow_demo_toml() {
        assert_eq!(url_var_suffix("google-ai-studio"), "GOOGLE_AI_STUDIO");
        for provider in DEMO_PROVIDERS {
            let var = format!("${{{URL_VAR_PREFIX}{}}}", url_var_suffix(provider.name));
            assert!(DEMO_TOML.contains(&var), "demo.toml does not use {var}");
        }
    }

    #[test]
    fn instructions_name_the_url_and_key() {
        let text = instructions("http://127.0.0.1:9");
        assert!(text.contains("curl http://127.0.0.1:9/api/v1/chat/completions"));
        assert!(text.contains("Bearer sk-turnout-demo"));
        assert!(text.contains(r#"base_url="http://127.0.0.1:9/api/v1""#));
    }
}
