//! The machine and the versions a result set was made with.

use std::path::Path;
use std::process::Command;

fn output(bin: &Path, args: &[&str]) -> String {
    Command::new(bin)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// `<cpu model>, <n> cores, <m> GiB, Linux <release>`.
pub fn describe() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".into(), |(_, m)| m.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores, {mem_gib:.0} GiB, Linux {}",
        kernel.trim()
    )
}

/// Versions of the contestants, the control plane and the source.
pub fn versions(bin_dir: &Path, ferrosched: &Path) -> Vec<(String, String)> {
    let git = |args: &[&str]| output(Path::new("git"), args);
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&[
        "status",
        "--porcelain",
        "--",
        "scheduler",
        "tests/src/bench",
    ])
    .is_empty()
        && !commit.starts_with("unknown");
    vec![
        (
            "kube-scheduler".into(),
            output(&bin_dir.join("kube-scheduler"), &["--version"]),
        ),
        (
            "kube-apiserver".into(),
            output(&bin_dir.join("kube-apiserver"), &["--version"]),
        ),
        (
            "etcd".into(),
            output(&bin_dir.join("etcd"), &["--version"])
                .lines()
                .next()
                .unwrap_or("")
                .into(),
        ),
        (
            "ferrosched-scheduler".into(),
            output(ferrosched, &["--version"]),
        ),
        (
            "source".into(),
            if dirty {
                format!("commit {commit} with uncommitted changes in scheduler/ or the bench")
            } else {
                format!("commit {commit}")
            },
        ),
        ("rustc".into(), output(Path::new("rustc"), &["--version"])),
    ]
}
