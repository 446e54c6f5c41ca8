//! A consistent view of the cache for one scheduling cycle.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::images::{ImageState, ImageStates};
use super::node_info::NodeInfo;

/// The nodes as one cycle sees them; cheap to update (only changed nodes are copied).
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    nodes: Vec<Arc<NodeInfo>>,
    index: FxHashMap<String, usize>,
    image_nodes: Arc<ImageStates>,
    nodes_with_affinity: usize,
    nodes_with_required_anti_affinity: usize,
    nodes_with_scoring_affinity: usize,
    /// Cache generation this snapshot reflects.
    pub generation: u64,
}

impl Snapshot {
    /// A snapshot holding `nodes` (tests and benchmarks build snapshots directly).
    pub fn from_nodes(nodes: Vec<NodeInfo>) -> Self {
        let mut s = Snapshot::default();
        // In list order, as a cache fed with these nodes one by one.
        let mut images = ImageStates::default();
        for n in &nodes {
            images.add_node(&n.images);
        }
        s.image_nodes = Arc::new(images);
        s.rebuild(nodes.into_iter().map(Arc::new).collect());
        s
    }

    pub(super) fn rebuild(&mut self, nodes: Vec<Arc<NodeInfo>>) {
        self.index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.to_string(), i))
            .collect();
        self.nodes_with_affinity = nodes.iter().filter(|n| n.pods_with_affinity > 0).count();
        self.nodes_with_required_anti_affinity = nodes
            .iter()
            .filter(|n| n.pods_with_required_anti_affinity > 0)
            .count();
        self.nodes_with_scoring_affinity = nodes
            .iter()
            .filter(|n| n.pods_with_scoring_affinity > 0)
            .count();
        self.nodes = nodes;
    }

    pub(super) fn replace(&mut self, info: Arc<NodeInfo>) {
        if let Some(&i) = self.index.get(&*info.name) {
            let old = &self.nodes[i];
            let moves = |count: &mut usize, flag: fn(&NodeInfo) -> usize| {
                *count = *count + usize::from(flag(&info) > 0) - usize::from(flag(old) > 0);
            };
            moves(&mut self.nodes_with_affinity, |n| n.pods_with_affinity);
            moves(&mut self.nodes_with_required_anti_affinity, |n| {
                n.pods_with_required_anti_affinity
            });
            moves(&mut self.nodes_with_scoring_affinity, |n| {
                n.pods_with_scoring_affinity
            });
            self.nodes[i] = info;
        }
    }

    pub(super) fn set_image_nodes(&mut self, states: Arc<ImageStates>) {
        self.image_nodes = states;
    }

    /// How many nodes report the image `name` (one of its names, exactly as the node lists it).
    pub fn image_node_count(&self, name: &str) -> u32 {
        self.image_state(name).map_or(0, |s| s.nodes)
    }

    /// The cluster-wide summary of image `name`: nodes reporting it and the size the cache
    /// saw first for it (see [`ImageStates`]); `None` when no node reports it.
    pub fn image_state(&self, name: &str) -> Option<ImageState> {
        self.image_nodes.get(name)
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
        let none = self.nodes_with_affinity == 0;
        self.nodes
            .iter()
            .take(if none { 0 } else { usize::MAX })
            .filter(|n| n.pods_with_affinity > 0)
    }

    /// Whether any node holds a pod with pod (anti-)affinity terms.
    pub fn has_pods_with_affinity(&self) -> bool {
        self.nodes_with_affinity > 0
    }

    /// Whether any node holds a pod whose terms score other pods
    /// ([`crate::model::PodInfo::has_scoring_affinity`]).
    pub fn has_pods_with_scoring_affinity(&self) -> bool {
        self.nodes_with_scoring_affinity > 0
    }

    /// Whether any node holds a pod with required anti-affinity terms.
    pub fn has_pods_with_required_anti_affinity(&self) -> bool {
        self.nodes_with_required_anti_affinity > 0
    }

    /// Nodes that hold at least one pod with required anti-affinity terms.
    pub fn with_required_anti_affinity(&self) -> impl Iterator<Item = &Arc<NodeInfo>> {
        let none = self.nodes_with_required_anti_affinity == 0;
        self.nodes
            .iter()
            .take(if none { 0 } else { usize::MAX })
            .filter(|n| n.pods_with_required_anti_affinity > 0)
    }
}
