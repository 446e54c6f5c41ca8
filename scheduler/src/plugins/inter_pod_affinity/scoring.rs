//! InterPodAffinity's scoring: preferred terms of the incoming pod, and the required
//! (weighted by `hardPodAffinityWeight`) and preferred terms of existing pods.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, PreScorePlugin, ScorePlugin, Status};
use crate::model::PodInfo;
use crate::plugins::helpers::{MAX_NODE_SCORE, node_labels};
use crate::plugins::inter_pod_affinity::{
    AffinityTerm, InterPodAffinity, preferred_affinity, preferred_anti_affinity,
};

type ScoreMap = FxHashMap<String, FxHashMap<String, i64>>;

/// PreScore state: score per topology key and value.
#[derive(Debug, Clone)]
pub struct PreScoreState(Arc<ScoreMap>);

/// One node's contributions: (topology key, value, weight), borrowed from the node's labels.
type Contributions<'a> = Vec<(&'a str, &'a str, i64)>;

/// Adds `weight` to the node's domain of the term's key when the term selects `pod`.
fn process_term<'a>(
    out: &mut Contributions<'a>,
    t: &AffinityTerm,
    weight: i64,
    pod: &PodInfo,
    ns: Option<&BTreeMap<String, String>>,
    node: &'a NodeInfo,
) {
    if t.matches(pod, ns)
        && let Some((k, v)) = node_labels(node).atom(&t.topology_key)
    {
        // A node has one value per key, so a linear search over a handful of keys dedupes.
        match out.iter_mut().find(|(ek, _, _)| *ek == &**k) {
            Some(e) => e.2 += weight,
            None => out.push((k, v, weight)),
        }
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        _: &[&NodeInfo],
    ) -> Status {
        let mut pref = preferred_affinity(pod.pod());
        let mut pref_anti = preferred_anti_affinity(pod.pod());
        let has_constraints = !pref.is_empty() || !pref_anti.is_empty();
        if self.ignore_preferred_terms_of_existing_pods && !has_constraints {
            return Status::skip();
        }
        // Without terms of its own, only existing pods' required affinity and preferred
        // terms can score: with none in the cluster every node would score 0, which
        // is what skipping gives.
        if !has_constraints && !snapshot.has_pods_with_scoring_affinity() {
            return Status::skip();
        }
        let all = snapshot.nodes();
        for (_, t) in pref.iter_mut().chain(pref_anti.iter_mut()) {
            t.merge_namespaces(|| self.lister.namespaces());
        }
        let ns_labels = self.ns_labels(pod);
        let hard_weight = self.hard_pod_affinity_weight;
        let per_node: Vec<Contributions<'_>> = all
            .par_iter()
            .filter(|n| {
                (has_constraints || n.pods_with_scoring_affinity > 0) && !node_labels(n).is_empty()
            })
            .map(|node| {
                let mut out: Contributions<'_> = Vec::new();
                for existing in node
                    .pods
                    .iter()
                    .filter(|p| has_constraints || p.has_scoring_affinity)
                {
                    let e: &PodInfo = existing;
                    for (w, t) in &pref {
                        process_term(&mut out, t, *w, e, None, node);
                    }
                    for (w, t) in &pref_anti {
                        process_term(&mut out, t, -*w, e, None, node);
                    }
                    if !existing.has_affinity {
                        continue;
                    }
                    let terms = existing.affinity_terms();
                    if hard_weight > 0 {
                        for t in &terms.required_affinity {
                            process_term(&mut out, t, hard_weight, pod, Some(&ns_labels), node);
                        }
                    }
                    for (w, t) in &terms.preferred_affinity {
                        process_term(&mut out, t, *w, pod, Some(&ns_labels), node);
                    }
                    for (w, t) in &terms.preferred_anti_affinity {
                        process_term(&mut out, t, -*w, pod, Some(&ns_labels), node);
                    }
                }
                out
            })
            .filter(|c| !c.is_empty())
            .collect();
        let any = !per_node.is_empty();
        let mut m = ScoreMap::default();
        for (k, v, w) in per_node.into_iter().flatten() {
            let values = match m.get_mut(k) {
                Some(values) => values,
                None => m.entry(k.to_string()).or_default(),
            };
            match values.get_mut(v) {
                Some(e) => *e += w,
                None => {
                    values.insert(v.to_string(), w);
                }
            }
        }
        if !any {
            return Status::skip();
        }
        state.insert(PreScoreState(Arc::new(m)));
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(s) = state.get::<PreScoreState>() else {
            return Err(Status::error(
                "failed to read PreScoreInterPodAffinity from cycleState",
            ));
        };
        let labels = node_labels(node);
        Ok(s.0
            .iter()
            .filter_map(|(k, vs)| labels.get(k).map(|v| vs.get(v).copied().unwrap_or(0)))
            .sum())
    }

    fn normalize_scores(
        &self,
        state: &CycleState,
        _: &PodInfo,
        _: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        let Some(s) = state.get::<PreScoreState>() else {
            return Status::success();
        };
        if s.0.is_empty() {
            return Status::success();
        }
        let min = scores.iter().copied().min().unwrap_or(0);
        let max = scores.iter().copied().max().unwrap_or(0);
        let diff = max - min;
        for sc in scores.iter_mut() {
            *sc = if diff > 0 {
                (MAX_NODE_SCORE as f64 * ((*sc - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
        Status::success()
    }

    fn has_normalize(&self) -> bool {
        true
    }
}
