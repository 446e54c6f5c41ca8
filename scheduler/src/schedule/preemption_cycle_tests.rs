//! Preemption through whole scheduling cycles: the nomination is recorded at once and holds
//! the freed room while the victims terminate, the preemptor takes it when they are gone,
//! and victims already terminating get no second delete.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};

use super::*;
use crate::cache::Cache;
use crate::framework::events::{ClusterEvent, EventObjects, EventResource, action};
use crate::framework::{Framework, Handle};
use crate::model::{PodInfo, SlimNode};
use crate::queue::{QueueOptions, SchedulingQueue};

/// What the cycles reported, by pod name.
#[derive(Default)]
struct Recorded {
    /// (pod, nominated node written to its status).
    failed: Mutex<Vec<(String, Option<String>)>>,
    preempted: Mutex<Vec<String>>,
    cleared: Mutex<Vec<String>>,
}

impl OutcomeSink for Recorded {
    fn scheduled<'a>(&'a self, _: &'a PodInfo, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    fn failed<'a>(
        &'a self,
        pod: &'a PodInfo,
        _: &'a str,
        _: &'a str,
        nominated: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.failed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((pod.name().into(), nominated.map(String::from)))
        })
    }
    fn preempt<'a>(&'a self, v: &'a PodInfo, _: &'a PodInfo, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.preempted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(v.name().into())
        })
    }
    fn clear_nomination<'a>(&'a self, pod: &'a PodInfo) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.cleared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(pod.name().into())
        })
    }
}

/// A pod with a priority and a cpu request; `node` binds it, `extra` adds YAML at the end.
fn pod(name: &str, priority: i32, cpu: &str, node: &str, extra: &str) -> Arc<PodInfo> {
    let node_line = if node.is_empty() {
        String::new()
    } else {
        format!("  nodeName: {node}\n")
    };
    let yaml = format!(
        "metadata: {{name: {name}, namespace: t, uid: {name}}}\nspec:\n  priority: {priority}\n{node_line}  containers: [{{name: c, image: x, resources: {{requests: {{cpu: '{cpu}'}}}}}}]\n{extra}"
    );
    let p: Pod = serde_saphyr::from_str(&yaml).expect("pod yaml");
    Arc::new(PodInfo::new(Arc::new(p)))
}

/// Bound and being deleted; `by_preemption` adds the condition preemption sets.
fn terminating(name: &str, by_preemption: bool) -> Arc<PodInfo> {
    let cond = if by_preemption {
        "status:\n  conditions: [{type: DisruptionTarget, status: 'True', reason: PreemptionByScheduler}]\n"
    } else {
        ""
    };
    let yaml = format!(
        "metadata: {{name: {name}, namespace: t, uid: {name}, deletionTimestamp: '2026-01-01T00:00:30Z'}}\nspec:\n  priority: 1\n  nodeName: a\n  containers: [{{name: c, image: x, resources: {{requests: {{cpu: '1'}}}}}}]\n{cond}"
    );
    let p: Pod = serde_saphyr::from_str(&yaml).expect("pod yaml");
    Arc::new(PodInfo::new(Arc::new(p)).slimmed())
}

struct World {
    scheduler: Scheduler,
    queue: Arc<SchedulingQueue>,
    cache: Arc<Mutex<Cache>>,
    binder: Arc<RecordingBinder>,
    recorded: Arc<Recorded>,
}

/// One 2-CPU node `a`, the default profile, queue and framework sharing one nominator,
/// no backoff (so a requeued pod is active at once).
fn world() -> World {
    let cfg = crate::config::parse(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n",
    )
    .expect("defaults");
    let handle = Handle::offline();
    let fw = Arc::new(
        Framework::new(&cfg.profiles[0], &crate::plugins::registry(), &handle).expect("fw"),
    );
    let opts = QueueOptions {
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        ..Default::default()
    };
    let queue = Arc::new(
        super::test_parts::sorted_queue(&fw, opts).with_nominator(handle.nominator.clone()),
    );
    let cache = Arc::new(Mutex::new(Cache::new(Duration::ZERO)));
    let n: Node = serde_saphyr::from_str(
        "metadata: {name: a}\nstatus: {allocatable: {cpu: '2', memory: 4Gi, pods: '10'}}",
    )
    .expect("node yaml");
    cache
        .lock()
        .expect("cache")
        .upsert_node(Arc::new(SlimNode::new(&n)));
    let binder = Arc::new(RecordingBinder::default());
    let recorded = Arc::new(Recorded::default());
    let lease = ferrosched_runtime::leader::LeaseGuard::new();
    lease.extend_until(std::time::Instant::now() + Duration::from_secs(600));
    let parts = super::test_parts::parts(
        fw,
        cache.clone(),
        queue.clone(),
        binder.clone(),
        recorded.clone(),
        lease,
    );
    let scheduler = Scheduler::new(parts, tokio::runtime::Handle::current()).expect("scheduler");
    World {
        scheduler,
        queue,
        cache,
        binder,
        recorded,
    }
}

impl World {
    /// Pops the next pod and runs its cycle (off the async runtime, as the loop runs).
    async fn cycle(mut self) -> Self {
        tokio::task::spawn_blocking(move || {
            let rt = tokio::runtime::Handle::current();
            let (qp, cycle) = rt.block_on(self.queue.pop()).expect("a pod");
            self.scheduler.schedule_one(qp, cycle);
            self
        })
        .await
        .expect("cycle ran")
    }

    /// A bound pod was deleted: the cache drops it and waiting pods are retried.
    fn deleted(&self, uid: &str) {
        self.cache.lock().expect("cache").remove_pod(uid);
        self.queue.on_event(
            ClusterEvent::new(EventResource::AssignedPod, action::DELETE),
            EventObjects::None,
        );
    }

    fn bound(&self) -> Vec<(String, String)> {
        let mut b: Vec<(String, String)> = self
            .binder
            .binds
            .lock()
            .expect("binds")
            .iter()
            .map(|(k, n)| (k.clone(), n.clone()))
            .collect();
        b.sort();
        b
    }
}

/// Waits for the asynchronously reported outcomes to settle.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_freed_room_is_held_for_the_preemptor_until_its_victims_are_gone() {
    let w = world();
    {
        let mut c = w.cache.lock().expect("cache");
        c.upsert_bound_pod(Arc::new(pod("low-a", 1, "1", "a", "").slimmed()));
        c.upsert_bound_pod(Arc::new(pod("low-b", 1, "1", "a", "").slimmed()));
    }
    // A lower-priority pod nominated to `a` by an earlier preemption of its own.
    w.queue
        .add(pod("mid", 50, "1", "", "status: {nominatedNodeName: a}\n"));
    w.queue.add(pod("high", 100, "2", "", ""));
    let w = w.cycle().await;
    settle().await;
    let mut preempted = w.recorded.preempted.lock().expect("p").clone();
    preempted.sort();
    assert_eq!(preempted, ["low-a", "low-b"]);
    assert_eq!(
        w.recorded.failed.lock().expect("f").clone(),
        [("high".to_string(), Some("a".to_string()))],
        "the nomination is written to the status"
    );
    assert_eq!(
        w.queue.nominator().node_of("high").as_deref(),
        Some("a"),
        "and recorded at once, before the status patch comes back"
    );
    assert_eq!(
        w.recorded.cleared.lock().expect("c").clone(),
        ["mid"],
        "the lower-priority nomination to `a` is cleared"
    );

    // The victims terminate; one is gone, its CPU is free but held for `high`.
    {
        let mut c = w.cache.lock().expect("cache");
        c.upsert_bound_pod(terminating("low-b", true));
    }
    w.deleted("low-a");
    w.queue.add(pod("late", 1, "1", "", ""));
    // high (first by priority), then mid, then late: none fits, no one preempts again.
    let w = w.cycle().await.cycle().await.cycle().await;
    settle().await;
    assert!(w.bound().is_empty(), "{:?}", w.bound());
    assert_eq!(
        w.recorded.preempted.lock().expect("p").len(),
        2,
        "no second round while the victims terminate"
    );

    // The last victim is gone: the preemptor binds to its node; the others still wait.
    w.deleted("low-b");
    let w = w.cycle().await.cycle().await.cycle().await;
    settle().await;
    w.scheduler.in_flight.wait_idle().await;
    assert_eq!(w.bound(), [("t/high".to_string(), "a".to_string())]);
    assert_eq!(
        w.queue.nominator().node_of("high"),
        None,
        "assumed: no longer nominated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_victim_already_terminating_gets_no_second_delete() {
    let w = world();
    {
        let mut c = w.cache.lock().expect("cache");
        c.upsert_bound_pod(terminating("going", false));
        c.upsert_bound_pod(Arc::new(pod("staying", 1, "1", "a", "").slimmed()));
    }
    w.queue.add(pod("high", 100, "2", "", ""));
    let w = w.cycle().await;
    settle().await;
    assert_eq!(w.recorded.preempted.lock().expect("p").clone(), ["staying"]);
    assert_eq!(w.queue.nominator().node_of("high").as_deref(), Some("a"));
}
