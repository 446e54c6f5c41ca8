//! The cache at the ends of i64 and of `Duration` (issue #20).

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};

use super::*;
use crate::model::{PodInfo, SlimNode};

fn node() -> Arc<SlimNode> {
    let yaml =
        "metadata: {name: a}\nstatus: {allocatable: {cpu: \"4\", memory: 16Ei, pods: \"110\"}}\n";
    let n: Node = serde_saphyr::from_str(yaml).expect("node");
    Arc::new(SlimNode::new(&n))
}

fn pod(name: &str, bound: bool, memory: &str) -> Arc<PodInfo> {
    let node_line = if bound { "  nodeName: a\n" } else { "" };
    let yaml = format!(
        "metadata: {{name: {name}, namespace: ns, uid: {name}}}\nspec:\n{node_line}  containers: [{{name: c, image: x, resources: {{requests: {{memory: {memory}}}}}}}]\n"
    );
    let p: Pod = serde_saphyr::from_str(&yaml).expect("pod");
    Arc::new(PodInfo::new(Arc::new(p)))
}

#[test]
fn saturated_sums_are_recomputed_when_a_pod_leaves() {
    let mut c = Cache::new(Duration::ZERO);
    c.upsert_node(node());
    c.upsert_bound_pod(pod("p1", true, "8Ei"));
    c.upsert_bound_pod(pod("p2", true, "8Ei"));
    c.upsert_bound_pod(pod("p3", true, "1Gi"));
    let memory = |c: &Cache| c.node("a").map(|n| (n.requested.memory, n.non_zero_memory));
    assert_eq!(memory(&c), Some((i64::MAX, i64::MAX)));
    assert!(c.remove_pod("p1"));
    assert_eq!(memory(&c), Some((i64::MAX, i64::MAX)));
    assert!(c.remove_pod("p2"));
    assert_eq!(memory(&c), Some((1 << 30, 1 << 30)), "exact again");
}

#[test]
fn an_endless_assume_ttl_does_not_panic_and_never_expires() {
    let mut c = Cache::new(Duration::MAX);
    c.upsert_node(node());
    c.assume(pod("p", false, "1Gi"), "a").expect("assumed");
    c.finish_binding("p", Instant::now());
    assert!(c.cleanup_expired(Instant::now()).is_empty());
    assert!(c.is_assumed("p"));
}
