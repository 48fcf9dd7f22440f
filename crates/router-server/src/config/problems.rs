//! Collecting config problems, each with the key path it is about, and building key paths.
//!
//! A key path names a value the way a TOML reader would look for it: `server.listen`,
//! `providers.openai.base_url`, `models[2].endpoints[0].pricing.prompt`. Keys that are not bare
//! TOML keys are quoted: `providers."my.provider"`.

use super::ConfigProblem;

/// The problems found so far. At most one problem is kept per key path: the first one, which is
/// the most basic (an unset variable in a value is reported, not also the value it left behind).
#[derive(Debug, Default)]
pub(super) struct Problems {
    list: Vec<ConfigProblem>,
}

impl Problems {
    /// Records a problem at `path`, unless that path already has one.
    pub(super) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        if self.list.iter().any(|it| it.path == path) {
            return;
        }
        self.list.push(ConfigProblem {
            path,
            message: message.into(),
        });
    }

    /// Whether no problem was found.
    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The problems, in the order they were found.
    pub(super) fn into_vec(self) -> Vec<ConfigProblem> {
        self.list
    }
}

/// `path.key`, or `key` at the root; `key` is quoted when it is not a bare TOML key.
pub(super) fn join_key(path: &str, key: &str) -> String {
    let is_bare = !key.is_empty()
        && key
            .bytes()
            .all(|it| it.is_ascii_alphanumeric() || it == b'_' || it == b'-');
    let separator = if path.is_empty() { "" } else { "." };
    if is_bare {
        format!("{path}{separator}{key}")
    } else {
        format!("{path}{separator}{key:?}")
    }
}

/// `path[index]`.
pub(super) fn join_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_toml() {
        assert_eq!(join_key("", "server"), "server");
        assert_eq!(join_key("server", "listen"), "server.listen");
        assert_eq!(
            join_key("providers", "google-ai-studio"),
            "providers.google-ai-studio"
        );
        assert_eq!(
            join_key("providers", "deepinfra/turbo"),
            r#"providers."deepinfra/turbo""#
        );
        assert_eq!(join_key("headers", ""), r#"headers."""#);
        assert_eq!(
            join_key(&join_index("models", 2), "endpoints"),
            "models[2].endpoints"
        );
    }

    #[test]
    fn keeps_the_first_problem_per_path() {
        let mut problems = Problems::default();
        problems.push("a", "first");
        problems.push("a", "second");
        problems.push("b", "other");
        let list = problems.into_vec();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].message, "first");
        assert_eq!(list[1].path, "b");
    }
}
