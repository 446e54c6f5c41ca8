//! A whole scheduling cycle against an in-memory cache, with a recording binder and a
//! recording outcome sink: placements, assume, unschedulable messages, requeue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};

use super::test_parts::RecordingOutcomes;
use super::*;
use crate::cache::Cache;
use crate::framework::{Framework, Handle};
use crate::model::{PodInfo, SlimNode};
use crate::queue::{QueueOptions, SchedulingQueue};

fn node(yaml: &str) -> Arc<SlimNode> {
    let n: Node = serde_saphyr::from_str(yaml).expect("node yaml");
    Arc::new(SlimNode::new(&n))
}

fn pod(name: &str, cpu: &str) -> Arc<PodInfo> {
    let yaml = format!(
        "metadata: {{name: {name}, namespace: t, uid: {name}}}\nspec:\n  containers: [{{name: c, image: x, resources: {{requests: {{cpu: \"{cpu}\", memory: 100Mi}}}}}}]\n"
    );
    let p: Pod = serde_saphyr::from_str(&yaml).expect("pod yaml");
    Arc::new(PodInfo::new(Arc::new(p)))
}

const STATUS: &str = "status: {allocatable: {cpu: \"2\", memory: 4Gi, pods: \"10\"}}";

/// The default profile's framework, offline.
fn default_framework() -> Framework {
    let cfg = crate::config::parse(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n",
    )
    .expect("defaults");
    Framework::new(
        &cfg.profiles[0],
        &crate::plugins::registry(),
        &Handle::offline(),
    )
    .expect("framework")
}

/// A scheduler with the default profile over nodes `a`, `b` (2 CPUs each) and
/// `tainted`, binding through a recorder.
struct Setup {
    scheduler: Scheduler,
    queue: Arc<SchedulingQueue>,
    cache: Arc<Mutex<Cache>>,
    binder: Arc<RecordingBinder>,
    outcomes: Arc<RecordingOutcomes>,
}

/// Refuses every bind with a retryable error (a webhook, a timeout).
struct RefusingBinder;

impl crate::framework::PodBinder for RefusingBinder {
    fn bind<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), crate::framework::BindError>> {
        Box::pin(async {
            Err(crate::framework::BindError::Other(
                "denied by a webhook".into(),
            ))
        })
    }
}

fn setup(lease: ferrosched_runtime::leader::LeaseGuard) -> Setup {
    setup_with(lease, None)
}

fn setup_with(
    lease: ferrosched_runtime::leader::LeaseGuard,
    refuse: Option<Arc<RefusingBinder>>,
) -> Setup {
    let fw = Arc::new(default_framework());
    let queue = Arc::new(super::test_parts::sorted_queue(
        &fw,
        QueueOptions::default(),
    ));
    let cache = Arc::new(Mutex::new(Cache::new(Duration::ZERO)));
    {
        let mut c = cache.lock().expect("cache");
        c.upsert_node(node(&format!("metadata: {{name: a}}\n{STATUS}")));
        c.upsert_node(node(&format!("metadata: {{name: b}}\n{STATUS}")));
        c.upsert_node(node(&format!("metadata: {{name: tainted}}\nspec: {{taints: [{{key: k, value: v, effect: NoSchedule}}]}}\n{STATUS}")));
    }
    let binder = Arc::new(RecordingBinder::default());
    let outcomes = Arc::new(RecordingOutcomes::default());
    let bind: Arc<dyn crate::framework::PodBinder> = match refuse {
        Some(r) => r,
        None => binder.clone(),
    };
    let parts = super::test_parts::parts(
        fw,
        cache.clone(),
        queue.clone(),
        bind,
        outcomes.clone(),
        lease,
    );
    let scheduler = Scheduler::new(parts, tokio::runtime::Handle::current()).expect("scheduler");
    Setup {
        scheduler,
        queue,
        cache,
        binder,
        outcomes,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_places_assumes_binds_and_explains() {
    let Setup {
        mut scheduler,
        queue,
        cache,
        binder,
        outcomes,
    } = setup(ferrosched_runtime::leader::LeaseGuard::always());
    for (name, cpu) in [("p1", "1500m"), ("p2", "1500m"), ("big", "3")] {
        queue.add(pod(name, cpu));
    }
    let scheduler = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Handle::current();
        for _ in 0..3 {
            let (qp, cycle) = rt.block_on(queue.pop()).expect("a pod");
            scheduler.schedule_one(qp, cycle);
        }
        (scheduler, queue)
    })
    .await
    .expect("cycles ran");
    let (scheduler, queue) = scheduler;
    scheduler.in_flight.wait_idle().await;

    // p1 and p2 each need 1.5 of 2 CPUs: the assumed first one pushes the second elsewhere.
    let mut binds = binder.binds.lock().expect("binds").clone();
    binds.sort();
    assert_eq!(binds.len(), 2, "{binds:?}");
    assert_ne!(
        binds[0].1, binds[1].1,
        "the assumed pod is accounted for: {binds:?}"
    );
    assert!(binds.iter().all(|(_, n)| n != "tainted"));
    assert_eq!(
        cache.lock().expect("cache").node("a").map(|n| n.pods.len()),
        Some(1)
    );
    // The pod that fits nowhere gets upstream's explanation (reported asynchronously), and
    // waits for an event.
    let reported = async {
        while outcomes.failed.lock().expect("failed").is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), reported)
        .await
        .expect("failure reported");
    let failed = outcomes.failed.lock().expect("failed").clone();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "t/big");
    assert_eq!(failed[0].1, "Unschedulable");
    assert!(
        failed[0].2.starts_with(
            "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu."
        ),
        "{}",
        failed[0].2
    );
    assert_eq!(queue.pending().unschedulable, 1, "{:?}", queue.pending());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_that_stopped_holding_binds_nothing_and_reports_nothing() {
    let lease = ferrosched_runtime::leader::LeaseGuard::new();
    lease.extend_until(std::time::Instant::now() + Duration::from_secs(60));
    let Setup {
        mut scheduler,
        queue,
        cache,
        binder,
        outcomes,
    } = setup(lease.clone());
    queue.add(pod("held", "1"));
    queue.add(pod("frozen", "1"));
    let (scheduler, queue) = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Handle::current();
        let (qp, cycle) = rt.block_on(queue.pop()).expect("a pod");
        scheduler.schedule_one(qp, cycle);
        rt.block_on(scheduler.in_flight.wait_idle());
        // The process wakes from a freeze past its renewal deadline.
        lease.revoke();
        let (qp, cycle) = rt.block_on(queue.pop()).expect("a pod");
        scheduler.schedule_one(qp, cycle);
        (scheduler, queue)
    })
    .await
    .expect("cycles ran");
    scheduler.in_flight.wait_idle().await;
    let binds = binder.binds.lock().expect("binds").clone();
    assert_eq!(
        binds.len(),
        1,
        "only the pod scheduled while held: {binds:?}"
    );
    assert!(
        outcomes.failed.lock().expect("failed").is_empty(),
        "no FailedScheduling for a pod not bound for want of the lease"
    );
    let c = cache.lock().expect("cache");
    let placed: usize = ["a", "b"]
        .iter()
        .filter_map(|n| c.node(n).map(|n| n.pods.len()))
        .sum();
    assert_eq!(placed, 1, "the unbound pod is not left assumed");
    assert_eq!(queue.pending().backoff, 1, "{:?}", queue.pending());
}

/// Upstream's PostFilter phase: DynamicResources fails reading its state when an earlier
/// PreFilter rejected the pod, which ends the phase before preemption (` not found`);
/// after PreFilter ran, DynamicResources adds nothing and preemption explains (and, finding
/// no candidate, clears the pod's nomination).
#[test]
fn post_filter_ends_at_the_first_error() {
    let fw = default_framework();
    let mut c = Cache::new(Duration::ZERO);
    c.upsert_node(node(&format!("metadata: {{name: a}}\n{STATUS}")));
    let mut snapshot = crate::cache::Snapshot::default();
    c.update_snapshot(&mut snapshot);
    let p = pod("p", "3");
    let fit = |msg: Option<&str>| crate::framework::FitError {
        num_all_nodes: 1,
        diagnosis: crate::framework::Diagnosis {
            pre_filter_msg: msg.map(String::from),
            node_statuses: [(
                "a".into(),
                crate::framework::Status::unschedulable("Insufficient cpu"),
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        },
    };
    let mut rejected_early = fit(Some("persistentvolumeclaim \"c\" not found"));
    let state = crate::framework::CycleState::default();
    assert!(run_post_filter(&fw, &state, &p, &snapshot, &mut rejected_early).is_none());
    assert_eq!(
        rejected_early.message(),
        "0/1 nodes are available: persistentvolumeclaim \"c\" not found. not found"
    );

    let mut state = crate::framework::CycleState::default();
    let (_, s, _) = fw.run_pre_filter_plugins(&mut state, &p, &snapshot);
    assert!(s.is_success(), "{s:?}");
    let mut filtered = fit(None);
    // No candidate: as upstream, the result clears the pod's nomination.
    let cleared = run_post_filter(&fw, &state, &p, &snapshot, &mut filtered);
    assert!(cleared.is_some_and(|r| r.nominated_node_name.is_none() && r.victims.is_empty()));
    assert_eq!(
        filtered.message(),
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
}

/// The loop's backpressure: with `max` bind calls in flight it waits for one to finish.
#[tokio::test]
async fn bind_slots_free_up_as_binds_finish() {
    let f = Arc::new(InFlight::default());
    f.binding_start();
    f.binding_start();
    let waiter = {
        let f = f.clone();
        tokio::spawn(async move { f.wait_for_bind_slot(2).await })
    };
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "two in flight, two allowed: waits");
    f.binding_finish();
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("a slot freed")
        .expect("waiter ran");
    f.wait_for_bind_slot(2).await;
}

/// Issue #20: a pod whose two containers each request 8Ei (i64::MAX bytes) stays pending
/// with upstream's reason; before the sums saturated, they wrapped to -2 and it fit.
#[test]
fn an_overflowing_request_sum_leaves_the_pod_pending() {
    let fw = default_framework();
    let mut c = Cache::new(Duration::ZERO);
    c.upsert_node(node(
        "metadata: {name: a}\nstatus: {allocatable: {cpu: \"8\", memory: 32Gi, pods: \"110\"}}",
    ));
    let mut snapshot = crate::cache::Snapshot::default();
    c.update_snapshot(&mut snapshot);
    let yaml = "metadata: {name: huge, namespace: t, uid: huge}\nspec:\n  containers:\n  - {name: a, image: x, resources: {requests: {memory: 8Ei}}}\n  - {name: b, image: x, resources: {requests: {memory: 8Ei}}}\n";
    let p: Pod = serde_saphyr::from_str(yaml).expect("pod yaml");
    let p = PodInfo::new(Arc::new(p));
    let mut state = crate::framework::CycleState::default();
    let result = Algorithm::new(None).schedule(&fw, &mut state, &p, &snapshot);
    match result {
        Err(ScheduleError::Fit(e)) => assert_eq!(
            e.message(),
            "0/1 nodes are available: 1 Insufficient memory."
        ),
        Err(e) => panic!("not a fit error: {e:?}"),
        Ok(r) => panic!("placed on {}", r.suggested_host),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_bind_clears_the_pods_nomination_as_upstream() {
    let Setup {
        mut scheduler,
        queue,
        outcomes,
        ..
    } = setup_with(
        ferrosched_runtime::leader::LeaseGuard::always(),
        Some(Arc::new(RefusingBinder)),
    );
    let nominated: Pod = serde_saphyr::from_str(
        "metadata: {name: n, namespace: t, uid: n}\nspec:\n  containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]\nstatus: {nominatedNodeName: a}\n",
    )
    .expect("pod yaml");
    queue.add(Arc::new(PodInfo::new(Arc::new(nominated))));
    queue.add(pod("plain", "100m"));
    let scheduler = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Handle::current();
        for _ in 0..2 {
            let (qp, cycle) = rt.block_on(queue.pop()).expect("a pod");
            scheduler.schedule_one(qp, cycle);
        }
        scheduler
    })
    .await
    .expect("cycles ran");
    scheduler.in_flight.wait_idle().await;
    let failed = outcomes.failed.lock().expect("failed").clone();
    let nominations = outcomes.nominations.lock().expect("nominations").clone();
    let of = |key: &str| {
        failed
            .iter()
            .zip(&nominations)
            .find(|((k, _, _), _)| k == key)
            .map(|((_, reason, message), n)| (reason.clone(), message.clone(), n.clone()))
    };
    let (reason, message, cleared) = of("t/n").expect("the nominated pod's failure");
    assert_eq!(reason, "SchedulerError");
    assert!(message.starts_with("Binding rejected: "), "{message}");
    assert_eq!(cleared.as_deref(), Some(""), "its nomination is cleared");
    let (_, _, untouched) = of("t/plain").expect("the other pod's failure");
    assert_eq!(untouched, None, "nothing to clear on a pod never nominated");
}

/// The fit error of `pod` (YAML) on nodes `a` and `b` (2 CPUs each) and `c` (8 CPUs).
fn fit_message(pod_yaml: &str) -> String {
    let fw = default_framework();
    let mut c = Cache::new(Duration::ZERO);
    c.upsert_node(node(&format!("metadata: {{name: a}}\n{STATUS}")));
    c.upsert_node(node(&format!("metadata: {{name: b}}\n{STATUS}")));
    c.upsert_node(node(
        "metadata: {name: c}\nstatus: {allocatable: {cpu: \"8\", memory: 4Gi, pods: \"10\"}}",
    ));
    let mut snapshot = crate::cache::Snapshot::default();
    c.update_snapshot(&mut snapshot);
    let p: Pod = serde_saphyr::from_str(pod_yaml).expect("pod yaml");
    let p = PodInfo::new(Arc::new(p));
    let mut state = crate::framework::CycleState::default();
    match Algorithm::new(None).schedule(&fw, &mut state, &p, &snapshot) {
        Err(ScheduleError::Fit(e)) => e.message(),
        Err(e) => panic!("not a fit error: {e:?}"),
        Ok(r) => panic!("placed on {}", r.suggested_host),
    }
}

/// A pod for `fit_message`, requesting 3 CPUs, whose required node affinity names nodes by
/// `metadata.name` (NodeAffinity's PreFilter then narrows the nodes to those).
fn pinned_pod(names: &str) -> String {
    format!(
        "metadata: {{name: p, namespace: t, uid: p}}\nspec:\n  containers: [{{name: c, image: x, resources: {{requests: {{cpu: \"3\"}}}}}}]\n  affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchFields: [{{key: metadata.name, operator: In, values: [{names}]}}]}}]}}}}}}\n"
    )
}

/// Upstream's absent-nodes status: the nodes a PreFilter's node set leaves out count in
/// the message, naming the plugin.
#[test]
fn nodes_a_prefilter_left_out_are_counted_as_upstream() {
    assert_eq!(
        fit_message(&pinned_pod("a")),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    );
    // Only a node that does not exist: every node is left out.
    assert_eq!(
        fit_message(&pinned_pod("ghost")),
        "0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    );
}
