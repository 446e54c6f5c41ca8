//! NodeAffinity: `nodeSelector`, required and preferred node affinity, and the profile's
//! `addedAffinity`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::PreferredSchedulingTerm;
use rustc_hash::FxHashSet;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{
    ClusterEventWithHint, EventObjects, EventResource, QueueingHint, action,
};
use crate::framework::{
    CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult, PreScorePlugin,
    ScorePlugin, Status,
};
use crate::model::PodInfo;
use crate::plugins::helpers::{
    NodeTerm, RequiredNodeAffinity, default_normalize, node_labels, parse_node_selector,
    terms_match,
};

/// Registered name.
pub const NAME: &str = "NodeAffinity";
/// The pod's node affinity/selector does not match.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// The profile's added affinity does not match.
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";
/// The pod's matchFields name sets do not intersect.
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

/// Upstream's `NodeAffinity`.
#[derive(Debug, Default)]
pub struct NodeAffinity {
    added_selector: Option<Vec<NodeTerm>>,
    added_preferred: Vec<(i64, NodeTerm)>,
}

/// Factory.
pub fn new(args: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    let mut pl = NodeAffinity::default();
    if let Some(a) = &args.node_affinity.added_affinity {
        pl.added_selector = a
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .map(parse_node_selector);
        pl.added_preferred = preferred(
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref()
                .unwrap_or_default(),
        );
    }
    Ok(Arc::new(pl))
}

fn preferred(terms: &[PreferredSchedulingTerm]) -> Vec<(i64, NodeTerm)> {
    terms
        .iter()
        .filter(|t| {
            t.weight != 0
                && !(t
                    .preference
                    .match_expressions
                    .as_ref()
                    .is_none_or(|v| v.is_empty())
                    && t.preference
                        .match_fields
                        .as_ref()
                        .is_none_or(|v| v.is_empty()))
        })
        .map(|t| (i64::from(t.weight), NodeTerm::new(&t.preference)))
        .collect()
}

fn score_preferred(terms: &[(i64, NodeTerm)], node: &NodeInfo) -> i64 {
    let labels = node_labels(node);
    terms
        .iter()
        .filter(|(_, t)| t.matches(&node.name, labels))
        .map(|(w, _)| *w)
        .sum()
}

#[derive(Clone)]
struct PreFilterState(RequiredNodeAffinity);

#[derive(Clone)]
struct PreScoreState(Vec<(i64, NodeTerm)>);

fn hint_node(pod: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    let EventObjects::Node {
        old,
        new: Some(new),
    } = objs
    else {
        return QueueingHint::Queue;
    };
    let req = RequiredNodeAffinity::of(pod.pod());
    if !req.matches_node(new) {
        return QueueingHint::Skip;
    }
    match old {
        Some(o) if req.matches_node(o) => QueueingHint::Skip,
        _ => QueueingHint::Queue,
    }
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![ClusterEventWithHint::with_hint(
            EventResource::Node,
            action::ADD | action::UPDATE_NODE_LABEL,
            hint_node,
        )]
    }
    crate::serves!(pre_filter, filter, pre_score, score);
}

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let spec = pod.pod().spec.as_ref();
        let required = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        let has_selector = spec.is_some_and(|s| s.node_selector.is_some());
        if required.is_none() && self.added_selector.is_none() && !has_selector {
            return (None, Status::skip());
        }
        state.insert(PreFilterState(RequiredNodeAffinity::of(pod.pod())));
        let Some(required) = required.filter(|r| !r.node_selector_terms.is_empty()) else {
            return (None, Status::success());
        };
        // Terms pinning metadata.name with In narrow the candidate nodes.
        let mut union: FxHashSet<String> = FxHashSet::default();
        for t in &required.node_selector_terms {
            let mut term_names: Option<FxHashSet<String>> = None;
            for r in t.match_fields.iter().flatten() {
                if r.key == "metadata.name" && r.operator == "In" {
                    let s: FxHashSet<String> = r.values.iter().flatten().cloned().collect();
                    term_names = Some(match term_names {
                        None => s,
                        Some(prev) => prev.intersection(&s).cloned().collect(),
                    });
                }
            }
            match term_names {
                None => return (None, Status::success()),
                Some(s) => union.extend(s),
            }
        }
        if union.is_empty() {
            return (None, Status::unresolvable(ERR_REASON_CONFLICT));
        }
        (
            Some(PreFilterResult {
                node_names: Some(union),
            }),
            Status::success(),
        )
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if let Some(added) = &self.added_selector
            && !terms_match(added, &node.name, node_labels(node))
        {
            return Status::unresolvable(ERR_REASON_ENFORCED);
        }
        let ok = match state.get::<PreFilterState>() {
            Some(s) => s.0.matches(node),
            None => RequiredNodeAffinity::of(pod.pod()).matches(node),
        };
        if ok {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

fn pod_preferred(pod: &PodInfo) -> Option<Vec<(i64, NodeTerm)>> {
    pod.pod()
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.preferred_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .map(preferred)
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
        _: &[&NodeInfo],
    ) -> Status {
        let terms = pod_preferred(pod);
        if terms.is_none() && self.added_preferred.is_empty() {
            return Status::skip();
        }
        state.insert(PreScoreState(terms.unwrap_or_default()));
        Status::success()
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let mut count = score_preferred(&self.added_preferred, node);
        match state.get::<PreScoreState>() {
            Some(s) => count += score_preferred(&s.0, node),
            None => {
                count += pod_preferred(pod)
                    .map(|t| score_preferred(&t, node))
                    .unwrap_or(0)
            }
        }
        Ok(count)
    }
    fn normalize_scores(
        &self,
        _: &CycleState,
        _: &PodInfo,
        _: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        default_normalize(scores, false);
        Status::success()
    }
    fn has_normalize(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
