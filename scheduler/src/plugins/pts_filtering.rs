//! PodTopologySpread's filtering: counts of matching pods per domain for the hard
//! constraints, kept up to date for preemption's dry runs.

use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, FilterPlugin, PreFilterPlugin, PreFilterResult, Status};
use crate::model::PodInfo;
use crate::plugins::helpers::{RequiredNodeAffinity, node_labels, pod_labels};
use crate::plugins::pod_topology_spread::{
    Constraint, ERR_REASON_CONSTRAINTS_NOT_MATCH, ERR_REASON_NODE_LABEL_NOT_MATCH,
    PodTopologySpread, count_matching, node_has_keys,
};

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

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let constraints = self.constraints(&pod.pod, "DoNotSchedule");
        if constraints.is_empty() {
            return (None, Status::skip());
        }
        let required = RequiredNodeAffinity::of(&pod.pod);
        let ns = pod.namespace();
        // Per-thread maps keyed by borrowed label values; owned keys only once per domain.
        let n = constraints.len();
        let partial: Vec<FxHashMap<&str, i64>> = snapshot
            .nodes()
            .par_iter()
            .fold(
                || vec![FxHashMap::default(); n],
                |mut acc, node| {
                    if node_has_keys(node, &constraints) {
                        let labels = node_labels(node);
                        for (i, c) in constraints.iter().enumerate() {
                            if c.includes(&pod.pod, &required, node) {
                                let v = labels[&c.topology_key].as_str();
                                *acc[i].entry(v).or_insert(0) +=
                                    count_matching(node, &c.selector, ns);
                            }
                        }
                    }
                    acc
                },
            )
            .reduce(
                || vec![FxHashMap::default(); n],
                |mut a, b| {
                    for (ma, mb) in a.iter_mut().zip(b) {
                        for (k, v) in mb {
                            *ma.entry(k).or_insert(0) += v;
                        }
                    }
                    a
                },
            );
        let counts: Vec<FxHashMap<String, i64>> = partial
            .into_iter()
            .map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            .collect();
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
