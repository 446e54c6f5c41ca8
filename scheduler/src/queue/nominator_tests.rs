//! The nominator alone, and kept current by the queue.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use rustc_hash::FxHashMap;

use crate::framework::*;
use crate::model::PodInfo;
use crate::queue::{ManualClock, QueueOptions, SchedulingQueue};

/// A pending pod with a priority and, when `nominated` is not empty, that
/// `status.nominatedNodeName`.
fn pod(name: &str, priority: i32, nominated: &str) -> PodInfo {
    let status = if nominated.is_empty() {
        String::new()
    } else {
        format!("status: {{nominatedNodeName: {nominated}}}\n")
    };
    let yaml = format!(
        "metadata: {{name: {name}, namespace: ns, uid: {name}}}\nspec:\n  priority: {priority}\n  containers: [{{name: c, image: x}}]\n{status}"
    );
    let p: Pod = serde_saphyr::from_str(&yaml).expect("pod yaml");
    PodInfo::new(Arc::new(p))
}

fn names(pods: &[Arc<PodInfo>]) -> Vec<&str> {
    pods.iter().map(|p| p.name()).collect()
}

#[test]
fn status_and_override_nominate_and_an_empty_override_clears() {
    let n = Nominator::default();
    n.add(&pod("a", 10, "n1"), Nominating::FromStatus);
    n.add(&pod("b", 5, ""), Nominating::Override("n1".into()));
    n.add(&pod("c", 5, ""), Nominating::FromStatus);
    assert_eq!(names(&n.pods_for_node("n1")), ["a", "b"]);
    assert_eq!(
        n.node_of("c"),
        None,
        "no status, no override: not nominated"
    );

    n.add(&pod("a", 10, "n1"), Nominating::Override("n2".into()));
    assert_eq!(
        names(&n.pods_for_node("n1")),
        ["b"],
        "a pod is nominated once"
    );
    assert_eq!(n.node_of("a").as_deref(), Some("n2"));

    n.add(&pod("b", 5, ""), Nominating::Override(String::new()));
    assert!(n.pods_for_node("n1").is_empty());
    assert_eq!(n.len(), 1);
    n.delete("a");
    assert!(n.is_empty());
}

#[test]
fn a_bound_pod_is_never_nominated() {
    let n = Nominator::default();
    let yaml = "metadata: {name: x, namespace: ns, uid: x}\nspec:\n  nodeName: n1\n  containers: [{name: c, image: x}]\nstatus: {nominatedNodeName: n1}\n";
    let p: Pod = serde_saphyr::from_str(yaml).expect("pod yaml");
    n.add(&PodInfo::new(Arc::new(p)), Nominating::FromStatus);
    assert!(n.is_empty());
}

#[test]
fn an_update_keeps_a_nomination_made_in_memory_until_the_status_says_otherwise() {
    let n = Nominator::default();
    // Preemption nominated the pod; its status patch has not come back yet.
    n.add(&pod("p", 10, ""), Nominating::Override("n1".into()));
    n.update(&pod("p", 10, ""));
    assert_eq!(
        n.node_of("p").as_deref(),
        Some("n1"),
        "kept across an unrelated update"
    );
    // The patch came back.
    n.update(&pod("p", 10, "n1"));
    assert_eq!(n.node_of("p").as_deref(), Some("n1"));
    // Someone cleared it (a higher-priority preemptor took the node).
    n.update(&pod("p", 10, ""));
    assert_eq!(
        n.node_of("p"),
        None,
        "a cleared status clears the nomination"
    );
}

#[test]
fn a_pod_yields_to_equal_and_higher_priority_nominations_but_not_to_itself() {
    let n = Nominator::default();
    n.add(&pod("high", 100, "n1"), Nominating::FromStatus);
    n.add(&pod("equal", 50, "n2"), Nominating::FromStatus);
    n.add(&pod("low", 10, "n3"), Nominating::FromStatus);
    let me = pod("me", 50, "n1");
    n.add(&me, Nominating::FromStatus);

    let y = n.yield_to(&me);
    let mut nodes: Vec<&str> = y.keys().map(String::as_str).collect();
    nodes.sort();
    assert_eq!(nodes, ["n1", "n2"], "n3's nominee has a lower priority");
    assert_eq!(
        names(&y["n1"]),
        ["high"],
        "the pod's own nomination is excluded"
    );
    assert_eq!(names(&y["n2"]), ["equal"]);
    assert!(n.yield_to(&pod("top", 1000, "")).is_empty());
}

fn queue() -> SchedulingQueue {
    let less = Arc::new(
        |a: &crate::framework::QueuedPodView<'_>, b: &crate::framework::QueuedPodView<'_>| {
            a.pod.priority > b.pod.priority
        },
    );
    SchedulingQueue::new(
        less,
        FxHashMap::default(),
        Arc::new(ManualClock::default()),
        QueueOptions::default(),
    )
}

#[test]
fn the_queue_keeps_the_nominator_current() {
    let q = queue();
    let n = q.nominator();
    q.add(Arc::new(pod("a", 10, "n1")));
    assert_eq!(
        n.node_of("a").as_deref(),
        Some("n1"),
        "added with a nomination"
    );
    q.update(Arc::new(pod("a", 10, "n2")));
    assert_eq!(n.node_of("a").as_deref(), Some("n2"), "updated");
    q.delete("a");
    assert!(n.is_empty(), "deleted");

    // A failed attempt nominated by preemption, before the status patch is seen.
    q.add(Arc::new(pod("b", 10, "")));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (qp, cycle) = rt.block_on(q.pop()).expect("popped");
    let mut qp = qp;
    qp.unschedulable_plugins = vec!["NodeResourcesFit"];
    q.add_unschedulable(qp, cycle, false);
    q.add_nominated_pod(&pod("b", 10, ""), Nominating::Override("n3".into()));
    assert_eq!(n.node_of("b").as_deref(), Some("n3"));
    q.delete("b");
    q.add_nominated_pod(&pod("b", 10, ""), Nominating::Override("n3".into()));
    assert!(n.is_empty(), "a pod that left the queue is not nominated");
}

#[test]
fn a_status_change_seen_while_the_pod_is_in_flight_reaches_the_nominator() {
    let q = queue();
    let n = q.nominator();
    q.add(Arc::new(pod("p", 10, "")));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (qp, cycle) = rt.block_on(q.pop()).expect("popped");
    q.add_nominated_pod(&pod("p", 10, ""), Nominating::Override("n1".into()));
    // The nomination is written back while the pod is in flight...
    q.update(Arc::new(pod("p", 10, "n1")));
    let mut qp = qp;
    qp.unschedulable_plugins = vec!["NodeResourcesFit"];
    q.add_unschedulable(qp, cycle, false);
    // ...and later cleared by a higher-priority preemptor of that node.
    q.update(Arc::new(pod("p", 10, "")));
    assert_eq!(n.node_of("p"), None);
}
