//! Resource arithmetic as the scheduler sees it: what a pod requests, what a node offers.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::quantity::{parse_milli, parse_value};

/// Default CPU request assumed for scoring when a container sets none (upstream: 100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Default memory request assumed for scoring when a container sets none (upstream: 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource: cpu in millicores, memory and ephemeral storage in bytes,
/// pods as a count, extended/hugepage resources by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Resource {
    /// CPU in thousandths of a core.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Pod slots (only meaningful for node allocatable).
    pub allowed_pod_number: i64,
    /// Every other resource (extended resources, hugepages), in whole units.
    pub scalar: BTreeMap<String, i64>,
}

impl Resource {
    /// Reads a resource list (`requests`, `allocatable`): unparsable values count as zero.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Self {
        let mut r = Resource::default();
        if let Some(list) = list {
            for (name, q) in list {
                r.set(name, &q.0);
            }
        }
        r
    }

    fn set(&mut self, name: &str, value: &str) {
        match name {
            "cpu" => self.milli_cpu = parse_milli(value).unwrap_or(0),
            "memory" => self.memory = parse_value(value).unwrap_or(0),
            "ephemeral-storage" => self.ephemeral_storage = parse_value(value).unwrap_or(0),
            "pods" => self.allowed_pod_number = parse_value(value).unwrap_or(0),
            other => {
                let v = parse_value(value).unwrap_or(0);
                self.scalar.insert(other.to_string(), v);
            }
        }
    }

    /// Adds `other` into `self`, saturating at the ends of i64 (upstream wraps: a pod of
    /// two 8Ei containers would request -2 bytes; see docs/decisions.md).
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        self.allowed_pod_number = self
            .allowed_pod_number
            .saturating_add(other.allowed_pod_number);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = e.saturating_add(*v);
        }
    }

    /// Subtracts `other` from `self`, saturating. Not the inverse of [`Resource::add`] once
    /// a sum saturated: see [`Resource::is_saturated`].
    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        self.allowed_pod_number = self
            .allowed_pod_number
            .saturating_sub(other.allowed_pod_number);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = e.saturating_sub(*v);
            if *e == 0 {
                self.scalar.remove(k);
            }
        }
    }

    /// Raises each resource of `self` to at least the one in `other`.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// Whether any amount sits at an end of i64 (a sum that may have saturated).
    pub fn is_saturated(&self) -> bool {
        let at_end = |v: i64| v == i64::MAX || v == i64::MIN;
        [
            self.milli_cpu,
            self.memory,
            self.ephemeral_storage,
            self.allowed_pod_number,
        ]
        .into_iter()
        .chain(self.scalar.values().copied())
        .any(at_end)
    }

    /// The named resource's amount (`cpu` in millicores).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            "cpu" => self.milli_cpu,
            "memory" => self.memory,
            "ephemeral-storage" => self.ephemeral_storage,
            "pods" => self.allowed_pod_number,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }
}

fn container_requests(c: &Container) -> Resource {
    Resource::from_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// What a pod asks of a node, as upstream's `PodRequests` computes it: the larger of the
/// running containers (plus sidecars) and each regular init container (plus the sidecars
/// started before it), then pod overhead; pod-level `resources` replace cpu and memory.
pub fn pod_requests(pod: &Pod) -> Resource {
    let Some(spec) = pod.spec.as_ref() else {
        return Resource::default();
    };
    let mut running = Resource::default();
    for c in &spec.containers {
        running.add(&container_requests(c));
    }
    let mut sidecars = Resource::default();
    let mut init_max = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let req = container_requests(c);
        if is_sidecar(c) {
            sidecars.add(&req);
            let mut with = sidecars.clone();
            with.allowed_pod_number = 0;
            init_max.set_max(&with);
        } else {
            let mut with = sidecars.clone();
            with.add(&req);
            init_max.set_max(&with);
        }
    }
    running.add(&sidecars);
    running.set_max(&init_max);
    if let Some(level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        let pod_level = Resource::from_list(Some(level));
        if level.contains_key("cpu") {
            running.milli_cpu = pod_level.milli_cpu;
        }
        if level.contains_key("memory") {
            running.memory = pod_level.memory;
        }
    }
    if let Some(overhead) = spec.overhead.as_ref() {
        running.add(&Resource::from_list(Some(overhead)));
    }
    running
}

/// CPU and memory for scoring: like [`pod_requests`] but a container that requests no cpu
/// (or memory) counts upstream's default (100m, 200Mi).
pub fn pod_non_zero_requests(pod: &Pod) -> (i64, i64) {
    let Some(spec) = pod.spec.as_ref() else {
        return (0, 0);
    };
    let nz = |c: &Container| {
        let r = container_requests(c);
        let has = |k: &str| {
            c.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .is_some_and(|m| m.contains_key(k))
        };
        let cpu = if has("cpu") {
            r.milli_cpu
        } else {
            DEFAULT_MILLI_CPU_REQUEST
        };
        let mem = if has("memory") {
            r.memory
        } else {
            DEFAULT_MEMORY_REQUEST
        };
        (cpu, mem)
    };
    let (mut cpu, mut mem) = (0i64, 0i64);
    for c in &spec.containers {
        let (a, b) = nz(c);
        cpu = cpu.saturating_add(a);
        mem = mem.saturating_add(b);
    }
    let (mut side_cpu, mut side_mem, mut init_cpu, mut init_mem) = (0i64, 0i64, 0, 0);
    for c in spec.init_containers.iter().flatten() {
        let (a, b) = nz(c);
        if is_sidecar(c) {
            side_cpu = side_cpu.saturating_add(a);
            side_mem = side_mem.saturating_add(b);
            init_cpu = init_cpu.max(side_cpu);
            init_mem = init_mem.max(side_mem);
        } else {
            init_cpu = init_cpu.max(side_cpu.saturating_add(a));
            init_mem = init_mem.max(side_mem.saturating_add(b));
        }
    }
    cpu = cpu.saturating_add(side_cpu).max(init_cpu);
    mem = mem.saturating_add(side_mem).max(init_mem);
    if let Some(level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        if let Some(q) = level.get("cpu") {
            cpu = parse_milli(&q.0).unwrap_or(cpu);
        }
        if let Some(q) = level.get("memory") {
            mem = parse_value(&q.0).unwrap_or(mem);
        }
    }
    if let Some(o) = spec.overhead.as_ref() {
        let o = Resource::from_list(Some(o));
        cpu = cpu.saturating_add(o.milli_cpu);
        mem = mem.saturating_add(o.memory);
    }
    (cpu, mem)
}

/// What a node offers to pods: `status.allocatable` (or capacity when allocatable is unset).
pub fn node_allocatable(node: &Node) -> Resource {
    let status = node.status.as_ref();
    let list = status
        .and_then(|s| s.allocatable.as_ref())
        .or(status.and_then(|s| s.capacity.as_ref()));
    Resource::from_list(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        serde_saphyr::from_str(yaml).expect("test pod parses")
    }

    #[test]
    fn init_containers_and_sidecars_count_as_upstream() {
        let p = pod(r#"
metadata: {name: p}
spec:
  initContainers:
  - {name: init-big, image: x, resources: {requests: {cpu: "2", memory: 1Gi}}}
  - {name: sidecar, image: x, restartPolicy: Always, resources: {requests: {cpu: 500m, memory: 100Mi}}}
  - {name: init-after-sidecar, image: x, resources: {requests: {cpu: "1", memory: 2Gi}}}
  containers:
  - {name: a, image: x, resources: {requests: {cpu: 300m, memory: 200Mi}}}
  - {name: b, image: x, resources: {requests: {cpu: 200m}}}
  overhead: {cpu: 10m}
"#);
        let r = pod_requests(&p);
        // running: 500m + 500m sidecar = 1000m; init-big 2000m; init-after 1000m+500m = 1500m.
        assert_eq!(r.milli_cpu, 2010);
        // memory: running 200+100 = 300Mi; init-big 1Gi; init-after 2Gi+100Mi.
        assert_eq!(r.memory, 2 * 1024 * 1024 * 1024 + 100 * 1024 * 1024);
        let (cpu, mem) = pod_non_zero_requests(&p);
        assert_eq!(cpu, 2010);
        assert_eq!(mem, 2 * 1024 * 1024 * 1024 + 100 * 1024 * 1024);
    }

    #[test]
    fn non_zero_defaults_apply_per_container() {
        let p = pod(
            "metadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: x}\n  - {name: b, image: x, resources: {requests: {cpu: 50m}}}\n",
        );
        assert_eq!(pod_requests(&p).milli_cpu, 50);
        assert_eq!(pod_non_zero_requests(&p), (150, 2 * DEFAULT_MEMORY_REQUEST));
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        // Issue #20: 8Ei is i64::MAX bytes; two of them wrapped to -2 and the pod fit anywhere.
        let p = pod(r#"
metadata: {name: p}
spec:
  initContainers:
  - {name: i, image: x, resources: {requests: {cpu: "9223372036854775807", example.com/gpu: 8E}}}
  containers:
  - {name: a, image: x, resources: {requests: {memory: 8Ei, ephemeral-storage: 8Ei, example.com/gpu: 8E}}}
  - {name: b, image: x, resources: {requests: {memory: 8Ei, ephemeral-storage: 8Ei, example.com/gpu: 8E}}}
  overhead: {cpu: "1", memory: 8Ei}
"#);
        let r = pod_requests(&p);
        assert_eq!(r.memory, i64::MAX);
        assert_eq!(r.ephemeral_storage, i64::MAX);
        assert_eq!(r.get("example.com/gpu"), i64::MAX);
        assert_eq!(r.milli_cpu, i64::MAX);
        assert_eq!(pod_non_zero_requests(&p), (i64::MAX, i64::MAX));
    }

    #[test]
    fn subtracting_saturates_too() {
        let mut r = Resource {
            memory: i64::MIN,
            ..Resource::default()
        };
        r.sub(&Resource {
            memory: 1,
            ..Resource::default()
        });
        assert_eq!(r.memory, i64::MIN);
    }

    #[test]
    fn extended_resources_are_kept_by_name() {
        let p = pod(
            "metadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: x, resources: {requests: {example.com/gpu: 2}}}\n",
        );
        assert_eq!(pod_requests(&p).get("example.com/gpu"), 2);
    }
}
