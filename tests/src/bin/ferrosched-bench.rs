//! `ferrosched-bench`: Ferrosched's scheduler against upstream kube-scheduler and a
//! no-logic binder on the same local control plane (see `hack/bench.sh`, issue #7).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ferrosched_e2e::bench::binder::{self, BinderOptions};
use ferrosched_e2e::bench::contestant::Contestant;
use ferrosched_e2e::bench::growth::{self, GrowthOptions};
use ferrosched_e2e::bench::idle::{self, IdleOptions};
use ferrosched_e2e::bench::suite::{self, SuiteOptions};
use ferrosched_e2e::controlplane::ControlPlaneOptions;
use tokio::signal::unix::{SignalKind, signal};

/// Scheduler benchmark modelled on upstream's scheduler_perf.
#[derive(Debug, Parser)]
#[command(name = "ferrosched-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run workloads × contestants, each on a fresh control plane, and write the results.
    Run {
        /// The small (500-node) variants.
        #[arg(long)]
        quick: bool,
        /// Only this workload (SchedulingBasic, SchedulingPodAntiAffinity,
        /// TopologySpreading); repeatable.
        #[arg(long = "workload")]
        workloads: Vec<String>,
        /// Only this contestant (ferrosched, kube-scheduler, limit-events, limit);
        /// repeatable.
        #[arg(long = "contestant", value_parser = parse_contestant)]
        contestants: Vec<Contestant>,
        /// Only this mode: `creation` (pods created while the contestant runs) or
        /// `backlog` (all pending before it starts); repeatable. Default: both.
        #[arg(long = "mode", value_parser = parse_mode)]
        modes: Vec<bool>,
        /// Seconds the measured pods of one run may take to be bound.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Runs of each workload × contestant, interleaved; the report uses the median
        /// run by average throughput and lists every run.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        /// Output directory (default: docs/benchmarks for the full set, docs/benchmarks/quick
        /// for --quick, $FERROSCHED_CACHE/bench/partial when filtered).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Control planes and logs of the runs.
        #[arg(long, default_value = "/tmp/ferrosched-bench")]
        work_dir: PathBuf,
        /// Directory with the control-plane binaries.
        #[arg(long, env = "FERROSCHED_BIN_DIR")]
        bin_dir: Option<PathBuf>,
        /// Command line recorded in the results.
        #[arg(long, env = "FERROSCHED_BENCH_COMMAND")]
        command: Option<String>,
    },
    /// What a profile costs while it waits: RSS and CPU per minute of a standby replica
    /// and of an idle leader, Ferrosched and kube-scheduler (writes idle.{json,md}).
    Idle {
        /// Nodes in the cluster.
        #[arg(long, default_value_t = 5000)]
        nodes: usize,
        /// Bound pods in the cluster.
        #[arg(long, default_value_t = 10000)]
        pods: usize,
        /// Seconds CPU is measured once the caches are synced.
        #[arg(long, default_value_t = 60)]
        window: u64,
        /// Output directory.
        #[arg(long, default_value = "docs/benchmarks")]
        out: PathBuf,
        /// Control planes and logs of the runs.
        #[arg(long, default_value = "/tmp/ferrosched-bench")]
        work_dir: PathBuf,
        /// Directory with the control-plane binaries.
        #[arg(long, env = "FERROSCHED_BIN_DIR")]
        bin_dir: Option<PathBuf>,
        /// Command line recorded in the results.
        #[arg(long, env = "FERROSCHED_BENCH_COMMAND")]
        command: Option<String>,
    },
    /// Cost as the cluster grows: the in-process example at several node counts and
    /// shapes, one process each (writes growth.{json,md,svg}).
    Growth {
        /// The release build of the scheduler's `inprocess_bench` example.
        #[arg(long)]
        example: PathBuf,
        /// Node counts; repeatable (default 1,000, 5,000, 15,000, 50,000).
        #[arg(long = "nodes")]
        nodes: Vec<usize>,
        /// Pods per run.
        #[arg(long, default_value_t = 10000)]
        pods: usize,
        /// Output directory.
        #[arg(long, default_value = "docs/benchmarks")]
        out: PathBuf,
        /// Command line recorded in the results.
        #[arg(long, env = "FERROSCHED_BENCH_COMMAND")]
        command: Option<String>,
    },
    /// Re-render results.md and throughput.svg from a directory's results.json.
    Report {
        /// Directory holding results.json.
        #[arg(default_value = "docs/benchmarks")]
        dir: PathBuf,
    },
    /// The limit: bind pending pods of a scheduler name round-robin, no logic (runs until killed).
    Binder {
        /// Kubeconfig of the client.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Pods with this spec.schedulerName are bound.
        #[arg(long)]
        scheduler_name: String,
        /// Client qps.
        #[arg(long, default_value_t = 5000.0)]
        qps: f64,
        /// Client burst.
        #[arg(long, default_value_t = 5000)]
        burst: u32,
        /// Binds in flight.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Written once the initial lists are done.
        #[arg(long)]
        ready_file: Option<PathBuf>,
        /// Also write a `Scheduled` event per bound pod, as upstream's event broadcaster
        /// does (asynchronously, through the scheduler's own event writer).
        #[arg(long)]
        events: bool,
    },
}

fn parse_contestant(s: &str) -> Result<Contestant, String> {
    Contestant::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Contestant::ALL.iter().map(|c| c.name()).collect();
        format!("unknown contestant {s:?}; one of {}", names.join(", "))
    })
}

fn parse_mode(s: &str) -> Result<bool, String> {
    match s {
        "creation" => Ok(false),
        "backlog" => Ok(true),
        _ => Err(format!("unknown mode {s:?}; one of creation, backlog")),
    }
}

fn default_out(quick: bool, filtered: bool) -> PathBuf {
    if filtered {
        let cache = std::env::var_os("FERROSCHED_CACHE").map_or_else(
            || PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/ferrosched"),
            PathBuf::from,
        );
        cache.join("bench/partial")
    } else if quick {
        PathBuf::from("docs/benchmarks/quick")
    } else {
        PathBuf::from("docs/benchmarks")
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube_client=warn,kube_runtime=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Run {
            quick,
            workloads,
            contestants,
            modes,
            timeout,
            repeat,
            out,
            work_dir,
            bin_dir,
            command,
        } => {
            let filtered = !workloads.is_empty() || !contestants.is_empty() || !modes.is_empty();
            let out_dir = out.unwrap_or_else(|| default_out(quick, filtered));
            let opts = SuiteOptions {
                quick,
                workloads,
                contestants,
                backlog: modes,
                timeout: Duration::from_secs(timeout),
                repeat,
                out_dir: out_dir.clone(),
                work_root: work_dir,
                bin_dir: bin_dir.unwrap_or_else(ControlPlaneOptions::default_bin_dir),
                command: command.unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" ")),
            };
            // The control planes and contestants run in their own process groups, out of
            // reach of a terminal's Ctrl-C: on SIGINT/SIGTERM the suite is dropped, which
            // kills them, and the runs finished so far stay written.
            let mut sigint = signal(SignalKind::interrupt())?;
            let mut sigterm = signal(SignalKind::terminate())?;
            let finished = tokio::select! {
                r = suite::run_suite(&opts) => Some(r),
                _ = sigint.recv() => None,
                _ = sigterm.recv() => None,
            };
            match finished {
                Some(r) => r.map(drop)?,
                None => anyhow::bail!(
                    "interrupted: the running control plane and contestant were stopped; \
                     finished runs are in {}",
                    out_dir.display()
                ),
            }
            println!("results: {}", out_dir.join("results.md").display());
        }
        Command::Idle {
            nodes,
            pods,
            window,
            out,
            work_dir,
            bin_dir,
            command,
        } => {
            let opts = IdleOptions {
                nodes,
                pods,
                window: Duration::from_secs(window),
                bin_dir: bin_dir.unwrap_or_else(ControlPlaneOptions::default_bin_dir),
                work_root: work_dir,
                out_dir: out.clone(),
                command: command.unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" ")),
            };
            let mut sigint = signal(SignalKind::interrupt())?;
            tokio::select! {
                r = idle::run_idle(&opts) => r.map(drop)?,
                _ = sigint.recv() => anyhow::bail!("interrupted; finished runs are in {}", out.display()),
            }
            println!("results: {}", out.join("idle.md").display());
        }
        Command::Growth {
            example,
            nodes,
            pods,
            out,
            command,
        } => {
            let opts = GrowthOptions {
                example,
                nodes: if nodes.is_empty() {
                    growth::NODE_COUNTS.to_vec()
                } else {
                    nodes
                },
                pods,
                out_dir: out.clone(),
                command: command.unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" ")),
            };
            growth::run_growth(&opts)?;
            println!("results: {}", out.join("growth.md").display());
        }
        Command::Report { dir } => {
            suite::rerender(&dir)?;
            println!("results: {}", dir.join("results.md").display());
        }
        Command::Binder {
            kubeconfig,
            scheduler_name,
            qps,
            burst,
            concurrency,
            ready_file,
            events,
        } => {
            binder::run(BinderOptions {
                kubeconfig,
                scheduler_name,
                qps,
                burst,
                concurrency,
                ready_file,
                events,
            })
            .await?;
        }
    }
    Ok(())
}
