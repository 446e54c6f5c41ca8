//! InterPodAffinity: required pod affinity and anti-affinity (the incoming pod's and the
//! existing pods'), and preferred terms for scoring.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};
use rustc_hash::FxHashMap;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{ClusterEventWithHint, EventResource, action};
use crate::framework::{
    ClusterLister, CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult,
    Status,
};
use crate::model::PodInfo;
use crate::plugins::helpers::{Selector, node_labels, pod_labels};

/// Registered name.
pub const NAME: &str = "InterPodAffinity";
/// An existing pod's required anti-affinity rejects the incoming pod.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// The incoming pod's required affinity is not met.
pub const ERR_REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// The incoming pod's required anti-affinity is violated.
pub const ERR_REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

/// A pod's (anti-)affinity terms, parsed once when its PodInfo is built (upstream keeps
/// them on its PodInfo too): existing pods' terms are matched every cycle.
#[derive(Debug, Clone, Default)]
pub struct AffinityTerms {
    /// Required affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Weighted preferred affinity terms.
    pub preferred_affinity: Vec<(i64, AffinityTerm)>,
    /// Weighted preferred anti-affinity terms.
    pub preferred_anti_affinity: Vec<(i64, AffinityTerm)>,
}

impl AffinityTerms {
    /// Parses every term of `pod`.
    pub fn of(pod: &Pod) -> Self {
        AffinityTerms {
            required_affinity: required_affinity(pod),
            required_anti_affinity: required_anti_affinity(pod),
            preferred_affinity: preferred_affinity(pod),
            preferred_anti_affinity: preferred_anti_affinity(pod),
        }
    }
}

/// A parsed pod affinity term.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    namespaces: Vec<String>,
    ns_selector: Selector,
    selector: Selector,
    /// `topologyKey`.
    pub topology_key: String,
}

impl AffinityTerm {
    /// Parses `t`, a term of `owner`.
    pub fn new(owner: &Pod, t: &PodAffinityTerm) -> Self {
        let namespaces = match (&t.namespaces, &t.namespace_selector) {
            (ns, None) if ns.as_ref().is_none_or(|v| v.is_empty()) => {
                vec![owner.metadata.namespace.clone().unwrap_or_default()]
            }
            (ns, _) => ns.clone().unwrap_or_default(),
        };
        AffinityTerm {
            namespaces,
            ns_selector: Selector::from_label_selector(t.namespace_selector.as_ref()),
            selector: Selector::from_label_selector(t.label_selector.as_ref()),
            topology_key: t.topology_key.clone(),
        }
    }

    /// Whether `pod` (whose namespace has `ns_labels`) is selected by the term.
    pub fn matches(&self, pod: &Pod, ns_labels: Option<&BTreeMap<String, String>>) -> bool {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        (self.namespaces.iter().any(|n| n == ns)
            || self.ns_selector.matches(ns_labels.unwrap_or(&NO_LABELS)))
            && self.selector.matches(pod_labels(pod))
    }

    /// Resolves a non-empty namespace selector into namespace names (upstream's
    /// `mergeAffinityTermNamespacesIfNotEmpty`).
    pub fn merge_namespaces(&mut self, lister: &dyn ClusterLister) {
        if self.ns_selector.is_empty() {
            return;
        }
        if !self.ns_selector.nothing {
            for (name, labels) in lister.namespaces() {
                if self.ns_selector.matches(&labels) {
                    self.namespaces.push(name);
                }
            }
        }
        self.ns_selector = Selector::nothing();
    }
}

/// The pod's affinity terms of one kind.
pub fn required_affinity(pod: &Pod) -> Vec<AffinityTerm> {
    let terms = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_affinity.as_ref());
    terms
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .into_iter()
        .flatten()
        .map(|t| AffinityTerm::new(pod, t))
        .collect()
}

/// The pod's required anti-affinity terms.
pub fn required_anti_affinity(pod: &Pod) -> Vec<AffinityTerm> {
    let terms = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref());
    terms
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .into_iter()
        .flatten()
        .map(|t| AffinityTerm::new(pod, t))
        .collect()
}

fn weighted(pod: &Pod, list: Option<&Vec<WeightedPodAffinityTerm>>) -> Vec<(i64, AffinityTerm)> {
    list.into_iter()
        .flatten()
        .map(|w| {
            (
                i64::from(w.weight),
                AffinityTerm::new(pod, &w.pod_affinity_term),
            )
        })
        .collect()
}

/// The pod's preferred affinity terms with weights.
pub fn preferred_affinity(pod: &Pod) -> Vec<(i64, AffinityTerm)> {
    let a = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_affinity.as_ref());
    weighted(
        pod,
        a.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }),
    )
}

/// The pod's preferred anti-affinity terms with weights.
pub fn preferred_anti_affinity(pod: &Pod) -> Vec<(i64, AffinityTerm)> {
    let a = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref());
    weighted(
        pod,
        a.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }),
    )
}

/// Counts per topology key, then value.
#[derive(Debug, Clone, Default)]
pub struct TopologyCounts(FxHashMap<Arc<str>, FxHashMap<Arc<str>, i64>>);

impl TopologyCounts {
    /// Counts `delta` for the node's value of `key` (shared strings: no allocation per add).
    fn add(&mut self, node: &NodeInfo, key: &str, delta: i64) {
        let Some((k, v)) = node.label_atom(key) else {
            return;
        };
        let values = self.0.entry(k.clone()).or_default();
        let e = values.entry(v.clone()).or_insert(0);
        *e += delta;
        if *e == 0 {
            values.remove(v);
            if values.is_empty() {
                self.0.remove(key);
            }
        }
    }
    fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|m| m.get(value))
            .copied()
            .unwrap_or(0)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn matches_all(terms: &[AffinityTerm], pod: &Pod) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, None))
}

/// PreFilter state.
#[derive(Debug, Clone)]
pub struct PreFilterState {
    affinity: Arc<Vec<AffinityTerm>>,
    anti_affinity: Arc<Vec<AffinityTerm>>,
    ns_labels: Arc<BTreeMap<String, String>>,
    existing_anti: TopologyCounts,
    affinity_counts: TopologyCounts,
    anti_counts: TopologyCounts,
}

impl PreFilterState {
    fn update_with_pod(&mut self, other: &PodInfo, node: &NodeInfo, delta: i64, incoming: &Pod) {
        for t in other.affinity_terms().required_anti_affinity.iter() {
            if t.matches(incoming, Some(&self.ns_labels)) {
                self.existing_anti.add(node, &t.topology_key, delta);
            }
        }
        if matches_all(&self.affinity, &other.pod) {
            for t in self.affinity.iter() {
                self.affinity_counts.add(node, &t.topology_key, delta);
            }
        }
        for t in self.anti_affinity.iter() {
            if t.matches(&other.pod, None) {
                self.anti_counts.add(node, &t.topology_key, delta);
            }
        }
    }
}

/// Upstream's `InterPodAffinity`.
pub struct InterPodAffinity {
    pub(crate) hard_pod_affinity_weight: i64,
    pub(crate) ignore_preferred_terms_of_existing_pods: bool,
    pub(crate) lister: Arc<dyn ClusterLister>,
}

/// Factory.
pub fn new(args: &PluginArgsSet, handle: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(InterPodAffinity::new(args, handle.lister.clone())))
}

impl InterPodAffinity {
    /// Built from the args and a lister for namespaces.
    pub fn new(args: &PluginArgsSet, lister: Arc<dyn ClusterLister>) -> Self {
        InterPodAffinity {
            hard_pod_affinity_weight: i64::from(args.inter_pod_affinity.hard_pod_affinity_weight),
            ignore_preferred_terms_of_existing_pods: args
                .inter_pod_affinity
                .ignore_preferred_terms_of_existing_pods,
            lister,
        }
    }

    pub(crate) fn ns_labels(&self, pod: &PodInfo) -> BTreeMap<String, String> {
        self.lister
            .namespace_labels(pod.namespace())
            .unwrap_or_default()
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![
            ClusterEventWithHint::new(
                EventResource::AssignedPod,
                action::ADD | action::UPDATE_POD_LABEL | action::DELETE,
            ),
            ClusterEventWithHint::new(EventResource::UnscheduledPod, action::UPDATE_POD_LABEL),
            ClusterEventWithHint::new(EventResource::Node, action::ADD | action::UPDATE_NODE_LABEL),
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

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let mut affinity = required_affinity(&pod.pod);
        let mut anti_affinity = required_anti_affinity(&pod.pod);
        for t in affinity.iter_mut().chain(anti_affinity.iter_mut()) {
            t.merge_namespaces(self.lister.as_ref());
        }
        let ns_labels = self.ns_labels(pod);
        // One pass each, straight into the counters (a node costs a few label lookups).
        let mut existing_anti = TopologyCounts::default();
        for node in snapshot.with_required_anti_affinity() {
            for p in node.pods.iter().filter(|p| p.has_required_anti_affinity) {
                for t in p.affinity_terms().required_anti_affinity.iter() {
                    if t.matches(&pod.pod, Some(&ns_labels)) {
                        existing_anti.add(node, &t.topology_key, 1);
                    }
                }
            }
        }
        let (mut affinity_counts, mut anti_counts) =
            (TopologyCounts::default(), TopologyCounts::default());
        if !affinity.is_empty() || !anti_affinity.is_empty() {
            for node in snapshot.nodes() {
                for p in &node.pods {
                    if matches_all(&affinity, &p.pod) {
                        for t in &affinity {
                            affinity_counts.add(node, &t.topology_key, 1);
                        }
                    }
                    for t in &anti_affinity {
                        if t.matches(&p.pod, None) {
                            anti_counts.add(node, &t.topology_key, 1);
                        }
                    }
                }
            }
        }
        if existing_anti.is_empty() && affinity.is_empty() && anti_affinity.is_empty() {
            return (None, Status::skip());
        }
        state.insert(PreFilterState {
            affinity: Arc::new(affinity),
            anti_affinity: Arc::new(anti_affinity),
            ns_labels: Arc::new(ns_labels),
            existing_anti,
            affinity_counts,
            anti_counts,
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
            s.update_with_pod(to_add, node, 1, &pod.pod);
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
            s.update_with_pod(to_remove, node, -1, &pod.pod);
        }
        Status::success()
    }
}

fn node_matches_affinity(s: &PreFilterState, pod: &Pod, node: &NodeInfo) -> bool {
    if s.affinity.is_empty() {
        return true;
    }
    let labels = node_labels(node);
    let mut pods_exist = true;
    for t in s.affinity.iter() {
        match labels.get(&t.topology_key) {
            Some(v) => {
                if s.affinity_counts.get(&t.topology_key, v) <= 0 {
                    pods_exist = false;
                }
            }
            None => return false,
        }
    }
    // No pod matches the terms anywhere: the first pod of a group that selects itself may go.
    pods_exist || (s.affinity_counts.is_empty() && matches_all(&s.affinity, pod))
}

fn node_satisfies_anti_affinity(s: &PreFilterState, node: &NodeInfo) -> bool {
    if s.anti_counts.is_empty() {
        return true;
    }
    let labels = node_labels(node);
    !s.anti_affinity.iter().any(|t| {
        labels
            .get(&t.topology_key)
            .is_some_and(|v| s.anti_counts.get(&t.topology_key, v) > 0)
    })
}

fn node_satisfies_existing_anti_affinity(s: &PreFilterState, node: &NodeInfo) -> bool {
    if s.existing_anti.is_empty() {
        return true;
    }
    !node_labels(node)
        .iter()
        .any(|(k, v)| s.existing_anti.get(k, v) > 0)
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.get::<PreFilterState>() else {
            return Status::error(
                "error reading PreFilterInterPodAffinity from cycleState: not found",
            );
        };
        if !node_matches_affinity(s, &pod.pod, node) {
            return Status::unresolvable(ERR_REASON_AFFINITY);
        }
        if !node_satisfies_anti_affinity(s, node) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY);
        }
        if !node_satisfies_existing_anti_affinity(s, node) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }
}

#[cfg(test)]
#[path = "inter_pod_affinity_tests.rs"]
mod tests;
