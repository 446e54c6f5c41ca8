//! What one run measured, and the whole result set written to `results.json`.

use serde::{Deserialize, Serialize};

use super::contestant::Contestant;
use super::procstat::Usage;
use super::stats::Throughput;
use super::workload::Workload;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every measured pod was bound.
    Completed,
    /// The timeout passed first.
    Timeout,
    /// Something broke (the message says what).
    Failed(String),
}

/// One workload × contestant run on its own control plane.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// The workload.
    pub workload: Workload,
    /// The contestant.
    pub contestant: Contestant,
    /// 1/5/15-minute load average when the run started.
    pub load_avg: [f64; 3],
    /// How it ended.
    pub outcome: Outcome,
    /// Seconds from control-plane start to the contestant being ready (nodes and initial
    /// pods created).
    pub setup_secs: f64,
    /// Measured pods bound.
    pub bound: usize,
    /// Seconds to create every measured pod (binding runs meanwhile).
    pub create_secs: f64,
    /// Seconds from the start of creation to the last bind.
    pub last_bind_secs: f64,
    /// Throughput figures.
    pub throughput: Throughput,
    /// Scheduling-attempt latency p50 (ms) from the scheduler's own histogram.
    pub attempt_p50_ms: Option<f64>,
    /// p99 of the same.
    pub attempt_p99_ms: Option<f64>,
    /// Successful attempts the histogram counted.
    pub attempts: Option<f64>,
    /// Their summed duration, seconds.
    #[serde(default)]
    pub attempt_sum_secs: Option<f64>,
    /// p50 and p99 (ms) of the successful Bind extension point: the `pods/binding`
    /// round trip, from the same histogram family in both schedulers.
    #[serde(default)]
    pub bind_ms: Option<(f64, f64)>,
    /// p50 and p99 (ms) of the API server's own handling of `pods/binding`
    /// (`apiserver_request_duration_seconds`): the same measure for every contestant.
    #[serde(default)]
    pub apiserver_bind_ms: Option<(f64, f64)>,
    /// The same for the driver's pod creations.
    #[serde(default)]
    pub apiserver_create_ms: Option<(f64, f64)>,
    /// Events the API server created during the run (the contestant is the only writer).
    #[serde(default)]
    pub events_written: Option<u64>,
    /// `FailedScheduling` events of the run (their counts summed): pods a scheduler failed
    /// before it placed them.
    #[serde(default)]
    pub failed_scheduling: Option<u64>,
    /// p50, p90 and p99 (ms) of the latency a user feels: from a measured pod's create
    /// request to the bind the driver's watch saw.
    #[serde(default)]
    pub pod_latency_ms: Option<[f64; 3]>,
    /// The contestant process's peak RSS and CPU time.
    pub usage: Option<Usage>,
    /// CPU seconds kube-apiserver spent from creation start to the end.
    pub apiserver_cpu_secs: Option<f64>,
    /// CPU seconds etcd spent over the same span.
    pub etcd_cpu_secs: Option<f64>,
    /// Seconds in each extension point (`scheduler_framework_extension_point_duration_seconds_sum`).
    pub extension_points: Vec<(String, f64)>,
    /// Seconds in the scheduling algorithm (`scheduler_scheduling_algorithm_duration_seconds_sum`).
    pub algorithm_secs: Option<f64>,
    /// Binds per second since creation start.
    pub per_second: Vec<u32>,
}

impl RunResult {
    /// A result with nothing measured yet.
    pub fn new(workload: &Workload, contestant: Contestant, load_avg: [f64; 3]) -> Self {
        RunResult {
            workload: workload.clone(),
            contestant,
            load_avg,
            outcome: Outcome::Failed("not run".into()),
            setup_secs: 0.0,
            bound: 0,
            create_secs: 0.0,
            last_bind_secs: 0.0,
            throughput: Throughput::default(),
            attempt_p50_ms: None,
            attempt_p99_ms: None,
            attempts: None,
            attempt_sum_secs: None,
            bind_ms: None,
            apiserver_bind_ms: None,
            apiserver_create_ms: None,
            events_written: None,
            failed_scheduling: None,
            pod_latency_ms: None,
            usage: None,
            apiserver_cpu_secs: None,
            etcd_cpu_secs: None,
            extension_points: Vec::new(),
            algorithm_secs: None,
            per_second: Vec::new(),
        }
    }
}

/// Where and with what the results were made.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Meta {
    /// UTC start time.
    pub date: String,
    /// The command line that produced the results.
    pub command: String,
    /// CPU model, cores, memory, kernel.
    pub machine: String,
    /// `kube-scheduler --version` and friends.
    pub versions: Vec<(String, String)>,
    /// Whether the small (500-node) variants ran.
    pub quick: bool,
    /// Per-run timeout, seconds.
    pub timeout_secs: u64,
    /// Wall-clock minutes of the whole benchmark.
    pub total_minutes: f64,
}

/// Everything written to `results.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Results {
    /// Context.
    pub meta: Meta,
    /// Runs in execution order.
    pub runs: Vec<RunResult>,
}
