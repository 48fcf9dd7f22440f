//! The request path never imports test or xtask code: a `use` in the non-test code of the
//! request-path crates (`router-core`, `router-session`, `router-upstream`, `router-server`) may
//! not name a dev-only dependency, the xtask, or a module that exists only under `#[cfg(test)]`.
//!
//! Test code is left out before looking: files declared by `#[cfg(test)] mod name;` (and
//! everything below them), and every item that follows a `#[cfg(test)]` attribute.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::Dependency;

/// The crates whose `src/` serves requests; their non-test code is checked.
pub(super) const REQUEST_PATH: &[&str] = &[
    "router-core",
    "router-session",
    "router-upstream",
    "router-server",
];

/// Names that are test support or developer tooling wherever they appear in a path.
const ALWAYS_TEST: &[&str] = &["xtask", "test_support", "testing"];

/// One source file's non-test code and the test-only modules it declares.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Split {
    /// The lines outside `#[cfg(test)]` items, joined by newlines.
    pub(super) code: String,
    /// Names of the modules declared under `#[cfg(test)]`, inline or as files.
    pub(super) test_modules: Vec<String>,
}

/// Cuts the `#[cfg(test)]` items out of `source`: the attribute, any attributes after it, and the
/// item, which ends at a `;` before any `{` or where its braces balance again.
pub(super) fn split_test_code(source: &str) -> Split {
    let mut split = Split::default();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("#[cfg(test)]")
            && !rest.trim().is_empty()
            && rest.trim().ends_with(';')
        {
            // A one-line item such as `#[cfg(test)] use proptest::prelude::*;`.
            continue;
        }
        if trimmed != "#[cfg(test)]" {
            split.code.push_str(line);
            split.code.push('\n');
            continue;
        }
        let mut depth = 0_i64;
        let mut opened = false;
        for item_line in lines.by_ref() {
            let trimmed = item_line.trim();
            if trimmed.starts_with("#[") || trimmed.starts_with("///") || trimmed.is_empty() {
                continue;
            }
            if let Some(name) = module_name(trimmed) {
                split.test_modules.push(name);
            }
            for ch in item_line.chars() {
                match ch {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (opened && depth <= 0) || (!opened && trimmed.ends_with(';')) {
                break;
            }
        }
    }
    split
}

/// `name` for a line `mod name;`, `mod name {` or with a visibility before `mod`.
fn module_name(line: &str) -> Option<String> {
    let rest = line
        .split_once("mod ")
        .filter(|(before, _)| before.trim().is_empty() || before.trim().starts_with("pub"))?
        .1;
    let name: String = rest
        .chars()
        .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Every `use` (and `extern crate`) statement in `code`, whitespace folded, one string each.
pub(super) fn use_statements(code: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current: Option<String> = None;
    for line in code.lines() {
        let trimmed = line.trim();
        if current.is_none() {
            let bare = trimmed
                .strip_prefix("pub(crate) ")
                .or_else(|| trimmed.strip_prefix("pub(super) "))
                .or_else(|| trimmed.strip_prefix("pub "))
                .unwrap_or(trimmed);
            if bare.starts_with("use ") || bare.starts_with("extern crate ") {
                current = Some(String::new());
            }
        }
        if let Some(statement) = current.as_mut() {
            statement.push_str(trimmed);
            statement.push(' ');
            if trimmed.ends_with(';') {
                statements.extend(current.take());
            }
        }
    }
    statements
}

/// The names in a `use` statement a test-only `forbidden` set would match: every identifier.
fn identifiers(statement: &str) -> impl Iterator<Item = &str> {
    statement
        .split(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
        .filter(|word| !word.is_empty())
}

/// The problems in one crate's sources: each `use` that names a forbidden crate or module.
/// `files` maps a path to its text; `dev_only` are the crate's dev-only dependencies.
pub(super) fn crate_problems(
    krate: &str,
    files: &BTreeMap<PathBuf, String>,
    dev_only: &BTreeSet<String>,
) -> Vec<String> {
    let splits: BTreeMap<&PathBuf, Split> = files
        .iter()
        .map(|(path, source)| (path, split_test_code(source)))
        .collect();
    let test_dirs: Vec<PathBuf> = splits
        .iter()
        .flat_map(|(path, split)| {
            split
                .test_modules
                .iter()
                .map(|name| module_dir(path).join(name))
        })
        .collect();
    let mut forbidden: BTreeSet<String> = ALWAYS_TEST.iter().map(|it| (*it).to_owned()).collect();
    forbidden.extend(dev_only.iter().map(|name| name.replace('-', "_")));
    let test_module_names: BTreeSet<String> = splits
        .values()
        .flat_map(|split| split.test_modules.iter().cloned())
        .collect();
    let mut problems = Vec::new();
    for (path, split) in &splits {
        let test_only = test_dirs
            .iter()
            .any(|dir| path.starts_with(dir) || path.with_extension("") == *dir);
        if test_only {
            continue;
        }
        for statement in use_statements(&split.code) {
            let bad: Vec<&str> = identifiers(&statement)
                .filter(|word| forbidden.contains(*word) || test_module_names.contains(*word))
                .collect();
            if !bad.is_empty() {
                problems.push(format!(
                    "{krate}: {} imports test or xtask code ({}): `{}`",
                    path.display(),
                    bad.join(", "),
                    statement.trim()
                ));
            }
        }
    }
    problems
}

/// The folder that holds the files of `path`'s child modules: its own folder for `lib.rs`,
/// `main.rs` and `mod.rs`, else a folder named after the file.
fn module_dir(path: &Path) -> PathBuf {
    let parent = path.parent().unwrap_or(Path::new(""));
    match path.file_name().and_then(|it| it.to_str()) {
        Some("lib.rs" | "main.rs" | "mod.rs") => parent.to_path_buf(),
        _ => path.with_extension(""),
    }
}

/// A workspace crate's dependencies that only tests use: dev-dependencies with no normal or
/// build entry of the same name.
pub(super) fn dev_only(deps: &[Dependency]) -> BTreeSet<String> {
    let kept: BTreeSet<&str> = deps
        .iter()
        .filter(|dep| dep.kind.as_deref() != Some("dev"))
        .map(|dep| dep.name.as_str())
        .collect();
    deps.iter()
        .filter(|dep| dep.kind.as_deref() == Some("dev") && !kept.contains(dep.name.as_str()))
        .map(|dep| dep.name.clone())
        .collect()
}

/// Every Rust file below `dir`, with its text.
fn sources(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut paths = Vec::new();
    super::rust_files(dir, &mut paths);
    paths
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            Some((path, text))
        })
        .collect()
}

/// The problems in every request-path crate's `src/` under `root`, given each workspace
/// package's dependencies.
pub(super) fn workspace_problems(
    root: &Path,
    packages: &BTreeMap<String, Vec<Dependency>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for krate in REQUEST_PATH {
        let deps = packages.get(*krate).map_or(&[][..], Vec::as_slice);
        let src = root.join("crates").join(krate).join("src");
        problems.extend(crate_problems(krate, &sources(&src), &dev_only(deps)));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd;

    #[test]
    fn request_path_never_imports_test_or_xtask_code() {
        let json =
            cmd::output(cmd::cargo().args(["metadata", "--format-version", "1", "--no-deps"]))
                .expect("cargo metadata");
        let packages = super::super::parse_metadata(&json);
        let root = cmd::repo_root();
        let files = sources(&root.join("crates/router-server/src"));
        assert!(files.len() > 10, "the walk found no server sources");
        let problems = workspace_problems(&root, &packages);
        assert!(
            problems.is_empty(),
            "request-path code imports test or xtask code; move the import under \
             `#[cfg(test)]` or the code out of the test module:\n  {}",
            problems.join("\n  ")
        );
    }

    #[test]
    fn test_items_are_cut_out() {
        let source = "\
use a::b;
#[cfg(test)]
mod tests;
fn f() {}
#[cfg(test)] use proptest::y;
#[cfg(test)]
#[expect(dead_code, reason = \"x\")]
pub(crate) mod pieces {
    use proptest::prelude::*;
    fn g() { if x { y } }
}
#[cfg(test)]
fn only_in_tests() {
    use proptest::x;
}
use c::d;
";
        let split = split_test_code(source);
        assert_eq!(split.code, "use a::b;\nfn f() {}\nuse c::d;\n");
        assert_eq!(split.test_modules, ["tests", "pieces"]);
    }

    #[test]
    fn multi_line_and_public_uses_are_read_whole() {
        let code = "pub use x::{\n    a,\n    b,\n};\nfn f() { let used = 1; }\nextern crate y;\n";
        assert_eq!(
            use_statements(code),
            ["pub use x::{ a, b, }; ", "extern crate y; "]
        );
    }

    #[test]
    fn forbidden_imports_are_reported_and_test_files_skipped() {
        let files = BTreeMap::from([
            (
                PathBuf::from("src/lib.rs"),
                "//! Lib.\nuse router_mock::Mock;\nuse crate::event::pieces;\n#[cfg(test)]\nmod tests;\n"
                    .to_owned(),
            ),
            (
                PathBuf::from("src/event.rs"),
                "//! Event.\nuse serde::Serialize;\n#[cfg(test)]\npub(crate) mod pieces {}\n"
                    .to_owned(),
            ),
            (
                PathBuf::from("src/tests.rs"),
                "//! Tests.\nuse proptest::prelude::*;\n".to_owned(),
            ),
            (
                PathBuf::from("src/tests/deep.rs"),
                "//! Deeper tests.\nuse router_mock::Mock;\n".to_owned(),
            ),
            (
                PathBuf::from("src/tool.rs"),
                "//! Tool.\nuse xtask::cmd;\n".to_owned(),
            ),
        ]);
        let dev_only = BTreeSet::from(["router-mock".to_owned(), "proptest".to_owned()]);
        let problems = crate_problems("demo", &files, &dev_only);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("src/lib.rs") && problems[0].contains("router_mock"));
        assert!(problems[1].contains("src/lib.rs") && problems[1].contains("pieces"));
        assert!(problems[2].contains("src/tool.rs") && problems[2].contains("xtask"));
    }

    #[test]
    fn dev_only_leaves_out_what_normal_code_also_uses() {
        let deps = [
            Dependency {
                name: "tokio".to_owned(),
                kind: None,
            },
            Dependency {
                name: "tokio".to_owned(),
                kind: Some("dev".to_owned()),
            },
            Dependency {
                name: "proptest".to_owned(),
                kind: Some("dev".to_owned()),
            },
        ];
        assert_eq!(dev_only(&deps), BTreeSet::from(["proptest".to_owned()]));
    }
}
