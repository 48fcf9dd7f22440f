//! docs/config.md against the loader: every key the docs list is one the loader accepts, and
//! every key the loader accepts is in the docs.
//!
//! What the loader accepts is asked of the loader itself: each `Raw…` struct refuses unknown keys
//! (`deny_unknown_fields`), and its problem for one names every key it expects. So for each
//! section a config with the key `zz_unknown` in it is loaded, the expected keys are read from the
//! problem, and they are compared with the rows of that section's table in the docs (plus the
//! sections whose headings sit below it, such as `[routing.auto]` under `[routing]`).

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// The key no section has.
const UNKNOWN: &str = "zz_unknown";

/// Each documented section's keys, by the section's path (`server`, `routing.auto`,
/// `models.endpoints`; `pricing` and `capabilities` for the endpoint's tables; the top level,
/// every `[section]`, as ""): the first cell of every table row below its heading, and the next
/// segment of every heading nested in it (`[routing.auto]` gives `routing` the key `auto`).
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let mut sections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current = None;
    for line in DOCS.lines() {
        if line.starts_with("## ") || line.starts_with("### ") {
            let heading = line.split('`').nth(1).unwrap_or_default();
            let path = heading.trim_matches(|ch| ch == '[' || ch == ']');
            current = (!heading.is_empty()).then(|| path.to_owned());
            if heading.starts_with('[') {
                let mut parent = String::new();
                for segment in path.split('.') {
                    sections
                        .entry(parent.clone())
                        .or_default()
                        .insert(segment.to_owned());
                    if !parent.is_empty() {
                        parent.push('.');
                    }
                    parent.push_str(segment);
                }
            }
            continue;
        }
        if let (Some(section), Some(row)) = (&current, line.strip_prefix("| `")) {
            let key = row.split('`').next().unwrap_or_default();
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.to_owned());
        }
    }
    sections
}

/// The keys the loader expects where `text` puts [`UNKNOWN`]: read from its problem,
/// "unknown key `zz_unknown`, expected one of `a`, `b`".
fn accepted(text: &str) -> BTreeSet<String> {
    let found = problems(text, &[]);
    let [(_, message)] = found.as_slice() else {
        panic!("expected one problem, got {found:?} for\n{text}");
    };
    let expected = message
        .strip_prefix(&format!("unknown key `{UNKNOWN}`, expected "))
        .unwrap_or_else(|| panic!("not an unknown key: {message}"));
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// `MINIMAL` with `line` replaced by itself followed by `added`.
fn minimal_after(line: &str, added: &str) -> String {
    assert!(MINIMAL.contains(line), "{line:?} is not in MINIMAL");
    MINIMAL.replacen(line, &format!("{line}\n{added}"), 1)
}

/// Each section by its path in the docs (the top level as ""), with a config that has [`UNKNOWN`]
/// in that section.
fn sections_with_an_unknown_key() -> Vec<(&'static str, String)> {
    let table = |name: &str| format!("[{name}]\n{UNKNOWN} = 1\n{MINIMAL}");
    let endpoint = "  upstream_model = \"gpt-5.1\"";
    vec![
        ("", format!("{UNKNOWN} = 1\n{MINIMAL}")),
        ("server", table("server")),
        ("settings", table("settings")),
        ("telemetry", table("telemetry")),
        ("routing", table("routing")),
        ("routing.health", table("routing.health")),
        ("routing.auto", table("routing.auto")),
        ("front", table("front")),
        ("redis", table("redis")),
        ("limits", table("limits")),
        ("keys_api", table("keys_api")),
        ("sessions", table("sessions")),
        (
            "keys",
            minimal_after("name = \"team-a\"", &format!("{UNKNOWN} = 1")),
        ),
        (
            "providers.<name>",
            minimal_after(
                "api_key = \"sk-provider-secret-1\"",
                &format!("{UNKNOWN} = 1"),
            ),
        ),
        (
            "models",
            minimal_after("id = \"openai/gpt-5.1\"", &format!("{UNKNOWN} = 1")),
        ),
        (
            "models.endpoints",
            minimal_after(endpoint, &format!("  {UNKNOWN} = 1")),
        ),
        (
            "capabilities",
            minimal_after(
                endpoint,
                &format!("  capabilities = {{ {UNKNOWN} = true }}"),
            ),
        ),
        (
            "pricing",
            MINIMAL.replacen(
                "completion = 10.0 }",
                &format!("completion = 10.0, {UNKNOWN} = 1 }}"),
                1,
            ),
        ),
    ]
}

#[test]
fn every_documented_key_is_accepted_and_every_accepted_key_documented() {
    let documented = documented();
    let mut wrong = Vec::new();
    for (section, text) in sections_with_an_unknown_key() {
        let accepted = accepted(&text);
        let listed = documented.get(section).cloned().unwrap_or_default();
        let undocumented: Vec<_> = accepted.difference(&listed).collect();
        let unaccepted: Vec<_> = listed.difference(&accepted).collect();
        if !undocumented.is_empty() || !unaccepted.is_empty() {
            wrong.push(format!(
                "{section:?}: accepted but not in docs/config.md {undocumented:?}; \
                 in docs/config.md but refused {unaccepted:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Tables documented inside one row (`tls`, a key's `auto_router`): the row names each key the
/// loader accepts in them.
#[test]
fn tables_documented_in_a_row_name_every_key() {
    let row = |key: &str| {
        DOCS.lines()
            .find(|line| line.starts_with(&format!("| `{key}` |")))
            .unwrap_or_else(|| panic!("no row for `{key}`"))
    };
    let cases = [
        (
            row("tls"),
            format!("[server]\ntls = {{ cert = \"c\", key = \"k\", {UNKNOWN} = 1 }}\n{MINIMAL}"),
        ),
        (
            row("auto_router"),
            minimal_after(
                "name = \"team-a\"",
                &format!("auto_router = {{ {UNKNOWN} = 1 }}"),
            ),
        ),
    ];
    for (row, text) in cases {
        let accepted = accepted(&text);
        assert!(accepted.len() >= 2, "{accepted:?}");
        for key in &accepted {
            assert!(
                row.contains(key.as_str()),
                "`{key}` is not named in {row:?}"
            );
        }
    }
}

#[test]
fn the_docs_sections_are_read() {
    let documented = documented();
    for (section, key) in [
        ("", "server"),
        ("", "models"),
        ("server", "listen"),
        ("routing", "auto"),
        ("routing", "max_models"),
        ("keys", "rpm"),
        ("models.endpoints", "pricing"),
        ("pricing", "cache_read"),
    ] {
        let keys = documented.get(section).cloned().unwrap_or_default();
        assert!(keys.contains(key), "{section:?} lacks {key:?}: {keys:?}");
    }
}
