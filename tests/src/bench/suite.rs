//! The selected workloads × contestants, one after another, and the files they produce.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::contestant::{Binaries, Contestant};
use super::result::{Meta, Results};
use super::run::{RunOptions, run};
use super::{machine, report, workload};

/// What to run.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// The 500-node variants.
    pub quick: bool,
    /// Workload names to run (`SchedulingBasic`, ...); empty: all.
    pub workloads: Vec<String>,
    /// Contestants to run; empty: all.
    pub contestants: Vec<Contestant>,
    /// Modes to run each workload in (`false`: creation, `true`: backlog); empty: both.
    pub backlog: Vec<bool>,
    /// Per-run timeout.
    pub timeout: Duration,
    /// Runs of each workload × contestant (at least 1).
    pub repeat: usize,
    /// Where `results.{json,md}` and `throughput.svg` go.
    pub out_dir: PathBuf,
    /// Control planes and logs.
    pub work_root: PathBuf,
    /// Control-plane binaries.
    pub bin_dir: PathBuf,
    /// The command line recorded in the results.
    pub command: String,
}

/// Runs everything selected and writes the results.
pub async fn run_suite(opts: &SuiteOptions) -> anyhow::Result<Results> {
    let started = Instant::now();
    let bins = Binaries::locate(&opts.bin_dir)?;
    let modes = if opts.backlog.is_empty() {
        vec![false, true]
    } else {
        opts.backlog.clone()
    };
    let workloads: Vec<_> = workload::all(opts.quick)
        .into_iter()
        .filter(|w| opts.workloads.is_empty() || opts.workloads.contains(&w.name))
        .flat_map(|w| {
            modes
                .iter()
                .map(move |b| if *b { w.as_backlog() } else { w.clone() })
        })
        .collect();
    if workloads.is_empty() {
        anyhow::bail!("no workload matches {:?}", opts.workloads);
    }
    let contestants: Vec<Contestant> = if opts.contestants.is_empty() {
        Contestant::ALL.to_vec()
    } else {
        opts.contestants.clone()
    };
    let mut results = Results {
        meta: Meta {
            date: jiff::Timestamp::now()
                .strftime("%Y-%m-%d %H:%M")
                .to_string(),
            command: opts.command.clone(),
            machine: machine::describe(),
            versions: machine::versions(&opts.bin_dir, &bins.ferrosched),
            quick: opts.quick,
            timeout_secs: opts.timeout.as_secs(),
            total_minutes: 0.0,
        },
        runs: Vec::new(),
    };
    let run_opts = RunOptions {
        bin_dir: opts.bin_dir.clone(),
        work_root: opts.work_root.clone(),
        timeout: opts.timeout,
        bins,
    };
    let rounds = (0..opts.repeat.max(1)).flat_map(|rep| contestants.iter().map(move |c| (rep, c)));
    for w in &workloads {
        for (rep, c) in rounds.clone() {
            tracing::info!(workload = %w.id(), contestant = c.name(), rep, "run starts");
            let r = run(w, *c, &run_opts).await;
            tracing::info!(
                workload = %w.id(),
                contestant = c.name(),
                outcome = ?r.outcome,
                avg = format!("{:.0}", r.throughput.average),
                overall = format!("{:.0}", r.throughput.overall),
                "run done"
            );
            results.runs.push(r);
            results.meta.total_minutes = started.elapsed().as_secs_f64() / 60.0;
            write(&results, &opts.out_dir)?;
        }
    }
    Ok(results)
}

/// Writes `results.json`, `results.md` and `throughput.svg` into `dir`.
pub fn write(results: &Results, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(results)? + "\n",
    )?;
    std::fs::write(dir.join("results.md"), report::markdown(results))?;
    std::fs::write(dir.join("throughput.svg"), report::chart(results))?;
    Ok(())
}

/// Re-renders `results.md` and `throughput.svg` from `dir/results.json`.
pub fn rerender(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    write(&serde_json::from_str(&text)?, dir)
}
