//! PodTopologySpread's scoring: fewer matching pods in a node's domains scores higher.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, PreScorePlugin, ScorePlugin, Status};
use crate::model::PodInfo;
use crate::plugins::helpers::{LABEL_HOSTNAME, MAX_NODE_SCORE, RequiredNodeAffinity};
use crate::plugins::pod_topology_spread::{
    Constraint, Counter, PodTopologySpread, count_matching, node_has_keys,
};

/// PreScore state.
#[derive(Debug, Clone)]
pub struct PreScoreState {
    constraints: Arc<Vec<Constraint>>,
    ignored: Arc<FxHashSet<Arc<str>>>,
    counts: Arc<Vec<FxHashMap<Arc<str>, i64>>>,
    weights: Vec<f64>,
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        filtered: &[&NodeInfo],
    ) -> Status {
        let all = snapshot.nodes();
        if all.is_empty() {
            return Status::skip();
        }
        let constraints = self.constraints(pod.pod(), "ScheduleAnyway");
        if constraints.is_empty() {
            return Status::skip();
        }
        let own = pod
            .pod()
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .is_some_and(|v| !v.is_empty());
        let require_all = own || !self.system_defaulted;
        // A node without a topology key counts under the empty value (when allowed).
        let empty: Arc<str> = Arc::from("");
        let value_of = |node: &NodeInfo, key: &str| -> Arc<str> {
            node.label_atom(key)
                .map_or_else(|| empty.clone(), |(_, v)| v.clone())
        };
        let mut ignored = FxHashSet::default();
        let mut counts: Vec<FxHashMap<Arc<str>, i64>> =
            vec![FxHashMap::default(); constraints.len()];
        for node in filtered {
            if require_all && !node_has_keys(node, &constraints) {
                ignored.insert(node.name.clone());
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if *c.topology_key == *LABEL_HOSTNAME {
                    continue;
                }
                let m = &mut counts[i];
                match node.label_atom(&c.topology_key) {
                    Some((_, v)) if m.contains_key(&**v) => {}
                    _ => {
                        m.entry(value_of(node, &c.topology_key)).or_insert(0);
                    }
                }
            }
        }
        let weights = constraints
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let size = if *c.topology_key == *LABEL_HOSTNAME {
                    filtered.len() - ignored.len()
                } else {
                    counts[i].len()
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        // Only constraints with domains among the filtered nodes count anything (hostname
        // ones are counted per node at Score).
        if counts.iter().any(|m| !m.is_empty()) {
            let required = RequiredNodeAffinity::of(pod.pod());
            let counter = Counter::new(&constraints, pod.pod(), &required);
            let mut memo = vec![None; constraints.len()];
            for node in all.iter() {
                if require_all && !node_has_keys(node, &constraints) {
                    continue;
                }
                let facts = counter.facts(node);
                memo.fill(None);
                for (i, c) in constraints.iter().enumerate() {
                    if counts[i].is_empty() || !c.included(facts) {
                        continue;
                    }
                    let v = node.label_atom(&c.topology_key).map_or("", |(_, v)| &**v);
                    if counts[i].contains_key(v) {
                        let n = counter.count(node, i, &mut memo);
                        if let Some(slot) = counts[i].get_mut(v) {
                            *slot += n;
                        }
                    }
                }
            }
        }
        state.insert(PreScoreState {
            constraints: Arc::new(constraints),
            ignored: Arc::new(ignored),
            counts: Arc::new(counts),
            weights,
        });
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(s) = state.get::<PreScoreState>() else {
            return Err(Status::error(
                "reading PreScorePodTopologySpread from cycleState: not found",
            ));
        };
        if !s.ignored.is_empty() && s.ignored.contains(&*node.name) {
            return Ok(0);
        }
        let mut score = 0f64;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some((_, v)) = node.label_atom(&c.topology_key) else {
                continue;
            };
            let cnt = if *c.topology_key == *LABEL_HOSTNAME {
                count_matching(node, &c.selector, pod.namespace())
            } else {
                s.counts[i].get(&**v).copied().unwrap_or(0)
            };
            score += cnt as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        Ok(score.round() as i64)
    }

    fn normalize_scores(
        &self,
        state: &CycleState,
        _: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        let Some(s) = state.get::<PreScoreState>() else {
            return Status::success();
        };
        let (mut min, mut max) = (i64::MAX, 0i64);
        for (n, sc) in nodes.iter().zip(scores.iter()) {
            if !s.ignored.is_empty() && s.ignored.contains(&*n.name) {
                continue;
            }
            min = min.min(*sc);
            max = max.max(*sc);
        }
        for (n, sc) in nodes.iter().zip(scores.iter_mut()) {
            if !s.ignored.is_empty() && s.ignored.contains(&*n.name) {
                *sc = 0;
            } else if max == 0 {
                *sc = MAX_NODE_SCORE;
            } else {
                *sc = MAX_NODE_SCORE * (max + min - *sc) / max;
            }
        }
        Status::success()
    }

    fn has_normalize(&self) -> bool {
        true
    }
}
