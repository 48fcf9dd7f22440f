//! `[providers.<name>]`: each provider's base URL, key, headers and timeouts, checked into a
//! [`ProviderConfig`].

use std::collections::BTreeMap;

use router_core::secret::Secret;
use router_upstream::ProviderSettings;

use super::ProviderConfig;
use super::problems::{Problems, join_key};
use super::raw::{Deferred, RawProvider};
use super::validate::positive_millis;

/// Headers the HTTP client sets itself; configuring them would break requests.
const MANAGED_HEADERS: [&str; 5] = [
    "connection",
    "content-length",
    "content-type",
    "host",
    "transfer-encoding",
];

/// Every `[providers.<name>]` section; at least one is required.
pub(super) fn providers(
    raw: BTreeMap<String, Deferred<RawProvider>>,
    problems: &mut Problems,
) -> Vec<ProviderConfig> {
    if raw.is_empty() {
        problems.push(
            "providers",
            "at least one provider is required: add a `[providers.<name>]` section",
        );
    }
    let mut providers = Vec::with_capacity(raw.len());
    for (name, deferred) in raw {
        let path = join_key("providers", &name);
        let Some(entry) = deferred.parse(&path, problems) else {
            continue;
        };
        if !is_provider_name(&name) {
            problems.push(
                &path,
                format!(
                    "provider name `{name}` must be a lowercase slug: `a`-`z`, `0`-`9`, `-`, `_`, `/`"
                ),
            );
            continue;
        }
        if let Some(provider) = provider(name, entry, &path, problems) {
            providers.push(provider);
        }
    }
    providers
}

fn provider(
    name: String,
    raw: RawProvider,
    path: &str,
    problems: &mut Problems,
) -> Option<ProviderConfig> {
    let mut valid = true;
    let display_name = match raw.display_name {
        Some(display_name) if display_name.trim().is_empty() => {
            problems.push(
                join_key(path, "display_name"),
                "must not be empty when given",
            );
            valid = false;
            display_name
        }
        Some(display_name) => display_name,
        None => name.clone(),
    };
    let base_url = match check_base_url(&raw.base_url) {
        Ok(base_url) => base_url.to_owned(),
        Err(message) => {
            problems.push(join_key(path, "base_url"), message);
            valid = false;
            String::new()
        }
    };
    if raw.api_key.chars().any(char::is_control) {
        problems.push(
            join_key(path, "api_key"),
            "must not contain control characters",
        );
        valid = false;
    }
    let mut settings = ProviderSettings::new(name, raw.kind, base_url, Secret::new(raw.api_key));
    let timeouts = [
        (
            "connect_timeout_ms",
            raw.connect_timeout_ms,
            &mut settings.connect_timeout,
        ),
        (
            "first_byte_timeout_ms",
            raw.first_byte_timeout_ms,
            &mut settings.first_byte_timeout,
        ),
        (
            "idle_timeout_ms",
            raw.idle_timeout_ms,
            &mut settings.idle_timeout,
        ),
        (
            "total_timeout_ms",
            raw.total_timeout_ms,
            &mut settings.total_timeout,
        ),
    ];
    for (key, millis, slot) in timeouts {
        if let Some(millis) = millis {
            match positive_millis(millis, &join_key(path, key), problems) {
                Some(timeout) => *slot = timeout,
                None => valid = false,
            }
        }
    }
    let first_token_timeout = match raw.first_token_timeout_ms {
        Some(millis) => {
            positive_millis(millis, &join_key(path, "first_token_timeout_ms"), problems)
                .unwrap_or_else(|| {
                    valid = false;
                    settings.first_byte_timeout
                })
        }
        None => settings.first_byte_timeout,
    };
    if let Some(limit) = raw.max_response_bytes {
        match usize::try_from(limit.0) {
            Ok(0) => {
                problems.push(
                    join_key(path, "max_response_bytes"),
                    "must be at least 1 byte",
                );
                valid = false;
            }
            Ok(bytes) => settings.max_response_bytes = bytes,
            Err(_) => {
                problems.push(
                    join_key(path, "max_response_bytes"),
                    "is too large for this machine",
                );
                valid = false;
            }
        }
    }
    let headers_path = join_key(path, "headers");
    for (header, value) in raw.headers {
        let header_path = join_key(&headers_path, &header);
        if let Err(message) = check_header(&header, &value, !settings.api_key.is_empty()) {
            problems.push(header_path, message);
            valid = false;
            continue;
        }
        settings.extra_headers.push((header, value));
    }
    valid.then_some(ProviderConfig {
        settings,
        display_name,
        first_token_timeout,
    })
}

/// Provider names are lowercase slugs, as OpenRouter's provider tags (`deepinfra/turbo`).
fn is_provider_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|it| matches!(it, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'/'))
}

/// The base URL without trailing slashes, if it is an absolute `http(s)` URL with a host and
/// without query or fragment (the client appends `/chat/completions`).
fn check_base_url(url: &str) -> Result<&str, String> {
    let after_scheme = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` is not an http:// or https:// URL"))?;
    let host = after_scheme.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if url.chars().any(|it| it.is_whitespace() || it.is_control()) {
        return Err(format!("`{}` contains whitespace", url.escape_debug()));
    }
    if url.contains(['?', '#']) {
        return Err(format!(
            "`{url}` has a query or fragment; give the API base, such as `https://api.openai.com/v1`"
        ));
    }
    Ok(url.trim_end_matches('/'))
}

/// Whether `name: value` may be sent on every request to a provider.
fn check_header(name: &str, value: &str, has_api_key: bool) -> Result<(), String> {
    let header = http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))?;
    if MANAGED_HEADERS.contains(&header.as_str()) {
        return Err(format!(
            "`{name}` is set by the HTTP client and cannot be configured"
        ));
    }
    if has_api_key && header == http::header::AUTHORIZATION {
        return Err("`Authorization` is set from `api_key`; configure one or the other".to_owned());
    }
    // The value may be a secret: say what is wrong with it, never what it is.
    http::HeaderValue::from_str(value)
        .map_err(|_| "the value has characters not allowed in a header".to_owned())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_http() {
        assert_eq!(
            check_base_url("https://api.openai.com/v1/"),
            Ok("https://api.openai.com/v1")
        );
        assert_eq!(
            check_base_url("http://127.0.0.1:9000/v1"),
            Ok("http://127.0.0.1:9000/v1")
        );
        assert!(check_base_url("ftp://x/v1").is_err());
        assert!(check_base_url("api.openai.com/v1").is_err());
        assert!(check_base_url("https:///v1").is_err());
        assert!(check_base_url("https://x/v1?key=1").is_err());
        assert!(check_base_url("https://x /v1").is_err());
        assert!(check_base_url("").is_err());
    }

    #[test]
    fn provider_names_are_lowercase_slugs() {
        for name in ["openai", "google-ai-studio", "deepinfra/turbo", "p_2"] {
            assert!(is_provider_name(name), "{name}");
        }
        for name in ["", "OpenAI", "open ai", "open.ai", "ü"] {
            assert!(!is_provider_name(name), "{name}");
        }
    }

    #[test]
    fn headers_are_checked() {
        assert!(check_header("HTTP-Referer", "https://example.com", true).is_ok());
        assert!(check_header("Authorization", "Bearer x", false).is_ok());
        assert!(check_header("Authorization", "Bearer x", true).is_err());
        assert!(check_header("Content-Length", "1", false).is_err());
        assert!(check_header("bad header", "v", false).is_err());
        let err = check_header("X-Secret", "line\nbreak-secret", false).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }
}
