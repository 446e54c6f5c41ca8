//! TaintToleration: NoSchedule/NoExecute taints must be tolerated; untolerated
//! PreferNoSchedule taints lower the score.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Toleration;

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
use crate::plugins::helpers::{default_normalize, pod_tolerations, tolerated, untolerated_taint};

/// Upstream's `TaintToleration`.
#[derive(Debug, Default)]
pub struct TaintToleration;

/// Registered name.
pub const NAME: &str = "TaintToleration";
/// Filter reason at v1.37 (upstream stopped naming the taint in 1.35).
pub const ERR_REASON_NOT_MATCH: &str = "node(s) had untolerated taint(s)";

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(TaintToleration))
}

#[derive(Clone)]
struct PreScoreState {
    prefer_no_schedule: Vec<Toleration>,
}

fn hint_node(pod: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    let tols = pod_tolerations(pod.pod());
    match objs {
        EventObjects::Node {
            old,
            new: Some(new),
        } => {
            let was = old.is_none_or(|o| untolerated_taint(&o.taints, tols).is_some());
            let is = untolerated_taint(&new.taints, tols).is_some();
            if was && !is {
                QueueingHint::Queue
            } else {
                QueueingHint::Skip
            }
        }
        _ => QueueingHint::Queue,
    }
}

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![
            ClusterEventWithHint::with_hint(
                EventResource::Node,
                action::ADD | action::UPDATE_NODE_TAINT,
                hint_node,
            ),
            ClusterEventWithHint::new(EventResource::UnscheduledPod, action::UPDATE_POD_TOLERATION),
        ]
    }
    crate::serves!(pre_filter, filter, pre_score, score);
}

impl PreFilterPlugin for TaintToleration {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        _: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        (None, Status::success())
    }
}

impl FilterPlugin for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if untolerated_taint(&node.taints, pod_tolerations(pod.pod())).is_none() {
            return Status::success();
        }
        Status::unresolvable(ERR_REASON_NOT_MATCH)
    }
}

impl PreScorePlugin for TaintToleration {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
        _: &[&NodeInfo],
    ) -> Status {
        let prefer_no_schedule = pod_tolerations(pod.pod())
            .iter()
            .filter(|t| {
                matches!(
                    t.effect.as_deref(),
                    None | Some("") | Some("PreferNoSchedule")
                )
            })
            .cloned()
            .collect();
        state.insert(PreScoreState { prefer_no_schedule });
        Status::success()
    }
}

impl ScorePlugin for TaintToleration {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let computed;
        let tols: &[Toleration] = match state.get::<PreScoreState>() {
            Some(s) => &s.prefer_no_schedule,
            None => {
                let mut st = CycleState::default();
                self.pre_score(&mut st, pod, &Snapshot::default(), &[]);
                computed = st
                    .get::<PreScoreState>()
                    .map(|s| s.prefer_no_schedule.clone())
                    .unwrap_or_default();
                &computed
            }
        };
        let n = node
            .taints
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule" && !tolerated(tols, t))
            .count();
        Ok(n as i64)
    }
    fn normalize_scores(
        &self,
        _: &CycleState,
        _: &PodInfo,
        _: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        default_normalize(scores, true);
        Status::success()
    }
    fn has_normalize(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::test_support::{ninfo, pinfo};

    fn node(name: &str, taints: &str) -> NodeInfo {
        ninfo(
            &format!("metadata: {{name: {name}}}\nspec: {{taints: {taints}}}"),
            &[],
        )
    }
    fn pod(tols: &str) -> PodInfo {
        pinfo(&format!(
            "metadata: {{name: p}}\nspec: {{containers: [], tolerations: {tols}}}"
        ))
    }

    #[test]
    fn filter_table() {
        // From upstream's TestTaintTolerationFilter.
        let cases = [
            (
                "[]",
                "[{key: dedicated, value: user1, effect: NoSchedule}]",
                false,
            ),
            (
                "[{key: dedicated, value: user1, effect: NoSchedule}]",
                "[{key: dedicated, value: user1, effect: NoSchedule}]",
                true,
            ),
            (
                "[{key: dedicated, operator: Equal, value: user2, effect: NoSchedule}]",
                "[{key: dedicated, value: user1, effect: NoSchedule}]",
                false,
            ),
            (
                "[{key: foo, operator: Exists, effect: NoSchedule}]",
                "[{key: foo, value: bar, effect: NoSchedule}]",
                true,
            ),
            (
                "[{key: dedicated, operator: Equal, value: user2, effect: NoSchedule}, {key: foo, operator: Exists, effect: NoSchedule}]",
                "[{key: dedicated, value: user2, effect: NoSchedule}, {key: foo, value: bar, effect: NoSchedule}]",
                true,
            ),
            (
                "[{key: foo, operator: Equal, value: bar, effect: PreferNoSchedule}]",
                "[{key: foo, value: bar, effect: NoSchedule}]",
                false,
            ),
            (
                "[{key: foo, operator: Equal, value: bar}]",
                "[{key: foo, value: bar, effect: NoSchedule}]",
                true,
            ),
            (
                "[{key: dedicated, operator: Equal, value: user2, effect: NoSchedule}]",
                "[{key: dedicated, value: user1, effect: PreferNoSchedule}]",
                true,
            ),
            ("[]", "[{key: k, value: v, effect: NoExecute}]", false),
        ];
        for (tols, taints, ok) in cases {
            let s = TaintToleration.filter(&CycleState::default(), &pod(tols), &node("n", taints));
            assert_eq!(s.is_success(), ok, "{tols} vs {taints}");
            if !ok {
                assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
                assert_eq!(s.message(), ERR_REASON_NOT_MATCH);
            }
        }
    }

    #[test]
    fn score_table() {
        // From upstream's TestTaintTolerationScore: (pod tolerations, node taints per node, normalized scores).
        let cases: &[(&str, &[&str], &[i64])] = &[
            (
                "[{key: foo, operator: Equal, value: bar, effect: PreferNoSchedule}]",
                &[
                    "[{key: foo, value: bar, effect: PreferNoSchedule}]",
                    "[{key: foo, value: blah, effect: PreferNoSchedule}]",
                ],
                &[100, 0],
            ),
            (
                "[{key: cpu-type, operator: Equal, value: arm64, effect: PreferNoSchedule}, {key: disk-type, operator: Equal, value: ssd, effect: PreferNoSchedule}]",
                &[
                    "[]",
                    "[{key: cpu-type, value: arm64, effect: PreferNoSchedule}]",
                    "[{key: cpu-type, value: arm64, effect: PreferNoSchedule}, {key: disk-type, value: ssd, effect: PreferNoSchedule}]",
                ],
                &[100, 100, 100],
            ),
            (
                "[{key: foo, operator: Equal, value: bar, effect: NoSchedule}]",
                &[
                    "[]",
                    "[{key: cpu-type, value: arm64, effect: NoSchedule}]",
                    "[{key: cpu-type, value: arm64, effect: PreferNoSchedule}]",
                ],
                &[100, 100, 0],
            ),
            (
                "[]",
                &[
                    "[{key: a, value: b, effect: PreferNoSchedule}]",
                    "[{key: a, value: b, effect: PreferNoSchedule}, {key: c, value: d, effect: PreferNoSchedule}]",
                    "[]",
                ],
                &[50, 0, 100],
            ),
        ];
        for (tols, taints, want) in cases {
            let p = pod(tols);
            let nodes: Vec<Arc<NodeInfo>> = taints
                .iter()
                .enumerate()
                .map(|(i, t)| Arc::new(node(&format!("n{i}"), t)))
                .collect();
            let mut st = CycleState::default();
            assert!(
                TaintToleration
                    .pre_score(
                        &mut st,
                        &p,
                        &Snapshot::default(),
                        &crate::test_support::refs(&nodes)
                    )
                    .is_success()
            );
            let mut scores: Vec<i64> = nodes
                .iter()
                .map(|n| TaintToleration.score(&st, &p, n).unwrap())
                .collect();
            TaintToleration.normalize_scores(
                &st,
                &p,
                &crate::test_support::refs(&nodes),
                &mut scores,
            );
            assert_eq!(&scores, want, "{tols}");
        }
    }
}
