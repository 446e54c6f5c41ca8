//! Seeded generator of small cluster states for the differential test: nodes with varied
//! capacity, zones, labels, taints and cordons; bound pods with labels, requests,
//! priorities, host ports and (anti-)affinities; and one pod to schedule with any mix of
//! requests, selectors, node and pod (anti-)affinity, spread constraints, tolerations,
//! host ports and priority. Some states give nodes container images, among them one
//! name (a mutable tag) reported with different sizes on different nodes, and the pod to
//! schedule uses them, so ImageLocality's choice of size (upstream: the first reported)
//! decides scores.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Label every generated node carries (cleanup selects on it).
pub const NODE_LABEL: &str = "ferrosched.dev/differential";
/// Zone label.
pub const ZONE: &str = "topology.kubernetes.io/zone";
/// Hostname label.
pub const HOSTNAME: &str = "kubernetes.io/hostname";
const APPS: [&str; 3] = ["web", "db", "cache"];

/// One cluster state: Node objects, bound Pod objects, and the pod to schedule.
#[derive(Debug, Clone)]
pub struct State {
    /// Node objects (with status), as JSON.
    pub nodes: Vec<Value>,
    /// Pods already bound (`spec.nodeName` set), as JSON.
    pub existing: Vec<Value>,
    /// The pod under test (no nodeName), as JSON.
    pub incoming: Value,
    /// A Service and/or ReplicaSet selecting one app's pods (their pods then get
    /// PodTopologySpread's system default constraints).
    pub workload: Option<Workload>,
}

/// Objects that select the pods of one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// The `app` label value selected.
    pub app: String,
    /// A Service selects `app=<app>`.
    pub service: bool,
    /// A ReplicaSet selecting `app=<app>` controls those pods.
    pub replica_set: bool,
}

impl State {
    /// The names of the nodes.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
            .collect()
    }
}

/// Generates states from a seed; the same seed gives the same sequence.
pub struct Generator {
    rng: StdRng,
    /// A separate stream for images, so adding them left every other draw as it was.
    images_rng: StdRng,
}

/// Image sizes a node may report for the mutable tag (all between ImageLocality's 23MB
/// and 1000MB thresholds or beyond them, so the size chosen moves the score).
const APP_SIZES_MB: [i64; 5] = [30, 120, 450, 800, 1200];
const MB: i64 = 1024 * 1024;

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

impl Generator {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            images_rng: StdRng::seed_from_u64(seed ^ 0x1_3a9e_5eed),
        }
    }

    /// State number `index` (names are unique per index).
    pub fn state(&mut self, index: usize, scheduler: &str) -> State {
        let n_nodes = self.rng.random_range(2..=7);
        let mut nodes = Vec::new();
        let mut capacity = Vec::new();
        for i in 0..n_nodes {
            let name = format!("d{index}-n{i}");
            let pods = *pick(&mut self.rng, &[4u32, 110]);
            capacity.push((name.clone(), pods));
            nodes.push(self.node(&name));
        }
        let mut existing = Vec::new();
        let mut per_node = vec![0u32; n_nodes];
        for j in 0..self.rng.random_range(0..=8) {
            let slot = self.rng.random_range(0..n_nodes);
            // Leave one pod slot free on every node for the harness's probe pod.
            if per_node[slot] + 2 > capacity[slot].1 {
                continue;
            }
            per_node[slot] += 1;
            existing.push(self.existing_pod(index, j, &capacity[slot].0));
        }
        for (node, (_, pods)) in nodes.iter_mut().zip(&capacity) {
            for key in ["capacity", "allocatable"] {
                node["status"][key]["pods"] = json!(pods.to_string());
            }
        }
        let mut incoming = self.incoming_pod(index, scheduler);
        self.images(index, &mut nodes, &mut incoming);
        let workload = self.rng.random_bool(0.35).then(|| {
            let service = self.rng.random_bool(0.6);
            Workload {
                app: pick(&mut self.rng, &APPS).to_string(),
                service,
                replica_set: !service || self.rng.random_bool(0.5),
            }
        });
        let state = State {
            nodes,
            existing,
            incoming,
            workload,
        };
        // Ferrosched saturates resource sums where kube-scheduler wraps (issue #20, a
        // deliberate difference): compared states must stay where both are exact.
        debug_assert!(
            within_exact_range(&state),
            "state {index} nears i64 overflow"
        );
        state
    }

    /// In about a third of the states: nodes report `d<index>.example/app:latest` (a mutable
    /// tag) with sizes that differ from node to node and `d<index>.example/lib:v1` with one
    /// size; the incoming pod runs `d<index>.example/app` (normalized to `:latest`) and
    /// sometimes `lib` too. Names are per state, so no image outlives its state.
    fn images(&mut self, index: usize, nodes: &mut [Value], incoming: &mut Value) {
        let r = &mut self.images_rng;
        if !r.random_bool(0.35) {
            return;
        }
        let app = format!("d{index}.example/app");
        let lib = format!("d{index}.example/lib:v1");
        for node in nodes.iter_mut() {
            let mut images = Vec::new();
            if r.random_bool(0.7) {
                let mb = APP_SIZES_MB[r.random_range(0..APP_SIZES_MB.len())];
                let digest = format!("{app}@sha256:{mb:064x}");
                images.push(
                    json!({"names": [digest, format!("{app}:latest")], "sizeBytes": mb * MB}),
                );
            }
            if r.random_bool(0.4) {
                images.push(json!({"names": [lib], "sizeBytes": 400 * MB}));
            }
            if !images.is_empty() {
                node["status"]["images"] = json!(images);
            }
        }
        incoming["spec"]["containers"][0]["image"] = json!(app);
        if r.random_bool(0.4) {
            let containers = incoming["spec"]["containers"].as_array_mut();
            if let Some(c) = containers {
                c.push(json!({"name": "lib", "image": lib}));
            }
        }
    }

    fn node(&mut self, name: &str) -> Value {
        let cpu = *pick(&mut self.rng, &["1", "2", "4"]);
        let memory = *pick(&mut self.rng, &["2Gi", "4Gi", "8Gi"]);
        let zone = format!("z{}", self.rng.random_range(0..3));
        let mut labels = json!({NODE_LABEL: "true", HOSTNAME: name, ZONE: zone});
        if self.rng.random_bool(0.5) {
            labels["disk"] = json!(*pick(&mut self.rng, &["ssd", "hdd"]));
        }
        let mut spec = json!({});
        if self.rng.random_bool(0.25) {
            let effect = *pick(&mut self.rng, &["NoSchedule", "PreferNoSchedule"]);
            let value = *pick(&mut self.rng, &["a", "b"]);
            spec["taints"] = json!([{"key": "dedicated", "value": value, "effect": effect}]);
        }
        if self.rng.random_bool(0.1) {
            spec["unschedulable"] = json!(true);
        }
        let cap = json!({"cpu": cpu, "memory": memory, "ephemeral-storage": "100Gi"});
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": spec,
            "status": {
                "capacity": cap, "allocatable": cap,
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}],
            },
        })
    }

    fn requests(&mut self, cpus: &[&str], mems: &[&str]) -> Value {
        let mut r = json!({});
        let cpu = *pick(&mut self.rng, cpus);
        let mem = *pick(&mut self.rng, mems);
        if cpu != "0" {
            r["cpu"] = json!(cpu);
        }
        if mem != "0" {
            r["memory"] = json!(mem);
        }
        r
    }

    fn term(&mut self, keys: &[&str]) -> Value {
        let app = *pick(&mut self.rng, &APPS);
        let key = *pick(&mut self.rng, keys);
        json!({"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": [app]}]}, "topologyKey": key})
    }

    fn existing_pod(&mut self, index: usize, j: usize, node: &str) -> Value {
        let app = *pick(&mut self.rng, &APPS);
        let mut spec = json!({
            "nodeName": node,
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": self.requests(&["0", "100m", "250m", "500m", "900m"], &["0", "128Mi", "512Mi", "1Gi"])}}],
        });
        if self.rng.random_bool(0.15) {
            spec["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 8080}]);
        }
        if self.rng.random_bool(0.2) {
            let t = self.term(&[HOSTNAME, ZONE]);
            spec["affinity"] =
                json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [t]}});
        } else if self.rng.random_bool(0.2) {
            let t = self.term(&[HOSTNAME, ZONE]);
            let w = self.rng.random_range(1..=100);
            let kind = *pick(&mut self.rng, &["podAffinity", "podAntiAffinity"]);
            spec["affinity"] = json!({kind: {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": w, "podAffinityTerm": t}]}});
        }
        if self.rng.random_bool(0.5) {
            spec["priorityClassName"] = json!(*pick(&mut self.rng, &["diff-low", "diff-high"]));
        }
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("d{index}-e{j}"), "labels": {"app": app}},
            "spec": spec,
        })
    }

    fn incoming_pod(&mut self, index: usize, scheduler: &str) -> Value {
        let app = *pick(&mut self.rng, &APPS);
        let mut spec = json!({
            "schedulerName": scheduler,
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": self.requests(&["0", "100m", "500m", "1", "1500m", "3"], &["0", "256Mi", "1Gi", "3Gi"])}}],
        });
        let r = &mut self.rng;
        if r.random_bool(0.1) {
            spec["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 8080}]);
        }
        if r.random_bool(0.2) {
            spec["nodeSelector"] = json!({"disk": "ssd"});
        }
        let mut affinity = json!({});
        if self.rng.random_bool(0.15) {
            affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
                "nodeSelectorTerms": [{"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["z0", "z1"]}]}]
            });
        }
        if self.rng.random_bool(0.3) {
            let w = self.rng.random_range(1..=100);
            let zone = format!("z{}", self.rng.random_range(0..3));
            affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = json!([
                {"weight": w, "preference": {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}}
            ]);
        }
        for kind in ["podAffinity", "podAntiAffinity"] {
            let p_required = if kind == "podAffinity" { 0.1 } else { 0.2 };
            if self.rng.random_bool(p_required) {
                let t = self.term(&[HOSTNAME, ZONE]);
                affinity[kind]["requiredDuringSchedulingIgnoredDuringExecution"] = json!([t]);
            }
            if self.rng.random_bool(0.2) {
                let t = self.term(&[HOSTNAME, ZONE]);
                let w = self.rng.random_range(1..=100);
                affinity[kind]["preferredDuringSchedulingIgnoredDuringExecution"] =
                    json!([{"weight": w, "podAffinityTerm": t}]);
            }
        }
        if affinity.as_object().is_some_and(|o| !o.is_empty()) {
            spec["affinity"] = affinity;
        }
        if self.rng.random_bool(0.3) {
            let key = *pick(&mut self.rng, &[ZONE, HOSTNAME]);
            let when = *pick(&mut self.rng, &["DoNotSchedule", "ScheduleAnyway"]);
            let skew = self.rng.random_range(1..=2);
            spec["topologySpreadConstraints"] = json!([{
                "maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": {"app": app}},
            }]);
        }
        if self.rng.random_bool(0.3) {
            spec["tolerations"] = json!([{"key": "dedicated", "operator": "Equal", "value": "a", "effect": "NoSchedule"}]);
        } else if self.rng.random_bool(0.1) {
            spec["tolerations"] = json!([{"key": "dedicated", "operator": "Exists"}]);
        }
        if self.rng.random_bool(0.3) {
            spec["priorityClassName"] = json!("diff-high");
        }
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("d{index}-incoming"), "labels": {"app": app}},
            "spec": spec,
        })
    }
}

/// Whether every resource sum and score product either scheduler computes for `state`
/// fits in an i64 with room to spare: per node, allocatable and all requests placed there
/// plus the incoming pod's, each times 100 (the largest node score). Outside that range
/// kube-scheduler wraps and Ferrosched saturates, so the two would differ by design.
pub fn within_exact_range(state: &State) -> bool {
    use ferrosched_scheduler::model::quantity::{parse_milli, parse_value};
    let amount = |res: &Value, name: &str| -> Option<i64> {
        match res[name].as_str() {
            None => Some(0),
            Some(q) if name == "cpu" => parse_milli(q).ok(),
            Some(q) => parse_value(q).ok(),
        }
    };
    let requests = |pod: &Value| pod["spec"]["containers"][0]["resources"]["requests"].clone();
    let safe = |v: Option<i64>| v.and_then(|v| v.checked_mul(100)).is_some_and(|v| v >= 0);
    state.nodes.iter().all(|n| {
        let name = &n["metadata"]["name"];
        let alloc = &n["status"]["allocatable"];
        ["cpu", "memory", "ephemeral-storage"].iter().all(|r| {
            let placed = state
                .existing
                .iter()
                .filter(|p| &p["spec"]["nodeName"] == name)
                .chain(std::iter::once(&state.incoming))
                .try_fold(0i64, |sum, p| sum.checked_add(amount(&requests(p), r)?));
            safe(amount(alloc, r)) && safe(placed)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_states() {
        let run = |seed| {
            let mut g = Generator::new(seed);
            (0..20)
                .map(|i| format!("{:?}", g.state(i, "s")))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn states_stay_within_exact_arithmetic() {
        let mut g = Generator::new(20);
        for i in 0..500 {
            assert!(within_exact_range(&g.state(i, "s")), "state {i}");
        }
        let mut s = Generator::new(1).state(0, "s");
        s.incoming["spec"]["containers"][0]["resources"]["requests"]["memory"] = json!("8Ei");
        assert!(!within_exact_range(&s), "an 8Ei request is out of range");
    }

    #[test]
    fn every_node_keeps_a_pod_slot_free() {
        let mut g = Generator::new(11);
        for i in 0..200 {
            let s = g.state(i, "s");
            for n in &s.nodes {
                let name = n["metadata"]["name"].as_str().unwrap_or_default();
                let cap: u32 = n["status"]["allocatable"]["pods"]
                    .as_str()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                let used = s
                    .existing
                    .iter()
                    .filter(|p| p["spec"]["nodeName"] == name)
                    .count() as u32;
                assert!(used < cap, "state {i} node {name}: {used}/{cap}");
            }
        }
    }

    #[test]
    fn some_states_report_one_image_name_with_different_sizes() {
        let mut g = Generator::new(3);
        let mut mutable = 0;
        for i in 0..240 {
            let s = g.state(i, "s");
            let app = format!("d{i}.example/app:latest");
            let mut sizes: Vec<i64> = s
                .nodes
                .iter()
                .flat_map(|n| {
                    n["status"]["images"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter(|img| {
                    img["names"]
                        .as_array()
                        .is_some_and(|ns| ns.iter().any(|x| x == &json!(app)))
                })
                .filter_map(|img| img["sizeBytes"].as_i64())
                .collect();
            if !sizes.is_empty() {
                assert_eq!(
                    s.incoming["spec"]["containers"][0]["image"],
                    json!(format!("d{i}.example/app")),
                    "the incoming pod uses the image"
                );
            }
            sizes.sort_unstable();
            sizes.dedup();
            if sizes.len() > 1 {
                mutable += 1;
            }
        }
        assert!(
            mutable >= 20,
            "only {mutable} of 240 states have a mutable tag"
        );
    }
}
