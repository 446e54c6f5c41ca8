//! PodTopologySpread: hard (`DoNotSchedule`) constraints filter, soft (`ScheduleAnyway`)
//! constraints score; default constraints from the plugin args.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, TopologySpreadConstraint};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::{DefaultingType, PluginArgsSet};
use crate::framework::events::{
    ClusterEventWithHint, EventObjects, EventResource, QueueingHint, action,
};
use crate::framework::{
    CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult, Status,
};
use crate::model::PodInfo;
use crate::plugins::helpers::{
    RequiredNodeAffinity, Selector, ensure_all_nodes, node_labels, pod_labels, pod_tolerations,
    untolerated_taint,
};

/// Registered name.
pub const NAME: &str = "PodTopologySpread";
/// A hard constraint's skew would be exceeded.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
/// The node lacks a constraint's topology key.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// One constraint, parsed.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// `maxSkew`.
    pub max_skew: i64,
    /// `topologyKey`.
    pub topology_key: String,
    /// The label selector (with `matchLabelKeys` merged in).
    pub selector: Selector,
    /// `minDomains` (1 when unset).
    pub min_domains: i64,
    /// `nodeAffinityPolicy: Honor` (the default).
    pub honor_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (default Ignore).
    pub honor_taints: bool,
}

impl Constraint {
    /// Whether `node` counts for this constraint under its inclusion policies.
    pub fn includes(&self, pod: &Pod, required: &RequiredNodeAffinity, node: &NodeInfo) -> bool {
        if self.honor_affinity && !required.matches(node) {
            return false;
        }
        !(self.honor_taints && untolerated_taint(&node.taints, pod_tolerations(pod)).is_some())
    }
}

/// Parses the constraints of `action` (`DoNotSchedule` / `ScheduleAnyway`).
pub fn filter_constraints(
    list: &[TopologySpreadConstraint],
    pod: &Pod,
    action: &str,
) -> Vec<Constraint> {
    let labels = pod_labels(pod);
    list.iter()
        .filter(|c| c.when_unsatisfiable == action)
        .map(|c| {
            let mut selector = Selector::from_label_selector(c.label_selector.as_ref());
            if !selector.nothing {
                let extra: Vec<(&String, &String)> = c
                    .match_label_keys
                    .iter()
                    .flatten()
                    .filter_map(|k| labels.get_key_value(k))
                    .collect();
                if !extra.is_empty() {
                    let mut merged = Selector::from_set(extra);
                    merged.reqs.extend(selector.reqs);
                    selector = merged;
                }
            }
            Constraint {
                max_skew: i64::from(c.max_skew),
                topology_key: c.topology_key.clone(),
                selector,
                min_domains: i64::from(c.min_domains.unwrap_or(1)),
                honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

/// Whether the node has every constraint's topology key.
pub fn node_has_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    let labels = node_labels(node);
    constraints
        .iter()
        .all(|c| labels.contains_key(&c.topology_key))
}

/// Pods on the node in `namespace` matching `selector` (an everything-selector counts none,
/// as upstream).
pub fn count_matching(node: &NodeInfo, selector: &Selector, namespace: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    node.pods
        .iter()
        .filter(|p| {
            p.pod.metadata.deletion_timestamp.is_none()
                && p.namespace() == namespace
                && selector.matches(pod_labels(&p.pod))
        })
        .count() as i64
}

/// Upstream's `PodTopologySpread`.
#[derive(Debug)]
pub struct PodTopologySpread {
    pub(crate) default_constraints: Vec<TopologySpreadConstraint>,
    pub(crate) system_defaulted: bool,
}

/// Factory.
pub fn new(args: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(PodTopologySpread::from_args(args)))
}

impl PodTopologySpread {
    /// Built from the profile's args.
    pub fn from_args(args: &PluginArgsSet) -> Self {
        let a = &args.pod_topology_spread;
        PodTopologySpread {
            default_constraints: a.effective_default_constraints(),
            system_defaulted: a.defaulting_type == DefaultingType::System,
        }
    }

    /// The pod's constraints of `action`, or the defaults when it has none.
    pub fn constraints(&self, pod: &Pod, action: &str) -> Vec<Constraint> {
        let own = pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_deref())
            .unwrap_or_default();
        if !own.is_empty() {
            return filter_constraints(own, pod, action);
        }
        let mut cs = filter_constraints(&self.default_constraints, pod, action);
        if cs.is_empty() {
            return cs;
        }
        let selector = default_selector(pod);
        if selector.is_empty() {
            return Vec::new();
        }
        for c in &mut cs {
            c.selector = selector.clone();
        }
        cs
    }
}

/// The selector default constraints use: the labels of the services, replication
/// controllers, replica sets and stateful sets that select the pod. The handle does not
/// list those kinds yet, so this is always empty and default constraints never apply
/// (as upstream behaves for a pod no workload or service selects).
pub fn default_selector(_pod: &Pod) -> Selector {
    Selector::everything()
}

/// Upstream's `criticalPaths`: the two topology values with the fewest matching pods.
#[derive(Debug, Clone)]
pub struct CriticalPaths([(String, i64); 2]);

impl Default for CriticalPaths {
    fn default() -> Self {
        CriticalPaths([
            (String::new(), i64::from(i32::MAX)),
            (String::new(), i64::from(i32::MAX)),
        ])
    }
}

impl CriticalPaths {
    /// Records that `value` now has `num` matching pods.
    pub fn update(&mut self, value: &str, num: i64) {
        let p = &mut self.0;
        let i = if p[0].0 == value {
            Some(0)
        } else if p[1].0 == value {
            Some(1)
        } else {
            None
        };
        match i {
            Some(i) => {
                p[i].1 = num;
                if p[0].1 > p[1].1 {
                    p.swap(0, 1);
                }
            }
            None => {
                if num < p[0].1 {
                    p[1] = std::mem::replace(&mut p[0], (value.to_string(), num));
                } else if num < p[1].1 {
                    p[1] = (value.to_string(), num);
                }
            }
        }
    }

    /// The smallest count.
    pub fn min(&self) -> i64 {
        self.0[0].1
    }
}

/// PreFilter state: per-constraint counts per topology value.
#[derive(Debug, Clone)]
pub struct PreFilterState {
    constraints: Arc<Vec<Constraint>>,
    paths: Vec<CriticalPaths>,
    counts: Vec<FxHashMap<String, i64>>,
    required: Arc<RequiredNodeAffinity>,
}

impl PreFilterState {
    fn update_with_pod(
        &mut self,
        updated: &PodInfo,
        preemptor: &PodInfo,
        node: &NodeInfo,
        delta: i64,
    ) {
        if updated.namespace() != preemptor.namespace() || node.node.is_none() {
            return;
        }
        if !node_has_keys(node, &self.constraints) {
            return;
        }
        let labels = pod_labels(&updated.pod);
        for (i, c) in self.constraints.iter().enumerate() {
            if !c.selector.matches(labels) || !c.includes(&preemptor.pod, &self.required, node) {
                continue;
            }
            let v = &node_labels(node)[&c.topology_key];
            let e = self.counts[i].entry(v.clone()).or_insert(0);
            *e += delta;
            let n = *e;
            self.paths[i].update(v, n);
        }
    }
}

fn hint_node(pod: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    let own = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_deref())
        .unwrap_or_default();
    if own.is_empty() {
        return QueueingHint::Queue;
    }
    let cs = filter_constraints(own, &pod.pod, "DoNotSchedule");
    let has = |n: &k8s_openapi::api::core::v1::Node| {
        let l = n.metadata.labels.as_ref();
        cs.iter()
            .all(|c| l.is_some_and(|l| l.contains_key(&c.topology_key)))
    };
    match objs {
        EventObjects::Node {
            old: Some(o),
            new: Some(n),
        } => {
            let (a, b) = (has(o), has(n));
            if a != b {
                return QueueingHint::Queue;
            }
            let key_changed = cs.iter().any(|c| {
                o.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(&c.topology_key))
                    != n.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(&c.topology_key))
            });
            let taints = |x: &k8s_openapi::api::core::v1::Node| {
                x.spec.as_ref().and_then(|s| s.taints.clone())
            };
            if b && (key_changed || taints(o) != taints(n)) {
                QueueingHint::Queue
            } else {
                QueueingHint::Skip
            }
        }
        EventObjects::Node {
            old: None,
            new: Some(n),
        }
        | EventObjects::Node {
            old: Some(n),
            new: None,
        } => {
            if has(n) {
                QueueingHint::Queue
            } else {
                QueueingHint::Skip
            }
        }
        _ => QueueingHint::Queue,
    }
}

fn hint_assigned_pod(pod: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    let EventObjects::Pod { old, new } = objs else {
        return QueueingHint::Queue;
    };
    let other_ns = |p: &Pod| p.metadata.namespace.as_deref().unwrap_or("") != pod.namespace();
    if new.is_some_and(other_ns) || old.is_some_and(other_ns) {
        return QueueingHint::Skip;
    }
    QueueingHint::Queue
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![
            ClusterEventWithHint::with_hint(
                EventResource::AssignedPod,
                action::ADD | action::UPDATE_POD_LABEL | action::DELETE,
                hint_assigned_pod,
            ),
            ClusterEventWithHint::new(
                EventResource::UnscheduledPod,
                action::UPDATE_POD_TOLERATION | action::UPDATE_POD_LABEL,
            ),
            ClusterEventWithHint::with_hint(
                EventResource::Node,
                action::ADD
                    | action::DELETE
                    | action::UPDATE_NODE_LABEL
                    | action::UPDATE_NODE_TAINT,
                hint_node,
            ),
        ]
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn crate::framework::PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn crate::framework::ScorePlugin> {
        Some(self)
    }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        ensure_all_nodes(state, snapshot);
        let constraints = self.constraints(&pod.pod, "DoNotSchedule");
        if constraints.is_empty() {
            return (None, Status::skip());
        }
        let required = RequiredNodeAffinity::of(&pod.pod);
        let ns = pod.namespace();
        let per_node: Vec<Vec<(usize, &str, i64)>> = snapshot
            .nodes()
            .par_iter()
            .map(|node| {
                if !node_has_keys(node, &constraints) {
                    return Vec::new();
                }
                let labels = node_labels(node);
                constraints
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.includes(&pod.pod, &required, node))
                    .map(|(i, c)| {
                        (
                            i,
                            labels[&c.topology_key].as_str(),
                            count_matching(node, &c.selector, ns),
                        )
                    })
                    .collect()
            })
            .collect();
        let mut counts: Vec<FxHashMap<String, i64>> = vec![FxHashMap::default(); constraints.len()];
        for (i, v, n) in per_node.into_iter().flatten() {
            *counts[i].entry(v.to_string()).or_insert(0) += n;
        }
        let paths = counts
            .iter()
            .map(|m| {
                let mut p = CriticalPaths::default();
                for (v, n) in m {
                    p.update(v, *n);
                }
                p
            })
            .collect();
        state.insert(PreFilterState {
            constraints: Arc::new(constraints),
            paths,
            counts,
            required: Arc::new(required),
        });
        (None, Status::success())
    }

    fn has_extensions(&self) -> bool {
        true
    }

    fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        to_add: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        if let Some(s) = state.get_mut::<PreFilterState>() {
            s.update_with_pod(to_add, pod, node, 1);
        }
        Status::success()
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        to_remove: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        if let Some(s) = state.get_mut::<PreFilterState>() {
            s.update_with_pod(to_remove, pod, node, -1);
        }
        Status::success()
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.get::<PreFilterState>() else {
            return Status::error("reading PreFilterPodTopologySpread from cycleState: not found");
        };
        let labels = node_labels(node);
        let pod_lbls = pod_labels(&pod.pod);
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = labels.get(&c.topology_key) else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let min = if (s.counts[i].len() as i64) < c.min_domains {
                0
            } else {
                s.paths[i].min()
            };
            let self_match = i64::from(c.selector.matches(pod_lbls));
            let matched = s.counts[i].get(value).copied().unwrap_or(0);
            if matched + self_match - min > c.max_skew {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

#[cfg(test)]
#[path = "pod_topology_spread_tests.rs"]
mod tests;
