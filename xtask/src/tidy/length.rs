//! No file but generated data runs past [`MAX_LINES`] lines unless a comment at its top says
//! why: a long file usually carries more than one concern and wants splitting along them.
//!
//! The reason is a comment among the file's first [`TOP_LINES`] lines that says `800 lines`,
//! for example `//! Over 800 lines because each case below is one table row.`.

use std::path::{Path, PathBuf};

/// The most lines a file may have without a reason at its top.
pub(super) const MAX_LINES: usize = 800;

/// How many lines from the top the reason may stand in.
const TOP_LINES: usize = 20;

/// What a reason says, so that a reader searching for it finds every long file.
const REASON_MARK: &str = "800 lines";

/// Folders never read: build output, fuzzing output, and generated data (embedding tables,
/// vocabularies, trained models).
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", "corpus", "artifacts", "data"];

/// Generated files by name: lock files are written by cargo.
const GENERATED_FILES: &[&str] = &["Cargo.lock"];

/// Every file below `dir` this check reads: not hidden, not in a skipped folder, not generated.
pub(super) fn checked_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut files = Vec::new();
    super::walk(dir, SKIPPED_DIRS, false, &mut files);
    out.extend(files.into_iter().filter(|path| {
        let name = path.file_name().map(|it| it.to_string_lossy());
        !name.is_some_and(|name| GENERATED_FILES.contains(&name.as_ref()))
    }));
}

/// Whether `text` is too long without a reason at its top; `None` when it passes.
pub(super) fn too_long(text: &str) -> Option<usize> {
    let lines = text.lines().count();
    if lines <= MAX_LINES {
        return None;
    }
    let has_reason = text
        .lines()
        .take(TOP_LINES)
        .any(|line| line.to_ascii_lowercase().contains(REASON_MARK));
    (!has_reason).then_some(lines)
}

/// The files under `root` over the limit with no reason, as `path (N lines)`, sorted.
pub(super) fn problems(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    checked_files(root, &mut files);
    let mut problems: Vec<String> = files
        .iter()
        .filter_map(|path| {
            // Binary files are data.
            let text = std::fs::read_to_string(path).ok()?;
            let relative = path.strip_prefix(root).unwrap_or(path);
            let relative = relative.to_string_lossy().replace('\\', "/");
            too_long(&text).map(|lines| format!("{relative} ({lines} lines)"))
        })
        .collect();
    problems.sort();
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_files_need_a_reason_at_the_top() {
        let short = "//! Short.\n".repeat(MAX_LINES);
        assert_eq!(too_long(&short), None);
        let long = "//! Long.\n".repeat(MAX_LINES + 1);
        assert_eq!(too_long(&long), Some(MAX_LINES + 1));
        let explained = format!("//! Over 800 lines because it is one table.\n{long}");
        assert_eq!(too_long(&explained), None);
        let too_late = format!("{long}// 800 lines is fine here.\n");
        assert_eq!(too_long(&too_late), Some(MAX_LINES + 2));
    }

    #[test]
    fn no_file_runs_long_without_a_reason() {
        let root = crate::cmd::repo_root();
        let problems = problems(&root);
        assert!(
            problems.is_empty(),
            "these files run past {MAX_LINES} lines: split them along their concerns, or say \
             why they are long in a comment at the top that contains `{REASON_MARK}`:\n  {}",
            problems.join("\n  ")
        );
    }

    #[test]
    fn the_walk_reads_sources_and_skips_generated_data() {
        let root = crate::cmd::repo_root();
        let mut files = Vec::new();
        checked_files(&root, &mut files);
        assert!(files.iter().any(|it| it.ends_with("xtask/src/tidy.rs")));
        assert!(files.iter().any(|it| it.ends_with("README.md")));
        assert!(!files.iter().any(|it| it.ends_with("Cargo.lock")));
        assert!(!files.iter().any(|it| it.starts_with(root.join("target"))));
        assert!(!files.iter().any(|it| it.ends_with("vocab.txt")));
    }
}
