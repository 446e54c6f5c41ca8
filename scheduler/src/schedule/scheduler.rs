//! The scheduling loop (one dedicated thread, sequential cycles) and the binding cycle
//! (concurrent tokio tasks), wired to the cache, queue, outcomes and metrics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustc_hash::FxHashMap;
use tokio::sync::{Notify, watch};

use super::algorithm::{Algorithm, ScheduleError};
use super::outcome::OutcomeSink;
use crate::cache::{Cache, Snapshot};
use crate::framework::events::{ClusterEvent, EventObjects, EventResource, action};
use crate::framework::{
    BindContext, BindError, Code, CycleState, FitError, Framework, PostFilterResult, Status,
};
use crate::queue::{Nominating, QueuedPod, SchedulingQueue};
use crate::serving::{AttemptResult, SchedulerMetrics};
use ferrosched_runtime::leader::LeaseGuard;

/// Runs the profile's PostFilter plugins (preemption) after a failed filter pass and
/// appends their message to the fit error, as upstream's scheduling cycle does. Pure:
/// victims are returned, not deleted.
pub fn run_post_filter(
    fw: &Framework,
    state: &CycleState,
    pod: &crate::model::PodInfo,
    snapshot: &Snapshot,
    fit: &mut FitError,
) -> Option<PostFilterResult> {
    let (result, status) =
        fw.run_post_filter_plugins(state, pod, snapshot, &fit.diagnosis.node_statuses);
    let msg = status.message();
    if !msg.is_empty() {
        fit.diagnosis.post_filter_msg = Some(msg);
    }
    result
}

/// Everything the loop shares with the informers and binding tasks.
pub struct SchedulerParts {
    /// Frameworks by scheduler name.
    pub frameworks: FxHashMap<String, Arc<Framework>>,
    /// The cache (shared with the informers).
    pub cache: Arc<Mutex<Cache>>,
    /// The queue (shared with the informers).
    pub queue: Arc<SchedulingQueue>,
    /// How binds are made.
    pub bind: BindContext,
    /// Where outcomes go, by scheduler name.
    pub outcomes: FxHashMap<String, Arc<dyn OutcomeSink>>,
    /// Metrics.
    pub metrics: Arc<SchedulerMetrics>,
    /// Global percentageOfNodesToScore.
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Worker threads for filtering and scoring.
    pub parallelism: usize,
    /// Checked right before every write only the leader may make (binds, PreBind's
    /// writes, preemption): a process frozen past its Lease writes nothing on waking.
    pub lease: LeaseGuard,
}

/// Bindings past PreBind (the `pods/binding` calls) that may be in flight at once. The
/// loop waits for a free slot before it takes the next pod, so under load pods wait in
/// the queue rather than in the API server, which also serves every other client.
/// PreBind waits (volume binding, up to minutes) do not count.
///
/// 32 keeps up with pods created at 440/s on the benchmark's 2-core control plane (16
/// fell behind) and halves attempt latency against 64, where binds mostly queued in the
/// API server (see docs/decisions.md).
pub const MAX_BINDS_IN_FLIGHT: usize = 32;

/// How often the loop looks again while the elector says leading but the renewal
/// deadline has passed.
const LEASE_RECHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// Why a bind was not made.
const LEASE_NOT_HELD: &str = "leadership not held";

/// Binding tasks in flight, so shutdown can wait for them.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
    binding: AtomicUsize,
    bind_done: Notify,
}

impl InFlight {
    pub(crate) fn binding_start(&self) {
        self.binding.fetch_add(1, Ordering::SeqCst);
    }
    pub(crate) fn binding_finish(&self) {
        self.binding.fetch_sub(1, Ordering::SeqCst);
        self.bind_done.notify_waiters();
    }
    /// Waits until fewer than `max` bind calls are in flight.
    pub async fn wait_for_bind_slot(&self, max: usize) {
        loop {
            let notified = self.bind_done.notified();
            if self.binding.load(Ordering::SeqCst) < max {
                return;
            }
            notified.await;
        }
    }

    /// Binding cycles running now (`scheduler_goroutines{operation="binding"}`).
    pub fn tasks(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
    fn start(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }
    fn finish(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
    /// Waits until no bind is in flight.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// The scheduler: call [`Scheduler::run`] on a dedicated thread.
pub struct Scheduler {
    parts: Arc<SchedulerParts>,
    algorithm: Algorithm,
    snapshot: Snapshot,
    pool: Arc<rayon::ThreadPool>,
    runtime: tokio::runtime::Handle,
    /// Binding tasks in flight.
    pub in_flight: Arc<InFlight>,
}

impl Scheduler {
    /// Builds the loop; binding tasks go to `runtime`.
    pub fn new(
        parts: SchedulerParts,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, rayon::ThreadPoolBuildError> {
        // `parallelism` bounds upstream's goroutines; threads beyond the machine's cores only
        // cost memory and switches, so the pool is capped at the available parallelism.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(parts.parallelism.clamp(1, cores))
            .thread_name(|i| format!("filter-{i}"))
            .build()?;
        Ok(Scheduler {
            algorithm: Algorithm::new(parts.percentage_of_nodes_to_score),
            parts: Arc::new(parts),
            snapshot: Snapshot::default(),
            pool: Arc::new(pool),
            runtime,
            in_flight: Arc::new(InFlight::default()),
        })
    }

    /// The filter/score thread pool. The loop runs on one of its threads (see
    /// [`Scheduler::run`]), so cycles need no hand-off; callers driving
    /// [`Scheduler::schedule_one`] themselves do the same with `pool().install(..)`.
    pub fn pool(&self) -> Arc<rayon::ThreadPool> {
        self.pool.clone()
    }

    /// Schedules while `leading` is true and until `stop` is set; returns when stopped.
    /// The loop occupies one thread of the filter pool; the others join in for fan-outs.
    pub fn run(self, leading: watch::Receiver<bool>, stop: watch::Receiver<bool>) -> Arc<InFlight> {
        let pool = self.pool.clone();
        pool.install(move || self.run_loop(leading, stop))
    }

    fn run_loop(
        mut self,
        mut leading: watch::Receiver<bool>,
        stop: watch::Receiver<bool>,
    ) -> Arc<InFlight> {
        let rt = self.runtime.clone();
        loop {
            if *stop.borrow() {
                break;
            }
            if !*leading.borrow() {
                let mut stop2 = stop.clone();
                let ok = rt.block_on(async {
                    tokio::select! {
                        r = leading.wait_for(|l| *l) => r.is_ok(),
                        _ = stop2.wait_for(|s| *s) => false,
                    }
                });
                if !ok {
                    break;
                }
            }
            if !self.parts.lease.holds() {
                // Leading by the elector's last word, but past the renewal deadline (the
                // process was frozen, or renewals are failing): wait for the elector.
                rt.block_on(tokio::time::sleep(LEASE_RECHECK));
                continue;
            }
            rt.block_on(self.in_flight.wait_for_bind_slot(MAX_BINDS_IN_FLIGHT));
            let mut stop2 = stop.clone();
            let popped = rt.block_on(async {
                tokio::select! {
                    p = self.parts.queue.pop() => p,
                    _ = stop2.wait_for(|s| *s) => None,
                }
            });
            let Some((qp, cycle)) = popped else { break };
            if !*leading.borrow() || !self.parts.lease.holds() {
                self.parts.queue.add_unschedulable(qp, cycle, true);
                continue;
            }
            self.schedule_one(qp, cycle);
        }
        self.in_flight.clone()
    }

    /// One scheduling cycle for `qp` (public for in-process benchmarks and tests).
    pub fn schedule_one(&mut self, qp: QueuedPod, cycle: u64) {
        let parts = self.parts.clone();
        let pod = qp.info.clone();
        let Some(fw) = parts.frameworks.get(pod.scheduler_name()).cloned() else {
            parts.queue.done(&pod.uid);
            return;
        };
        crate::fault::inject("scheduling-loop", pod.name());
        if pod.pod().metadata.deletion_timestamp.is_some() {
            // Upstream's skipPodSchedule: a pod being deleted is not scheduled.
            parts.queue.done(&pod.uid);
            return;
        }
        let start = Instant::now();
        {
            let mut cache = parts.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.contains_pod(&pod.uid) {
                drop(cache);
                parts.queue.done(&pod.uid);
                return;
            }
            cache.update_snapshot(&mut self.snapshot);
        }
        let mut state = CycleState::default();
        let algorithm = &mut self.algorithm;
        let snapshot = &self.snapshot;
        let result = if self.pool.current_thread_index().is_some() {
            algorithm.schedule(&fw, &mut state, &pod, snapshot)
        } else {
            self.pool
                .install(|| algorithm.schedule(&fw, &mut state, &pod, snapshot))
        };
        parts
            .metrics
            .observe_algorithm_duration(start.elapsed().as_secs_f64());
        match result {
            Ok(r) => self.assume_and_bind(fw, state, qp, cycle, r.suggested_host, start),
            Err(ScheduleError::Fit(mut fit)) => {
                let nominating = self.post_filter(&fw, &state, &qp, &mut fit);
                let nominated = super::nominating::status_patch(&qp.info, &nominating);
                let message = fit.message();
                let mut qp = qp;
                qp.unschedulable_plugins = fit.diagnosis.unschedulable_plugins.clone();
                parts.metrics.observe_attempt(
                    AttemptResult::Unschedulable,
                    &fw.scheduler_name,
                    start.elapsed().as_secs_f64(),
                );
                tracing::debug!(pod = %pod.key, %message, "unschedulable");
                self.report_failure(
                    &fw.scheduler_name,
                    qp.info.clone(),
                    "Unschedulable",
                    message,
                    nominated,
                );
                parts.queue.add_unschedulable(qp, cycle, false);
                if nominating != Nominating::FromStatus {
                    parts.queue.add_nominated_pod(&pod, nominating);
                }
            }
            Err(ScheduleError::Internal(status)) => {
                parts.metrics.observe_attempt(
                    AttemptResult::Error,
                    &fw.scheduler_name,
                    start.elapsed().as_secs_f64(),
                );
                let message = format!(
                    "running {:?} plugin {:?}: {}",
                    status.code_label(),
                    status.plugin(),
                    status.message()
                );
                tracing::warn!(pod = %pod.key, %message, "scheduling error");
                // As upstream, an error clears the pod's nomination.
                let clear = Nominating::Override(String::new());
                let nominated = super::nominating::status_patch(&qp.info, &clear);
                self.report_failure(
                    &fw.scheduler_name,
                    qp.info.clone(),
                    "SchedulerError",
                    message,
                    nominated,
                );
                parts.queue.add_unschedulable(qp, cycle, true);
                parts.queue.add_nominated_pod(&pod, clear);
            }
        }
    }

    /// Runs preemption; returns how the pod's nomination changes: to the chosen node, cleared
    /// (no node helps), or left as its status says.
    fn post_filter(
        &self,
        fw: &Framework,
        state: &CycleState,
        qp: &QueuedPod,
        fit: &mut FitError,
    ) -> Nominating {
        let Some(result) = run_post_filter(fw, state, &qp.info, &self.snapshot, fit) else {
            return Nominating::FromStatus;
        };
        if let Some(node) = &result.nominated_node_name {
            self.parts.metrics.observe_preemption(result.victims.len());
            self.delete_victims(&result.victims, &qp.info, node);
        }
        Nominating::Override(result.nominated_node_name.unwrap_or_default())
    }

    /// Preempts each victim for `preemptor` on `node` through the profile's outcome sink.
    fn delete_victims(
        &self,
        victims: &[Arc<crate::model::PodInfo>],
        preemptor: &Arc<crate::model::PodInfo>,
        node: &str,
    ) {
        let Some(sink) = self.parts.outcomes.get(preemptor.scheduler_name()).cloned() else {
            return;
        };
        // Lower-priority pods nominated to the node may no longer fit there: their
        // nominations are cleared so they look elsewhere (upstream's executor does this).
        let nominator = self.parts.queue.nominator();
        for p in nominator.pods_for_node(node) {
            if p.priority < preemptor.priority {
                let (sink, lease) = (sink.clone(), self.parts.lease.clone());
                self.runtime.spawn(async move {
                    if lease.holds() {
                        sink.clear_nomination(&p).await;
                    }
                });
            }
        }
        // Upstream sends nothing for a victim whose graceful deletion already started.
        for v in victims.iter().filter(|v| v.deletion_timestamp().is_none()) {
            let (sink, v, by, node) =
                (sink.clone(), v.clone(), preemptor.clone(), node.to_string());
            let lease = self.parts.lease.clone();
            self.runtime.spawn(async move {
                if lease.holds() {
                    sink.preempt(&v, &by, &node).await;
                } else {
                    tracing::warn!(victim = %v.key, "not preempting: leadership not held");
                }
            });
        }
    }

    fn report_failure(
        &self,
        profile: &str,
        pod: Arc<crate::model::PodInfo>,
        reason: &'static str,
        message: String,
        nominated: Option<String>,
    ) {
        if let Some(sink) = self.parts.outcomes.get(profile).cloned() {
            self.runtime.spawn(async move {
                sink.failed(&pod, reason, &message, nominated.as_deref())
                    .await
            });
        }
    }

    fn assume_and_bind(
        &mut self,
        fw: Arc<Framework>,
        mut state: CycleState,
        qp: QueuedPod,
        cycle: u64,
        node: String,
        start: Instant,
    ) {
        let parts = self.parts.clone();
        let pod = qp.info.clone();
        if let Err(e) = parts
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .assume(pod.clone(), &node)
        {
            tracing::warn!(pod = %pod.key, error = %e, "assume failed");
            parts.queue.add_unschedulable(qp, cycle, true);
            return;
        }
        // An assumed pod holds its room in the cache, not as a nomination.
        parts.queue.nominator().delete(&pod.uid);
        let mut failure: Option<Status> = None;
        let reserved = fw.run_reserve_plugins_reserve(&mut state, &pod, &node);
        if !reserved.is_success() {
            failure = Some(reserved);
        } else {
            let permit = fw.run_permit_plugins(&mut state, &pod, &node);
            if !permit.is_success() && permit.code() != Code::Wait {
                failure = Some(permit);
            }
        }
        if let Some(status) = failure {
            fw.run_reserve_plugins_unreserve(&mut state, &pod, &node);
            let _ = parts
                .cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .forget(&pod.uid);
            let error = !status.is_rejected();
            let mut qp = qp;
            if !error {
                qp.unschedulable_plugins = vec![status.plugin()];
            }
            parts.metrics.observe_attempt(
                if error {
                    AttemptResult::Error
                } else {
                    AttemptResult::Unschedulable
                },
                &fw.scheduler_name,
                start.elapsed().as_secs_f64(),
            );
            // As upstream, a failure after the pod was assumed clears its nomination.
            let nominated =
                super::nominating::status_patch(&pod, &Nominating::Override(String::new()));
            self.report_failure(
                &fw.scheduler_name,
                pod,
                if error {
                    "SchedulerError"
                } else {
                    "Unschedulable"
                },
                if error {
                    status.message()
                } else {
                    rejected_on_node(&node, &status)
                },
                nominated,
            );
            parts.queue.add_unschedulable(qp, cycle, error);
            return;
        }
        parts.queue.done(&pod.uid);
        state.end_scheduling_cycle();
        let in_flight = self.in_flight.clone();
        in_flight.start();
        self.runtime.spawn(async move {
            let attempt = Attempt { qp, cycle, start };
            binding_cycle(&parts, &fw, state, attempt, &node, &in_flight).await;
            in_flight.finish();
        });
    }
}

/// Upstream's message for a pod rejected after it was assumed on `node` (at Reserve or
/// Permit): a fit error over that one node, `0/1 nodes are available: 1 <reason>.`
fn rejected_on_node(node: &str, status: &Status) -> String {
    let mut fit = FitError {
        num_all_nodes: 1,
        diagnosis: crate::framework::Diagnosis::default(),
    };
    fit.diagnosis
        .node_statuses
        .insert(Arc::from(node), status.clone());
    fit.message()
}

/// A pod on its way to being bound: the queue entry, its scheduling cycle and when the
/// attempt started.
struct Attempt {
    qp: QueuedPod,
    cycle: u64,
    start: Instant,
}

async fn binding_cycle(
    parts: &SchedulerParts,
    fw: &Framework,
    mut state: CycleState,
    attempt: Attempt,
    node: &str,
    in_flight: &InFlight,
) {
    let Attempt { qp, cycle, start } = attempt;
    let pod = qp.info.clone();
    let profile = fw.scheduler_name.as_str();
    // A pod a Permit plugin holds waits here, assumed on its node.
    let mut status = fw.wait_on_permit(&pod).await;
    let mut lost = false;
    if status.is_success() && !parts.lease.holds() {
        lost = true;
        status = Status::error(LEASE_NOT_HELD);
    }
    if status.is_success() {
        status = fw
            .run_pre_bind_plugins(&parts.bind, &state, &pod, node)
            .await;
    }
    if status.is_success() && !parts.lease.holds() {
        lost = true;
        status = Status::error(LEASE_NOT_HELD);
    }
    if status.is_success() {
        in_flight.binding_start();
        status = fw.run_bind_plugins(&parts.bind, &state, &pod, node).await;
        in_flight.binding_finish();
    }
    if status.is_success() {
        tracing::debug!(pod = %pod.key, node, "Successfully bound pod to node");
        parts
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .finish_binding(&pod.uid, Instant::now());
        parts.metrics.observe_attempt(
            AttemptResult::Scheduled,
            profile,
            start.elapsed().as_secs_f64(),
        );
        if let Some(first) = qp.initial_attempt {
            parts
                .metrics
                .observe_pod_scheduled(qp.attempts, first.elapsed().as_secs_f64());
        }
        fw.run_post_bind_plugins(&state, &pod, node);
        if let Some(sink) = parts.outcomes.get(profile) {
            sink.scheduled(&pod, node).await;
        }
        return;
    }
    fw.run_reserve_plugins_unreserve(&mut state, &pod, node);
    let _ = parts
        .cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .forget(&pod.uid);
    // The freed room may help others that wait.
    let freed = || {
        parts.queue.on_event(
            ClusterEvent::new(EventResource::AssignedPod, action::DELETE),
            EventObjects::None,
        )
    };
    if !status.is_rejected() {
        freed();
    }
    if lost {
        // Not an attempt that failed: another replica may lead now. Back to the queue,
        // which the next leader's own informers will fill anyway.
        tracing::warn!(pod = %pod.key, node, "not binding: leadership not held");
        parts.queue.add_unschedulable(qp, cycle, true);
        return;
    }
    if status.is_rejected() {
        // A Permit plugin rejected the waiting pod: unschedulable, as at Reserve.
        parts.metrics.observe_attempt(
            AttemptResult::Unschedulable,
            profile,
            start.elapsed().as_secs_f64(),
        );
        let message = rejected_on_node(node, &status);
        tracing::debug!(pod = %pod.key, node, %message, "rejected while waiting on permit");
        if let Some(sink) = parts.outcomes.get(profile) {
            let nominated =
                super::nominating::status_patch(&pod, &Nominating::Override(String::new()));
            sink.failed(&pod, "Unschedulable", &message, nominated.as_deref())
                .await;
        }
        let mut qp = qp;
        qp.unschedulable_plugins = vec![status.plugin()];
        // Queued before the room it freed is announced, as upstream defers that move.
        parts.queue.add_unschedulable(qp, cycle, false);
        freed();
        return;
    }
    let message = status.message();
    if BindError::is_final_message(&message) {
        // Bound by someone else or gone: the informer brings the truth; do not retry.
        tracing::info!(pod = %pod.key, %message, "bind not retried");
        return;
    }
    parts
        .metrics
        .observe_attempt(AttemptResult::Error, profile, start.elapsed().as_secs_f64());
    tracing::warn!(pod = %pod.key, node, %message, "binding failed");
    if let Some(sink) = parts.outcomes.get(profile) {
        // As upstream, a failed bind clears the pod's nomination.
        let nominated = super::nominating::status_patch(&pod, &Nominating::Override(String::new()));
        sink.failed(
            &pod,
            "SchedulerError",
            &format!("Binding rejected: {message}"),
            nominated.as_deref(),
        )
        .await;
    }
    parts.queue.add_unschedulable(qp, cycle, true);
}
