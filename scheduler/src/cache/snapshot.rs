//! A consistent view of the cache for one scheduling cycle.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::node_info::NodeInfo;

/// The nodes as one cycle sees them; cheap to update (only changed nodes are copied).
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    nodes: Vec<Arc<NodeInfo>>,
    index: FxHashMap<String, usize>,
    /// Cache generation this snapshot reflects.
    pub generation: u64,
}

impl Snapshot {
    /// A snapshot holding `nodes` (tests and benchmarks build snapshots directly).
    pub fn from_nodes(nodes: Vec<NodeInfo>) -> Self {
        let mut s = Snapshot::default();
        s.rebuild(nodes.into_iter().map(Arc::new).collect());
        s
    }

    pub(super) fn rebuild(&mut self, nodes: Vec<Arc<NodeInfo>>) {
        self.index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        self.nodes = nodes;
    }

    pub(super) fn replace(&mut self, info: Arc<NodeInfo>) {
        if let Some(&i) = self.index.get(&info.name) {
            self.nodes[i] = info;
        }
    }

    /// Every node with a Node object, in a stable order.
    pub fn nodes(&self) -> &[Arc<NodeInfo>] {
        &self.nodes
    }

    /// The node called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Nodes that hold at least one pod with pod (anti-)affinity terms.
    pub fn with_pod_affinity(&self) -> impl Iterator<Item = &Arc<NodeInfo>> {
        self.nodes.iter().filter(|n| n.pods_with_affinity > 0)
    }

    /// Nodes that hold at least one pod with required anti-affinity terms.
    pub fn with_required_anti_affinity(&self) -> impl Iterator<Item = &Arc<NodeInfo>> {
        self.nodes
            .iter()
            .filter(|n| n.pods_with_required_anti_affinity > 0)
    }
}
