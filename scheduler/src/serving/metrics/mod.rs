//! Scheduler metrics with kube-scheduler v1.37 names, labels and buckets.
//!
//! [`SchedulerMetrics`] owns a prometheus-client [`Registry`] and exposes cheap recording
//! methods. Per-profile series are resolved once into a [`ProfileMetrics`] handle, so the
//! scheduling hot path neither formats nor allocates label values.
//! Encoding is OpenMetrics text ([`CONTENT_TYPE`]); process metrics are read from
//! `/proc/self` at scrape time (see [`process`]).

mod labels;
pub mod process;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use labels::{AttemptResult, Queue};
use labels::{ExtensionPointStatus, LeaseName, OneStatic, QueueEvent, ResultProfile};

/// The `name` label of `leader_election_master_status`: kube-scheduler's
/// `LeaderElectionConfig.Name`, whatever the Lease is called.
pub const LEADER_ELECTION_NAME: &str = "kube-scheduler";

/// Content type of [`SchedulerMetrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

fn buckets(start: f64, factor: f64, count: u16) -> Histogram {
    Histogram::new(exponential_buckets(start, factor, count))
}

/// All metrics of one scheduler process, registered in one registry.
#[derive(Debug)]
pub struct SchedulerMetrics {
    registry: Registry,
    schedule_attempts: Family<ResultProfile, Counter>,
    attempt_duration: HistogramFamily<ResultProfile>,
    algorithm_duration: Histogram,
    pending_pods: [Gauge; 4],
    sli_duration: HistogramFamily<OneStatic>,
    pod_scheduling_attempts: Histogram,
    extension_point_duration: HistogramFamily<ExtensionPointStatus>,
    queue_incoming_pods: Family<QueueEvent, Counter>,
    preemption_attempts: Counter,
    preemption_victims: Histogram,
    leader: Family<LeaseName, Gauge>,
    plugin_duration: HistogramFamily<[(&'static str, &'static str); 3]>,
    unschedulable_pods: Family<[(&'static str, String); 2], Gauge>,
    unschedulable_keys: std::sync::Mutex<Vec<(&'static str, String)>>,
    cache_size: [Gauge; 3],
    binding_goroutines: Gauge,
    profiles: RwLock<HashMap<Box<str>, ProfileMetrics>>,
}

impl Default for SchedulerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SchedulerMetrics {
    /// Creates and registers every metric (histogram buckets as upstream).
    pub fn new() -> Self {
        // The registry appends a period to every help text, so none of them ends in one.
        let mut r = Registry::default();
        let schedule_attempts = Family::default();
        // Counters are registered without `_total`: the encoder appends it.
        r.register("scheduler_schedule_attempts", "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem", Family::clone(&schedule_attempts));
        let attempt_duration: HistogramFamily<_> =
            Family::new_with_constructor(|| buckets(0.001, 2.0, 15));
        r.register(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            attempt_duration.clone(),
        );
        let algorithm_duration = buckets(0.001, 2.0, 15);
        r.register(
            "scheduler_scheduling_algorithm_duration_seconds",
            "Scheduling algorithm latency in seconds",
            algorithm_duration.clone(),
        );
        let pending: Family<OneStatic, Gauge> = Family::default();
        r.register("scheduler_pending_pods", "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulableEntities that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated", pending.clone());
        let pending_pods = [
            Queue::Active,
            Queue::Backoff,
            Queue::Unschedulable,
            Queue::Gated,
        ]
        .map(|q| pending.get_or_create_owned(&[("queue", q.as_str())]));
        let sli_duration: HistogramFamily<_> =
            Family::new_with_constructor(|| buckets(0.01, 2.0, 20));
        r.register("scheduler_pod_scheduling_sli_duration_seconds", "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue and might involve multiple scheduling attempts", sli_duration.clone());
        let pod_scheduling_attempts = buckets(1.0, 2.0, 5);
        r.register(
            "scheduler_pod_scheduling_attempts",
            "Number of attempts to successfully schedule a pod",
            pod_scheduling_attempts.clone(),
        );
        let extension_point_duration: HistogramFamily<_> =
            Family::new_with_constructor(|| buckets(0.0001, 2.0, 12));
        r.register(
            "scheduler_framework_extension_point_duration_seconds",
            "Latency for running all plugins of a specific extension point",
            extension_point_duration.clone(),
        );
        let queue_incoming_pods = Family::default();
        r.register(
            "scheduler_queue_incoming_pods",
            "Number of pods added to scheduling queues by event and queue type",
            Family::clone(&queue_incoming_pods),
        );
        let preemption_attempts = Counter::default();
        r.register(
            "scheduler_preemption_attempts",
            "Total preemption attempts in the cluster till now",
            preemption_attempts.clone(),
        );
        let preemption_victims = buckets(1.0, 2.0, 7);
        r.register(
            "scheduler_preemption_victims",
            "Number of selected preemption victims for preemption initiated by a single pod",
            preemption_victims.clone(),
        );
        let leader = Family::default();
        r.register("leader_election_master_status", "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name", Family::clone(&leader));
        let plugin_duration: HistogramFamily<_> =
            Family::new_with_constructor(|| buckets(0.00001, 1.5, 20));
        r.register(
            "scheduler_plugin_execution_duration_seconds",
            "Duration for running a plugin at a specific extension point",
            plugin_duration.clone(),
        );
        let unschedulable_pods = Family::default();
        r.register("scheduler_unschedulable_pods", "The number of unschedulable pods broken down by plugin name. A pod will increment the gauge for all plugins that caused it to not schedule and so this metric have meaning only when broken down by plugin", Family::clone(&unschedulable_pods));
        let cache: Family<OneStatic, Gauge> = Family::default();
        r.register(
            "scheduler_cache_size",
            "Number of nodes, pods, and assumed (bound) pods in the scheduler cache",
            cache.clone(),
        );
        let cache_size =
            ["nodes", "pods", "assumed_pods"].map(|t| cache.get_or_create_owned(&[("type", t)]));
        let goroutines: Family<OneStatic, Gauge> = Family::default();
        r.register(
            "scheduler_goroutines",
            "Number of running goroutines split by the work they do such as binding",
            goroutines.clone(),
        );
        let binding_goroutines = goroutines.get_or_create_owned(&[("operation", "binding")]);
        r.register_collector(Box::new(process::ProcessCollector));
        Self {
            plugin_duration,
            unschedulable_pods,
            unschedulable_keys: std::sync::Mutex::default(),
            cache_size,
            binding_goroutines,
            registry: r,
            schedule_attempts,
            attempt_duration,
            algorithm_duration,
            pending_pods,
            sli_duration,
            pod_scheduling_attempts,
            extension_point_duration,
            queue_incoming_pods,
            preemption_attempts,
            preemption_victims,
            leader,
            profiles: RwLock::default(),
        }
    }

    /// The pre-resolved per-profile handle for `profile` (created on first use).
    pub fn profile(&self, profile: &str) -> ProfileMetrics {
        let cached = read(&self.profiles).get(profile).cloned();
        if let Some(p) = cached {
            return p;
        }
        let mut map = self.profiles.write().unwrap_or_else(|e| e.into_inner());
        let name: Arc<str> = Arc::from(profile);
        map.entry(Box::from(profile))
            .or_insert_with(|| ProfileMetrics {
                attempts: AttemptResult::ALL.map(|r| {
                    let key = ResultProfile {
                        result: r.as_str(),
                        profile: name.clone(),
                    };
                    let counter = self.schedule_attempts.get_or_create_owned(&key);
                    (counter, self.attempt_duration.get_or_create_owned(&key))
                }),
                extension_points: self.extension_point_duration.clone(),
                profile: name,
            })
            .clone()
    }

    /// Records one scheduling attempt of `profile` that took `seconds` (algorithm + binding).
    pub fn observe_attempt(&self, result: AttemptResult, profile: &str, seconds: f64) {
        // The read guard must be gone before `profile()` may take the write lock.
        let cached = read(&self.profiles)
            .get(profile)
            .map(|p| p.observe_attempt(result, seconds));
        if cached.is_none() {
            self.profile(profile).observe_attempt(result, seconds);
        }
    }

    /// Records the duration of the scheduling algorithm (filter + score) of one attempt.
    pub fn observe_algorithm_duration(&self, seconds: f64) {
        self.algorithm_duration.observe(seconds);
    }

    /// Sets the number of pods pending in `queue`.
    pub fn set_pending(&self, queue: Queue, pods: i64) {
        self.pending_pods[queue as usize].set(pods);
    }

    /// Records a successfully scheduled pod: its attempts and the end-to-end latency since
    /// it first entered the queue (`scheduler_pod_scheduling_sli_duration_seconds`).
    pub fn observe_pod_scheduled(&self, attempts: u32, seconds_since_first_queued: f64) {
        self.pod_scheduling_attempts.observe(f64::from(attempts));
        let key = [("attempts", labels::attempts_label(attempts))];
        self.sli_duration
            .get_or_create(&key)
            .observe(seconds_since_first_queued);
    }

    /// Counts `pods` added to `queue` because of `event` (e.g. `PodAdd`, `NodeAdd`,
    /// `ScheduleAttemptFailure`, `BackoffComplete`, `UnschedulableTimeout`).
    pub fn inc_queue_incoming(&self, queue: Queue, event: &'static str, pods: u64) {
        let key = [("queue", queue.as_str()), ("event", event)];
        self.queue_incoming_pods.get_or_create(&key).inc_by(pods);
    }

    /// Records one preemption attempt that selected `victims` pods.
    pub fn observe_preemption(&self, victims: usize) {
        self.preemption_attempts.inc();
        self.preemption_victims.observe(victims as f64);
    }

    /// Sets `leader_election_master_status{name="kube-scheduler"}` to 1 when leading, else
    /// 0. As upstream, the label is the election's name ([`LEADER_ELECTION_NAME`]), never
    /// the Lease's namespace/name (which `--leader-elect-resource-name` may change).
    pub fn set_leader(&self, leading: bool) {
        let key = [("name", LEADER_ELECTION_NAME)];
        self.leader.get_or_create(&key).set(i64::from(leading));
    }

    /// Records one sampled plugin call (`scheduler_plugin_execution_duration_seconds`):
    /// `plugin` at `extension_point` returned `status` after `seconds`.
    pub fn observe_plugin(
        &self,
        plugin: &'static str,
        extension_point: &'static str,
        status: &'static str,
        seconds: f64,
    ) {
        let key = [
            ("plugin", plugin),
            ("extension_point", extension_point),
            ("status", status),
        ];
        self.plugin_duration.get_or_create(&key).observe(seconds);
    }

    /// Sets `scheduler_unschedulable_pods{plugin, profile}` from the pods now in the
    /// unschedulable pool, counted per (profile, rejecting plugin); series of plugins no
    /// pod names any more drop to 0, as upstream's gauge does when its pods leave.
    pub fn set_unschedulable_pods(&self, counts: &[((String, &'static str), usize)]) {
        let mut keys = self
            .unschedulable_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let key = |profile: &str, plugin: &'static str| {
            [
                ("plugin", plugin.to_owned()),
                ("profile", profile.to_owned()),
            ]
        };
        for (plugin, profile) in keys.iter() {
            if !counts
                .iter()
                .any(|((pr, pl), _)| pr == profile && pl == plugin)
            {
                self.unschedulable_pods
                    .get_or_create(&key(profile, plugin))
                    .set(0);
            }
        }
        keys.clear();
        for ((profile, plugin), n) in counts {
            let n = i64::try_from(*n).unwrap_or(i64::MAX);
            self.unschedulable_pods
                .get_or_create(&key(profile, plugin))
                .set(n);
            keys.push((plugin, profile.clone()));
        }
    }

    /// Sets `scheduler_cache_size{type}`: nodes, pods (assumed included) and assumed pods
    /// in the cache.
    pub fn set_cache_size(&self, nodes: usize, pods: usize, assumed_pods: usize) {
        for (gauge, n) in self.cache_size.iter().zip([nodes, pods, assumed_pods]) {
            gauge.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Sets `scheduler_goroutines{operation="binding"}`: binding cycles in flight. Ours are
    /// tokio tasks, not goroutines; one task runs one pod's binding cycle (Permit wait,
    /// PreBind, Bind, PostBind), which is what upstream's binding goroutine counts.
    pub fn set_binding_tasks(&self, tasks: usize) {
        self.binding_goroutines
            .set(i64::try_from(tasks).unwrap_or(i64::MAX));
    }

    /// Encodes every metric as OpenMetrics text (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail; a collector error would only truncate output.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "failed to encode metrics");
        }
        out
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

/// Metrics of one scheduling profile, resolved once; cloning is cheap (reference counts).
#[derive(Clone, Debug)]
pub struct ProfileMetrics {
    profile: Arc<str>,
    attempts: [(Counter, Histogram); 3],
    extension_points: HistogramFamily<ExtensionPointStatus>,
}

impl ProfileMetrics {
    /// The profile (scheduler name) these metrics are labelled with.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// Records one scheduling attempt that took `seconds` (algorithm + binding).
    pub fn observe_attempt(&self, result: AttemptResult, seconds: f64) {
        let (counter, histogram) = &self.attempts[result as usize];
        counter.inc();
        histogram.observe(seconds);
    }

    /// Records the time spent running all plugins of `extension_point` (e.g. `Filter`,
    /// `PreScore`, `Bind`) that ended with `status` (a framework status code such as
    /// `Success`, `Unschedulable`, `Error`).
    pub fn observe_extension_point(
        &self,
        extension_point: &'static str,
        status: &'static str,
        seconds: f64,
    ) {
        let key = ExtensionPointStatus {
            extension_point,
            status,
            profile: self.profile.clone(),
        };
        self.extension_points.get_or_create(&key).observe(seconds);
    }
}
