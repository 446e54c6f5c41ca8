//! Per-node aggregates, kept as upstream's NodeInfo keeps them.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Taint;
use rustc_hash::FxHashMap;

use crate::model::labels::LabelAtom;
use crate::model::{HostPort, Labels, PodInfo, Resource, SlimNode};

/// A node and the pods placed on it (bound or assumed), with running totals.
///
/// `repr(C)` with the fields every filter and scorer reads first, so a cycle's pass over
/// hundreds of nodes touches few cache lines per node.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct NodeInfo {
    /// `spec.unschedulable`, copied for the hot path.
    pub unschedulable: bool,
    /// What the node offers.
    pub allocatable: Resource,
    /// Sum of the effective requests of its pods.
    pub requested: Resource,
    /// Sum of non-zero cpu requests (for scoring).
    pub non_zero_cpu: i64,
    /// Sum of non-zero memory requests (for scoring).
    pub non_zero_memory: i64,
    /// Its pods.
    pub pods: Vec<Arc<PodInfo>>,
    /// `spec.taints`, copied for the hot path.
    pub taints: Vec<Taint>,
    /// Every name of every image the node reports (`status.images[].names`), with its size:
    /// upstream's per-node image states, looked up by ImageLocality.
    pub images: Arc<FxHashMap<String, i64>>,
    /// The node's labels (shared with [`NodeInfo::node`]): per-topology counters clone
    /// their atoms instead of allocating (see [`NodeInfo::label_atom`]).
    pub labels: Labels,
    /// Host ports in use: a set, as upstream's `HostPortInfo` (see [`NodeInfo::add_pod`]).
    pub used_ports: Vec<HostPort>,
    /// How many of its pods have pod (anti-)affinity terms.
    pub pods_with_affinity: usize,
    /// How many of its pods have required anti-affinity terms.
    pub pods_with_required_anti_affinity: usize,
    /// How many of its pods have terms that score other pods
    /// ([`PodInfo::has_scoring_affinity`]).
    pub pods_with_scoring_affinity: usize,
    /// Node name.
    pub name: Arc<str>,
    /// The Node as the scheduler keeps it; `None` while pods reference a node the informer
    /// has not delivered.
    pub node: Option<Arc<SlimNode>>,
    /// Bumped on every change; the snapshot copies a node only when it moved.
    pub generation: u64,
}

impl NodeInfo {
    /// An empty NodeInfo for `name`.
    pub fn new(name: &str) -> Self {
        NodeInfo {
            name: Arc::from(name),
            node: None,
            allocatable: Resource::default(),
            requested: Resource::default(),
            non_zero_cpu: 0,
            non_zero_memory: 0,
            pods: Vec::new(),
            used_ports: Vec::new(),
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
            pods_with_scoring_affinity: 0,
            taints: Vec::new(),
            unschedulable: false,
            images: Arc::default(),
            labels: Labels::default(),
            generation: 0,
        }
    }

    /// Sets (or replaces) the Node. The image map and label set are replaced only when they
    /// changed, so the cache's per-image node counts see a change only when there is one.
    pub fn set_node(&mut self, node: Arc<SlimNode>) {
        self.allocatable = node.allocatable.clone();
        self.taints = node.taints.clone();
        self.unschedulable = node.unschedulable;
        let old = self.node.as_deref();
        if old.is_none_or(|o| o.images != node.images) {
            self.images = node.images.clone();
        }
        if old.is_none_or(|o| o.labels != node.labels) {
            self.labels = node.labels.clone();
        }
        self.node = Some(node);
    }

    /// The label `key` and its value as shared strings, if the node has it.
    pub fn label_atom(&self, key: &str) -> Option<&LabelAtom> {
        self.labels.atom(key)
    }

    /// The image names this node reports.
    pub fn image_names(&self) -> impl Iterator<Item = &str> {
        self.images.keys().map(String::as_str)
    }

    /// Accounts a pod on this node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_cpu = self.non_zero_cpu.saturating_add(pod.non_zero_cpu);
        self.non_zero_memory = self.non_zero_memory.saturating_add(pod.non_zero_memory);
        // A set, as upstream's HostPortInfo: a second pod with the same (ip, protocol,
        // port) adds nothing, and removing either pod frees the port (see remove_pod).
        for hp in &pod.host_ports {
            if !self.used_ports.contains(hp) {
                self.used_ports.push(hp.clone());
            }
        }
        if pod.has_affinity {
            self.pods_with_affinity += 1;
        }
        if pod.has_required_anti_affinity {
            self.pods_with_required_anti_affinity += 1;
        }
        if pod.has_scoring_affinity {
            self.pods_with_scoring_affinity += 1;
        }
        self.pods.push(pod);
    }

    fn recompute_requests(&mut self) {
        self.requested = Resource::default();
        (self.non_zero_cpu, self.non_zero_memory) = (0, 0);
        for p in &self.pods {
            self.requested.add(&p.requests);
            self.non_zero_cpu = self.non_zero_cpu.saturating_add(p.non_zero_cpu);
            self.non_zero_memory = self.non_zero_memory.saturating_add(p.non_zero_memory);
        }
    }

    /// Removes the pod with `uid`; returns whether it was here.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.uid == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        let at_end = |v: i64| v == i64::MAX || v == i64::MIN;
        if self.requested.is_saturated()
            || at_end(self.non_zero_cpu)
            || at_end(self.non_zero_memory)
        {
            // A saturated sum lost track of its parts: add up the pods that stay.
            self.recompute_requests();
        } else {
            self.requested.sub(&pod.requests);
            self.non_zero_cpu = self.non_zero_cpu.saturating_sub(pod.non_zero_cpu);
            self.non_zero_memory = self.non_zero_memory.saturating_sub(pod.non_zero_memory);
        }
        // Upstream deletes the entry even when another pod on the node holds the same
        // port (HostPortInfo.Remove): kube-scheduler then treats the port as free, in its
        // cache and in preemption's dry run. Kept, so the two decide alike.
        self.used_ports.retain(|u| !pod.host_ports.contains(u));
        if pod.has_affinity {
            self.pods_with_affinity -= 1;
        }
        if pod.has_required_anti_affinity {
            self.pods_with_required_anti_affinity -= 1;
        }
        if pod.has_scoring_affinity {
            self.pods_with_scoring_affinity -= 1;
        }
        true
    }
}
