//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods tolerating
//! the `node.kubernetes.io/unschedulable:NoSchedule` taint.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Taint;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{
    ClusterEventWithHint, EventObjects, EventResource, QueueingHint, action,
};
use crate::framework::{
    CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult, Status,
};
use crate::model::{PodInfo, SlimNode};
use crate::plugins::helpers::{pod_tolerations, tolerated};

/// Upstream's `NodeUnschedulable`.
#[derive(Debug, Default)]
pub struct NodeUnschedulable;

/// Registered name.
pub const NAME: &str = "NodeUnschedulable";
/// Filter reason.
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(NodeUnschedulable))
}

fn unschedulable_taint() -> Taint {
    Taint {
        key: "node.kubernetes.io/unschedulable".into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    }
}

fn tolerates_unschedulable(pod: &PodInfo) -> bool {
    tolerated(pod_tolerations(pod.pod()), &unschedulable_taint())
}

fn hint_node(pod: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    let _ = pod;
    let unsched = |n: &SlimNode| n.unschedulable;
    match objs {
        EventObjects::Node {
            old: Some(o),
            new: Some(n),
        } if unsched(o) && !unsched(n) => QueueingHint::Queue,
        EventObjects::Node {
            old: None,
            new: Some(n),
        } if !unsched(n) => QueueingHint::Queue,
        EventObjects::Node { .. } => QueueingHint::Skip,
        _ => QueueingHint::Queue,
    }
}

fn hint_toleration(pod: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    match objs {
        EventObjects::Pod { new: Some(p), .. } => {
            if tolerated(pod_tolerations(p), &unschedulable_taint()) {
                QueueingHint::Queue
            } else {
                QueueingHint::Skip
            }
        }
        _ => {
            let _ = pod;
            QueueingHint::Queue
        }
    }
}

impl Plugin for NodeUnschedulable {
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
            ClusterEventWithHint::with_hint(
                EventResource::UnscheduledPod,
                action::UPDATE_POD_TOLERATION,
                hint_toleration,
            ),
        ]
    }
    crate::serves!(pre_filter, filter);
}

impl PreFilterPlugin for NodeUnschedulable {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        _: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        (None, Status::success())
    }
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable || tolerates_unschedulable(pod) {
            return Status::success();
        }
        Status::unresolvable(ERR_REASON_UNSCHEDULABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::test_support::{ninfo, pinfo};

    #[test]
    fn filter_table() {
        let tol = "[{key: node.kubernetes.io/unschedulable, operator: Exists, effect: NoSchedule}]";
        let cases = [
            ("spec: {unschedulable: true}", "[]", false),
            ("spec: {unschedulable: false}", "[]", true),
            ("spec: {}", "[]", true),
            ("spec: {unschedulable: true}", tol, true),
        ];
        for (nspec, tols, ok) in cases {
            let node = ninfo(&format!("metadata: {{name: n}}\n{nspec}"), &[]);
            let p = pinfo(&format!(
                "metadata: {{name: p}}\nspec: {{containers: [], tolerations: {tols}}}"
            ));
            let s = NodeUnschedulable.filter(&CycleState::default(), &p, &node);
            assert_eq!(s.is_success(), ok, "{nspec} {tols}");
            if !ok {
                assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
                assert_eq!(s.message(), ERR_REASON_UNSCHEDULABLE);
            }
        }
    }
}
