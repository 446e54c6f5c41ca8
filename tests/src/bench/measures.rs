//! What a run measured, read the same way by every section of the report: the headline
//! throughput, whether it completed, how busy the algorithm was, and the targets.

use super::result::{Outcome, RunResult};

/// Target: Ferrosched's throughput at least this multiple of kube-scheduler's.
pub const TARGET_VS_KUBE: f64 = 2.0;
/// Target: Ferrosched's throughput at least this fraction of the limit's (the binder that
/// writes a `Scheduled` event per pod, as every upstream-faithful scheduler does).
pub const TARGET_VS_LIMIT: f64 = 0.9;
/// Target: Ferrosched's p99 pod latency (creation to bind) at most this fraction of
/// kube-scheduler's; results without it fall back to the attempt latency.
pub const TARGET_P99: f64 = 1.0 / 3.0;
/// Target: Ferrosched's peak RSS at most this fraction of kube-scheduler's.
pub const TARGET_RSS: f64 = 0.25;

/// The headline throughput of a run: upstream's Average (mean of per-second samples),
/// or the overall rate when the run was too short for samples.
pub fn headline(r: &RunResult) -> f64 {
    if r.throughput.samples > 0 {
        r.throughput.average
    } else {
        r.throughput.overall
    }
}

/// The run, when it completed.
pub fn completed(r: Option<&RunResult>) -> Option<&RunResult> {
    r.filter(|r| r.outcome == Outcome::Completed)
}

/// Share of the measured span the scheduling algorithm ran (one pod at a time in both
/// schedulers): near 100 % means the scheduling cycle, not the API server, set the pace.
pub fn busy(r: &RunResult) -> Option<f64> {
    r.algorithm_secs
        .filter(|_| r.last_bind_secs > 0.0)
        .map(|a| a / r.last_bind_secs)
}

/// One of the four targets, per workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Throughput ≥ 2× kube-scheduler's.
    VsKube,
    /// Throughput ≥ 90 % of the limit's.
    VsLimit,
    /// p99 attempt latency ≤ ⅓ of kube-scheduler's.
    P99,
    /// Peak RSS ≤ ¼ of kube-scheduler's.
    Rss,
}
