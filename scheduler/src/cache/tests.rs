//! Cache accounting, assume / forget / expiry, and incremental snapshots.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};

use super::*;
use crate::model::{PodInfo, SlimNode};

fn node(name: &str) -> Arc<SlimNode> {
    let yaml = format!(
        "metadata: {{name: {name}}}\nstatus: {{allocatable: {{cpu: \"4\", memory: 8Gi, pods: \"110\"}}}}\n"
    );
    let n: Node = serde_saphyr::from_str(&yaml).expect("node");
    Arc::new(SlimNode::new(&n))
}

fn pod(name: &str, node: Option<&str>, cpu: &str, host_port: Option<i32>) -> Arc<PodInfo> {
    let node_line = node
        .map(|n| format!("  nodeName: {n}\n"))
        .unwrap_or_default();
    let ports = host_port
        .map(|p| format!(", ports: [{{containerPort: 80, hostPort: {p}}}]"))
        .unwrap_or_default();
    let yaml = format!(
        "metadata: {{name: {name}, namespace: ns, uid: {name}}}\nspec:\n{node_line}  containers: [{{name: c, image: x, resources: {{requests: {{cpu: {cpu}, memory: 1Gi}}}}{ports}}}]\n"
    );
    let p: Pod = serde_saphyr::from_str(&yaml).expect("pod");
    Arc::new(PodInfo::new(Arc::new(p)))
}

#[test]
fn bound_pods_are_accounted_on_their_node() {
    let mut c = Cache::new(Duration::ZERO);
    c.upsert_node(node("a"));
    c.upsert_bound_pod(pod("p1", Some("a"), "500m", Some(8080)));
    c.upsert_bound_pod(pod("p2", Some("a"), "250m", None));
    let a = c.node("a").expect("node a");
    assert_eq!(a.requested.milli_cpu, 750);
    assert_eq!(a.requested.memory, 2 * 1024 * 1024 * 1024);
    assert_eq!(a.pods.len(), 2);
    assert_eq!(a.used_ports.len(), 1);
    // An update replaces, never double-counts.
    c.upsert_bound_pod(pod("p2", Some("a"), "100m", None));
    assert_eq!(c.node("a").map(|n| n.requested.milli_cpu), Some(600));
    assert!(c.remove_pod("p1"));
    let a = c.node("a").expect("node a");
    assert_eq!(
        (a.requested.milli_cpu, a.pods.len(), a.used_ports.len()),
        (100, 1, 0)
    );
}

#[test]
fn a_host_port_is_a_set_entry_freed_by_either_holder_as_upstream() {
    // Two pods on one node with the same host port (bound by nodeName, or by two
    // schedulers): upstream's HostPortInfo keeps one entry, and removing either pod
    // deletes it, so kube-scheduler then places a third pod with that port there.
    let mut c = Cache::new(Duration::ZERO);
    c.upsert_node(node("a"));
    c.upsert_bound_pod(pod("p1", Some("a"), "100m", Some(8080)));
    c.upsert_bound_pod(pod("p2", Some("a"), "100m", Some(8080)));
    assert_eq!(c.node("a").map(|n| n.used_ports.len()), Some(1));
    assert!(c.remove_pod("p1"));
    let a = c.node("a").expect("node a");
    assert_eq!((a.pods.len(), a.used_ports.len()), (1, 0));
    let want = pod("p3", None, "100m", Some(8080));
    assert!(crate::plugins::node_ports::fits_ports(&want.host_ports, a));
}

#[test]
fn assume_forget_and_confirm() {
    let mut c = Cache::new(Duration::ZERO);
    c.upsert_node(node("a"));
    let p = pod("p", None, "1", None);
    c.assume(p.clone(), "a").expect("assume");
    assert!(c.is_assumed("p"));
    assert_eq!(c.node("a").map(|n| n.requested.milli_cpu), Some(1000));
    assert_eq!(
        c.assume(p.clone(), "a"),
        Err(CacheError::AlreadyPresent("ns/p".into()))
    );
    c.forget("p").expect("forget");
    assert_eq!(c.node("a").map(|n| n.requested.milli_cpu), Some(0));
    assert_eq!(c.forget("p"), Err(CacheError::NotAssumed("p".into())));
    // Assumed, then the informer shows it bound: confirmed, counted once.
    c.assume(p, "a").expect("assume again");
    c.upsert_bound_pod(pod("p", Some("a"), "1", None));
    assert!(!c.is_assumed("p"));
    assert_eq!(
        c.node("a").map(|n| (n.requested.milli_cpu, n.pods.len())),
        Some((1000, 1))
    );
}

#[test]
fn assumed_pods_expire_only_after_their_bind_and_the_ttl() {
    let mut c = Cache::new(Duration::from_secs(30));
    c.upsert_node(node("a"));
    c.assume(pod("p", None, "1", None), "a").expect("assume");
    let t0 = Instant::now();
    assert!(
        c.cleanup_expired(t0 + Duration::from_secs(3600)).is_empty(),
        "no expiry before the bind finished"
    );
    c.finish_binding("p", t0);
    assert!(c.cleanup_expired(t0 + Duration::from_secs(29)).is_empty());
    assert_eq!(
        c.cleanup_expired(t0 + Duration::from_secs(30)),
        vec!["ns/p".to_string()]
    );
    assert_eq!(c.node("a").map(|n| n.pods.len()), Some(0));
}

#[test]
fn snapshots_copy_only_what_changed() {
    let mut c = Cache::new(Duration::ZERO);
    for n in ["a", "b", "c"] {
        c.upsert_node(node(n));
    }
    let mut snap = Snapshot::default();
    c.update_snapshot(&mut snap);
    assert_eq!(snap.len(), 3);
    let before: Vec<_> = snap.nodes().to_vec();
    c.assume(pod("p", None, "1", None), "b").expect("assume");
    c.update_snapshot(&mut snap);
    assert!(Arc::ptr_eq(&before[0], &snap.nodes()[0]), "a untouched");
    assert!(!Arc::ptr_eq(&before[1], &snap.nodes()[1]), "b copied");
    assert!(Arc::ptr_eq(&before[2], &snap.nodes()[2]), "c untouched");
    assert_eq!(snap.get("b").map(|n| n.pods.len()), Some(1));
    assert_eq!(
        before[1].pods.len(),
        0,
        "the old snapshot's view is unchanged"
    );
    c.remove_node("c");
    c.update_snapshot(&mut snap);
    assert_eq!(snap.len(), 2);
    assert!(snap.get("c").is_none());
}

#[test]
fn pods_on_unknown_nodes_wait_for_the_node() {
    let mut c = Cache::new(Duration::ZERO);
    c.upsert_bound_pod(pod("p", Some("late"), "1", None));
    let mut snap = Snapshot::default();
    c.update_snapshot(&mut snap);
    assert_eq!(snap.len(), 0, "no Node object yet");
    c.upsert_node(node("late"));
    c.update_snapshot(&mut snap);
    assert_eq!(snap.get("late").map(|n| n.requested.milli_cpu), Some(1000));
}

fn node_with_images(name: &str, images: &[&str]) -> Arc<SlimNode> {
    let list: Vec<String> = images
        .iter()
        .map(|i| format!("{{names: [{i}, {i}@sha256:0], sizeBytes: 100}}"))
        .collect();
    let yaml = format!(
        "metadata: {{name: {name}}}\nstatus: {{allocatable: {{pods: \"110\"}}, images: [{}]}}\n",
        list.join(", ")
    );
    let n: Node = serde_saphyr::from_str(&yaml).expect("node");
    Arc::new(SlimNode::new(&n))
}

fn node_with_sized_image(name: &str, image: &str, size: i64) -> Arc<SlimNode> {
    let yaml = format!(
        "metadata: {{name: {name}}}\nstatus: {{allocatable: {{pods: \"110\"}}, images: [{{names: [{image}], sizeBytes: {size}}}]}}\n"
    );
    let n: Node = serde_saphyr::from_str(&yaml).expect("node");
    Arc::new(SlimNode::new(&n))
}

#[test]
fn image_size_is_the_first_reported_until_no_node_has_the_name() {
    let mut c = Cache::new(Duration::ZERO);
    let mut snap = Snapshot::default();
    let size = |c: &mut Cache, snap: &mut Snapshot| {
        c.update_snapshot(snap);
        snap.image_state("app:latest").map(|s| (s.nodes, s.size))
    };
    c.upsert_node(node_with_sized_image("a", "app:latest", 100));
    c.upsert_node(node_with_sized_image("b", "app:latest", 200));
    assert_eq!(
        size(&mut c, &mut snap),
        Some((2, 100)),
        "a reported it first"
    );
    // A later node with another size changes nothing but the count.
    c.upsert_node(node_with_sized_image("c", "app:latest", 300));
    assert_eq!(size(&mut c, &mut snap), Some((3, 100)));
    // The first reporter going away keeps its size while others still hold the name.
    c.remove_node("a");
    assert_eq!(size(&mut c, &mut snap), Some((2, 100)));
    // b re-reporting with a new size (not the sole holder): the size stays.
    c.upsert_node(node_with_sized_image("b", "app:latest", 250));
    assert_eq!(size(&mut c, &mut snap), Some((2, 100)));
    c.remove_node("c");
    assert_eq!(size(&mut c, &mut snap), Some((1, 100)));
    // The sole holder re-reporting a new size: removed then added, so its size now counts.
    c.upsert_node(node_with_sized_image("b", "app:latest", 260));
    assert_eq!(size(&mut c, &mut snap), Some((1, 260)));
    // Once no node has it, the next reporter sets the size.
    c.remove_node("b");
    assert_eq!(size(&mut c, &mut snap), None);
    c.upsert_node(node_with_sized_image("d", "app:latest", 400));
    c.upsert_node(node_with_sized_image("a", "app:latest", 100));
    assert_eq!(size(&mut c, &mut snap), Some((2, 400)));
}

#[test]
fn image_node_counts_follow_node_adds_updates_and_removals() {
    let mut c = Cache::new(Duration::ZERO);
    let mut snap = Snapshot::default();
    c.upsert_node(node_with_images("a", &["nginx:1", "redis:7"]));
    c.upsert_node(node_with_images("b", &["nginx:1"]));
    c.update_snapshot(&mut snap);
    assert_eq!(snap.image_node_count("nginx:1"), 2);
    assert_eq!(
        snap.image_node_count("nginx:1@sha256:0"),
        2,
        "every name counts"
    );
    assert_eq!(snap.image_node_count("redis:7"), 1);
    assert_eq!(
        snap.get("a").map(|n| n.images.get("redis:7").copied()),
        Some(Some(100))
    );
    // b pulls redis and drops nginx.
    c.upsert_node(node_with_images("b", &["redis:7"]));
    c.update_snapshot(&mut snap);
    assert_eq!(snap.image_node_count("nginx:1"), 1);
    assert_eq!(snap.image_node_count("redis:7"), 2);
    // a status update that keeps the images changes no count.
    c.upsert_node(node_with_images("b", &["redis:7"]));
    c.remove_node("a");
    c.update_snapshot(&mut snap);
    assert_eq!(snap.image_node_count("nginx:1"), 0);
    assert_eq!(snap.image_node_count("redis:7"), 1);
}

#[test]
fn snapshot_tracks_nodes_with_affinity_pods() {
    let affinity_pod = |name: &str, node: &str| {
        let yaml = format!(
            "metadata: {{name: {name}, namespace: ns, uid: {name}}}\nspec:\n  nodeName: {node}\n  containers: [{{name: c, image: x}}]\n  affinity: {{podAntiAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: [{{topologyKey: kubernetes.io/hostname, labelSelector: {{matchLabels: {{app: x}}}}}}]}}}}\n"
        );
        let p: Pod = serde_saphyr::from_str(&yaml).expect("pod");
        Arc::new(PodInfo::new(Arc::new(p)))
    };
    let mut c = Cache::new(Duration::ZERO);
    let mut snap = Snapshot::default();
    for n in ["a", "b"] {
        c.upsert_node(node(n));
    }
    c.update_snapshot(&mut snap);
    assert!(!snap.has_pods_with_affinity());
    assert_eq!(snap.with_required_anti_affinity().count(), 0);
    c.upsert_bound_pod(affinity_pod("x1", "b"));
    c.update_snapshot(&mut snap);
    assert!(snap.has_pods_with_affinity());
    assert!(snap.has_pods_with_required_anti_affinity());
    let names: Vec<&str> = snap.with_pod_affinity().map(|n| &*n.name).collect();
    assert_eq!(names, ["b"]);
    c.remove_pod("x1");
    c.update_snapshot(&mut snap);
    assert!(!snap.has_pods_with_affinity());
    assert!(!snap.has_pods_with_required_anti_affinity());
}
