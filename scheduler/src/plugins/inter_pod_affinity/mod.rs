//! InterPodAffinity: required pod affinity and anti-affinity (the incoming pod's and the
//! existing pods'), and preferred terms for scoring.

mod scoring;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{ClusterEventWithHint, EventResource, action};
use crate::framework::{
    ClusterLister, CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult,
    Status,
};
pub use crate::model::affinity::{
    AffinityTerm, AffinityTerms, preferred_affinity, preferred_anti_affinity, required_affinity,
    required_anti_affinity,
};
use crate::model::{Labels, PodInfo};
use crate::plugins::count_cache::{Keyed, KeyedCache};
use crate::plugins::helpers::node_labels;

/// Registered name.
pub const NAME: &str = "InterPodAffinity";
/// An existing pod's required anti-affinity rejects the incoming pod.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// The incoming pod's required affinity is not met.
pub const ERR_REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// The incoming pod's required anti-affinity is violated.
pub const ERR_REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";

/// Counts per topology key, then value.
#[derive(Debug, Clone, Default)]
pub struct TopologyCounts(FxHashMap<Arc<str>, FxHashMap<Arc<str>, i64>>);

impl TopologyCounts {
    /// Counts `delta` for the node's value of `key` (shared strings: no allocation per add).
    fn add(&mut self, node: &NodeInfo, key: &str, delta: i64) {
        if let Some((k, v)) = node.label_atom(key) {
            self.add_atoms(k, v, delta);
        }
    }
    /// Counts `delta` for value `v` of key `k`; a count reaching zero is dropped.
    fn add_atoms(&mut self, k: &Arc<str>, v: &Arc<str>, delta: i64) {
        let values = self.0.entry(k.clone()).or_default();
        let e = values.entry(v.clone()).or_insert(0);
        *e += delta;
        if *e == 0 {
            values.remove(v);
            if values.is_empty() {
                self.0.remove(k);
            }
        }
    }
    /// Per key and value, the count (for tests).
    #[cfg(test)]
    pub(crate) fn sorted(&self) -> BTreeMap<(String, String), i64> {
        self.0
            .iter()
            .flat_map(|(k, m)| {
                m.iter()
                    .map(move |(v, n)| ((k.to_string(), v.to_string()), *n))
            })
            .collect()
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

fn matches_all(terms: &[AffinityTerm], pod: &PodInfo) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, None))
}

/// PreFilter state.
#[derive(Debug, Clone)]
pub struct PreFilterState {
    affinity: Arc<Vec<AffinityTerm>>,
    anti_affinity: Arc<Vec<AffinityTerm>>,
    ns_labels: Arc<BTreeMap<String, String>>,
    /// Shared with the counting cache until preemption's dry runs change them.
    existing_anti: Arc<TopologyCounts>,
    affinity_counts: Arc<TopologyCounts>,
    anti_counts: Arc<TopologyCounts>,
}

impl PreFilterState {
    /// The three counts, sorted: existing pods' anti-affinity, the pod's affinity, the
    /// pod's anti-affinity (for tests).
    #[cfg(test)]
    pub(crate) fn sorted_counts(&self) -> [BTreeMap<(String, String), i64>; 3] {
        [
            self.existing_anti.sorted(),
            self.affinity_counts.sorted(),
            self.anti_counts.sorted(),
        ]
    }

    fn update_with_pod(
        &mut self,
        other: &PodInfo,
        node: &NodeInfo,
        delta: i64,
        incoming: &PodInfo,
    ) {
        for t in other.affinity_terms().required_anti_affinity.iter() {
            if t.matches(incoming, Some(&self.ns_labels)) {
                Arc::make_mut(&mut self.existing_anti).add(node, &t.topology_key, delta);
            }
        }
        if matches_all(&self.affinity, other) {
            for t in self.affinity.iter() {
                Arc::make_mut(&mut self.affinity_counts).add(node, &t.topology_key, delta);
            }
        }
        for t in self.anti_affinity.iter() {
            if t.matches(other, None) {
                Arc::make_mut(&mut self.anti_counts).add(node, &t.topology_key, delta);
            }
        }
    }
}

/// Which of the three counts a [`Contribution`] entry goes to.
const EXISTING_ANTI: u8 = 0;
const AFFINITY: u8 = 1;
const ANTI: u8 = 2;

/// What one node adds to the counts: (count, topology key, value, pods), one entry per
/// count and key (a node has one value per key).
type Contribution = Vec<(u8, Arc<str>, Arc<str>, i64)>;

/// Everything a node's contribution depends on besides the node itself: the incoming
/// pod's namespace, labels and namespace labels (matched by existing pods' anti-affinity
/// terms) and its required terms with namespace selectors resolved.
#[derive(Debug, PartialEq)]
pub(crate) struct CountKey {
    namespace: String,
    labels: Labels,
    ns_labels: BTreeMap<String, String>,
    affinity: Vec<AffinityTerm>,
    anti_affinity: Vec<AffinityTerm>,
}

/// Counts `n` for the node's value of `key` in count `which`.
fn push(out: &mut Contribution, which: u8, node: &NodeInfo, key: &str, n: i64) {
    if let Some(e) = out.iter_mut().find(|e| e.0 == which && *e.1 == *key) {
        e.3 += n;
    } else if let Some((k, v)) = node.label_atom(key) {
        out.push((which, k.clone(), v.clone(), n));
    }
}

/// The node's contribution (the same additions as a full count makes for this node).
fn contribute(key: &CountKey, incoming: &PodInfo, node: &NodeInfo) -> Contribution {
    let mut out = Contribution::new();
    if node.pods_with_required_anti_affinity > 0 {
        for p in node.pods.iter().filter(|p| p.has_required_anti_affinity) {
            for t in p.affinity_terms().required_anti_affinity.iter() {
                if t.matches(incoming, Some(&key.ns_labels)) {
                    push(&mut out, EXISTING_ANTI, node, &t.topology_key, 1);
                }
            }
        }
    }
    for p in &node.pods {
        if matches_all(&key.affinity, p) {
            for t in &key.affinity {
                push(&mut out, AFFINITY, node, &t.topology_key, 1);
            }
        }
        for t in &key.anti_affinity {
            if t.matches(p, None) {
                push(&mut out, ANTI, node, &t.topology_key, 1);
            }
        }
    }
    out
}

/// Adds (`sign` 1) or takes back (`sign` -1) a node's contribution.
fn apply(counts: &mut [Arc<TopologyCounts>; 3], c: &Contribution, sign: i64) {
    for (which, k, v, n) in c {
        Arc::make_mut(&mut counts[usize::from(*which)]).add_atoms(k, v, sign * n);
    }
}

/// Counts of one [`CountKey`] kept across cycles: each node's contribution, remembered with
/// the node version it came from, so a cycle recounts only the nodes that changed.
///
/// A snapshot shares unchanged nodes between cycles (a change copies the node), and the
/// weak references keep an old version's address from being reused, so an equal address
/// means the very node the contribution was counted from.
#[derive(Debug)]
pub(crate) struct CountCacheEntry {
    key: CountKey,
    nodes: Vec<Weak<NodeInfo>>,
    contributions: Vec<Contribution>,
    counts: [Arc<TopologyCounts>; 3],
}

/// Cached counts for the last few distinct keys.
pub(crate) type CountCache = KeyedCache<CountCacheEntry>;

impl Keyed for CountCacheEntry {
    type Key = CountKey;
    fn key(&self) -> &CountKey {
        &self.key
    }
}

impl CountCacheEntry {
    fn build(key: CountKey, incoming: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Self {
        let contributions: Vec<Contribution> = if nodes.len() >= 512 {
            nodes
                .par_iter()
                .with_min_len(256)
                .map(|n| contribute(&key, incoming, n))
                .collect()
        } else {
            nodes
                .iter()
                .map(|n| contribute(&key, incoming, n))
                .collect()
        };
        let mut counts: [Arc<TopologyCounts>; 3] = Default::default();
        for c in &contributions {
            apply(&mut counts, c, 1);
        }
        CountCacheEntry {
            key,
            nodes: nodes.iter().map(Arc::downgrade).collect(),
            contributions,
            counts,
        }
    }

    /// Brings the counts up to `nodes` (as many as last time), recounting only nodes that
    /// are not the version last counted there.
    fn refresh(&mut self, incoming: &PodInfo, nodes: &[Arc<NodeInfo>]) {
        for (idx, node) in nodes.iter().enumerate() {
            if std::ptr::eq(self.nodes[idx].as_ptr(), Arc::as_ptr(node)) {
                continue;
            }
            let fresh = contribute(&self.key, incoming, node);
            let old = std::mem::replace(&mut self.contributions[idx], fresh);
            apply(&mut self.counts, &old, -1);
            apply(&mut self.counts, &self.contributions[idx], 1);
            self.nodes[idx] = Arc::downgrade(node);
        }
    }
}

impl CountCache {
    /// The counts for `key` over `nodes`, from the cached entry when there is one.
    fn counts(
        cache: &Mutex<CountCache>,
        key: CountKey,
        incoming: &PodInfo,
        nodes: &[Arc<NodeInfo>],
    ) -> [Arc<TopologyCounts>; 3] {
        let entry = match CountCache::take(cache, &key) {
            Some(mut e) if e.nodes.len() == nodes.len() => {
                e.refresh(incoming, nodes);
                e
            }
            // Nodes came or went: count afresh.
            Some(e) => CountCacheEntry::build(e.key, incoming, nodes),
            None => CountCacheEntry::build(key, incoming, nodes),
        };
        let counts = entry.counts.clone();
        CountCache::put(cache, entry);
        counts
    }
}

/// Upstream's `InterPodAffinity`.
pub struct InterPodAffinity {
    pub(crate) hard_pod_affinity_weight: i64,
    pub(crate) ignore_preferred_terms_of_existing_pods: bool,
    pub(crate) lister: Arc<dyn ClusterLister>,
    /// PreFilter's counts kept across cycles, for pods with required terms.
    count_cache: Mutex<CountCache>,
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
            count_cache: Mutex::default(),
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
    crate::serves!(pre_filter, filter, pre_score, score);
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let mut affinity = required_affinity(pod.pod());
        let mut anti_affinity = required_anti_affinity(pod.pod());
        for t in affinity.iter_mut().chain(anti_affinity.iter_mut()) {
            t.merge_namespaces(|| self.lister.namespaces());
        }
        let ns_labels = self.ns_labels(pod);
        if !affinity.is_empty() || !anti_affinity.is_empty() {
            // Every node is visited anyway: keep the counts, recount only changed nodes.
            let key = CountKey {
                namespace: pod.namespace().to_string(),
                labels: pod.labels().clone(),
                ns_labels,
                affinity,
                anti_affinity,
            };
            // The cache owns the key; the state needs its terms and namespace labels too.
            let (affinity, anti_affinity, ns_labels) = (
                Arc::new(key.affinity.clone()),
                Arc::new(key.anti_affinity.clone()),
                Arc::new(key.ns_labels.clone()),
            );
            let [existing_anti, affinity_counts, anti_counts] =
                CountCache::counts(&self.count_cache, key, pod, snapshot.nodes());
            state.insert_for_scheduling_cycle(PreFilterState {
                affinity,
                anti_affinity,
                ns_labels,
                existing_anti,
                affinity_counts,
                anti_counts,
            });
            return (None, Status::success());
        }
        // One pass each, straight into the counters (a node costs a few label lookups).
        let mut existing_anti = TopologyCounts::default();
        for node in snapshot.with_required_anti_affinity() {
            for p in node.pods.iter().filter(|p| p.has_required_anti_affinity) {
                for t in p.affinity_terms().required_anti_affinity.iter() {
                    if t.matches(pod, Some(&ns_labels)) {
                        existing_anti.add(node, &t.topology_key, 1);
                    }
                }
            }
        }
        // Without terms of its own, the pod's affinity counts stay empty.
        if existing_anti.is_empty() {
            return (None, Status::skip());
        }
        state.insert_for_scheduling_cycle(PreFilterState {
            affinity: Arc::new(affinity),
            anti_affinity: Arc::new(anti_affinity),
            ns_labels: Arc::new(ns_labels),
            existing_anti: Arc::new(existing_anti),
            affinity_counts: Arc::default(),
            anti_counts: Arc::default(),
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
            s.update_with_pod(to_add, node, 1, pod);
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
            s.update_with_pod(to_remove, node, -1, pod);
        }
        Status::success()
    }
}

fn node_matches_affinity(s: &PreFilterState, pod: &PodInfo, node: &NodeInfo) -> bool {
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
    // The node's shared label strings: a short sorted slice inside the NodeInfo, where the
    // Node's own label map is one more object to load per node.
    !s.anti_affinity.iter().any(|t| {
        node.label_atom(&t.topology_key)
            .is_some_and(|(k, v)| s.anti_counts.get(k, v) > 0)
    })
}

fn node_satisfies_existing_anti_affinity(s: &PreFilterState, node: &NodeInfo) -> bool {
    if s.existing_anti.is_empty() {
        return true;
    }
    !node
        .labels
        .atoms()
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
        if !node_matches_affinity(s, pod, node) {
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
mod tests;
