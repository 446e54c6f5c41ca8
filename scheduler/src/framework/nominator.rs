//! The nominator (upstream's `nominator` in the scheduling queue): pending pods nominated
//! to a node, by node. A pod is nominated when its preemption chose a node (the
//! scheduler records that before the `status.nominatedNodeName` patch comes back) or when
//! the queue sees it with `status.nominatedNodeName` set. Filters treat pods nominated to a
//! node with a priority at least the scheduled pod's as already there (see
//! `framework::nominated`), so lower-priority pods do not take the room a preemption
//! freed while its victims terminate.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rustc_hash::FxHashMap;

use crate::model::PodInfo;

/// How a nomination is recorded (upstream's `NominatingInfo` mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nominating {
    /// Take the node from the pod's own `status.nominatedNodeName` (upstream's `ModeNoop`).
    FromStatus,
    /// Nominate to this node; an empty name clears the nomination (upstream's `ModeOverride`).
    Override(String),
}

#[derive(Default)]
struct Inner {
    /// Node → pods nominated to it (slimmed, in nomination order).
    by_node: FxHashMap<String, Vec<Arc<PodInfo>>>,
    /// Pod uid → its node, and whether the pod's status carried a nomination when recorded.
    node_of: FxHashMap<String, (String, bool)>,
}

/// Pods nominated to nodes, shared by the queue (which keeps it current) and the
/// frameworks (which read it when filtering).
#[derive(Default)]
pub struct Nominator {
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for Nominator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nominator")
            .field("nominated", &self.read().node_of.len())
            .finish()
    }
}

/// `status.nominatedNodeName` of a pending pod, when set.
pub fn status_nominated_node(pod: &PodInfo) -> Option<&str> {
    pod.pod_arc()?
        .status
        .as_ref()?
        .nominated_node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

impl Nominator {
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `pod`'s nomination (upstream's `addNominatedPod`): any earlier one is
    /// dropped first; a pod already bound is never nominated.
    pub fn add(&self, pod: &PodInfo, how: Nominating) {
        let mut inner = self.write();
        Self::add_locked(&mut inner, pod, how);
    }

    fn add_locked(inner: &mut Inner, pod: &PodInfo, how: Nominating) {
        Self::delete_locked(inner, &pod.uid);
        let from_status = status_nominated_node(pod);
        let node = match how {
            Nominating::FromStatus => from_status.unwrap_or_default().to_string(),
            Nominating::Override(n) => n,
        };
        if node.is_empty() || pod.node_name().is_some() {
            return;
        }
        inner
            .node_of
            .insert(pod.uid.clone(), (node.clone(), from_status.is_some()));
        inner
            .by_node
            .entry(node)
            .or_default()
            .push(Arc::new(pod.slimmed()));
    }

    /// A pending pod changed (upstream's `UpdateNominatedPod`). A nomination made in memory
    /// is kept while neither the old nor the new object carries one in its status (the
    /// `nominatedNodeName` patch has not come back yet); otherwise the new status decides.
    pub fn update(&self, pod: &PodInfo) {
        let mut inner = self.write();
        let how = match inner.node_of.get(&pod.uid) {
            Some((node, false)) if status_nominated_node(pod).is_none() => {
                Nominating::Override(node.clone())
            }
            _ => Nominating::FromStatus,
        };
        Self::add_locked(&mut inner, pod, how);
    }

    /// Forgets the pod's nomination (it was bound, assumed or deleted).
    pub fn delete(&self, uid: &str) {
        Self::delete_locked(&mut self.write(), uid);
    }

    fn delete_locked(inner: &mut Inner, uid: &str) {
        let Some((node, _)) = inner.node_of.remove(uid) else {
            return;
        };
        if let Some(pods) = inner.by_node.get_mut(&node) {
            pods.retain(|p| p.uid != uid);
            if pods.is_empty() {
                inner.by_node.remove(&node);
            }
        }
    }

    /// Pods nominated to `node`.
    pub fn pods_for_node(&self, node: &str) -> Vec<Arc<PodInfo>> {
        self.read().by_node.get(node).cloned().unwrap_or_default()
    }

    /// The node `uid` is nominated to.
    pub fn node_of(&self, uid: &str) -> Option<String> {
        self.read().node_of.get(uid).map(|(n, _)| n.clone())
    }

    /// Pods `pod` must yield to, by node (upstream's `addGENominatedPods` filter): those
    /// nominated with a priority at least `pod`'s, `pod` itself excluded. Empty (and cheap)
    /// when nothing is nominated, as in almost every cycle.
    pub fn yield_to(&self, pod: &PodInfo) -> FxHashMap<String, Vec<Arc<PodInfo>>> {
        let inner = self.read();
        let mut out = FxHashMap::default();
        for (node, pods) in &inner.by_node {
            let ge: Vec<Arc<PodInfo>> = pods
                .iter()
                .filter(|p| p.priority >= pod.priority && p.uid != pod.uid)
                .cloned()
                .collect();
            if !ge.is_empty() {
                out.insert(node.clone(), ge);
            }
        }
        out
    }

    /// How many pods are nominated.
    pub fn len(&self) -> usize {
        self.read().node_of.len()
    }

    /// Whether no pod is nominated.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
