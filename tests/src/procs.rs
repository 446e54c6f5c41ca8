//! Ferrosched's own binaries, spawned by tests with their logs kept for failure reports.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, Command};

/// The workspace's target directory (`$CARGO_TARGET_DIR` or `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Path of a workspace binary built by `cargo build` (debug profile unless
/// `FERROSCHED_PROFILE=release`).
pub fn binary(name: &str) -> PathBuf {
    let profile = std::env::var("FERROSCHED_PROFILE").unwrap_or_else(|_| "debug".into());
    target_dir().join(profile).join(name)
}

/// A spawned process: SIGKILLed (with its group) on drop; its log printed by [`Spawned::log`].
#[derive(Debug)]
pub struct Spawned {
    /// Short name for messages.
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Spawned {
    /// Spawns `bin args...` with stdout+stderr to `<dir>/<name>.log`.
    pub fn start(
        name: &str,
        bin: &Path,
        args: &[String],
        dir: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        if !bin.is_file() {
            anyhow::bail!(
                "{} not found: build it first (cargo build --workspace --bins)",
                bin.display()
            );
        }
        std::fs::create_dir_all(dir)?;
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("spawning {}: {e}", bin.display()))?;
        Ok(Spawned {
            name: name.into(),
            child,
            log,
        })
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `KILL`, `STOP`, `CONT`) with /bin/kill.
    pub fn signal(&self, sig: &str) {
        if let Some(pid) = self.pid() {
            let _ = std::process::Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .status();
        }
    }

    /// Waits for the process to exit (after a signal); returns its exit code (None: by signal).
    pub async fn wait(&mut self, timeout: std::time::Duration) -> anyhow::Result<Option<i32>> {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .map_err(|_| anyhow::anyhow!("{} did not exit within {timeout:?}", self.name))??;
        Ok(status.code())
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The leader-election identity a scheduler logged (`identity=<id>`), once it has.
    pub fn logged_identity(&self) -> Option<String> {
        let log = strip_ansi(&self.log());
        let i = log.find("identity=")?;
        let rest = &log[i + "identity=".len()..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }
}

/// `text` without ANSI escape sequences (`ESC [ … letter`), as colored logs carry them.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // The whole process group; `--` so kill(1) reads `-PID` as a group, not an option
            // (without it procps-ng 4.0.2 kill turned `-KILL -PID` into kill(-1): every process).
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
        let _ = self.child.start_kill();
    }
}
