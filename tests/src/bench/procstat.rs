//! Peak resident memory and CPU time of a process, from `/proc/<pid>`.

use serde::{Deserialize, Serialize};

/// What a process used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Peak resident set size (`VmHWM`), bytes.
    pub peak_rss_bytes: u64,
    /// User + system CPU time, seconds.
    pub cpu_secs: f64,
}

/// Reads `/proc/<pid>/status` and `/proc/<pid>/stat`.
pub fn usage(pid: u32) -> anyhow::Result<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    Ok(Usage {
        peak_rss_bytes: vm_hwm(&status)
            .ok_or_else(|| anyhow::anyhow!("no VmHWM in /proc/{pid}/status"))?,
        cpu_secs: cpu_ticks(&stat).ok_or_else(|| anyhow::anyhow!("unreadable /proc/{pid}/stat"))?
            as f64
            / clock_ticks_per_sec(),
    })
}

/// CPU seconds only (e.g. of kube-apiserver before and after the measured phase).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(cpu_ticks(&stat)? as f64 / clock_ticks_per_sec())
}

/// Resident memory now (`VmRSS`), bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_kb(&status, "VmRSS:")
}

/// `VmHWM:  123456 kB` → bytes.
fn vm_hwm(status: &str) -> Option<u64> {
    status_kb(status, "VmHWM:")
}

fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// utime + stime (fields 14 and 15) in clock ticks. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `getconf CLK_TCK` (100 on every Linux this runs on; `sysconf` would need `unsafe`).
fn clock_ticks_per_sec() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = text.split_whitespace().map(|v| v.parse().unwrap_or(0.0));
    [(); 3].map(|_| it.next().unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_stat() {
        assert_eq!(
            vm_hwm("Name:\tx\nVmPeak:\t 9 kB\nVmHWM:\t  2048 kB\n"),
            Some(2048 * 1024)
        );
        assert_eq!(vm_hwm("Name: x\n"), None);
        let stat = "42 (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1 2 3";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        // Resident now, then the peak so far: the peak read later is at least as high.
        let rss = rss_bytes(std::process::id()).expect("own VmRSS");
        let u = usage(std::process::id()).expect("own /proc entry");
        assert!(u.peak_rss_bytes > 0);
        assert!(
            rss > 0 && rss <= u.peak_rss_bytes,
            "{rss} > {}",
            u.peak_rss_bytes
        );
        assert!(u.cpu_secs >= 0.0);
        assert!(load_average().iter().all(|l| *l >= 0.0));
    }
}
