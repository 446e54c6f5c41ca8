//! Filtering with nominated pods, upstream's `RunFilterPluginsWithNominatedPods` and
//! `addGENominatedPods`.
//!
//! Pods nominated to a node (a preemptor waiting for its victims to terminate) with a
//! priority at least the scheduled pod's are added to a copy of the node and of the cycle
//! state (PreFilter extensions' `add_pod` too), and the filters run with them: a pod must
//! yield to them and not take the room freed for them. When that passes and pods were
//! added, the filters run once more without them, because a nominated pod may still end
//! up elsewhere and some filters (pod affinity) pass only with it. Lower-priority
//! nominations are ignored: taking room freed for a less important pod is fine.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::nominator::status_nominated_node;
use super::{CycleState, Framework, Status};
use crate::cache::NodeInfo;
use crate::model::PodInfo;

/// The pods one pod must yield to, by node, read from the nominator once per cycle.
#[derive(Debug, Default, Clone)]
pub struct NominatedPods {
    by_node: FxHashMap<String, Vec<Arc<PodInfo>>>,
}

impl NominatedPods {
    /// Whether no node has a nomination the pod must yield to.
    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }

    /// Those nominated to `node` (empty when none).
    pub fn on(&self, node: &str) -> &[Arc<PodInfo>] {
        self.by_node.get(node).map_or(&[], Vec::as_slice)
    }
}

impl Framework {
    /// Pods nominated to each node with a priority at least `pod`'s, `pod` excluded.
    pub fn nominated_pods_for(&self, pod: &PodInfo) -> NominatedPods {
        if self.nominator().is_empty() {
            return NominatedPods::default();
        }
        NominatedPods {
            by_node: self.nominator().yield_to(pod),
        }
    }

    /// The node `pod` is nominated to: its `status.nominatedNodeName`, or the nomination
    /// this scheduler recorded after a preemption whose status patch has not come back yet.
    pub fn nominated_node_of(&self, pod: &PodInfo) -> Option<String> {
        status_nominated_node(pod)
            .map(str::to_string)
            .or_else(|| self.nominator().node_of(&pod.uid))
    }

    /// Runs every Filter plugin on `node` with the pods `pod` yields to added, then without
    /// them (upstream's `RunFilterPluginsWithNominatedPods`, as preemption calls it).
    pub fn run_filter_plugins_with_nominated_pods(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        let nominated: Vec<Arc<PodInfo>> = self
            .nominator()
            .pods_for_node(&node.name)
            .into_iter()
            .filter(|p| p.priority >= pod.priority && p.uid != pod.uid)
            .collect();
        self.filter_with_nominated(state, pod, node, &nominated, |st, n| {
            self.run_filter_plugins(st, pod, n)
        })
    }

    /// The two passes over `node` with `filter`: first with `nominated` added to copies of
    /// the node and the state, then, if that passed and anything was added, as they are.
    /// A PreFilter extension failing to add a pod is an error.
    pub fn filter_with_nominated(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        nominated: &[Arc<PodInfo>],
        filter: impl Fn(&CycleState, &NodeInfo) -> Status,
    ) -> Status {
        if nominated.is_empty() {
            return filter(state, node);
        }
        let mut with_state = state.clone();
        let mut with_node = node.clone();
        for p in nominated {
            with_node.add_pod(p.clone());
            let s = self.run_pre_filter_add_pod(&mut with_state, pod, p, &with_node);
            if !s.is_success() {
                return Status::error(s.message()).with_plugin(s.plugin());
            }
        }
        let first = filter(&with_state, &with_node);
        if !first.is_success() {
            return first;
        }
        filter(state, node)
    }
}

#[cfg(test)]
#[path = "nominated_tests.rs"]
mod tests;
