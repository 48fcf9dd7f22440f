//! ARCHITECTURE.md's code map stays true: every file or folder it names exists.
//!
//! The code map is the `## Code map` section; each `### \`folder\`` heading below it names the
//! folder its entries are in. A name in backticks that looks like a path (it ends in `/` or in
//! a source or data extension) must be a file or folder under that folder whose path ends with
//! the name, so `config/sessions.rs` under `crates/router-server` and `input.rs` in the
//! description of `canonical/` both resolve.

use std::path::{Path, PathBuf};

/// Extensions of the files the code map names.
const EXTENSIONS: &[&str] = &[".rs", ".toml", ".md", ".py", ".mjs", ".json", ".sql"];

/// Paths the code map names that are not files of this repository: the config file the server
/// looks for in its working directory, and the scorer of the labelled evaluation data.
const OUTSIDE: &[&str] = &["turnout.toml", "shared/eval/score.py"];

/// One code map section: the folders of its heading and the path names in its text.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Section {
    pub(super) folders: Vec<String>,
    pub(super) names: Vec<String>,
}

/// The names in backticks in `text`.
fn quoted(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

/// Whether a quoted name is a path: no spaces or code punctuation, and a folder or a file.
fn is_path(name: &str) -> bool {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | '/'));
    plain && (name.ends_with('/') || EXTENSIONS.iter().any(|ext| name.ends_with(ext)))
}

/// The code map's sections, from ARCHITECTURE.md's text.
pub(super) fn sections(architecture: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut in_map = false;
    for line in architecture.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            in_map = heading.trim() == "Code map";
            continue;
        }
        if !in_map {
            continue;
        }
        if let Some(heading) = line.strip_prefix("### ") {
            sections.push(Section {
                folders: quoted(heading).map(str::to_owned).collect(),
                names: Vec::new(),
            });
            continue;
        }
        if let Some(section) = sections.last_mut() {
            section
                .names
                .extend(quoted(line).filter(|it| is_path(it)).map(str::to_owned));
        }
    }
    sections
}

/// The names of `section` that name nothing under its folders (or the repository root).
pub(super) fn missing(root: &Path, section: &Section) -> Vec<String> {
    let mut found = Vec::new();
    for folder in &section.folders {
        super::walk(&root.join(folder), &["target"], true, &mut found);
    }
    let top: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|read| read.flatten().map(|it| it.path()).collect())
        .unwrap_or_default();
    section
        .names
        .iter()
        .filter(|name| !OUTSIDE.contains(&name.as_str()))
        .filter(|name| {
            let trimmed = name.trim_end_matches('/');
            let named =
                |path: &PathBuf| path.ends_with(trimmed) && (!name.ends_with('/') || path.is_dir());
            !root.join(trimmed).exists() && !found.iter().chain(&top).any(named)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_collect_path_names_under_their_folders() {
        let text = "\
## Entry points
- `main.rs` is not in the map.
## Code map
### `crates/a`
- `x.rs`: `Foo::bar` and `records_url`; `sub/` holds `y.rs`.
### `config/`, `docs/`
`config/demo.toml` and `style.md`.
## Cross-cutting concerns
- `z.rs`
";
        assert_eq!(
            sections(text),
            [
                Section {
                    folders: vec!["crates/a".to_owned()],
                    names: vec!["x.rs".to_owned(), "sub/".to_owned(), "y.rs".to_owned()],
                },
                Section {
                    folders: vec!["config/".to_owned(), "docs/".to_owned()],
                    names: vec!["config/demo.toml".to_owned(), "style.md".to_owned()],
                },
            ]
        );
    }

    #[test]
    fn a_name_that_is_nowhere_is_missing() {
        let root = crate::cmd::repo_root();
        let section = Section {
            folders: vec!["xtask".to_owned()],
            names: vec![
                "tidy.rs".to_owned(),
                "tidy/codemap.rs".to_owned(),
                "src/".to_owned(),
                "Cargo.toml".to_owned(),
                "no_such_file.rs".to_owned(),
                "tidy.rs/".to_owned(),
            ],
        };
        assert_eq!(missing(&root, &section), ["no_such_file.rs", "tidy.rs/"]);
    }

    #[test]
    fn every_file_the_code_map_names_exists() {
        let root = crate::cmd::repo_root();
        let architecture =
            std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
        let sections = sections(&architecture);
        assert!(sections.len() >= 5, "no code map found in ARCHITECTURE.md");
        let missing: Vec<String> = sections
            .iter()
            .flat_map(|section| {
                missing(&root, section)
                    .into_iter()
                    .map(|name| format!("{name} (under {})", section.folders.join(", ")))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "ARCHITECTURE.md's code map names what does not exist; make it true:\n  {}",
            missing.join("\n  ")
        );
    }
}
