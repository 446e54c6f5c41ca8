//! Permit plugins that make a pod wait (upstream's waiting pods): the pod stays assumed
//! and unbound until every waiting plugin allows it; a rejection or the first timeout
//! sends it back as unschedulable, with upstream's message, and frees its room.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};

use super::test_parts::RecordingOutcomes;
use super::*;
use crate::cache::Cache;
use crate::config::{ExtensionPoint, PluginArgsSet};
use crate::framework::{Code, CycleState, Framework, Handle, PermitPlugin, Plugin, Status};
use crate::model::{PodInfo, SlimNode};
use crate::queue::{QueueOptions, SchedulingQueue};

/// Asks every pod to wait, for `MILLIS` at the most.
struct Hold<const MILLIS: u64>;

const LONG: u64 = 600_000;
const SHORT: u64 = 50;

impl<const MILLIS: u64> Plugin for Hold<MILLIS> {
    fn name(&self) -> &'static str {
        "Hold"
    }
    crate::serves!(permit);
}

impl<const MILLIS: u64> PermitPlugin for Hold<MILLIS> {
    fn permit(&self, _: &mut CycleState, _: &PodInfo, _: &str) -> (Status, Duration) {
        (
            Status::new(Code::Wait, "waiting for the gang"),
            Duration::from_millis(MILLIS),
        )
    }
}

fn hold<const MILLIS: u64>(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(Hold::<MILLIS>))
}

struct Setup {
    scheduler: Scheduler,
    queue: Arc<SchedulingQueue>,
    cache: Arc<Mutex<Cache>>,
    binder: Arc<RecordingBinder>,
    outcomes: Arc<RecordingOutcomes>,
    handle: Handle,
}

/// The default profile plus `Hold` at Permit, over one node with 2 CPUs.
fn setup(factory: crate::framework::Factory) -> Setup {
    let cfg = crate::config::parse(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n",
    )
    .expect("defaults");
    let mut profile = cfg.profiles[0].clone();
    profile.plugins.push(ExtensionPoint::Permit, "Hold");
    let mut registry = crate::plugins::registry();
    registry.register("Hold", factory);
    let handle = Handle::offline();
    let fw = Arc::new(Framework::new(&profile, &registry, &handle).expect("framework"));
    let queue = Arc::new(super::test_parts::sorted_queue(
        &fw,
        QueueOptions {
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            ..Default::default()
        },
    ));
    let cache = Arc::new(Mutex::new(Cache::new(Duration::ZERO)));
    let n: Node = serde_saphyr::from_str(
        "metadata: {name: a}\nstatus: {allocatable: {cpu: \"2\", memory: 4Gi, pods: \"10\"}}",
    )
    .expect("node");
    cache
        .lock()
        .expect("cache")
        .upsert_node(Arc::new(SlimNode::new(&n)));
    let binder = Arc::new(RecordingBinder::default());
    let outcomes = Arc::new(RecordingOutcomes::default());
    let parts = super::test_parts::parts(
        fw,
        cache.clone(),
        queue.clone(),
        binder.clone(),
        outcomes.clone(),
        ferrosched_runtime::leader::LeaseGuard::always(),
    );
    let scheduler = Scheduler::new(parts, tokio::runtime::Handle::current()).expect("scheduler");
    Setup {
        scheduler,
        queue,
        cache,
        binder,
        outcomes,
        handle,
    }
}

fn pod(name: &str) -> Arc<PodInfo> {
    let p: Pod = serde_saphyr::from_str(&format!(
        "metadata: {{name: {name}, namespace: t, uid: {name}}}\nspec:\n  containers: [{{name: c, image: x, resources: {{requests: {{cpu: \"1500m\"}}}}}}]\n"
    ))
    .expect("pod");
    Arc::new(PodInfo::new(Arc::new(p)))
}

/// Runs one scheduling cycle for the next pod (off the async runtime, as the loop does).
async fn cycle(scheduler: Scheduler, queue: Arc<SchedulingQueue>) -> Scheduler {
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Handle::current();
        let mut scheduler = scheduler;
        let (qp, n) = rt.block_on(queue.pop()).expect("a pod");
        scheduler.schedule_one(qp, n);
        scheduler
    })
    .await
    .expect("cycle ran")
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_pod_binds_once_its_plugin_allows_it() {
    let s = setup(hold::<LONG>);
    s.queue.add(pod("p"));
    let scheduler = cycle(s.scheduler, s.queue.clone()).await;
    let waiting = s.handle.waiting.clone();
    until("the pod to wait", || waiting.get("p").is_some()).await;
    let wp = waiting.get("p").expect("waiting");
    assert_eq!(wp.pending_plugins(), vec!["Hold"]);
    // Held: assumed on its node (its room is taken), not bound.
    assert_eq!(
        s.cache
            .lock()
            .expect("cache")
            .node("a")
            .map(|n| n.pods.len()),
        Some(1)
    );
    assert!(s.binder.binds.lock().expect("binds").is_empty());
    assert_eq!(scheduler.in_flight.tasks(), 1);

    wp.allow("Hold");
    scheduler.in_flight.wait_idle().await;
    assert_eq!(
        *s.binder.binds.lock().expect("binds"),
        vec![("t/p".to_string(), "a".to_string())]
    );
    assert!(
        waiting.is_empty(),
        "the waiting pod is forgotten once it binds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_waiting_pod_is_unschedulable_and_frees_its_room() {
    let s = setup(hold::<LONG>);
    s.queue.add(pod("p"));
    let scheduler = cycle(s.scheduler, s.queue.clone()).await;
    let waiting = s.handle.waiting.clone();
    until("the pod to wait", || waiting.get("p").is_some()).await;
    assert!(waiting.reject("p", "Hold", "the gang is incomplete"));
    scheduler.in_flight.wait_idle().await;

    assert!(s.binder.binds.lock().expect("binds").is_empty());
    assert_eq!(
        *s.outcomes.failed.lock().expect("failed"),
        vec![(
            "t/p".to_string(),
            "Unschedulable".to_string(),
            "0/1 nodes are available: 1 the gang is incomplete.".to_string()
        )]
    );
    assert_eq!(
        s.cache
            .lock()
            .expect("cache")
            .node("a")
            .map(|n| n.pods.len()),
        Some(0),
        "the assumed pod is forgotten"
    );
    let pending = s.queue.pending();
    assert_eq!(
        pending.active + pending.backoff + pending.unschedulable,
        1,
        "back in the queue: {pending:?}"
    );
    assert!(
        !waiting.reject("p", "Hold", "again"),
        "nothing waits any more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_timeout_rejects_in_its_plugins_name() {
    let s = setup(hold::<SHORT>);
    s.queue.add(pod("p"));
    let scheduler = cycle(s.scheduler, s.queue.clone()).await;
    scheduler.in_flight.wait_idle().await;

    assert!(s.binder.binds.lock().expect("binds").is_empty());
    let failed = s.outcomes.failed.lock().expect("failed").clone();
    assert_eq!(
        failed,
        vec![(
            "t/p".to_string(),
            "Unschedulable".to_string(),
            "0/1 nodes are available: 1 rejected due to timeout after waiting 50ms at plugin Hold."
                .to_string()
        )]
    );
    assert!(s.handle.waiting.is_empty());
}

#[test]
fn a_wait_reads_as_upstreams_and_registers_the_pod() {
    let cfg = crate::config::parse(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n",
    )
    .expect("defaults");
    let mut profile = cfg.profiles[0].clone();
    profile.plugins.push(ExtensionPoint::Permit, "Hold");
    let mut registry = crate::plugins::registry();
    registry.register("Hold", hold::<{ 24 * 3_600_000 }>);
    let handle = Handle::offline();
    let fw = Framework::new(&profile, &registry, &handle).expect("framework");
    let p = pod("p");
    let status = fw.run_permit_plugins(&mut CycleState::default(), &p, "a");
    assert_eq!(status.code(), Code::Wait);
    assert_eq!(status.plugin(), "Hold");
    assert_eq!(
        status.message(),
        "waiting for the gang, one or more plugins asked to wait and no plugin rejected pod"
    );
    let wp = handle.waiting.get("p").expect("waiting");
    assert_eq!(wp.pending_plugins(), vec!["Hold"]);
    assert!(format!("{wp:?}").contains("t/p"));
}
