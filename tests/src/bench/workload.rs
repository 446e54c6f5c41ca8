//! The workloads, shaped as upstream scheduler_perf's (`misc/`, `affinity/`,
//! `topology_spreading/performance-config.yaml`): nodes of 4 CPU / 32Gi / 110 pods, pods
//! of 100m / 500Mi (requests = limits, one container port 80).

use k8s_openapi::api::core::v1::{Node, Pod};
use serde::{Deserialize, Serialize};

/// Label on every bench pod: `initial` or `measured`.
pub const PHASE_LABEL: &str = "ferrosched.dev/bench";
/// Zone label of the spreading workload's nodes.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Namespace of every pod (its `default` ServiceAccount exists without a controller-manager).
pub const NAMESPACE: &str = "default";

/// What the measured pods ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// Plain pods (upstream `pod-default.yaml`).
    Basic,
    /// Required anti-affinity to every `color=green` pod on `kubernetes.io/hostname`
    /// (upstream `pod-with-pod-anti-affinity.yaml`); the initial pods are the same.
    PodAntiAffinity,
    /// `maxSkew: 5` over zones, `DoNotSchedule`, on their own `color=blue` label
    /// (upstream `pod-with-topology-spreading.yaml`); initial pods plain.
    TopologySpreading,
}

/// One workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Upstream's test name (`SchedulingBasic`, ...).
    pub name: String,
    /// Upstream's size name (`5000Nodes_10000Pods`, ...).
    pub size: String,
    /// Shape of the pods.
    pub shape: Shape,
    /// Nodes.
    pub nodes: usize,
    /// Pods created already bound before the scheduler starts.
    pub initial: usize,
    /// Pods timed until bound: created after the scheduler is ready, or, in backlog mode,
    /// all created and pending before it starts.
    pub measured: usize,
    /// Backlog (drain) mode: the measured pods wait before the contestant starts, so the
    /// figure is its own drain rate, not the rate at which the driver creates pods.
    #[serde(default)]
    pub backlog: bool,
}

impl Workload {
    fn new(name: &str, shape: Shape, nodes: usize, initial: usize, measured: usize) -> Self {
        let size = if nodes >= 5000 {
            format!("{nodes}Nodes_{measured}Pods")
        } else {
            format!("{nodes}Nodes")
        };
        Workload {
            name: name.into(),
            size,
            shape,
            nodes,
            initial,
            measured,
            backlog: false,
        }
    }

    /// The same workload in backlog mode.
    pub fn as_backlog(&self) -> Self {
        Workload {
            backlog: true,
            ..self.clone()
        }
    }

    /// `SchedulingBasic/5000Nodes_10000Pods`, with `/backlog` in backlog mode.
    pub fn id(&self) -> String {
        let mode = if self.backlog { "/backlog" } else { "" };
        format!("{}/{}{mode}", self.name, self.size)
    }

    /// The node names, `node-00000` ...
    pub fn node_name(i: usize) -> String {
        format!("node-{i:05}")
    }

    /// Node `i`: upstream's shape, Ready, with its hostname label and, for the spreading
    /// workload, one of three zones round-robin.
    pub fn node(&self, i: usize) -> Node {
        let name = Self::node_name(i);
        let mut labels = serde_json::json!({"kubernetes.io/hostname": name});
        if self.shape == Shape::TopologySpreading {
            labels[ZONE_LABEL] = format!("moon-{}", i % 3 + 1).into();
        }
        let cap = serde_json::json!({"cpu": "4", "memory": "32Gi", "pods": "110"});
        serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "status": {
                "capacity": cap, "allocatable": cap, "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            },
        }))
        .unwrap_or_default()
    }

    /// Initial pod `i`, bound to a node already: round-robin, which puts the
    /// anti-affinity pods on distinct nodes (there are fewer of them than nodes).
    pub fn initial_pod(&self, i: usize) -> Pod {
        let node = Self::node_name(i % self.nodes.max(1));
        let shape = match self.shape {
            Shape::TopologySpreading => Shape::Basic,
            other => other,
        };
        let mut pod = self.pod("initial", i, "default-scheduler", shape);
        if let Some(spec) = pod.spec.as_mut() {
            spec.node_name = Some(node);
        }
        pod
    }

    /// Measured pod `i`, pending for `scheduler`.
    pub fn measured_pod(&self, i: usize, scheduler: &str) -> Pod {
        self.pod("measured", i, scheduler, self.shape)
    }

    fn pod(&self, phase: &str, i: usize, scheduler: &str, shape: Shape) -> Pod {
        let mut labels = serde_json::json!({PHASE_LABEL: phase});
        let mut spec = serde_json::json!({
            "schedulerName": scheduler,
            "automountServiceAccountToken": false,
            "containers": [{
                "name": "pause", "image": "registry.k8s.io/pause:3.10.2",
                "ports": [{"containerPort": 80}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "500Mi"},
                    "limits": {"cpu": "100m", "memory": "500Mi"},
                },
            }],
        });
        match shape {
            Shape::Basic => {}
            Shape::PodAntiAffinity => {
                labels["color"] = "green".into();
                spec["affinity"] = serde_json::json!({"podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [{
                        "labelSelector": {"matchLabels": {"color": "green"}},
                        "topologyKey": "kubernetes.io/hostname",
                    }],
                }});
            }
            Shape::TopologySpreading => {
                labels["color"] = "blue".into();
                spec["topologySpreadConstraints"] = serde_json::json!([{
                    "maxSkew": 5, "topologyKey": ZONE_LABEL, "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"color": "blue"}},
                }]);
            }
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{phase}-{i:05}"), "namespace": NAMESPACE, "labels": labels},
            "spec": spec,
        }))
        .unwrap_or_default()
    }
}

/// The workloads: upstream's performance sizes, or with `quick` their 500-node sizes.
pub fn all(quick: bool) -> Vec<Workload> {
    if quick {
        vec![
            Workload::new("SchedulingBasic", Shape::Basic, 500, 500, 1000),
            Workload::new(
                "SchedulingPodAntiAffinity",
                Shape::PodAntiAffinity,
                500,
                100,
                400,
            ),
            Workload::new(
                "TopologySpreading",
                Shape::TopologySpreading,
                500,
                1000,
                1000,
            ),
        ]
    } else {
        vec![
            Workload::new("SchedulingBasic", Shape::Basic, 5000, 1000, 10000),
            Workload::new(
                "SchedulingPodAntiAffinity",
                Shape::PodAntiAffinity,
                5000,
                1000,
                2000,
            ),
            Workload::new(
                "TopologySpreading",
                Shape::TopologySpreading,
                5000,
                5000,
                5000,
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_have_upstream_shapes() {
        for w in all(false).into_iter().chain(all(true)) {
            let n = w.node(4);
            let st = n.status.expect("status");
            assert_eq!(st.allocatable.expect("allocatable")["cpu"].0, "4");
            let p = w.measured_pod(7, "bench");
            let spec = p.spec.expect("spec");
            assert_eq!(spec.scheduler_name.as_deref(), Some("bench"));
            assert!(spec.node_name.is_none());
            assert_eq!(
                spec.containers[0]
                    .resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref())
                    .expect("requests")["memory"]
                    .0,
                "500Mi"
            );
            let init = w.initial_pod(w.initial - 1);
            assert!(init.spec.and_then(|s| s.node_name).is_some());
            assert!(w.initial <= w.nodes || w.shape != Shape::PodAntiAffinity);
        }
    }

    #[test]
    fn shapes_carry_their_constraints() {
        let [basic, anti, spread] = <[Workload; 3]>::try_from(all(true)).expect("three");
        assert!(
            basic
                .measured_pod(0, "s")
                .spec
                .expect("spec")
                .affinity
                .is_none()
        );
        let a = anti.initial_pod(0).spec.expect("spec");
        assert!(a.affinity.and_then(|a| a.pod_anti_affinity).is_some());
        let s = spread.measured_pod(0, "s").spec.expect("spec");
        assert_eq!(
            s.topology_spread_constraints.expect("constraints")[0].max_skew,
            5
        );
        assert!(
            spread
                .initial_pod(0)
                .spec
                .expect("spec")
                .topology_spread_constraints
                .is_none()
        );
        let zone = |i| spread.node(i).metadata.labels.expect("labels")[ZONE_LABEL].clone();
        assert_eq!(
            (zone(0), zone(1), zone(3)),
            ("moon-1".into(), "moon-2".into(), "moon-1".into())
        );
        assert!(
            !basic
                .node(0)
                .metadata
                .labels
                .expect("labels")
                .contains_key(ZONE_LABEL)
        );
        assert_eq!(anti.id(), "SchedulingPodAntiAffinity/500Nodes");
    }
}
