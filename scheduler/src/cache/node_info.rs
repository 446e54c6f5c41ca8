//! Per-node aggregates, kept as upstream's NodeInfo keeps them.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};
use rustc_hash::FxHashMap;

use crate::model::resources::node_allocatable;
use crate::model::{HostPort, PodInfo, Resource};

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
    /// The node's labels as shared strings, sorted by key: per-topology counters clone
    /// these instead of allocating (see [`NodeInfo::label_atom`]).
    pub label_atoms: Arc<[(Arc<str>, Arc<str>)]>,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// How many of its pods have pod (anti-)affinity terms.
    pub pods_with_affinity: usize,
    /// How many of its pods have required anti-affinity terms.
    pub pods_with_required_anti_affinity: usize,
    /// How many of its pods have terms that score other pods
    /// ([`PodInfo::has_scoring_affinity`]).
    pub pods_with_scoring_affinity: usize,
    /// Node name.
    pub name: String,
    /// The Node object; `None` while pods reference a node the informer has not delivered.
    pub node: Option<Arc<Node>>,
    /// Bumped on every change; the snapshot copies a node only when it moved.
    pub generation: u64,
}

impl NodeInfo {
    /// An empty NodeInfo for `name`.
    pub fn new(name: &str) -> Self {
        NodeInfo {
            name: name.to_string(),
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
            label_atoms: Arc::new([]),
            generation: 0,
        }
    }

    /// Sets (or replaces) the Node object.
    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = node_allocatable(&node);
        let spec = node.spec.as_ref();
        self.taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        let same_images = self.node.as_ref().is_some_and(|old| {
            old.status.as_ref().map(|s| &s.images) == node.status.as_ref().map(|s| &s.images)
        });
        if !same_images {
            self.images = Arc::new(image_sizes(&node));
        }
        let same_labels = self
            .node
            .as_ref()
            .is_some_and(|old| old.metadata.labels == node.metadata.labels);
        if !same_labels {
            self.label_atoms = node
                .metadata
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str())))
                .collect();
        }
        self.node = Some(node);
    }

    /// The label `key` and its value as shared strings, if the node has it.
    pub fn label_atom(&self, key: &str) -> Option<&(Arc<str>, Arc<str>)> {
        self.label_atoms
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| &self.label_atoms[i])
    }

    /// The image names this node reports.
    pub fn image_names(&self) -> impl Iterator<Item = &str> {
        self.images.keys().map(String::as_str)
    }

    /// The Node's labels.
    pub fn labels(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        self.node.as_ref().and_then(|n| n.metadata.labels.as_ref())
    }

    /// Accounts a pod on this node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_cpu += pod.non_zero_cpu;
        self.non_zero_memory += pod.non_zero_memory;
        self.used_ports.extend(pod.host_ports.iter().cloned());
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

    /// Removes the pod with `uid`; returns whether it was here.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.uid == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.non_zero_cpu -= pod.non_zero_cpu;
        self.non_zero_memory -= pod.non_zero_memory;
        for hp in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
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

/// Name → size of every image the node reports (each of an image's names maps to its size).
fn image_sizes(node: &Node) -> FxHashMap<String, i64> {
    let mut out = FxHashMap::default();
    for image in node.status.iter().flat_map(|s| s.images.iter().flatten()) {
        for name in image.names.iter().flatten() {
            out.entry(name.clone())
                .or_insert(image.size_bytes.unwrap_or(0));
        }
    }
    out
}
