//! The cache proper: fed by the informers, assumed into by the scheduling cycle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};

use super::images::ImageStates;
use super::node_info::NodeInfo;
use super::snapshot::Snapshot;
use crate::model::{PodInfo, SlimNode};

/// A cache operation that does not fit the cache's state.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CacheError {
    /// The pod is already in the cache (assumed or bound).
    #[error("pod {0} is already in the cache")]
    AlreadyPresent(String),
    /// The pod is not assumed, so it cannot be forgotten or confirmed as bound.
    #[error("pod {0} is not assumed")]
    NotAssumed(String),
}

#[derive(Debug)]
struct PodState {
    info: Arc<PodInfo>,
    node: String,
    assumed: bool,
    /// For assumed pods whose bind finished: when they expire if the informer never confirms.
    deadline: Option<Instant>,
}

/// Nodes and placed pods. Not thread-safe by itself: the scheduler wraps it in a mutex.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: FxHashMap<String, Arc<NodeInfo>>,
    pods: FxHashMap<String, PodState>,
    generation: u64,
    dirty: FxHashSet<String>,
    structure_changed: bool,
    /// Per image name: nodes reporting it and its first-seen size (upstream's `imageStates`).
    image_nodes: Arc<ImageStates>,
    /// How long an assumed pod whose bind finished may wait for the informer (zero: forever).
    assumed_ttl: Duration,
}

impl Cache {
    /// An empty cache; `assumed_ttl` zero keeps assumed pods until confirmed or forgotten
    /// (upstream's behaviour since it stopped expiring them).
    pub fn new(assumed_ttl: Duration) -> Self {
        Cache {
            assumed_ttl,
            ..Default::default()
        }
    }

    /// Sizes for `scheduler_cache_size`, as upstream counts them: nodes (including those
    /// kept only for pods whose deletion has not arrived), pods (assumed included), and
    /// assumed pods.
    pub fn sizes(&self) -> (usize, usize, usize) {
        let assumed = self.pods.values().filter(|p| p.assumed).count();
        (self.nodes.len(), self.pods.len(), assumed)
    }

    fn touch(&mut self, name: &str) -> &mut NodeInfo {
        self.generation += 1;
        let generation = self.generation;
        if !self.nodes.contains_key(name) {
            self.structure_changed = true;
        }
        self.dirty.insert(name.to_string());
        let entry = self
            .nodes
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(NodeInfo::new(name)));
        let info = Arc::make_mut(entry);
        info.generation = generation;
        info
    }

    /// Adds or replaces a Node.
    pub fn upsert_node(&mut self, node: Arc<SlimNode>) {
        let name = node.name.clone();
        let had_node = self.nodes.get(&name).is_some_and(|n| n.node.is_some());
        if !had_node {
            self.structure_changed = true;
        }
        let info = self.touch(&name);
        let old_images = info.images.clone();
        info.set_node(node);
        let new_images = info.images.clone();
        if !Arc::ptr_eq(&old_images, &new_images) {
            self.count_images(&old_images, &new_images);
        }
    }

    /// Moves a node's image states from its `old` images to its `new` ones the way
    /// upstream's cache does: all old names removed, then all new names added (so the sole
    /// holder of a name that reports a new size resets that name's size).
    fn count_images(&mut self, old: &FxHashMap<String, i64>, new: &FxHashMap<String, i64>) {
        let states = Arc::make_mut(&mut self.image_nodes);
        states.remove_node(old);
        states.add_node(new);
    }

    /// Removes a Node; pods still referencing it keep a placeholder until they go.
    pub fn remove_node(&mut self, name: &str) {
        self.structure_changed = true;
        if let Some(images) = self.nodes.get(name).map(|n| n.images.clone()) {
            self.count_images(&images, &FxHashMap::default());
        }
        let empty = self.nodes.get(name).is_some_and(|n| n.pods.is_empty());
        if empty {
            self.nodes.remove(name);
            self.dirty.insert(name.to_string());
        } else if self.nodes.contains_key(name) {
            let info = self.touch(name);
            info.node = None;
            info.images = Arc::default();
        }
    }

    /// Adds or updates a pod the informer saw bound to a node; confirms it if it was assumed.
    pub fn upsert_bound_pod(&mut self, info: Arc<PodInfo>) {
        let Some(node) = info.node_name().map(str::to_string) else {
            return;
        };
        if let Some(old) = self.pods.remove(&info.uid) {
            self.detach(&old.node, &info.uid);
        }
        self.touch(&node).add_pod(info.clone());
        self.pods.insert(
            info.uid.clone(),
            PodState {
                info,
                node,
                assumed: false,
                deadline: None,
            },
        );
    }

    /// Removes a pod (deleted, or finished); returns whether the cache had it.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        match self.pods.remove(uid) {
            Some(state) => {
                self.detach(&state.node, uid);
                true
            }
            None => false,
        }
    }

    fn detach(&mut self, node: &str, uid: &str) {
        if self.nodes.contains_key(node) {
            let info = self.touch(node);
            info.remove_pod(uid);
            if info.node.is_none() && info.pods.is_empty() {
                self.nodes.remove(node);
                self.structure_changed = true;
            }
        }
    }

    /// Places `info` on `node` before the bind is confirmed, so the next cycles see it.
    pub fn assume(&mut self, info: Arc<PodInfo>, node: &str) -> Result<(), CacheError> {
        if self.pods.contains_key(&info.uid) {
            return Err(CacheError::AlreadyPresent(info.key.clone()));
        }
        self.touch(node).add_pod(info.clone());
        self.pods.insert(
            info.uid.clone(),
            PodState {
                info,
                node: node.to_string(),
                assumed: true,
                deadline: None,
            },
        );
        Ok(())
    }

    /// The bind call for an assumed pod returned; starts its expiry clock (if any).
    pub fn finish_binding(&mut self, uid: &str, now: Instant) {
        let ttl = self.assumed_ttl;
        if let Some(state) = self.pods.get_mut(uid).filter(|s| s.assumed) {
            state.deadline =
                (!ttl.is_zero()).then(|| ferrosched_runtime::deadline::after(now, ttl));
        }
    }

    /// Drops an assumed pod whose bind failed.
    pub fn forget(&mut self, uid: &str) -> Result<(), CacheError> {
        match self.pods.get(uid) {
            Some(s) if s.assumed => {
                self.remove_pod(uid);
                Ok(())
            }
            _ => Err(CacheError::NotAssumed(uid.to_string())),
        }
    }

    /// Drops assumed pods whose bind finished more than the TTL ago; returns their keys.
    pub fn cleanup_expired(&mut self, now: Instant) -> Vec<String> {
        let expired: Vec<(String, String)> = self
            .pods
            .iter()
            .filter(|(_, s)| s.assumed && s.deadline.is_some_and(|d| d <= now))
            .map(|(uid, s)| (uid.clone(), s.info.key.clone()))
            .collect();
        for (uid, _) in &expired {
            self.remove_pod(uid);
        }
        expired.into_iter().map(|(_, key)| key).collect()
    }

    /// Whether the pod is assumed (placed by us, bind not yet confirmed by the informer).
    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|s| s.assumed)
    }

    /// Whether the cache holds the pod at all.
    pub fn contains_pod(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    /// Number of nodes with a Node object.
    pub fn node_count(&self) -> usize {
        self.nodes.values().filter(|n| n.node.is_some()).count()
    }

    /// The NodeInfo of `name`, as the cache has it now.
    pub fn node(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.nodes.get(name)
    }

    /// Brings `snapshot` up to date, copying only the nodes that changed since its last update.
    pub fn update_snapshot(&mut self, snapshot: &mut Snapshot) {
        if self.structure_changed {
            let mut names: Vec<&String> = self
                .nodes
                .iter()
                .filter(|(_, n)| n.node.is_some())
                .map(|(k, _)| k)
                .collect();
            names.sort();
            let list = names
                .into_iter()
                .filter_map(|n| self.nodes.get(n).cloned())
                .collect();
            snapshot.rebuild(list);
        } else {
            for name in &self.dirty {
                if let Some(info) = self.nodes.get(name) {
                    snapshot.replace(info.clone());
                }
            }
        }
        snapshot.set_image_nodes(self.image_nodes.clone());
        self.structure_changed = false;
        self.dirty.clear();
        snapshot.generation = self.generation;
    }
}
