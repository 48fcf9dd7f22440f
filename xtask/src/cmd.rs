//! Running subprocesses: each command line is printed before it runs, failures name the step,
//! and long-running children are killed when their [`Children`] guard drops (also on error).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

/// The repository root (the parent of `xtask/`).
pub(crate) fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// `cargo`, as the one that started us (`$CARGO`), run from the repository root.
pub(crate) fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(repo_root());
    command
}

/// Prints and runs `command`, failing with `step` in the message when it does not succeed.
pub(crate) fn run(step: &str, command: &mut Command) -> anyhow::Result<()> {
    eprintln!("$ {}", display(command));
    let status = command
        .status()
        .with_context(|| format!("{step}: could not start `{}`", display(command)))?;
    if !status.success() {
        bail!("{step} failed ({status}): `{}`", display(command));
    }
    Ok(())
}

/// Runs `command` quietly and returns its standard output; fails (with its standard error) when
/// the command does.
pub(crate) fn output(command: &mut Command) -> anyhow::Result<String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{}`", display(command)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            display(command),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{}`: output", display(command)))
}

/// Whether `command` runs and exits successfully, its output discarded.
pub(crate) fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether an executable named `name` is on `PATH`.
pub(crate) fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

/// Whether we run as root (so `apt-get install` can work).
pub(crate) fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// Installs a Debian package, running `apt-get update` first only when the plain install fails.
/// Requires root; the caller says why the package is needed.
pub(crate) fn apt_install(package: &str, why: &str) -> anyhow::Result<()> {
    if !is_root() || !on_path("apt-get") {
        bail!("{why}: install the Debian package `{package}` (not root, or no apt-get here)");
    }
    eprintln!("{why}: installing the Debian package `{package}`");
    let install = || {
        let mut command = Command::new("apt-get");
        command
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    if run(&format!("apt-get install {package}"), &mut install()).is_ok() {
        return Ok(());
    }
    run("apt-get update", Command::new("apt-get").arg("update"))?;
    run(&format!("apt-get install {package}"), &mut install())
}

/// A command line as a person would type it: environment assignments, program, arguments.
pub(crate) fn display(command: &Command) -> String {
    let mut words: Vec<String> = command
        .get_envs()
        .filter_map(|(key, value)| {
            let value = value?;
            Some(format!(
                "{}={}",
                key.to_string_lossy(),
                quote(&value.to_string_lossy())
            ))
        })
        .collect();
    let program = Path::new(command.get_program());
    let program = match program.file_name() {
        // `$CARGO` is an absolute path into the toolchain; `cargo` is what a person types.
        Some(name) if name == "cargo" => "cargo".into(),
        _ => program.to_string_lossy(),
    };
    words.push(program.into_owned());
    words.extend(command.get_args().map(|arg| quote(&arg.to_string_lossy())));
    words.join(" ")
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@+%".contains(&b));
    match plain {
        true => word.to_owned(),
        false => format!("'{}'", word.replace('\'', r"'\''")),
    }
}

/// Long-running children (servers, mocks), killed and reaped when this guard drops, so an error
/// or a panic anywhere leaves no process behind.
#[derive(Debug, Default)]
pub(crate) struct Children {
    children: Vec<(String, Child)>,
}

impl Children {
    /// Spawns `command` as the child `name`, printing its command line.
    pub(crate) fn spawn(
        &mut self,
        name: &str,
        command: &mut Command,
    ) -> anyhow::Result<&mut Child> {
        eprintln!("$ {} &", display(command));
        let child = command
            .spawn()
            .with_context(|| format!("could not start {name}: `{}`", display(command)))?;
        self.children.push((name.to_owned(), child));
        let last = self.children.len() - 1;
        Ok(&mut self.children[last].1)
    }

    /// Fails when a child has already exited (a server that died on start-up, say).
    pub(crate) fn check_running(&mut self) -> anyhow::Result<()> {
        for (name, child) in &mut self.children {
            if let Some(status) = child.try_wait()? {
                bail!("{name} exited unexpectedly ({status})");
            }
        }
        Ok(())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        // Last started, first stopped: the server goes before the mocks it talks to.
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_commands_as_typed() {
        let mut command = Command::new("/opt/rust/bin/cargo");
        command
            .env("RUSTDOCFLAGS", "-D warnings")
            .args(["doc", "--no-deps", "it's"]);
        assert_eq!(
            display(&command),
            r"RUSTDOCFLAGS='-D warnings' cargo doc --no-deps 'it'\''s'"
        );
    }

    #[test]
    fn reports_the_step_that_failed() {
        let err = run("the false step", &mut Command::new("false")).unwrap_err();
        assert!(
            err.to_string().starts_with("the false step failed"),
            "{err}"
        );
        assert!(run("true", &mut Command::new("true")).is_ok());
    }

    #[test]
    fn children_are_killed_on_drop() {
        let pid = {
            let mut children = Children::default();
            let child = children
                .spawn("sleeper", Command::new("sleep").arg("600"))
                .unwrap();
            let pid = child.id();
            children.check_running().unwrap();
            pid
        };
        // Reaped by the guard: the pid no longer names our child.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(!stat.contains("(sleep)"), "sleep {pid} still alive: {stat}");
    }
}
