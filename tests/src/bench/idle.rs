//! What a profile costs while it waits (issue #26 item 5): the resident memory and the
//! CPU per minute of a standby replica (another holder keeps the Lease) and of an idle
//! leader (it holds and renews the Lease, nothing is pending), with 5,000 nodes and
//! 10,000 bound pods in its caches, for Ferrosched and kube-scheduler alike. Every extra
//! profile the operator runs pays this.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use serde::{Deserialize, Serialize};

use crate::controlplane::{ControlPlane, ControlPlaneOptions};
use crate::operands::free_port;
use crate::procs::Spawned;

use super::contestant::{BURST, Binaries, Contestant, QPS};
use super::workload::{self, NAMESPACE};
use super::{machine, metrics, populate, procstat};

/// Target: Ferrosched's figure at most this fraction of kube-scheduler's.
pub const TARGET: f64 = 0.25;
/// The Lease of the runs (in [`NAMESPACE`]).
const LEASE: &str = "bench-idle";
/// The holder that keeps it while the contestant stands by.
const OTHER_HOLDER: &str = "another-replica";

/// Standby or leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Another holder keeps the Lease: caches synced, never leads.
    Standby,
    /// Holds and renews the Lease; nothing to schedule.
    Leader,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Standby => "standby",
            Role::Leader => "idle leader",
        }
    }
}

/// One contestant in one role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdleResult {
    /// `ferrosched` or `kube-scheduler`.
    pub contestant: Contestant,
    /// Standby or leader.
    pub role: Role,
    /// Resident memory at the end of the window (`VmRSS`), MiB.
    pub rss_mib: f64,
    /// Peak resident memory over its life, start-up included (`VmHWM`), MiB.
    pub peak_rss_mib: f64,
    /// CPU seconds per minute over the window.
    pub cpu_secs_per_min: f64,
    /// CPU seconds from start to the start of the window (start-up and initial lists).
    pub startup_cpu_secs: f64,
    /// The Lease holder at the end (proves the role held).
    pub holder: String,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// The whole idle benchmark.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdleResults {
    /// UTC start.
    pub date: String,
    /// The command that made it.
    pub command: String,
    /// CPU, cores, memory, kernel.
    pub machine: String,
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Bound pods in the cluster.
    pub pods: usize,
    /// Measurement window, seconds.
    pub window_secs: u64,
    /// One per contestant × role.
    pub runs: Vec<IdleResult>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct IdleOptions {
    /// Nodes.
    pub nodes: usize,
    /// Bound pods.
    pub pods: usize,
    /// How long CPU is measured once the caches are synced.
    pub window: Duration,
    /// Control-plane binaries.
    pub bin_dir: PathBuf,
    /// Control planes and logs.
    pub work_root: PathBuf,
    /// Where `idle.{json,md}` go.
    pub out_dir: PathBuf,
    /// The command line recorded.
    pub command: String,
}

/// Runs every scheduler × role on a fresh control plane each and writes the report.
pub async fn run_idle(opts: &IdleOptions) -> anyhow::Result<IdleResults> {
    let bins = Binaries::locate(&opts.bin_dir)?;
    let mut results = IdleResults {
        date: jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        command: opts.command.clone(),
        machine: machine::describe(),
        nodes: opts.nodes,
        pods: opts.pods,
        window_secs: opts.window.as_secs(),
        runs: Vec::new(),
    };
    for role in [Role::Standby, Role::Leader] {
        for c in [Contestant::Ferrosched, Contestant::KubeScheduler] {
            tracing::info!(contestant = c.name(), role = role.name(), "idle run starts");
            let r = one(c, role, &bins, opts).await;
            tracing::info!(contestant = c.name(), role = role.name(), rss = r.rss_mib, cpu_per_min = r.cpu_secs_per_min, error = ?r.error, "idle run done");
            results.runs.push(r);
            write(&results, &opts.out_dir)?;
        }
    }
    Ok(results)
}

async fn one(c: Contestant, role: Role, bins: &Binaries, opts: &IdleOptions) -> IdleResult {
    let mut out = IdleResult {
        contestant: c,
        role,
        rss_mib: 0.0,
        peak_rss_mib: 0.0,
        cpu_secs_per_min: 0.0,
        startup_cpu_secs: 0.0,
        holder: String::new(),
        error: None,
    };
    let dir = opts.work_root.join(format!(
        "idle-{}-{}",
        c.name(),
        role.name().replace(' ', "-")
    ));
    let cp_opts = ControlPlaneOptions {
        bin_dir: opts.bin_dir.clone(),
        work_dir: dir.join("cp"),
        with_controller_manager: false,
        with_kwok: false,
        with_default_scheduler: false,
        ..ControlPlaneOptions::default()
    };
    let mut cp = match ControlPlane::start(cp_opts).await {
        Ok(cp) => cp,
        Err(e) => {
            out.error = Some(format!("control plane: {e}"));
            return out;
        }
    };
    if let Err(e) = measure(&mut cp, c, role, bins, opts, &dir, &mut out).await {
        out.error = Some(format!("{e:#}"));
    }
    if let Err(e) = cp.stop().await {
        tracing::warn!("stopping the control plane: {e}");
    }
    out
}

/// Both schedulers' configuration: default plugins, the benchmark's client limits, and
/// upstream's default election timings on [`LEASE`].
fn config(kubeconfig: &Path) -> String {
    format!(
        "apiVersion: kubescheduler.config.k8s.io/v1\n\
         kind: KubeSchedulerConfiguration\n\
         clientConnection:\n  kubeconfig: {}\n  qps: {QPS}\n  burst: {BURST}\n\
         leaderElection:\n  leaderElect: true\n  resourceLock: leases\n  \
         resourceNamespace: {NAMESPACE}\n  resourceName: {LEASE}\n  \
         leaseDuration: 15s\n  renewDeadline: 10s\n  retryPeriod: 2s\n\
         profiles:\n- schedulerName: bench-idle\n",
        kubeconfig.display()
    )
}

async fn measure(
    cp: &mut ControlPlane,
    c: Contestant,
    role: Role,
    bins: &Binaries,
    opts: &IdleOptions,
    dir: &Path,
    out: &mut IdleResult,
) -> anyhow::Result<()> {
    let client = cp.token_client().await?;
    let mut w = workload::all(false).remove(0);
    (w.nodes, w.initial) = (opts.nodes, opts.pods);
    tracing::info!("creating {} nodes and {} bound pods", w.nodes, w.initial);
    populate::create_nodes(&client, &w).await?;
    populate::create_pods(&client, (0..w.initial).map(|i| w.initial_pod(i)).collect()).await?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    if role == Role::Standby {
        // Held by another replica for an hour: the contestant only ever stands by.
        let now = jiff::Timestamp::now();
        let lease: Lease = serde_json::from_value(serde_json::json!({
            "metadata": {"name": LEASE, "namespace": NAMESPACE},
            "spec": {"holderIdentity": OTHER_HOLDER, "leaseDurationSeconds": 3600,
                     "acquireTime": now.to_string(), "renewTime": now.to_string(),
                     "leaseTransitions": 0},
        }))?;
        leases.create(&PostParams::default(), &lease).await?;
    }
    std::fs::create_dir_all(dir)?;
    let cfg = dir.join("scheduler-config.yaml");
    std::fs::write(&cfg, config(cp.token_kubeconfig_path()))?;
    let port = free_port();
    let kc = cp.token_kubeconfig_path().display().to_string();
    let args = vec![
        format!("--config={}", cfg.display()),
        format!("--secure-port={port}"),
        "--bind-address=127.0.0.1".into(),
        format!("--cert-dir={}", dir.join("certs").display()),
        format!("--authentication-kubeconfig={kc}"),
        format!("--authorization-kubeconfig={kc}"),
        "--leader-elect=true".into(),
    ];
    let bin = match c {
        Contestant::KubeScheduler => bins.kube_scheduler.clone(),
        _ => bins.ferrosched.clone(),
    };
    let mut proc = Spawned::start(c.name(), &bin, &args, dir, &[])?;
    let pid = proc
        .pid()
        .ok_or_else(|| anyhow::anyhow!("{} has no pid", c.name()))?;
    // Caches synced: /readyz (both answer it once their informers have listed).
    let http = metrics::http()?;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if matches!(
            metrics::get(&http, port, "/readyz", None).await,
            Ok((200, _))
        ) {
            break;
        }
        if !proc.running() || Instant::now() >= deadline {
            anyhow::bail!("{} not ready; log:\n{}", c.name(), proc.log());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if role == Role::Leader {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let holder = leases
                .get_opt(LEASE)
                .await?
                .and_then(|l| l.spec?.holder_identity)
                .unwrap_or_default();
            if !holder.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                anyhow::bail!("{} did not take the Lease", c.name());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Let start-up work (the first relists, the first renewals) settle, then measure.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = procstat::usage(pid)?;
    tokio::time::sleep(opts.window).await; // a measurement window, not a wait for a condition
    let after = procstat::usage(pid)?;
    out.startup_cpu_secs = before.cpu_secs;
    out.cpu_secs_per_min = (after.cpu_secs - before.cpu_secs) * 60.0 / opts.window.as_secs_f64();
    out.peak_rss_mib = after.peak_rss_bytes as f64 / 1024.0 / 1024.0;
    out.rss_mib = procstat::rss_bytes(pid).unwrap_or(after.peak_rss_bytes) as f64 / 1024.0 / 1024.0;
    out.holder = leases
        .get_opt(LEASE)
        .await?
        .and_then(|l| l.spec?.holder_identity)
        .unwrap_or_default();
    let held_as_meant = match role {
        Role::Standby => out.holder == OTHER_HOLDER,
        Role::Leader => !out.holder.is_empty() && out.holder != OTHER_HOLDER,
    };
    if !held_as_meant {
        anyhow::bail!(
            "{} as {}: the Lease is held by {:?}",
            c.name(),
            role.name(),
            out.holder
        );
    }
    proc.signal("TERM");
    let _ = proc.wait(Duration::from_secs(10)).await;
    Ok(())
}

/// Writes `idle.json` and `idle.md` into `dir`.
pub fn write(res: &IdleResults, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("idle.json"),
        serde_json::to_string_pretty(res)? + "\n",
    )?;
    std::fs::write(dir.join("idle.md"), markdown(res))?;
    Ok(())
}

fn find(res: &IdleResults, c: Contestant, role: Role) -> Option<&IdleResult> {
    res.runs
        .iter()
        .find(|r| r.contestant == c && r.role == role && r.error.is_none())
}

/// The report: one row per contestant × role, and Ferrosched's ratios to kube-scheduler.
pub fn markdown(res: &IdleResults) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# What a profile costs while it waits\n");
    let _ = writeln!(
        s,
        "Generated on {} (UTC) by `{}`; running it again regenerates this file and \
         `idle.json`. Issue #26 item 5.\n",
        res.date, res.command
    );
    let _ = writeln!(s, "- Machine: {}", res.machine);
    let _ = writeln!(
        s,
        "- Cluster: {} nodes, {} bound pods (SchedulingBasic's shapes), etcd and \
         kube-apiserver only, a fresh control plane per run.",
        res.nodes, res.pods
    );
    let _ = writeln!(
        s,
        "- Both schedulers: default plugins, qps/burst {QPS}/{BURST}, leader election on a \
         Lease with upstream's default timings (15 s / 10 s / 2 s). *Standby*: another \
         holder keeps the Lease for an hour, so the contestant lists and watches everything \
         and waits. *Idle leader*: it takes the Lease and renews it every 2 s, with nothing \
         pending.\n- CPU per minute is measured over {} s once `/readyz` answers (caches \
         synced) and 5 s more have passed; RSS is `VmRSS` at the end of that window, peak \
         RSS `VmHWM` over the whole life, start-up included.\n",
        res.window_secs
    );
    let _ = writeln!(
        s,
        "| role | contestant | RSS MiB | peak RSS MiB | CPU s / min | start-up CPU s | Lease holder |"
    );
    let _ = writeln!(s, "|---|---|--:|--:|--:|--:|---|");
    for r in &res.runs {
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {:.0} | {:.3} | {:.1} | {} |",
            r.role.name(),
            r.contestant.name(),
            r.rss_mib,
            r.peak_rss_mib,
            r.cpu_secs_per_min,
            r.startup_cpu_secs,
            match &r.error {
                Some(e) => format!("**failed**: {}", e.lines().next().unwrap_or_default()),
                None => format!("`{}`", r.holder),
            }
        );
    }
    let _ = writeln!(s, "\n## Ferrosched ÷ kube-scheduler (target ≤ {TARGET})\n");
    let _ = writeln!(s, "| role | RSS | CPU per minute |");
    let _ = writeln!(s, "|---|--:|--:|");
    for role in [Role::Standby, Role::Leader] {
        let (ours, kube) = (
            find(res, Contestant::Ferrosched, role),
            find(res, Contestant::KubeScheduler, role),
        );
        let ratio = |f: fn(&IdleResult) -> f64| match (ours, kube) {
            (Some(a), Some(b)) if f(b) > 0.0 => {
                let r = f(a) / f(b);
                format!(
                    "{r:.2} ({})",
                    if r <= TARGET { "met" } else { "**missed**" }
                )
            }
            _ => "n/a".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            role.name(),
            ratio(|r| r.rss_mib),
            ratio(|r| r.cpu_secs_per_min)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(c: Contestant, role: Role, rss: f64, cpu: f64) -> IdleResult {
        IdleResult {
            contestant: c,
            role,
            rss_mib: rss,
            peak_rss_mib: rss + 10.0,
            cpu_secs_per_min: cpu,
            startup_cpu_secs: 1.0,
            holder: "h".into(),
            error: None,
        }
    }

    #[test]
    fn ratios_are_checked_against_the_target() {
        let res = IdleResults {
            runs: vec![
                run(Contestant::Ferrosched, Role::Standby, 40.0, 0.1),
                run(Contestant::KubeScheduler, Role::Standby, 200.0, 0.2),
                run(Contestant::Ferrosched, Role::Leader, 40.0, 0.1),
            ],
            ..IdleResults::default()
        };
        let md = markdown(&res);
        assert!(
            md.contains("| standby | 0.20 (met) | 0.50 (**missed**) |"),
            "{md}"
        );
        assert!(md.contains("| idle leader | n/a | n/a |"), "{md}");
        assert!(config(Path::new("/k")).contains("resourceName: bench-idle"));
    }
}
