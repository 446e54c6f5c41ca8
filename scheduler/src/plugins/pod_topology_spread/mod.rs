//! PodTopologySpread: hard (`DoNotSchedule`) constraints filter, soft (`ScheduleAnyway`)
//! constraints score; default constraints from the plugin args.

pub mod filtering;
mod scoring;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Toleration, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::cache::NodeInfo;
use crate::config::{DefaultingType, PluginArgsSet};
use crate::framework::events::{
    ClusterEventWithHint, EventObjects, EventResource, QueueingHint, action,
};
use crate::framework::{ClusterLister, EmptyLister, Handle, Plugin};
use crate::model::labels::intern_key;
use crate::model::{PodInfo, SlimNode};
use crate::plugins::helpers::{
    RequiredNodeAffinity, Selector, pod_labels, pod_tolerations, untolerated_taint,
};

pub use crate::plugins::pod_topology_spread::filtering::{
    CountCache, CriticalPaths, Domain, PreFilterState,
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
    pub topology_key: Arc<str>,
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

    /// [`Constraint::includes`] from a node's [`NodeFacts`].
    pub fn included(&self, facts: NodeFacts) -> bool {
        (!self.honor_affinity || facts.affinity) && (!self.honor_taints || facts.tolerated)
    }
}

/// Nodes to visit below which a counting pass stays on the calling thread (as the
/// scheduler's own filter pass decides): a node costs well under a microsecond.
const PARALLEL_THRESHOLD: usize = 1024;

/// Whether to fan a pass over `n` nodes out over the current rayon pool.
pub(crate) fn fan_out(n: usize) -> bool {
    n >= PARALLEL_THRESHOLD && rayon::current_num_threads() > 1
}

/// A node's inclusion facts, shared by every constraint of the cycle.
#[derive(Debug, Clone, Copy)]
pub struct NodeFacts {
    /// The node matches the pod's required node affinity (or no constraint honors it).
    pub affinity: bool,
    /// The pod tolerates the node's taints (or no constraint honors them).
    pub tolerated: bool,
}

/// One cycle's counting context: the constraints, which of them share a selector, and the
/// inclusion checks any of them needs, so that a node is checked once for all constraints
/// and its pods are matched once per distinct selector.
pub(crate) struct Counter<'a> {
    pub constraints: &'a [Constraint],
    /// For each constraint, the first constraint with an equal selector.
    first_same: Vec<usize>,
    required: &'a RequiredNodeAffinity,
    tolerations: &'a [Toleration],
    check_affinity: bool,
    check_taints: bool,
    namespace: &'a str,
}

impl<'a> Counter<'a> {
    pub fn new(
        constraints: &'a [Constraint],
        pod: &'a Pod,
        required: &'a RequiredNodeAffinity,
    ) -> Self {
        let first_same = constraints
            .iter()
            .enumerate()
            .map(|(i, c)| {
                constraints[..i]
                    .iter()
                    .position(|o| o.selector == c.selector)
                    .unwrap_or(i)
            })
            .collect();
        Counter {
            constraints,
            first_same,
            required,
            tolerations: pod_tolerations(pod),
            check_affinity: !required.is_empty() && constraints.iter().any(|c| c.honor_affinity),
            check_taints: constraints.iter().any(|c| c.honor_taints),
            namespace: pod.metadata.namespace.as_deref().unwrap_or(""),
        }
    }

    /// The node's inclusion facts (each check done only when some constraint needs it).
    pub fn facts(&self, node: &NodeInfo) -> NodeFacts {
        NodeFacts {
            affinity: !self.check_affinity || self.required.matches(node),
            tolerated: !self.check_taints
                || untolerated_taint(&node.taints, self.tolerations).is_none(),
        }
    }

    /// Matching pods on `node` for constraint `i`, reusing the count of an earlier
    /// constraint with the same selector from `memo` (one slot per constraint, reset per node).
    pub fn count(&self, node: &NodeInfo, i: usize, memo: &mut [Option<i64>]) -> i64 {
        let j = self.first_same[i];
        if let Some(n) = memo[j] {
            return n;
        }
        let n = count_matching(node, &self.constraints[j].selector, self.namespace);
        memo[j] = Some(n);
        n
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
                topology_key: intern_key(&c.topology_key),
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
    constraints
        .iter()
        .all(|c| node.label_atom(&c.topology_key).is_some())
}

/// Pods on the node in `namespace` matching `selector` (an everything-selector counts none,
/// as upstream).
pub fn count_matching(node: &NodeInfo, selector: &Selector, namespace: &str) -> i64 {
    if selector.is_empty() || selector.nothing {
        return 0;
    }
    node.pods
        .iter()
        .filter(|p| {
            p.namespace() == namespace
                && p.deletion_timestamp().is_none()
                && selector.matches(p.labels())
        })
        .count() as i64
}

/// Upstream's `PodTopologySpread`.
pub struct PodTopologySpread {
    pub(crate) default_constraints: Vec<TopologySpreadConstraint>,
    pub(crate) system_defaulted: bool,
    lister: Arc<dyn ClusterLister>,
    /// PreFilter's counts kept across cycles (see [`CountCache`]).
    pub(crate) count_cache: std::sync::Mutex<CountCache>,
}

impl std::fmt::Debug for PodTopologySpread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodTopologySpread")
            .field("default_constraints", &self.default_constraints)
            .field("system_defaulted", &self.system_defaulted)
            .finish()
    }
}

/// Factory.
pub fn new(args: &PluginArgsSet, handle: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(PodTopologySpread::with_lister(
        args,
        handle.lister.clone(),
    )))
}

impl PodTopologySpread {
    /// Built from the profile's args, without workloads to derive default selectors from.
    pub fn from_args(args: &PluginArgsSet) -> Self {
        Self::with_lister(args, Arc::new(EmptyLister))
    }

    /// Built from the profile's args, reading Services and workloads from `lister`.
    pub fn with_lister(args: &PluginArgsSet, lister: Arc<dyn ClusterLister>) -> Self {
        let a = &args.pod_topology_spread;
        PodTopologySpread {
            default_constraints: a.effective_default_constraints(),
            system_defaulted: a.defaulting_type == DefaultingType::System,
            lister,
            count_cache: std::sync::Mutex::default(),
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
        let selector = default_selector(pod, self.lister.as_ref());
        if selector.is_empty() {
            return Vec::new();
        }
        for c in &mut cs {
            c.selector = selector.clone();
        }
        cs
    }
}

/// The selector default constraints use (upstream's `DefaultSelector`): the selectors of
/// the Services selecting the pod, merged, plus the selector of its controlling
/// ReplicationController, ReplicaSet or StatefulSet. Empty when nothing selects the pod,
/// and then default constraints do not apply.
pub fn default_selector(pod: &Pod, lister: &dyn ClusterLister) -> Selector {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let labels = pod_labels(pod);
    let mut set: BTreeMap<String, String> = BTreeMap::new();
    for svc in lister.services(ns) {
        // A Service without a selector selects nothing (not everything).
        let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
            continue;
        };
        if sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    let mut extra = Selector::everything();
    if let Some(o) = owner {
        match (o.api_version.as_str(), o.kind.as_str()) {
            ("v1", "ReplicationController") => {
                if let Some(sel) = lister
                    .replication_controller(ns, &o.name)
                    .and_then(|rc| rc.spec.as_ref().and_then(|s| s.selector.clone()))
                {
                    set.extend(sel);
                }
            }
            ("apps/v1", "ReplicaSet") => {
                if let Some(rs) = lister.replica_set(ns, &o.name) {
                    extra = Selector::from_label_selector(Some(&rs.spec.selector));
                }
            }
            ("apps/v1", "StatefulSet") => {
                if let Some(ss) = lister.stateful_set(ns, &o.name) {
                    extra = Selector::from_label_selector(Some(&ss.spec.selector));
                }
            }
            _ => {}
        }
    }
    let mut selector = Selector::from_label_selector(Some(&LabelSelector {
        match_labels: Some(set),
        match_expressions: None,
    }));
    if !extra.nothing {
        selector.reqs.extend(extra.reqs);
    }
    selector
}

fn hint_node(pod: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    let own = pod
        .pod()
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_deref())
        .unwrap_or_default();
    if own.is_empty() {
        return QueueingHint::Queue;
    }
    let cs = filter_constraints(own, pod.pod(), "DoNotSchedule");
    let has = |n: &SlimNode| cs.iter().all(|c| n.labels.contains_key(&c.topology_key));
    match objs {
        EventObjects::Node {
            old: Some(o),
            new: Some(n),
        } => {
            let (a, b) = (has(o), has(n));
            if a != b {
                return QueueingHint::Queue;
            }
            let key_changed = cs
                .iter()
                .any(|c| o.label(&c.topology_key) != n.label(&c.topology_key));
            if b && (key_changed || o.taints != n.taints) {
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
    crate::serves!(pre_filter, filter, pre_score, score);
}

#[cfg(test)]
mod tests;
