//! InterPodAffinity's scoring: preferred terms of the incoming pod, and the required
//! (weighted by `hardPodAffinityWeight`) and preferred terms of existing pods.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use rustc_hash::FxHashMap;

use crate::cache::NodeInfo;
use crate::framework::{CycleState, PreScorePlugin, ScorePlugin, Status};
use crate::model::PodInfo;
use crate::plugins::helpers::{AllNodes, MAX_NODE_SCORE, node_labels};
use crate::plugins::inter_pod_affinity::{
    AffinityTerm, InterPodAffinity, preferred_affinity, preferred_anti_affinity, required_affinity,
};

type ScoreMap = FxHashMap<String, FxHashMap<String, i64>>;

/// PreScore state: score per topology key and value.
#[derive(Debug, Clone)]
pub struct PreScoreState(Arc<ScoreMap>);

/// Adds `weight` to the node's domain when the term selects `pod`; returns whether it did.
fn process_term(
    m: &mut ScoreMap,
    t: &AffinityTerm,
    weight: i64,
    pod: &Pod,
    ns: Option<&BTreeMap<String, String>>,
    node: &NodeInfo,
) -> bool {
    if t.matches(pod, ns)
        && let Some(v) = node_labels(node).get(&t.topology_key)
    {
        *m.entry(t.topology_key.clone())
            .or_default()
            .entry(v.clone())
            .or_insert(0) += weight;
        return true;
    }
    false
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        filtered: &[Arc<NodeInfo>],
    ) -> Status {
        let mut pref = preferred_affinity(&pod.pod);
        let mut pref_anti = preferred_anti_affinity(&pod.pod);
        let has_constraints = !pref.is_empty() || !pref_anti.is_empty();
        if self.ignore_preferred_terms_of_existing_pods && !has_constraints {
            return Status::skip();
        }
        let all: Arc<Vec<Arc<NodeInfo>>> = match state.get::<AllNodes>() {
            Some(a) => a.nodes.clone(),
            None => Arc::new(filtered.to_vec()),
        };
        for (_, t) in pref.iter_mut().chain(pref_anti.iter_mut()) {
            t.merge_namespaces(self.lister.as_ref());
        }
        let ns_labels = self.ns_labels(pod);
        let mut m = ScoreMap::default();
        let mut any = false;
        for node in all
            .iter()
            .filter(|n| has_constraints || n.pods_with_affinity > 0)
        {
            if node_labels(node).is_empty() {
                continue;
            }
            for existing in node
                .pods
                .iter()
                .filter(|p| has_constraints || p.has_affinity)
            {
                let e = &existing.pod;
                for (w, t) in &pref {
                    any |= process_term(&mut m, t, *w, e, None, node);
                }
                for (w, t) in &pref_anti {
                    any |= process_term(&mut m, t, -*w, e, None, node);
                }
                if !existing.has_affinity {
                    continue;
                }
                if self.hard_pod_affinity_weight > 0 {
                    for t in required_affinity(e) {
                        any |= process_term(
                            &mut m,
                            &t,
                            self.hard_pod_affinity_weight,
                            &pod.pod,
                            Some(&ns_labels),
                            node,
                        );
                    }
                }
                for (w, t) in preferred_affinity(e) {
                    any |= process_term(&mut m, &t, w, &pod.pod, Some(&ns_labels), node);
                }
                for (w, t) in preferred_anti_affinity(e) {
                    any |= process_term(&mut m, &t, -w, &pod.pod, Some(&ns_labels), node);
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
        _: &[Arc<NodeInfo>],
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
