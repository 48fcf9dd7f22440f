//! Tidy checks, run by `cargo test`: the dependency rule between our crates, a module doc at
//! the top of every source file, no test or xtask code imported on the request path
//! ([`imports`]), no long file without a reason at its top ([`length`]), and a code map in
//! ARCHITECTURE.md that names only what exists ([`codemap`]).
//!
//! The rule is written down once, in [`layer`] and [`BANNED_IN_CORE`]; ARCHITECTURE.md explains
//! it. A new workspace crate fails the check until it is given a layer here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cmd;

mod codemap;
mod imports;
mod length;

/// External crates `router-core` must not depend on: it does no I/O and runs no async code.
const BANNED_IN_CORE: &[&str] = &[
    "tokio", "reqwest", "axum", "hyper", "moka", "blake3", "rusqlite",
];

/// Folders whose `.rs` files must start with a `//!` module doc.
const DOC_ROOTS: &[&str] = &["crates", "xtask", "benches", "fuzz/fuzz_targets"];

/// The crate at the top of the graph: nothing may depend on it, not even as a dev-dependency.
const TOP: &str = "router-server";

/// Each workspace crate's layer. A normal dependency must point to a strictly lower layer (so
/// `router-session`, `router-upstream`, `router-mock` and `router-calibrate` never use each
/// other); a dev-dependency may also stay on its own layer (sideways: `router-upstream`'s tests
/// use `router-mock`), never go up. `None` for a crate the rule does not know yet.
fn layer(krate: &str) -> Option<u8> {
    let layer = match krate {
        "router-core" => 0,
        "router-session" | "router-upstream" | "router-mock" | "router-calibrate" => 1,
        "router-server" => 2,
        // Tools: they may use any library below the server.
        "benches" | "xtask" => 3,
        _ => return None,
    };
    Some(layer)
}

/// A dependency of one workspace package, from `cargo metadata --no-deps`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dependency {
    name: String,
    /// `None` for a normal dependency, else `dev` or `build`.
    kind: Option<String>,
}

/// Every violation of the dependency rule, one line each.
fn dependency_problems(packages: &BTreeMap<String, Vec<Dependency>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (from, deps) in packages {
        let Some(from_layer) = layer(from) else {
            problems.push(format!(
                "workspace crate {from} has no layer in the dependency rule \
                 (`layer` in xtask/src/tidy.rs): add one"
            ));
            continue;
        };
        for dep in deps {
            let kind = dep.kind.as_deref().unwrap_or("normal");
            if dep.kind.is_none()
                && from == "router-core"
                && BANNED_IN_CORE.contains(&dep.name.as_str())
            {
                problems.push(format!(
                    "router-core depends on `{}`: router-core is pure (no I/O, no async); \
                     move the code that needs it to a crate above",
                    dep.name
                ));
            }
            if !packages.contains_key(&dep.name) {
                continue;
            }
            let Some(to_layer) = layer(&dep.name) else {
                // Reported once, as the crate without a layer.
                continue;
            };
            let allowed = match dep.kind {
                None => to_layer < from_layer,
                Some(_) => to_layer <= from_layer,
            };
            if dep.name == TOP {
                problems.push(format!(
                    "{from} has a {kind} dependency on {TOP}: nothing depends on the server"
                ));
            } else if !allowed {
                problems.push(format!(
                    "{from} has a {kind} dependency on {}: edges only point down \
                     (server -> upstream, session -> core; mock -> core; \
                     dev-dependencies may go sideways; see ARCHITECTURE.md)",
                    dep.name
                ));
            }
        }
    }
    problems
}

/// Parses `cargo metadata --format-version 1 --no-deps` into each workspace package's
/// dependencies.
fn parse_metadata(json: &str) -> BTreeMap<String, Vec<Dependency>> {
    let metadata: serde_json::Value = serde_json::from_str(json).expect("cargo metadata JSON");
    let packages = metadata["packages"].as_array().expect("`packages` array");
    packages
        .iter()
        .map(|package| {
            let name = package["name"].as_str().expect("package name").to_owned();
            let deps = package["dependencies"]
                .as_array()
                .expect("`dependencies` array")
                .iter()
                .map(|dep| Dependency {
                    name: dep["name"].as_str().expect("dependency name").to_owned(),
                    kind: dep["kind"].as_str().map(str::to_owned),
                })
                .collect();
            (name, deps)
        })
        .collect()
}

/// Whether `source` starts with a `//!` (or `/*!`) module doc, allowing leading blank lines,
/// plain `//` comments and inner attributes (such as fuzz targets' `#![no_main]`).
fn has_module_doc(source: &str) -> bool {
    let mut in_attribute = false;
    for line in source.lines() {
        let line = line.trim();
        if in_attribute {
            in_attribute = !line.ends_with(']');
            continue;
        }
        if line.starts_with("//!") || line.starts_with("/*!") {
            return true;
        }
        if line.starts_with("#![") {
            in_attribute = !line.ends_with(']');
            continue;
        }
        let plain_comment = line.starts_with("//") && !line.starts_with("///");
        if line.is_empty() || plain_comment {
            continue;
        }
        return false;
    }
    false
}

/// Every file below `dir`, and every folder too when `folders`, leaving out hidden entries and
/// the folders named in `skip` (with what they hold).
fn walk(dir: &Path, skip: &[&str], folders: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        if !path.is_dir() {
            out.push(path);
        } else if !skip.contains(&name.as_ref()) {
            walk(&path, skip, folders, out);
            if folders {
                out.push(path);
            }
        }
    }
}

/// Every `.rs` file under `dir`, skipping build output and hidden folders.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut files = Vec::new();
    walk(dir, &["target"], false, &mut files);
    out.extend(
        files
            .into_iter()
            .filter(|it| it.extension().is_some_and(|ext| ext == "rs")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(list: &[(&str, Option<&str>)]) -> Vec<Dependency> {
        list.iter()
            .map(|(name, kind)| Dependency {
                name: (*name).to_owned(),
                kind: kind.map(str::to_owned),
            })
            .collect()
    }

    #[test]
    fn workspace_follows_the_dependency_rule() {
        let json =
            cmd::output(cmd::cargo().args(["metadata", "--format-version", "1", "--no-deps"]))
                .expect("cargo metadata");
        let packages = parse_metadata(&json);
        for name in ["router-core", "router-server", "xtask", "benches"] {
            assert!(
                packages.contains_key(name),
                "{name} missing from cargo metadata"
            );
        }
        let problems = dependency_problems(&packages);
        assert!(
            problems.is_empty(),
            "the dependency rule is broken:\n  {}",
            problems.join("\n  ")
        );
    }

    #[test]
    fn dependency_checker_reports_each_violation() {
        let packages = BTreeMap::from([
            (
                "router-core".to_owned(),
                deps(&[
                    ("serde", None),
                    ("tokio", None),
                    ("router-session", None),
                    // Dev-dependencies may not go up either.
                    ("router-upstream", Some("dev")),
                ]),
            ),
            ("router-session".to_owned(), deps(&[("router-core", None)])),
            (
                "router-upstream".to_owned(),
                deps(&[
                    ("router-core", None),
                    ("router-session", None),
                    // Sideways dev-dependencies are allowed.
                    ("router-mock", Some("dev")),
                ]),
            ),
            (
                "router-mock".to_owned(),
                deps(&[("router-server", Some("dev"))]),
            ),
            (
                "router-server".to_owned(),
                deps(&[("router-upstream", None)]),
            ),
            ("benches".to_owned(), deps(&[("router-server", None)])),
            ("newcrate".to_owned(), deps(&[("router-core", None)])),
        ]);
        let problems = dependency_problems(&packages);
        let expected_starts = [
            "benches has a normal dependency on router-server",
            "workspace crate newcrate has no layer",
            "router-core depends on `tokio`",
            "router-core has a normal dependency on router-session",
            "router-core has a dev dependency on router-upstream",
            "router-mock has a dev dependency on router-server",
            "router-upstream has a normal dependency on router-session",
        ];
        assert_eq!(problems.len(), expected_starts.len(), "{problems:#?}");
        for (problem, start) in problems.iter().zip(expected_starts) {
            assert!(
                problem.starts_with(start),
                "{problem:?} should start with {start:?}"
            );
        }
    }

    #[test]
    fn every_source_file_has_a_module_doc() {
        let root = cmd::repo_root();
        let mut files = Vec::new();
        for dir in DOC_ROOTS {
            rust_files(&root.join(dir), &mut files);
        }
        assert!(
            files.iter().any(|it| it.ends_with("xtask/src/tidy.rs")),
            "the file walk found no sources under {}",
            root.display()
        );
        let mut missing: Vec<String> = files
            .iter()
            .filter(|path| {
                let source = std::fs::read_to_string(path).expect("read source file");
                !has_module_doc(&source)
            })
            .map(|path| {
                path.strip_prefix(&root)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            })
            .collect();
        missing.sort();
        assert!(
            missing.is_empty(),
            "these files do not start with a `//!` module doc saying what they are for:\n  {}",
            missing.join("\n  ")
        );
    }

    #[test]
    fn module_doc_checker_accepts_attributes_and_comments_first() {
        let good = [
            "//! Docs.\nfn main() {}",
            "\n// SPDX-License-Identifier: MIT\n//! Docs.\n",
            "#![no_main]\n//! A fuzz target.\n",
            "#![cfg_attr(\n    test,\n    expect(clippy::x)\n)]\n\n//! Docs.\n",
            "/*! Block docs. */\n",
        ];
        for source in good {
            assert!(has_module_doc(source), "{source:?}");
        }
        let bad = [
            "",
            "fn main() {}\n//! Too late.\n",
            "/// An item doc is not a module doc.\nfn main() {}\n",
            "use std::fs;\n",
            "#[derive(Debug)]\nstruct X;\n",
        ];
        for source in bad {
            assert!(!has_module_doc(source), "{source:?}");
        }
    }
}
