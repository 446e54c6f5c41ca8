//! The queue proper. Pods wait here until a scheduling cycle takes them; those that fail
//! wait in backoff or in the unschedulable pool until an event can make them fit.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::Notify;

use super::clock::Clock;
use super::heap::{KeyedHeap, Less};
use crate::framework::events::{ClusterEvent, ClusterEventWithHint, EventObjects, QueueingHint};
use crate::framework::{Nominating, Nominator};
use crate::framework::{QueuedPodView, Status};
use crate::model::PodInfo;

/// Queue timings (upstream defaults: 1s, 10s, 5m).
#[derive(Debug, Clone, Copy)]
pub struct QueueOptions {
    /// First backoff.
    pub initial_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// After this long in the unschedulable pool a pod is retried anyway.
    pub max_in_unschedulable: Duration,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_in_unschedulable: Duration::from_secs(300),
        }
    }
}

/// A pod in the queue with its scheduling history.
#[derive(Debug, Clone)]
pub struct QueuedPod {
    /// The pod.
    pub info: Arc<PodInfo>,
    /// When it entered the queue (QueueSort's tie-breaker).
    pub timestamp: Instant,
    /// When it was first popped (for the SLI metric).
    pub initial_attempt: Option<Instant>,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// Plugins that rejected it in its last attempt.
    pub unschedulable_plugins: Vec<&'static str>,
    /// When its backoff ends.
    pub backoff_until: Option<Instant>,
    /// Why it is gated (PreEnqueue), when it is.
    pub gated_by: Option<Status>,
}

impl QueuedPod {
    fn new(info: Arc<PodInfo>, now: Instant) -> Self {
        QueuedPod {
            info,
            timestamp: now,
            initial_attempt: None,
            attempts: 0,
            unschedulable_plugins: Vec::new(),
            backoff_until: None,
            gated_by: None,
        }
    }
}

/// Pods per sub-queue, for `scheduler_pending_pods`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingCounts {
    /// Ready to be scheduled.
    pub active: usize,
    /// Waiting out a backoff.
    pub backoff: usize,
    /// Waiting for an event.
    pub unschedulable: usize,
    /// Held by a PreEnqueue plugin.
    pub gated: usize,
}

struct Inner {
    active: KeyedHeap<QueuedPod>,
    backoff: KeyedHeap<QueuedPod>,
    unschedulable: FxHashMap<String, (QueuedPod, Instant)>,
    gated: FxHashMap<String, QueuedPod>,
    in_flight: FxHashMap<String, Option<Arc<PodInfo>>>,
    deleted_in_flight: FxHashSet<String>,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    closed: bool,
}

/// Runs a profile's PreEnqueue plugins on a pod (the framework's
/// `run_pre_enqueue_plugins`): success lets it into the active queue.
pub type PreEnqueue = Arc<dyn Fn(&PodInfo) -> Status + Send + Sync>;

/// Per-profile hooks the queue consults.
#[derive(Default, Clone)]
pub struct ProfileHooks {
    /// The profile's PreEnqueue plugins (none: every pod may enter).
    pub pre_enqueue: Option<PreEnqueue>,
    /// (plugin, event) pairs registered by the profile's plugins.
    pub events: Vec<(&'static str, ClusterEventWithHint)>,
}

/// The QueueSort plugin's order: whether the first pod goes before the second.
pub type QueueLess = Arc<dyn Fn(&QueuedPodView<'_>, &QueuedPodView<'_>) -> bool + Send + Sync>;

/// Told of every pod entering a sub-queue: (queue, event, count), for
/// `scheduler_queue_incoming_pods_total`. Queues: `active`, `backoff`, `unschedulable`, `gated`.
pub type IncomingObserver = Arc<dyn Fn(&'static str, &'static str, u64) + Send + Sync>;

/// The scheduling queue, shared by the informers (producers) and the scheduling loop.
pub struct SchedulingQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    clock: Arc<dyn Clock>,
    opts: QueueOptions,
    hooks: FxHashMap<String, ProfileHooks>,
    incoming: Option<IncomingObserver>,
    nominator: Arc<Nominator>,
}

impl std::fmt::Debug for SchedulingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulingQueue")
            .field("pending", &self.pending())
            .finish()
    }
}

impl SchedulingQueue {
    /// A queue ordered by `less` (the QueueSort plugin), with per-profile hooks keyed by
    /// scheduler name.
    pub fn new(
        less: QueueLess,
        hooks: FxHashMap<String, ProfileHooks>,
        clock: Arc<dyn Clock>,
        opts: QueueOptions,
    ) -> Self {
        let active_less: Less<QueuedPod> = Box::new(move |a: &QueuedPod, b: &QueuedPod| {
            less(
                &QueuedPodView {
                    pod: &a.info,
                    timestamp: a.timestamp,
                },
                &QueuedPodView {
                    pod: &b.info,
                    timestamp: b.timestamp,
                },
            )
        });
        let backoff_less: Less<QueuedPod> =
            Box::new(|a: &QueuedPod, b: &QueuedPod| a.backoff_until < b.backoff_until);
        SchedulingQueue {
            inner: Mutex::new(Inner {
                active: KeyedHeap::new(active_less),
                backoff: KeyedHeap::new(backoff_less),
                unschedulable: FxHashMap::default(),
                gated: FxHashMap::default(),
                in_flight: FxHashMap::default(),
                deleted_in_flight: FxHashSet::default(),
                scheduling_cycle: 0,
                move_request_cycle: 0,
                closed: false,
            }),
            notify: Notify::new(),
            clock,
            opts,
            hooks,
            incoming: None,
            nominator: Arc::default(),
        }
    }

    /// Keeps `nominator` (shared with the frameworks through their handle) current.
    #[must_use]
    pub fn with_nominator(mut self, nominator: Arc<Nominator>) -> Self {
        self.nominator = nominator;
        self
    }

    /// The nominator this queue keeps current.
    pub fn nominator(&self) -> Arc<Nominator> {
        self.nominator.clone()
    }

    /// Reports pods entering sub-queues to `observer` (metrics).
    #[must_use]
    pub fn with_incoming_observer(mut self, observer: IncomingObserver) -> Self {
        self.incoming = Some(observer);
        self
    }

    fn incoming(&self, queue: &'static str, event: &'static str, n: u64) {
        if let Some(f) = &self.incoming
            && n > 0
        {
            f(queue, event, n);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn gate(&self, info: &PodInfo) -> Option<Status> {
        let run = self
            .hooks
            .get(info.scheduler_name())?
            .pre_enqueue
            .as_ref()?;
        let s = run(info);
        (!s.is_success()).then_some(s)
    }

    /// Adds a new pending pod (informer add).
    pub fn add(&self, info: Arc<PodInfo>) {
        let now = self.clock.now();
        let mut qp = QueuedPod::new(info, now);
        let mut inner = self.lock();
        let uid = qp.info.uid.clone();
        if inner.in_flight.contains_key(&uid)
            || inner.active.contains(&uid)
            || inner.backoff.contains(&uid)
            || inner.unschedulable.contains_key(&uid)
            || inner.gated.contains_key(&uid)
        {
            drop(inner);
            self.update(qp.info);
            return;
        }
        self.nominator.add(&qp.info, Nominating::FromStatus);
        qp.gated_by = self.gate(&qp.info);
        if qp.gated_by.is_some() {
            inner.gated.insert(uid, qp);
            drop(inner);
            self.incoming("gated", "PodAdd", 1);
        } else {
            inner.active.push(uid, qp);
            drop(inner);
            self.incoming("active", "PodAdd", 1);
            self.notify.notify_one();
        }
    }

    /// A pending pod changed (informer update).
    pub fn update(&self, info: Arc<PodInfo>) {
        let now = self.clock.now();
        let uid = info.uid.clone();
        let mut inner = self.lock();
        // In flight too: a status change seen only there (say, the nomination written
        // back, later cleared by a higher-priority preemptor) must reach the nominator.
        if inner.in_flight.contains_key(&uid)
            || inner.active.contains(&uid)
            || inner.backoff.contains(&uid)
            || inner.unschedulable.contains_key(&uid)
            || inner.gated.contains_key(&uid)
        {
            self.nominator.update(&info);
        }
        if let Some(slot) = inner.in_flight.get_mut(&uid) {
            *slot = Some(info);
            return;
        }
        if let Some(mut qp) = inner.active.remove(&uid) {
            qp.info = info;
            inner.active.push(uid, qp);
            return;
        }
        if let Some(mut qp) = inner.backoff.remove(&uid) {
            qp.info = info;
            inner.backoff.push(uid, qp);
            return;
        }
        if let Some((mut qp, _)) = inner.unschedulable.remove(&uid) {
            qp.info = info;
            let to_active = self.requeue_locked(&mut inner, qp, now);
            drop(inner);
            if to_active {
                self.notify.notify_one();
            }
            return;
        }
        if let Some(mut qp) = inner.gated.remove(&uid) {
            qp.info = info;
            qp.gated_by = self.gate(&qp.info);
            if qp.gated_by.is_some() {
                inner.gated.insert(uid, qp);
            } else {
                inner.active.push(uid, qp);
                drop(inner);
                self.notify.notify_one();
            }
            return;
        }
        drop(inner);
        self.add(info);
    }

    /// A pod left (deleted, or bound by someone else).
    pub fn delete(&self, uid: &str) {
        let mut inner = self.lock();
        self.nominator.delete(uid);
        inner.active.remove(uid);
        inner.backoff.remove(uid);
        inner.unschedulable.remove(uid);
        inner.gated.remove(uid);
        if inner.in_flight.contains_key(uid) {
            inner.deleted_in_flight.insert(uid.to_string());
        }
    }

    /// Waits for the next pod to schedule; None once the queue is closed.
    pub async fn pop(&self) -> Option<(QueuedPod, u64)> {
        loop {
            {
                let mut inner = self.lock();
                if inner.closed {
                    return None;
                }
                if let Some((uid, mut qp)) = inner.active.pop() {
                    inner.scheduling_cycle += 1;
                    qp.attempts += 1;
                    qp.initial_attempt.get_or_insert(self.clock.now());
                    inner.in_flight.insert(uid, None);
                    return Some((qp, inner.scheduling_cycle));
                }
            }
            self.notify.notified().await;
        }
    }

    /// The pod's scheduling cycle ended and it was assumed (or handed back).
    pub fn done(&self, uid: &str) {
        let mut inner = self.lock();
        inner.in_flight.remove(uid);
        inner.deleted_in_flight.remove(uid);
    }

    /// Puts back a pod whose attempt failed. `cycle` is the cycle that popped it; an
    /// `error` (not a rejection) always goes through backoff.
    pub fn add_unschedulable(&self, mut qp: QueuedPod, cycle: u64, error: bool) {
        let now = self.clock.now();
        let uid = qp.info.uid.clone();
        let mut inner = self.lock();
        let updated = inner.in_flight.remove(&uid).flatten();
        if inner.deleted_in_flight.remove(&uid) {
            return;
        }
        let moved_meanwhile = updated.is_some() || inner.move_request_cycle >= cycle;
        if let Some(info) = updated {
            qp.info = info;
        }
        qp.backoff_until = Some(ferrosched_runtime::deadline::after(
            now,
            self.backoff_duration(qp.attempts),
        ));
        qp.timestamp = now;
        if error || moved_meanwhile || qp.unschedulable_plugins.is_empty() {
            inner.backoff.push(uid, qp);
            drop(inner);
            self.incoming("backoff", "ScheduleAttemptFailure", 1);
        } else {
            inner.unschedulable.insert(uid, (qp, now));
            drop(inner);
            self.incoming("unschedulable", "ScheduleAttemptFailure", 1);
        }
    }

    fn backoff_duration(&self, attempts: u32) -> Duration {
        let mut d = self.opts.initial_backoff;
        for _ in 1..attempts.max(1) {
            d = d.saturating_mul(2);
            if d >= self.opts.max_backoff {
                return self.opts.max_backoff;
            }
        }
        d.min(self.opts.max_backoff)
    }

    /// Moves a pod to backoff or active; returns whether it went to active.
    fn requeue_locked(&self, inner: &mut Inner, qp: QueuedPod, now: Instant) -> bool {
        let uid = qp.info.uid.clone();
        if qp.backoff_until.is_some_and(|t| t > now) {
            inner.backoff.push(uid, qp);
            false
        } else {
            inner.active.push(uid, qp);
            true
        }
    }

    fn event_helps(&self, qp: &QueuedPod, event: &ClusterEvent, objects: EventObjects<'_>) -> bool {
        if qp.unschedulable_plugins.is_empty() {
            return true;
        }
        let Some(hooks) = self.hooks.get(qp.info.scheduler_name()) else {
            return true;
        };
        hooks.events.iter().any(|(plugin, reg)| {
            qp.unschedulable_plugins.contains(plugin)
                && event.matches(&reg.event)
                && reg
                    .hint
                    .is_none_or(|h| h(&qp.info, objects) == QueueingHint::Queue)
        })
    }

    /// A cluster event happened: moves the unschedulable pods it may help. Returns how many moved.
    pub fn on_event(&self, event: ClusterEvent, objects: EventObjects<'_>) -> usize {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.move_request_cycle = inner.scheduling_cycle;
        let movable: Vec<String> = inner
            .unschedulable
            .iter()
            .filter(|(_, (qp, _))| self.event_helps(qp, &event, objects))
            .map(|(k, _)| k.clone())
            .collect();
        let (mut to_active, mut to_backoff) = (0, 0);
        for uid in &movable {
            if let Some((qp, _)) = inner.unschedulable.remove(uid) {
                if self.requeue_locked(&mut inner, qp, now) {
                    to_active += 1;
                } else {
                    to_backoff += 1;
                }
            }
        }
        drop(inner);
        let label = event.metric_label();
        self.incoming("active", label, to_active);
        self.incoming("backoff", label, to_backoff);
        if to_active > 0 {
            self.notify.notify_one();
        }
        movable.len()
    }

    /// Moves pods whose backoff ended to the active queue (run every second).
    pub fn flush_backoff_completed(&self) -> usize {
        let now = self.clock.now();
        let mut inner = self.lock();
        let mut n = 0;
        while inner
            .backoff
            .peek()
            .is_some_and(|qp| qp.backoff_until.is_none_or(|t| t <= now))
        {
            if let Some((uid, qp)) = inner.backoff.pop() {
                inner.active.push(uid, qp);
                n += 1;
            }
        }
        drop(inner);
        self.incoming("active", "BackoffComplete", n as u64);
        if n > 0 {
            self.notify.notify_one();
        }
        n
    }

    /// Retries pods that sat in the unschedulable pool too long (run every 30 s).
    pub fn flush_unschedulable_leftover(&self) -> usize {
        let now = self.clock.now();
        let max = self.opts.max_in_unschedulable;
        let mut inner = self.lock();
        let old: Vec<String> = inner
            .unschedulable
            .iter()
            .filter(|(_, (_, since))| now.duration_since(*since) >= max)
            .map(|(k, _)| k.clone())
            .collect();
        let (mut to_active, mut to_backoff) = (0, 0);
        for uid in &old {
            if let Some((qp, _)) = inner.unschedulable.remove(uid) {
                if self.requeue_locked(&mut inner, qp, now) {
                    to_active += 1;
                } else {
                    to_backoff += 1;
                }
            }
        }
        drop(inner);
        self.incoming("active", "UnschedulableTimeout", to_active);
        self.incoming("backoff", "UnschedulableTimeout", to_backoff);
        if to_active > 0 {
            self.notify.notify_one();
        }
        old.len()
    }

    /// Records a nomination made by this scheduler (upstream's `AddNominatedPod` after a
    /// failed attempt), unless the pod has left the queue meanwhile (deleted or bound).
    pub fn add_nominated_pod(&self, info: &PodInfo, how: Nominating) {
        let inner = self.lock();
        let uid = info.uid.as_str();
        if inner.active.contains(uid)
            || inner.backoff.contains(uid)
            || inner.unschedulable.contains_key(uid)
            || inner.gated.contains_key(uid)
            || inner.in_flight.contains_key(uid)
        {
            self.nominator.add(info, how);
        }
    }

    /// Sizes of the sub-queues.
    pub fn pending(&self) -> PendingCounts {
        let inner = self.lock();
        PendingCounts {
            active: inner.active.len(),
            backoff: inner.backoff.len(),
            unschedulable: inner.unschedulable.len(),
            gated: inner.gated.len(),
        }
    }

    /// Pods in the unschedulable pool per (profile, rejecting plugin), for
    /// `scheduler_unschedulable_pods`: a pod counts once for each plugin that rejected it.
    pub fn unschedulable_by_plugin(&self) -> Vec<((String, &'static str), usize)> {
        let inner = self.lock();
        let mut counts: FxHashMap<(&str, &'static str), usize> = FxHashMap::default();
        for (qp, _) in inner.unschedulable.values() {
            for plugin in &qp.unschedulable_plugins {
                *counts
                    .entry((qp.info.scheduler_name(), plugin))
                    .or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|((profile, plugin), n)| ((profile.to_owned(), plugin), n))
            .collect()
    }

    /// Whether the queue holds the pod anywhere (or has it in flight).
    pub fn contains(&self, uid: &str) -> bool {
        let inner = self.lock();
        inner.active.contains(uid)
            || inner.backoff.contains(uid)
            || inner.unschedulable.contains_key(uid)
            || inner.gated.contains_key(uid)
            || inner.in_flight.contains_key(uid)
    }

    /// Stops the queue: `pop` returns None from now on.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
}
