//! Child processes of the control plane: each in its own process group, logging to a file.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

use super::Error;

/// Number of log lines quoted in errors.
pub const LOG_TAIL_LINES: usize = 30;

/// One running component (etcd, kube-apiserver, ...).
#[derive(Debug)]
pub struct Component {
    name: &'static str,
    pid: u32,
    log: PathBuf,
    child: Child,
    /// Set once the process has been reaped.
    exited: Option<ExitStatus>,
}

impl Component {
    /// Start `bin` with `args`, stdout and stderr appended to `<log_dir>/<name>.log`.
    pub fn spawn(
        name: &'static str,
        bin: &Path,
        args: &[String],
        log_dir: &Path,
    ) -> Result<Self, Error> {
        let log = log_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)
            .map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let stderr = file
            .try_clone()
            .map_err(|e| Error::io("duplicating log file handle", e))?;
        tracing::debug!(component = name, bin = %bin.display(), ?args, "starting");
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io(format!("starting {name} ({})", bin.display()), e))?;
        let pid = child.id().ok_or_else(|| {
            Error::io(
                format!("{name} has no pid"),
                std::io::ErrorKind::Other.into(),
            )
        })?;
        Ok(Self {
            name,
            pid,
            log,
            child,
            exited: None,
        })
    }

    /// Component name, also the log file's stem.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Path of the log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last [`LOG_TAIL_LINES`] lines of the log.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log, LOG_TAIL_LINES)
    }

    /// `Some(status)` if the process has exited (reaping it), `None` while it runs.
    pub fn try_exited(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// An [`Error::Exited`] if the process has exited.
    pub fn check_alive(&mut self) -> Result<(), Error> {
        match self.try_exited() {
            None => Ok(()),
            Some(status) => Err(Error::Exited {
                component: self.name,
                status,
                log_tail: self.log_tail(),
            }),
        }
    }

    /// SIGTERM the process group, wait up to `grace`, then SIGKILL it and wait.
    pub async fn stop(&mut self, grace: Duration) -> Result<ExitStatus, Error> {
        // Once reaped, the pid (and group id) may be reused: never signal it again.
        if let Some(status) = self.try_exited() {
            return Ok(status);
        }
        signal_group(self.pid, "TERM");
        // A test may have SIGSTOPped it: a stopped process only acts on SIGTERM once continued.
        signal_group(self.pid, "CONT");
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                tracing::warn!(
                    component = self.name,
                    ?grace,
                    "did not exit after SIGTERM; sending SIGKILL"
                );
                signal_group(self.pid, "KILL");
                let _ = self.child.start_kill();
                self.child.wait().await
            }
        }
        .map_err(|e| Error::io(format!("waiting for {}", self.name), e))?;
        self.exited = Some(status);
        Ok(status)
    }

    /// Synchronous best effort: SIGKILL the group and the child (for `Drop`).
    pub fn kill_now(&mut self) {
        if self.try_exited().is_none() {
            signal_group(self.pid, "KILL");
            let _ = self.child.start_kill();
        }
    }

    /// Synchronous: reap the (killed) process, polling until `deadline`, so that no
    /// zombie is left behind. Blocks the thread for at most until `deadline`.
    pub fn reap_until(&mut self, deadline: std::time::Instant) {
        while self.try_exited().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Send `signal` to the process group `pgid` with kill(1) (`unsafe_code` is forbidden,
/// so no `libc::kill`). Errors (group already gone) are ignored.
pub fn signal_group(pgid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{signal}"), "--".to_owned(), format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The last `lines` lines of a file (reads at most its last 256 KiB).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let read = || -> std::io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(256 * 1024)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// A free TCP port on 127.0.0.1 for each of `n` components (all bound at once so they
/// differ, then released; another process could still take one in between).
pub fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let listeners = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io("binding 127.0.0.1:0", e))?;
    let mut ports = [0u16; N];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l
            .local_addr()
            .map_err(|e| Error::io("local_addr", e))?
            .port();
    }
    Ok(ports)
}
