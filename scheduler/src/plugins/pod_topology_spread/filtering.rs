//! PodTopologySpread's filtering: counts of matching pods per domain for the hard
//! constraints, kept up to date for preemption's dry runs.

use std::sync::{Arc, Mutex, Weak};

use k8s_openapi::api::core::v1::Toleration;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, FilterPlugin, PreFilterPlugin, PreFilterResult, Status};
use crate::model::PodInfo;
use crate::plugins::count_cache::{Keyed, KeyedCache};
use crate::plugins::helpers::{RequiredNodeAffinity, Selector, pod_labels, pod_tolerations};
use crate::plugins::pod_topology_spread::{
    Constraint, Counter, ERR_REASON_CONSTRAINTS_NOT_MATCH, ERR_REASON_NODE_LABEL_NOT_MATCH,
    PodTopologySpread, fan_out, node_has_keys,
};

/// Upstream's `criticalPaths`: the two topology values with the fewest matching pods.
#[derive(Debug, Clone)]
pub struct CriticalPaths([(Arc<str>, i64); 2]);

impl Default for CriticalPaths {
    fn default() -> Self {
        let none: Arc<str> = Arc::from("");
        CriticalPaths([
            (none.clone(), i64::from(i32::MAX)),
            (none, i64::from(i32::MAX)),
        ])
    }
}

impl CriticalPaths {
    /// Records that `value` now has `num` matching pods.
    pub fn update(&mut self, value: &Arc<str>, num: i64) {
        let p = &mut self.0;
        let i = if p[0].0 == *value {
            Some(0)
        } else if p[1].0 == *value {
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
                    p[1] = std::mem::replace(&mut p[0], (value.clone(), num));
                } else if num < p[1].1 {
                    p[1] = (value.clone(), num);
                }
            }
        }
    }

    /// The smallest count.
    pub fn min(&self) -> i64 {
        self.0[0].1
    }
}

/// One topology value of a constraint: its matching pods, and how many counted nodes have
/// it (the value is a domain while that is positive).
#[derive(Debug, Clone, Copy, Default)]
pub struct Domain {
    /// Matching pods in the domain.
    pub pods: i64,
    nodes: u32,
}

/// Matching pods per topology value of one constraint (values shared with the nodes'
/// labels: counting allocates only per new domain).
type Counts = FxHashMap<Arc<str>, Domain>;

/// PreFilter state: per-constraint counts per topology value.
#[derive(Debug, Clone)]
pub struct PreFilterState {
    constraints: Arc<Vec<Constraint>>,
    paths: Vec<CriticalPaths>,
    /// Shared with the counting cache until preemption's dry runs change them.
    counts: Vec<Arc<Counts>>,
    required: Arc<RequiredNodeAffinity>,
    /// Per constraint, 1 when the incoming pod matches its own selector.
    self_match: Arc<Vec<i64>>,
}

impl PreFilterState {
    /// Per constraint, matching pods per domain (for tests).
    #[cfg(test)]
    pub(crate) fn domain_counts(&self) -> Vec<std::collections::BTreeMap<String, i64>> {
        self.counts
            .iter()
            .map(|m| m.iter().map(|(k, d)| (k.to_string(), d.pods)).collect())
            .collect()
    }

    /// Per constraint, the smallest count of its critical paths (for tests).
    #[cfg(test)]
    pub(crate) fn path_mins(&self) -> Vec<i64> {
        self.paths.iter().map(CriticalPaths::min).collect()
    }

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
        let labels = updated.labels();
        for (i, c) in self.constraints.iter().enumerate() {
            if !c.selector.matches(labels) || !c.includes(preemptor.pod(), &self.required, node) {
                continue;
            }
            let Some((_, v)) = node.label_atom(&c.topology_key) else {
                continue;
            };
            let e = Arc::make_mut(&mut self.counts[i])
                .entry(v.clone())
                .or_default();
            e.pods += delta;
            let n = e.pods;
            self.paths[i].update(v, n);
        }
    }
}

/// What a node adds to one constraint's counts: its topology value and matching pods, or
/// nothing when it does not count (a key missing, or excluded by an inclusion policy).
type Contribution = Option<(Arc<str>, i64)>;

/// Fills `out` (a slot per constraint) with the node's contributions; `memo` is scratch
/// with a slot per constraint.
fn contribute(
    counter: &Counter<'_>,
    node: &NodeInfo,
    out: &mut [Contribution],
    memo: &mut [Option<i64>],
) {
    out.fill(None);
    let cs = counter.constraints;
    // Every topology key must be present.
    for (i, c) in cs.iter().enumerate() {
        match node.label_atom(&c.topology_key) {
            Some((_, v)) => out[i] = Some((v.clone(), 0)),
            None => {
                out.fill(None);
                return;
            }
        }
    }
    let facts = counter.facts(node);
    memo.fill(None);
    for (i, c) in cs.iter().enumerate() {
        if !c.included(facts) {
            out[i] = None;
        } else if let Some((_, n)) = &mut out[i] {
            *n = counter.count(node, i, memo);
        }
    }
}

/// Adds (`sign` 1) or takes back (`sign` -1) a node's contributions.
fn apply(counts: &mut [Arc<Counts>], contribution: &[Contribution], sign: i64) {
    for (m, c) in counts.iter_mut().zip(contribution) {
        let Some((v, n)) = c else {
            continue;
        };
        let m = Arc::make_mut(m);
        if sign > 0 {
            let d = m.entry(v.clone()).or_default();
            d.pods += n;
            d.nodes += 1;
        } else if let Some(d) = m.get_mut(&**v) {
            d.pods -= n;
            d.nodes -= 1;
            if d.nodes == 0 {
                m.remove(&**v);
            }
        }
    }
}

/// What identifies a cycle's counts: everything a node's contribution depends on besides
/// the node itself.
#[derive(Debug, PartialEq)]
pub struct CountKey {
    namespace: String,
    /// Per constraint: topology key, selector, honor node affinity, honor taints.
    constraints: Vec<(Arc<str>, Selector, bool, bool)>,
    /// The pod's required node affinity, when a constraint honors it.
    required: Option<RequiredNodeAffinity>,
    /// The pod's tolerations, when a constraint honors taints.
    tolerations: Option<Vec<Toleration>>,
}

impl CountKey {
    fn of(pod: &PodInfo, constraints: &[Constraint], required: &RequiredNodeAffinity) -> Self {
        let honor_affinity = constraints.iter().any(|c| c.honor_affinity);
        let honor_taints = constraints.iter().any(|c| c.honor_taints);
        CountKey {
            namespace: pod.namespace().to_string(),
            constraints: constraints
                .iter()
                .map(|c| {
                    (
                        c.topology_key.clone(),
                        c.selector.clone(),
                        c.honor_affinity,
                        c.honor_taints,
                    )
                })
                .collect(),
            required: honor_affinity.then(|| required.clone()),
            tolerations: honor_taints.then(|| pod_tolerations(pod.pod()).to_vec()),
        }
    }
}

/// Counts of one [`CountKey`] kept across cycles: each node's contribution, remembered with
/// the node version it came from, so a cycle recounts only the nodes that changed.
///
/// A snapshot shares unchanged nodes between cycles (a change copies the node), and the
/// weak references keep an old version's address from being reused, so an equal address
/// means the very node the contribution was counted from.
#[derive(Debug)]
pub struct CountCacheEntry {
    key: CountKey,
    nodes: Vec<Weak<NodeInfo>>,
    /// `nodes.len() × constraints` contributions.
    contributions: Vec<Contribution>,
    counts: Vec<Arc<Counts>>,
}

/// Cached counts for the last few distinct keys.
pub type CountCache = KeyedCache<CountCacheEntry>;

impl Keyed for CountCacheEntry {
    type Key = CountKey;
    fn key(&self) -> &CountKey {
        &self.key
    }
}

impl CountCacheEntry {
    fn build(key: CountKey, counter: &Counter<'_>, nodes: &[Arc<NodeInfo>]) -> Self {
        let n = counter.constraints.len();
        let mut contributions: Vec<Contribution> = vec![None; nodes.len() * n];
        if n > 0 {
            if fan_out(nodes.len()) {
                contributions
                    .par_chunks_mut(n)
                    .zip(nodes.par_iter())
                    .for_each_init(
                        || vec![None; n],
                        |memo, (out, node)| contribute(counter, node, out, memo),
                    );
            } else {
                let mut memo = vec![None; n];
                for (out, node) in contributions.chunks_mut(n).zip(nodes) {
                    contribute(counter, node, out, &mut memo);
                }
            }
        }
        let mut counts: Vec<Arc<Counts>> = (0..n).map(|_| Arc::default()).collect();
        for c in contributions.chunks(n.max(1)) {
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
    fn refresh(&mut self, counter: &Counter<'_>, nodes: &[Arc<NodeInfo>]) {
        let n = counter.constraints.len();
        let mut memo = vec![None; n];
        for (idx, node) in nodes.iter().enumerate() {
            if std::ptr::eq(self.nodes[idx].as_ptr(), Arc::as_ptr(node)) {
                continue;
            }
            let slot = &mut self.contributions[idx * n..(idx + 1) * n];
            apply(&mut self.counts, slot, -1);
            contribute(counter, node, slot, &mut memo);
            apply(&mut self.counts, slot, 1);
            self.nodes[idx] = Arc::downgrade(node);
        }
    }
}

impl CountCache {
    /// The counts for `key` over `nodes`, from the cached entry when there is one.
    fn counts(
        cache: &Mutex<CountCache>,
        key: CountKey,
        counter: &Counter<'_>,
        nodes: &[Arc<NodeInfo>],
    ) -> Vec<Arc<Counts>> {
        let entry = match CountCache::take(cache, &key) {
            Some(mut e) if e.nodes.len() == nodes.len() => {
                e.refresh(counter, nodes);
                e
            }
            // Nodes came or went: count afresh.
            Some(e) => CountCacheEntry::build(e.key, counter, nodes),
            None => CountCacheEntry::build(key, counter, nodes),
        };
        let counts = entry.counts.clone();
        CountCache::put(cache, entry);
        counts
    }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let constraints = self.constraints(pod.pod(), "DoNotSchedule");
        if constraints.is_empty() {
            return (None, Status::skip());
        }
        let required = RequiredNodeAffinity::of(pod.pod());
        let counts = {
            let counter = Counter::new(&constraints, pod.pod(), &required);
            let key = CountKey::of(pod, &constraints, &required);
            CountCache::counts(&self.count_cache, key, &counter, snapshot.nodes())
        };
        let paths = counts
            .iter()
            .map(|m| {
                let mut p = CriticalPaths::default();
                for (v, d) in m.iter() {
                    p.update(v, d.pods);
                }
                p
            })
            .collect();
        let own = pod_labels(pod.pod());
        let self_match = constraints
            .iter()
            .map(|c| i64::from(c.selector.matches(own)))
            .collect();
        state.insert_for_scheduling_cycle(PreFilterState {
            constraints: Arc::new(constraints),
            paths,
            counts,
            required: Arc::new(required),
            self_match: Arc::new(self_match),
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
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.get::<PreFilterState>() else {
            return Status::error("reading PreFilterPodTopologySpread from cycleState: not found");
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some((_, value)) = node.label_atom(&c.topology_key) else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let min = if (s.counts[i].len() as i64) < c.min_domains {
                0
            } else {
                s.paths[i].min()
            };
            let matched = s.counts[i].get(&**value).map_or(0, |d| d.pods);
            if matched + s.self_match[i] - min > c.max_skew {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}
