//! SchedulingGates: a pod with `spec.schedulingGates` stays out of the active queue.

use std::sync::Arc;

use crate::config::PluginArgsSet;
use crate::framework::events::{ClusterEventWithHint, EventResource, action};
use crate::framework::{Code, Handle, Plugin, PreEnqueuePlugin, Status};
use crate::model::PodInfo;

/// Upstream's `SchedulingGates`.
#[derive(Debug, Default)]
pub struct SchedulingGates;

/// Registered name.
pub const NAME: &str = "SchedulingGates";

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(SchedulingGates))
}

impl Plugin for SchedulingGates {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![ClusterEventWithHint::new(
            EventResource::UnscheduledPod,
            action::UPDATE_POD_SCHEDULING_GATES_ELIMINATED,
        )]
    }
    crate::serves!(pre_enqueue);
}

impl PreEnqueuePlugin for SchedulingGates {
    fn pre_enqueue(&self, pod: &PodInfo) -> Status {
        let gates = pod
            .pod()
            .spec
            .as_ref()
            .and_then(|s| s.scheduling_gates.as_deref())
            .unwrap_or_default();
        if gates.is_empty() {
            return Status::success();
        }
        // Go's %v of a []string: "[a b]".
        let names: Vec<&str> = gates.iter().map(|g| g.name.as_str()).collect();
        Status::new(
            Code::UnschedulableAndUnresolvable,
            format!("waiting for scheduling gates: [{}]", names.join(" ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::pinfo;

    #[test]
    fn gates() {
        let cases = [
            ("spec: {containers: []}", None),
            ("spec: {containers: [], schedulingGates: []}", None),
            (
                "spec: {containers: [], schedulingGates: [{name: foo}]}",
                Some("waiting for scheduling gates: [foo]"),
            ),
            (
                "spec: {containers: [], schedulingGates: [{name: foo}, {name: bar}]}",
                Some("waiting for scheduling gates: [foo bar]"),
            ),
        ];
        for (spec, want) in cases {
            let p = pinfo(&format!("metadata: {{name: p}}\n{spec}"));
            let s = SchedulingGates.pre_enqueue(&p);
            match want {
                None => assert!(s.is_success(), "{spec}"),
                Some(msg) => {
                    assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
                    assert_eq!(s.message(), msg);
                }
            }
        }
    }
}
