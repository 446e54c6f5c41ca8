//! One run: a fresh control plane (etcd + kube-apiserver only, as scheduler_perf), the
//! workload's nodes and bound initial pods, one contestant, the measured pods, and the
//! measurement until every measured pod is bound or the timeout passes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::controlplane::{ControlPlane, ControlPlaneOptions};
use crate::fixtures;
use crate::operands::free_port;
use crate::procs::Spawned;

use super::contestant::{self, Binaries, Contestant};
use super::metrics;
use super::populate;
use super::procstat;
use super::result::{Outcome, RunResult};
use super::stats;
use super::watch::BindRecorder;
use super::workload::{NAMESPACE, Workload};

/// Settings shared by every run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Control-plane binaries.
    pub bin_dir: PathBuf,
    /// Each run gets `<work_root>/<workload>-<contestant>/`.
    pub work_root: PathBuf,
    /// How long the measured pods may take to be bound.
    pub timeout: Duration,
    /// The contestants' executables.
    pub bins: Binaries,
}

/// How long a contestant may take to report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `w` with `c`; failures end up in the result's outcome, never as a panic.
pub async fn run(w: &Workload, c: Contestant, opts: &RunOptions) -> RunResult {
    let mut result = RunResult::new(w, c, procstat::load_average());
    let dir = opts
        .work_root
        .join(format!("{}-{}-{}", w.name, w.size, c.name()));
    let cp_opts = ControlPlaneOptions {
        bin_dir: opts.bin_dir.clone(),
        work_dir: dir.join("cp"),
        with_controller_manager: false,
        with_kwok: false,
        with_default_scheduler: false,
        ..ControlPlaneOptions::default()
    };
    let started = Instant::now();
    let mut cp = match ControlPlane::start(cp_opts).await {
        Ok(cp) => cp,
        Err(e) => {
            result.outcome = Outcome::Failed(format!("control plane: {e}"));
            return result;
        }
    };
    if let Err(e) = measure(&mut cp, w, c, opts, &dir, started, &mut result).await {
        tracing::error!(workload = %w.id(), contestant = c.name(), "run failed: {e:#}");
        result.outcome = Outcome::Failed(format!("{e:#}"));
    }
    if let Err(e) = cp.stop().await {
        tracing::warn!("stopping the control plane: {e}");
    }
    result
}

async fn measure(
    cp: &mut ControlPlane,
    w: &Workload,
    c: Contestant,
    opts: &RunOptions,
    dir: &Path,
    started: Instant,
    result: &mut RunResult,
) -> anyhow::Result<()> {
    let client = cp.token_client().await?;
    tracing::info!(workload = %w.id(), contestant = c.name(), "creating {} nodes and {} bound pods", w.nodes, w.initial);
    populate::create_nodes(&client, w).await?;
    populate::create_pods(&client, (0..w.initial).map(|i| w.initial_pod(i)).collect()).await?;
    let token = match c.is_scheduler() {
        true => Some(fixtures::metrics_reader_token(&client, NAMESPACE).await?),
        false => None,
    };
    let scheduler_name = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let measured = || {
        (0..w.measured)
            .map(|i| w.measured_pod(i, &scheduler_name))
            .collect::<Vec<_>>()
    };
    // Backlog mode: every measured pod pending, and watched, before the contestant starts.
    let mut backlog = None;
    if w.backlog {
        tracing::info!(
            contestant = c.name(),
            "creating {} measured pods before it starts",
            w.measured
        );
        let t = Instant::now();
        populate::create_pods_timed(&client, measured()).await?;
        tracing::info!(secs = t.elapsed().as_secs_f64(), "backlog created");
        backlog = Some(BindRecorder::start(&client).await?);
    }
    let port = free_port();
    let launch = contestant::launch(
        c,
        &opts.bins,
        cp.token_kubeconfig_path(),
        &scheduler_name,
        port,
        &dir.join("contestant"),
    )?;
    let mut proc = Spawned::start(c.name(), &launch.bin, &launch.args, dir, &[])?;
    let pid = proc
        .pid()
        .ok_or_else(|| anyhow::anyhow!("{} has no pid", c.name()))?;
    let http = metrics::http()?;
    wait_ready(&mut proc, c, port, &launch.ready_file, &http).await?;
    result.setup_secs = started.elapsed().as_secs_f64();

    let recorder = match backlog {
        Some(r) => r,
        None => BindRecorder::start(&client).await?,
    };
    let (api_pid, etcd_pid) = (cp.pid_of("kube-apiserver"), cp.pid_of("etcd"));
    let cpu = |pid: Option<u32>| pid.and_then(procstat::cpu_secs);
    let (api_cpu0, etcd_cpu0) = (cpu(api_pid), cpu(etcd_pid));
    // Creation mode: the measured pods are created now, while the contestant binds them.
    let t0 = Instant::now();
    let mut creating = (!w.backlog).then(|| {
        tracing::info!(
            contestant = c.name(),
            "creating {} measured pods",
            w.measured
        );
        let (creator, pods) = (client.clone(), measured());
        tokio::spawn(async move {
            populate::create_pods_timed(&creator, pods)
                .await
                .map(|created| (t0.elapsed(), created))
        })
    });
    let mut created = Default::default();
    let deadline = t0 + opts.timeout;
    let mut last_log = Instant::now();
    result.outcome = loop {
        if recorder.bound() >= w.measured {
            break Outcome::Completed;
        }
        if Instant::now() >= deadline {
            break Outcome::Timeout;
        }
        if !proc.running() {
            anyhow::bail!("{} exited; log tail:\n{}", c.name(), tail(&proc.log(), 20));
        }
        cp.check_alive()?;
        if creating.as_ref().is_some_and(|h| h.is_finished())
            && let Some(h) = creating.take()
        {
            let (secs, times) = h.await??;
            (result.create_secs, created) = (secs.as_secs_f64(), times);
        }
        if last_log.elapsed() >= Duration::from_secs(10) {
            tracing::info!(
                contestant = c.name(),
                bound = recorder.bound(),
                of = w.measured,
                "waiting"
            );
            last_log = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if let Some(h) = creating.take() {
        if result.outcome == Outcome::Completed {
            let (secs, times) = h.await??;
            (result.create_secs, created) = (secs.as_secs_f64(), times);
        } else {
            h.abort();
        }
    }
    let latencies = recorder.latencies_ms(&created);
    if !latencies.is_empty() {
        let p = |q: f64| stats::percentile(&latencies, q);
        result.pod_latency_ms = Some([p(50.0), p(90.0), p(99.0)]);
    }
    result.failed_scheduling = failed_scheduling(&client).await;
    let binds = recorder.bind_secs(t0);
    result.bound = binds.len();
    result.last_bind_secs = binds.iter().copied().fold(0.0, f64::max);
    result.throughput = stats::throughput(&binds);
    result.per_second = stats::per_second(&binds);
    result.apiserver_cpu_secs = cpu(api_pid).zip(api_cpu0).map(|(a, b)| a - b);
    result.etcd_cpu_secs = cpu(etcd_pid).zip(etcd_cpu0).map(|(a, b)| a - b);
    if let Some(token) = &token {
        match metrics::get(&http, port, "/metrics", Some(token)).await {
            Ok((200, body)) => metrics::record(&body, result),
            Ok((status, body)) => tracing::warn!(status, "metrics refused: {}", tail(&body, 3)),
            Err(e) => tracing::warn!("metrics: {e}"),
        }
    }
    read_apiserver_metrics(&client, dir, result).await;
    result.usage = Some(procstat::usage(pid)?);
    proc.signal("TERM");
    if proc.wait(Duration::from_secs(10)).await.is_err() {
        tracing::warn!(contestant = c.name(), "did not stop on SIGTERM; killing it");
    }
    drop(proc);
    Ok(())
}

/// Reads the API server's own figures for the run: its latency for binds and pod
/// creations, and how many events were created (the contestant is the only client that
/// writes any). Keeps its request counts (`apiserver_request_total`) next to the run's
/// logs, which calls each contestant's run cost the control plane.
async fn read_apiserver_metrics(client: &kube::Client, dir: &Path, result: &mut RunResult) {
    let Ok(req) = http::Request::get("/metrics").body(Vec::new()) else {
        return;
    };
    let body = match client.request_text(req).await {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!("apiserver metrics: {e}");
            return;
        }
    };
    metrics::record_apiserver(&body, result);
    let counts: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .collect();
    if let Err(e) = std::fs::write(dir.join("apiserver-requests.txt"), counts.join("\n")) {
        tracing::warn!("writing apiserver request counts: {e}");
    }
    result.events_written = Some(events_created(&counts));
}

/// `FailedScheduling` events in the workload's namespace, their repeat counts summed.
async fn failed_scheduling(client: &kube::Client) -> Option<u64> {
    let api: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(client.clone(), NAMESPACE);
    let lp = kube::api::ListParams::default().fields("reason=FailedScheduling");
    match api.list(&lp).await {
        Ok(list) => Some(
            list.items
                .iter()
                .map(|e| {
                    // A repeated event is one object with a series (events.k8s.io) or a
                    // count (core/v1); either way it stands for that many failures.
                    let n = e.series.as_ref().and_then(|s| s.count).or(e.count);
                    n.map_or(1, |c| u64::try_from(c.max(1)).unwrap_or(1))
                })
                .sum(),
        ),
        Err(e) => {
            tracing::warn!("listing FailedScheduling events: {e}");
            None
        }
    }
}

/// Successful event creations (either API group) among `apiserver_request_total` lines.
fn events_created(lines: &[&str]) -> u64 {
    lines
        .iter()
        .filter(|l| {
            l.contains("resource=\"events\"")
                && l.contains("verb=\"POST\"")
                && l.contains("code=\"201\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Waits for `/readyz` (schedulers) or the ready file (binder).
async fn wait_ready(
    proc: &mut Spawned,
    c: Contestant,
    port: u16,
    ready_file: &Path,
    http: &reqwest::Client,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let ready = if c.is_scheduler() {
            matches!(
                metrics::get(http, port, "/readyz", None).await,
                Ok((200, _))
            )
        } else {
            ready_file.is_file()
        };
        if ready {
            return Ok(());
        }
        if !proc.running() {
            anyhow::bail!(
                "{} exited before ready; log tail:\n{}",
                c.name(),
                tail(&proc.log(), 20)
            );
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "{} not ready within {READY_TIMEOUT:?}; log tail:\n{}",
                c.name(),
                tail(&proc.log(), 20)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::events_created;

    #[test]
    fn only_successful_event_creations_are_counted() {
        let lines = [
            r#"apiserver_request_total{code="201",component="apiserver",group="events.k8s.io",resource="events",verb="POST",version="v1"} 263"#,
            r#"apiserver_request_total{code="201",component="apiserver",group="",resource="events",verb="POST",version="v1"} 2"#,
            r#"apiserver_request_total{code="409",component="apiserver",group="events.k8s.io",resource="events",verb="POST",version="v1"} 5"#,
            r#"apiserver_request_total{code="200",component="apiserver",group="events.k8s.io",resource="events",verb="LIST",version="v1"} 7"#,
            r#"apiserver_request_total{code="201",component="apiserver",group="",resource="pods",subresource="binding",verb="POST",version="v1"} 5000"#,
        ];
        assert_eq!(events_created(&lines), 265);
    }
}
