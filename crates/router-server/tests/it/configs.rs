//! TOML pieces the tests' configs are made of: a provider on a mock, and `test/chat` served by
//! providers on mocks. Tables may come in any order in TOML, so a test's config is its own
//! sections and these pieces, joined.

use std::fmt::Write as _;

use crate::support::PROVIDER_KEY;

/// `[providers.<name>]` on the mock whose URL is `${MOCK_<NAME>}`, with the provider key the
/// tests check never leaks, and the first-byte timeout when given.
pub(crate) fn mock_provider(name: &str, first_byte_timeout_ms: Option<u64>) -> String {
    let mut toml = format!(
        "\n[providers.{name}]\nbase_url = \"${{MOCK_{}}}\"\napi_key = \"{PROVIDER_KEY}\"\n",
        name.to_ascii_uppercase()
    );
    if let Some(ms) = first_byte_timeout_ms {
        let _ = writeln!(toml, "first_byte_timeout_ms = {ms}");
    }
    toml
}

/// The model `id`, served by each of `providers` in order as `<upstream>-<provider>` with a
/// context of 8192 tokens, at `pricing` (a TOML inline table, USD per million tokens).
pub(crate) fn model(id: &str, upstream: &str, providers: &[&str], pricing: &str) -> String {
    let mut toml = format!("\n[[models]]\nid = \"{id}\"\n");
    for provider in providers {
        let _ = write!(
            toml,
            "\n  [[models.endpoints]]\n  provider = \"{provider}\"\n  \
             upstream_model = \"{upstream}-{provider}\"\n  context_length = 8192\n  \
             pricing = {pricing}\n"
        );
    }
    toml
}

/// The mocks `alpha` and `beta` (first byte within 2 s), and `test/chat` served by both in that
/// order at `pricing`: the two-provider fleet of the stickiness and replica tests.
pub(crate) fn chat_on_alpha_and_beta(pricing: &str) -> String {
    [
        mock_provider("alpha", Some(2000)),
        mock_provider("beta", Some(2000)),
        model("test/chat", "chat", &["alpha", "beta"], pricing),
    ]
    .concat()
}
