//! The `[keys_api]` section: the provisioning key that manages API keys through
//! `/api/v1/keys` (OpenRouter's key provisioning API).
//!
//! Without the section the provisioning endpoints answer 401 to everyone. The provisioning key
//! only manages keys: it cannot make completions, and client keys cannot manage keys.

use router_core::secret::Secret;
use serde::Deserialize;

use super::problems::{Problems, join_key};

/// `[keys_api]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKeysApi {
    /// The key sent as `Authorization: Bearer <key>` to `/api/v1/keys`. Required.
    provisioning_key: String,
}

/// The validated `[keys_api]` section.
#[derive(Debug, Clone)]
pub struct KeysApiSettings {
    /// The provisioning key.
    pub provisioning_key: Secret,
}

/// Validates `[keys_api]`; `client_keys` are the `[[keys]]` secrets it must differ from.
pub(super) fn validate<'a>(
    raw: RawKeysApi,
    mut client_keys: impl Iterator<Item = &'a Secret>,
    problems: &mut Problems,
) -> Option<KeysApiSettings> {
    let path = join_key("keys_api", "provisioning_key");
    let key = raw.provisioning_key;
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        problems.push(path, "must not be empty or contain whitespace");
        return None;
    }
    if client_keys.any(|it| it.expose() == key) {
        problems.push(
            path,
            "is also a `[[keys]]` key; the provisioning key must be its own",
        );
        return None;
    }
    Some(KeysApiSettings {
        provisioning_key: Secret::new(key),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::load_one_model;

    /// One client key.
    const CLIENT_KEY: &str = "[[keys]]\nname = \"k\"\nkey = \"sk-client\"\n";

    #[test]
    fn reads_the_provisioning_key_and_refuses_a_client_keys() {
        let config = load_one_model(&format!(
            "{CLIENT_KEY}[keys_api]\nprovisioning_key = \"sk-admin\"\n"
        ))
        .unwrap();
        let settings = config.keys_api.unwrap();
        assert_eq!(settings.provisioning_key.expose(), "sk-admin");
        assert!(load_one_model(CLIENT_KEY).unwrap().keys_api.is_none());
        for bad in ["sk-client", "", "sk admin"] {
            let text = format!("{CLIENT_KEY}[keys_api]\nprovisioning_key = \"{bad}\"\n");
            let Err(problems) = load_one_model(&text) else {
                panic!("`{bad}` accepted");
            };
            assert_eq!(problems[0].0, "keys_api.provisioning_key");
            assert!(!problems[0].1.contains("sk-client"));
        }
    }
}
