//! Processes of the node that no component handle covers: the containerd shims (they
//! outlive containerd; each names the socket it reports to with `-address <sock>`), and
//! anything else whose command line points into the node's dir.

use std::path::Path;
use std::time::{Duration, Instant};

/// A running process.
#[derive(Debug, Clone)]
pub struct Proc {
    /// Its pid.
    pub pid: u32,
    /// Its arguments.
    pub args: Vec<String>,
}

fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S ...`: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Every live (not zombie) process whose arguments satisfy `matches`.
pub fn find(matches: impl Fn(&[String]) -> bool) -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            (!args.is_empty() && matches(&args) && state(pid) != Some('Z'))
                .then_some(Proc { pid, args })
        })
        .collect()
}

/// Processes whose command line mentions `dir`: containerd, kubelet and kube-proxy by
/// their config paths, and the shims by the socket they report to
/// (`containerd-shim-runc-v2 … -address <dir>/containerd/containerd.sock`).
pub fn of_dir(dir: &Path) -> Vec<Proc> {
    let needle = dir.display().to_string();
    find(|args| args.iter().any(|a| a.contains(&needle)))
}

/// SIGKILL each process and wait up to `patience` for all to be gone (or zombies, which
/// hold nothing but a pid). Returns those still alive.
pub fn kill_all(procs: &[Proc], patience: Duration) -> Vec<Proc> {
    for p in procs {
        tracing::info!(pid = p.pid, args = ?p.args, "killing a leftover node process");
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &p.pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
    let deadline = Instant::now() + patience;
    loop {
        let alive: Vec<Proc> = procs
            .iter()
            .filter(|p| state(p.pid).is_some_and(|s| s != 'Z'))
            .cloned()
            .collect();
        if alive.is_empty() || Instant::now() >= deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
