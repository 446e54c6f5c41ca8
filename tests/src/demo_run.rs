//! Runs `ferrosched-dev demo` (the main job) as a user would: as a child process whose
//! output is read line by line until it reaches the lines expected, then Ctrl-C, then
//! what it left behind.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// How long a demo may take to stop after Ctrl-C.
const STOP_PATIENCE: Duration = Duration::from_secs(120);

/// What one run of the demo did.
#[derive(Debug)]
pub struct DemoRun {
    /// Every line it printed before Ctrl-C.
    pub output: Vec<String>,
    /// The first milestone not reached (`None`: all were, in order).
    pub missed: Option<String>,
    /// From start to the last milestone.
    pub elapsed: Duration,
    /// Its exit status after Ctrl-C (`None`: it did not stop in time).
    pub status: Option<ExitStatus>,
    /// Processes still running with `work_dir` in their command line after it stopped.
    pub left: Vec<String>,
}

/// Runs `bin demo --work-dir <work_dir> <args>` from the repository, without
/// `$KUBECONFIG`, until it has printed lines containing each of `milestones` in order (or
/// `patience` runs out), then interrupts it and waits for it to stop. Removes `work_dir`.
pub async fn run(
    bin: &Path,
    work_dir: &Path,
    args: &[OsString],
    milestones: &[&str],
    patience: Duration,
) -> anyhow::Result<DemoRun> {
    let mut child = Command::new(bin)
        .current_dir(crate::chart::repo())
        .env_remove("KUBECONFIG")
        .arg("demo")
        .arg("--work-dir")
        .arg(work_dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    let mut seen = 0;
    let mut output = Vec::new();
    let _ = tokio::time::timeout(patience, async {
        while seen < milestones.len() {
            let Ok(Some(line)) = lines.next_line().await else {
                break;
            };
            println!("demo: {line}");
            if line.contains(milestones[seen]) {
                seen += 1;
            }
            output.push(line);
        }
    })
    .await;
    let elapsed = started.elapsed();
    if let Some(pid) = child.id() {
        Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .await?;
    }
    let status = tokio::time::timeout(STOP_PATIENCE, async {
        while let Ok(Some(line)) = lines.next_line().await {
            println!("demo: {line}");
        }
        child.wait().await
    })
    .await
    .ok()
    .transpose()?;
    let left = processes_mentioning(work_dir);
    let _ = std::fs::remove_dir_all(work_dir);
    Ok(DemoRun {
        output,
        missed: milestones.get(seen).map(|m| m.to_string()),
        elapsed,
        status,
        left,
    })
}

/// Command lines of live processes that mention `dir`.
fn processes_mentioning(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = dir.display().to_string();
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle))
        .collect()
}

/// A short work dir under the system temp dir (containerd's socket path under it must stay
/// within 100 bytes).
pub fn work_dir() -> std::path::PathBuf {
    let id = uuid::Uuid::new_v4().simple().to_string();
    std::env::temp_dir().join(format!("ferrosched-demo-{}", &id[..12]))
}

impl DemoRun {
    /// The demo's last placement line reporting `bound` pods bound (`bound 11/11 | …`),
    /// and how many of its five fake nodes hold a demo pod.
    pub fn fake_nodes_used(&self, bound: usize) -> anyhow::Result<(usize, &str)> {
        let prefix = format!("bound {bound}/{bound}");
        let last = self
            .output
            .iter()
            .rev()
            .find(|l| l.starts_with(&prefix))
            .ok_or_else(|| anyhow::anyhow!("no line with all {bound} pods bound"))?;
        let used = (0..5)
            .filter(|i| !last.contains(&format!("\"demo-node-{i}\": 0")))
            .count();
        Ok((used, last))
    }

    /// Errs unless every milestone was reached and the demo stopped cleanly, leaving nothing.
    pub fn check_clean_run(&self) -> anyhow::Result<()> {
        if let Some(m) = &self.missed {
            anyhow::bail!("the demo never printed a line with {m:?}");
        }
        match self.status {
            Some(s) if s.success() => {}
            Some(s) => anyhow::bail!("the demo exited with {s} after Ctrl-C"),
            None => anyhow::bail!("the demo did not stop within {STOP_PATIENCE:?} of Ctrl-C"),
        }
        anyhow::ensure!(
            self.left.is_empty(),
            "processes left by the demo: {:?}",
            self.left
        );
        Ok(())
    }
}
