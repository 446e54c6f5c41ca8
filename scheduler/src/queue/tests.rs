//! Queue behaviour with a hand-moved clock.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use rustc_hash::FxHashMap;

use super::*;
use crate::framework::events::{
    ClusterEvent, ClusterEventWithHint, EventObjects, EventResource, action,
};
use crate::framework::{Plugin, PreEnqueuePlugin, Status};
use crate::model::PodInfo;

fn pod(name: &str, priority: i32, gated: bool) -> Arc<PodInfo> {
    let gates = if gated {
        "\n  schedulingGates: [{name: example.com/wait}]"
    } else {
        ""
    };
    let yaml = format!(
        "metadata: {{name: {name}, namespace: ns, uid: {name}}}\nspec:\n  priority: {priority}\n  containers: [{{name: c, image: x}}]{gates}\n"
    );
    let p: Pod = serde_saphyr::from_str(&yaml).expect("pod yaml");
    Arc::new(PodInfo::new(Arc::new(p)))
}

struct Gates;
impl Plugin for Gates {
    fn name(&self) -> &'static str {
        "SchedulingGates"
    }
    crate::serves!(pre_enqueue);
}
impl PreEnqueuePlugin for Gates {
    fn pre_enqueue(&self, pod: &PodInfo) -> Status {
        let gated = pod
            .pod()
            .spec
            .as_ref()
            .and_then(|s| s.scheduling_gates.as_ref())
            .is_some_and(|g| !g.is_empty());
        if gated {
            Status::new(
                crate::framework::Code::UnschedulableAndUnresolvable,
                "gated",
            )
        } else {
            Status::success()
        }
    }
}

fn queue(clock: Arc<ManualClock>) -> SchedulingQueue {
    let mut hooks = FxHashMap::default();
    hooks.insert(
        "default-scheduler".to_string(),
        ProfileHooks {
            pre_enqueue: Some(Arc::new(|p: &PodInfo| {
                Gates.pre_enqueue(p).with_plugin(Gates.name())
            })),
            events: vec![(
                "NodeResourcesFit",
                ClusterEventWithHint::new(
                    EventResource::Node,
                    action::ADD | action::UPDATE_NODE_ALLOCATABLE,
                ),
            )],
        },
    );
    let less = Arc::new(
        |a: &crate::framework::QueuedPodView<'_>, b: &crate::framework::QueuedPodView<'_>| {
            a.pod.priority > b.pod.priority
                || (a.pod.priority == b.pod.priority && a.timestamp < b.timestamp)
        },
    );
    SchedulingQueue::new(less, hooks, clock, QueueOptions::default())
}

async fn pop_name(q: &SchedulingQueue) -> (QueuedPod, u64) {
    tokio::time::timeout(Duration::from_secs(1), q.pop())
        .await
        .expect("a pod is ready")
        .expect("queue open")
}

#[tokio::test]
async fn pops_by_priority_then_age() {
    let clock = Arc::new(ManualClock::default());
    let q = queue(clock.clone());
    q.add(pod("low", 0, false));
    clock.advance(Duration::from_millis(1));
    q.add(pod("high", 10, false));
    clock.advance(Duration::from_millis(1));
    q.add(pod("low2", 0, false));
    let mut order = Vec::new();
    for _ in 0..3 {
        let (qp, _) = pop_name(&q).await;
        order.push(qp.info.name().to_string());
        q.done(&qp.info.uid);
    }
    assert_eq!(order, ["high", "low", "low2"]);
}

#[tokio::test]
async fn backoff_doubles_up_to_the_maximum() {
    let clock = Arc::new(ManualClock::default());
    let q = queue(clock.clone());
    q.add(pod("p", 0, false));
    let mut waits = Vec::new();
    for _ in 0..6 {
        let (qp, cycle) = pop_name(&q).await;
        q.add_unschedulable(qp, cycle, true);
        let mut waited = 0;
        while q.flush_backoff_completed() == 0 {
            clock.advance(Duration::from_millis(500));
            waited += 500;
        }
        waits.push(waited);
    }
    assert_eq!(waits, [1000, 2000, 4000, 8000, 10000, 10000]);
}

#[tokio::test]
async fn unschedulable_pod_waits_for_a_matching_event() {
    let clock = Arc::new(ManualClock::default());
    let q = queue(clock.clone());
    q.add(pod("p", 0, false));
    let (mut qp, cycle) = pop_name(&q).await;
    qp.unschedulable_plugins = vec!["NodeResourcesFit"];
    q.add_unschedulable(qp, cycle, false);
    assert_eq!(q.pending().unschedulable, 1);
    // A pod event does not help a pod NodeResourcesFit rejected.
    assert_eq!(
        q.on_event(
            ClusterEvent::new(EventResource::AssignedPod, action::ADD),
            EventObjects::None
        ),
        0
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        q.on_event(
            ClusterEvent::new(EventResource::Node, action::ADD),
            EventObjects::None
        ),
        1
    );
    assert_eq!(
        q.pending(),
        PendingCounts {
            active: 1,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn event_during_the_attempt_sends_the_pod_to_backoff() {
    let clock = Arc::new(ManualClock::default());
    let q = queue(clock.clone());
    q.add(pod("p", 0, false));
    let (mut qp, cycle) = pop_name(&q).await;
    q.on_event(
        ClusterEvent::new(EventResource::Node, action::ADD),
        EventObjects::None,
    );
    qp.unschedulable_plugins = vec!["NodeResourcesFit"];
    q.add_unschedulable(qp, cycle, false);
    assert_eq!(
        q.pending().backoff,
        1,
        "a node added while we were deciding may make it fit"
    );
}

#[tokio::test]
async fn leftover_flush_retries_after_five_minutes() {
    let clock = Arc::new(ManualClock::default());
    let q = queue(clock.clone());
    q.add(pod("p", 0, false));
    let (mut qp, cycle) = pop_name(&q).await;
    qp.unschedulable_plugins = vec!["NodeResourcesFit"];
    q.add_unschedulable(qp, cycle, false);
    clock.advance(Duration::from_secs(299));
    assert_eq!(q.flush_unschedulable_leftover(), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(q.flush_unschedulable_leftover(), 1);
}

#[tokio::test]
async fn gated_pods_wait_until_their_gates_go() {
    let clock = Arc::new(ManualClock::default());
    let q = queue(clock);
    q.add(pod("g", 0, true));
    assert_eq!(q.pending().gated, 1);
    q.update(pod("g", 0, false));
    assert_eq!(
        q.pending(),
        PendingCounts {
            active: 1,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn duplicates_and_deletions_do_not_leak() {
    let clock = Arc::new(ManualClock::default());
    let q = queue(clock);
    q.add(pod("p", 0, false));
    q.add(pod("p", 0, false));
    assert_eq!(q.pending().active, 1);
    let (qp, cycle) = pop_name(&q).await;
    q.delete("p");
    q.add_unschedulable(qp, cycle, false);
    assert_eq!(q.pending(), PendingCounts::default());
    assert!(!q.contains("p"));
}

/// Issue #20: a backoff as long as `Duration` allows used to panic the scheduling thread
/// ("overflow when adding duration to instant"); now it ends at the farthest instant.
#[tokio::test]
async fn an_endless_backoff_saturates() {
    let clock = Arc::new(ManualClock::default());
    let less = Arc::new(
        |a: &crate::framework::QueuedPodView<'_>, b: &crate::framework::QueuedPodView<'_>| {
            a.timestamp < b.timestamp
        },
    );
    let endless = Duration::from_secs(i64::MAX as u64);
    let opts = QueueOptions {
        initial_backoff: endless,
        max_backoff: Duration::MAX,
        max_in_unschedulable: Duration::MAX,
    };
    let q = SchedulingQueue::new(less, FxHashMap::default(), clock.clone(), opts);
    q.add(pod("p", 0, false));
    let (qp, cycle) = pop_name(&q).await;
    q.add_unschedulable(qp, cycle, true);
    clock.advance(Duration::from_secs(3600 * 24 * 365 * 1000));
    assert_eq!(q.flush_backoff_completed(), 0);
    assert_eq!(q.flush_unschedulable_leftover(), 0);
    assert_eq!(q.pending().backoff, 1);
}
