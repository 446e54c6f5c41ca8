//! Whole scheduling cycles (Filter, Score, and PostFilter's preemption when nothing fits)
//! of four real profiles on small snapshots whose nodes and pods carry extreme quantities,
//! image sizes, priorities and weights.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerImage, Node, NodeStatus, Pod, PodAffinityTerm, PodAntiAffinity,
    PodSpec, ResourceRequirements, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;

use super::strategies::quantity_text;
use crate::cache::{Cache, Snapshot};
use crate::framework::{CycleState, Framework, Handle};
use crate::model::{PodInfo, SlimNode};
use crate::schedule::{Algorithm, ScheduleError, run_post_filter};

const PROFILES: &[&str] = &[
    "",
    "pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: MostAllocated, resources: [{name: cpu, weight: 100}, {name: memory, weight: 1}, {name: example.com/gpu, weight: 100}]}}\n  - name: NodeResourcesBalancedAllocation\n    args: {resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}, {name: ephemeral-storage, weight: 1}, {name: example.com/gpu, weight: 1}]}\n",
    "pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: RequestedToCapacityRatio, resources: [{name: memory, weight: 100}, {name: example.com/gpu, weight: 3}], requestedToCapacityRatio: {shape: [{utilization: 0, score: 10}, {utilization: 1, score: 0}, {utilization: 100, score: 10}]}}}\n",
    "plugins:\n    multiPoint:\n      enabled: [{name: PodCapacityOfNode, weight: 2147483647}, {name: ImageLocality, weight: 2147483647}]\n",
];

fn frameworks() -> &'static [Framework] {
    static FRAMEWORKS: OnceLock<Vec<Framework>> = OnceLock::new();
    FRAMEWORKS.get_or_init(|| {
        PROFILES
            .iter()
            .map(|extra| {
                let text = format!(
                    "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: fuzz\n  {extra}"
                );
                let cfg = crate::config::parse(&text).expect("fuzz profile is valid");
                Framework::new(&cfg.profiles[0], &crate::plugins::registry(), &Handle::offline())
                    .expect("fuzz framework builds")
            })
            .collect()
    })
}

const RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "example.com/gpu",
    "pods",
];
const IMAGES: &[&str] = &["a", "b", "c"];

fn resource_list() -> impl Strategy<Value = BTreeMap<String, Quantity>> {
    prop::collection::btree_map(
        prop::sample::select(RESOURCES).prop_map(str::to_string),
        quantity_text().prop_map(Quantity),
        0..5,
    )
}

fn container(
    name: String,
    image: &str,
    requests: BTreeMap<String, Quantity>,
    sidecar: bool,
) -> Container {
    Container {
        name,
        image: Some(image.to_string()),
        resources: Some(ResourceRequirements {
            requests: Some(requests),
            ..Default::default()
        }),
        restart_policy: sidecar.then(|| "Always".to_string()),
        ..Default::default()
    }
}

/// (containers, init containers with their sidecar flag, overhead, pod-level requests,
/// priority, preferred anti-affinity weight, image).
type PodParts = (
    Vec<BTreeMap<String, Quantity>>,
    Vec<(BTreeMap<String, Quantity>, bool)>,
    Option<BTreeMap<String, Quantity>>,
    Option<BTreeMap<String, Quantity>>,
    i32,
    Option<i32>,
    usize,
);

fn pod_parts() -> impl Strategy<Value = PodParts> {
    (
        prop::collection::vec(resource_list(), 1..4),
        prop::collection::vec((resource_list(), any::<bool>()), 0..3),
        prop::option::of(resource_list()),
        prop::option::weighted(0.2, resource_list()),
        prop_oneof![Just(i32::MAX), Just(i32::MIN), Just(0), any::<i32>()],
        prop::option::of(prop_oneof![Just(i32::MAX), Just(i32::MIN), any::<i32>()]),
        0..IMAGES.len(),
    )
}

fn build_pod(name: &str, node: Option<&str>, parts: PodParts) -> Pod {
    let (containers, inits, overhead, pod_level, priority, weight, image) = parts;
    let image = IMAGES[image];
    let affinity = weight.map(|w| Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: w,
                    pod_affinity_term: PodAffinityTerm {
                        topology_key: "kubernetes.io/hostname".into(),
                        label_selector: Some(Default::default()),
                        ..Default::default()
                    },
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    });
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("fuzz".into()),
            uid: Some(name.into()),
            labels: Some([("app".to_string(), "x".to_string())].into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: node.map(str::to_string),
            scheduler_name: Some("fuzz".into()),
            priority: Some(priority),
            containers: containers
                .into_iter()
                .enumerate()
                .map(|(i, r)| container(format!("c{i}"), image, r, false))
                .collect(),
            init_containers: Some(
                inits
                    .into_iter()
                    .enumerate()
                    .map(|(i, (r, side))| container(format!("i{i}"), image, r, side))
                    .collect(),
            ),
            overhead,
            resources: pod_level.map(|r| ResourceRequirements {
                requests: Some(r),
                ..Default::default()
            }),
            affinity,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn build_node(name: &str, alloc: BTreeMap<String, Quantity>, image_sizes: Vec<i64>) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("kubernetes.io/hostname".to_string(), name.to_string())].into()),
            ..Default::default()
        },
        status: Some(NodeStatus {
            allocatable: Some(alloc),
            images: Some(
                IMAGES
                    .iter()
                    .zip(image_sizes)
                    .map(|(i, size)| ContainerImage {
                        names: Some(vec![i.to_string()]),
                        size_bytes: Some(size),
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

type NodeParts = (BTreeMap<String, Quantity>, Vec<i64>);

fn node_parts() -> impl Strategy<Value = NodeParts> {
    let size = prop_oneof![
        Just(i64::MAX),
        Just(i64::MIN),
        Just(0),
        any::<i64>(),
        0..(1i64 << 40)
    ];
    (
        resource_list(),
        prop::collection::vec(size, 0..=IMAGES.len()),
    )
}

fn run_cycle(
    profile: usize,
    nodes: Vec<NodeParts>,
    placed: Vec<(usize, PodParts)>,
    incoming: PodParts,
    pct: Option<u32>,
) -> Result<(), TestCaseError> {
    let fw = &frameworks()[profile % PROFILES.len()];
    let mut cache = Cache::new(Duration::MAX);
    let names: Vec<String> = (0..nodes.len()).map(|i| format!("n{i}")).collect();
    for (name, (alloc, sizes)) in names.iter().zip(nodes) {
        cache.upsert_node(Arc::new(SlimNode::new(&build_node(name, alloc, sizes))));
    }
    for (j, (slot, parts)) in placed.into_iter().enumerate() {
        let node = &names[slot % names.len()];
        let pod = build_pod(&format!("e{j}"), Some(node), parts);
        cache.upsert_bound_pod(Arc::new(PodInfo::new(Arc::new(pod))));
    }
    let mut snapshot = Snapshot::default();
    cache.update_snapshot(&mut snapshot);
    let pod = PodInfo::new(Arc::new(build_pod("incoming", None, incoming)));
    let mut state = CycleState::default();
    match Algorithm::new(pct).schedule(fw, &mut state, &pod, &snapshot) {
        Ok(r) => {
            let node = cache.node(&r.suggested_host);
            prop_assert!(
                node.is_some(),
                "placed on unknown node {}",
                r.suggested_host
            );
            if let Some(node) = node {
                check_room(&pod, node)?;
            }
        }
        Err(ScheduleError::Fit(mut e)) => {
            let _ = run_post_filter(fw, &state, &pod, &snapshot, &mut e);
            prop_assert!(!e.message().is_empty());
        }
        Err(ScheduleError::Internal(_)) => {}
    }
    Ok(())
}

/// A placement never exceeds the node's room, computed here without overflow: the pod's
/// regular containers alone (a lower bound of its requests when none is negative) fit
/// beside what is placed.
fn check_room(pod: &PodInfo, node: &crate::cache::NodeInfo) -> Result<(), TestCaseError> {
    let Some(spec) = pod.pod().spec.as_ref() else {
        return Ok(());
    };
    if spec.resources.is_some() {
        return Ok(());
    }
    let list = |r: Option<&BTreeMap<String, Quantity>>| crate::model::Resource::from_list(r);
    let requests = |c: &Container| list(c.resources.as_ref().and_then(|r| r.requests.as_ref()));
    let mut all: Vec<_> = spec.containers.iter().map(requests).collect();
    all.extend(spec.init_containers.iter().flatten().map(requests));
    all.push(list(spec.overhead.as_ref()));
    for (name, alloc, used) in [
        ("cpu", node.allocatable.milli_cpu, node.requested.milli_cpu),
        ("memory", node.allocatable.memory, node.requested.memory),
    ] {
        // A saturated allocatable is "at least i64::MAX": its true size is unknown. Negative
        // usage comes only from negative requests (which the API server rejects), whose
        // saturated sums may meet the pod's saturated request anywhere.
        if alloc == i64::MAX || used < 0 || all.iter().any(|r| r.get(name) < 0) {
            continue;
        }
        let sum: i128 = spec
            .containers
            .iter()
            .map(|c| i128::from(requests(c).get(name)))
            .sum();
        prop_assert!(
            sum == 0 || sum <= i128::from(alloc) - i128::from(used),
            "{} {} requested beside {} used exceeds {} on {}",
            name,
            sum,
            used,
            alloc,
            node.name
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(super::config())]

    #[test]
    fn fuzz_framework_extreme_quantities(
        profile in 0..PROFILES.len(),
        nodes in prop::collection::vec(node_parts(), 1..4),
        placed in prop::collection::vec((0usize..4, pod_parts()), 0..4),
        incoming in pod_parts(),
        pct in prop::option::of(0u32..=100),
    ) {
        run_cycle(profile, nodes, placed, incoming, pct)?;
    }
}
