//! The contestants and how each is started: Ferrosched's scheduler, upstream
//! kube-scheduler (same KubeSchedulerConfiguration, default plugins), and the limit — the
//! minimal binder (`ferrosched-bench binder`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Client limits every contestant gets (clientConnection qps / burst).
pub const QPS: u32 = 5000;
/// See [`QPS`].
pub const BURST: u32 = 5000;
/// Binds the minimal binder keeps in flight.
pub const BINDER_CONCURRENCY: usize = 64;

/// One contestant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Contestant {
    /// `ferrosched-scheduler`.
    Ferrosched,
    /// Upstream `kube-scheduler` at the pinned version.
    KubeScheduler,
    /// The minimal binder writing one `Scheduled` event per bound pod, as every
    /// upstream-faithful scheduler does: the limit the targets are measured against.
    LimitEvents,
    /// The minimal binder: round-robin, no logic, no events (the floor under both).
    Limit,
}

impl Contestant {
    /// Every contestant, in table order.
    pub const ALL: [Contestant; 4] = [
        Contestant::Ferrosched,
        Contestant::KubeScheduler,
        Contestant::LimitEvents,
        Contestant::Limit,
    ];

    /// Command-line and table name.
    pub fn name(self) -> &'static str {
        match self {
            Contestant::Ferrosched => "ferrosched",
            Contestant::KubeScheduler => "kube-scheduler",
            Contestant::LimitEvents => "limit-events",
            Contestant::Limit => "limit",
        }
    }

    /// Parses [`Contestant::name`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Whether it serves `/readyz` and `/metrics` on a secure port.
    pub fn is_scheduler(self) -> bool {
        !matches!(self, Contestant::Limit | Contestant::LimitEvents)
    }

    /// Chart colour.
    pub fn color(self) -> &'static str {
        match self {
            Contestant::Ferrosched => "#d9480f",
            Contestant::KubeScheduler => "#1c7ed6",
            Contestant::LimitEvents => "#495057",
            Contestant::Limit => "#868e96",
        }
    }
}

/// Where the binaries are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `ferrosched-scheduler` (release build).
    pub ferrosched: PathBuf,
    /// Upstream `kube-scheduler`.
    pub kube_scheduler: PathBuf,
    /// `ferrosched-bench` itself (runs the binder).
    pub bench: PathBuf,
}

impl Binaries {
    /// `ferrosched-scheduler` next to this executable, kube-scheduler in `bin_dir`.
    pub fn locate(bin_dir: &Path) -> anyhow::Result<Self> {
        let bench = std::env::current_exe()?;
        let dir = bench
            .parent()
            .ok_or_else(|| anyhow::anyhow!("{} has no directory", bench.display()))?;
        let b = Binaries {
            ferrosched: dir.join("ferrosched-scheduler"),
            kube_scheduler: bin_dir.join("kube-scheduler"),
            bench: bench.clone(),
        };
        for p in [&b.ferrosched, &b.kube_scheduler] {
            if !p.is_file() {
                anyhow::bail!(
                    "{} not found: run hack/bench.sh, which builds it",
                    p.display()
                );
            }
        }
        Ok(b)
    }
}

/// The KubeSchedulerConfiguration both schedulers get: one profile, default plugins.
pub fn scheduler_config(kubeconfig: &Path, scheduler_name: &str) -> String {
    format!(
        "apiVersion: kubescheduler.config.k8s.io/v1\n\
         kind: KubeSchedulerConfiguration\n\
         clientConnection:\n  kubeconfig: {}\n  qps: {QPS}\n  burst: {BURST}\n\
         leaderElection:\n  leaderElect: false\n\
         profiles:\n- schedulerName: {scheduler_name}\n",
        kubeconfig.display()
    )
}

/// How to start a contestant of one run.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Executable.
    pub bin: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// The binder writes this file once it has listed nodes and pods.
    pub ready_file: PathBuf,
}

/// The command line of `c` in run directory `dir`, with its config written there.
pub fn launch(
    c: Contestant,
    bins: &Binaries,
    kubeconfig: &Path,
    scheduler_name: &str,
    port: u16,
    dir: &Path,
) -> anyhow::Result<Launch> {
    std::fs::create_dir_all(dir)?;
    let ready_file = dir.join("binder.ready");
    // A file left by an earlier run in the same directory would read as ready at once.
    match std::fs::remove_file(&ready_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let config = dir.join("scheduler-config.yaml");
    std::fs::write(&config, scheduler_config(kubeconfig, scheduler_name))?;
    let kc = kubeconfig.display();
    let serving = vec![
        format!("--config={}", config.display()),
        format!("--secure-port={port}"),
        "--bind-address=127.0.0.1".into(),
        format!("--cert-dir={}", dir.join("certs").display()),
        format!("--authentication-kubeconfig={kc}"),
        format!("--authorization-kubeconfig={kc}"),
        "--leader-elect=false".into(),
    ];
    let (bin, args) = match c {
        Contestant::Ferrosched => (bins.ferrosched.clone(), serving),
        Contestant::KubeScheduler => (bins.kube_scheduler.clone(), serving),
        Contestant::Limit | Contestant::LimitEvents => {
            let mut args = vec![
                "binder".into(),
                format!("--kubeconfig={kc}"),
                format!("--scheduler-name={scheduler_name}"),
                format!("--qps={QPS}"),
                format!("--burst={BURST}"),
                format!("--concurrency={BINDER_CONCURRENCY}"),
                format!("--ready-file={}", ready_file.display()),
            ];
            if c == Contestant::LimitEvents {
                args.push("--events".into());
            }
            (bins.bench.clone(), args)
        }
    };
    Ok(Launch {
        bin,
        args,
        ready_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_config_for_both_schedulers() {
        let cfg = scheduler_config(Path::new("/k/admin.kubeconfig"), "bench-1");
        assert!(cfg.contains("qps: 5000\n  burst: 5000"));
        assert!(cfg.contains("leaderElect: false"));
        assert!(cfg.contains("- schedulerName: bench-1"));
        for c in Contestant::ALL {
            assert_eq!(Contestant::parse(c.name()), Some(c));
        }
    }

    #[test]
    fn a_stale_ready_file_is_removed() {
        let dir = std::env::temp_dir().join(format!("bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("binder.ready"), "ready\n").expect("stale file");
        let bins = Binaries {
            ferrosched: "/x".into(),
            kube_scheduler: "/y".into(),
            bench: "/z".into(),
        };
        let l = launch(Contestant::Limit, &bins, Path::new("/k"), "s", 1, &dir).expect("launch");
        assert!(!l.ready_file.exists());
        assert_eq!(l.args[0], "binder");
        assert!(!l.args.contains(&"--events".to_string()));
        let e = launch(
            Contestant::LimitEvents,
            &bins,
            Path::new("/k"),
            "s",
            1,
            &dir,
        )
        .expect("launch");
        assert_eq!(e.args.last().map(String::as_str), Some("--events"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
