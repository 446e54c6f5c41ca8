//! NodePorts: a pod's host ports must be free on the node.

use std::sync::Arc;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{
    ClusterEventWithHint, EventObjects, EventResource, QueueingHint, action,
};
use crate::framework::{
    CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult, Status,
};
use crate::model::{HostPort, PodInfo};

/// Upstream's `NodePorts`.
#[derive(Debug, Default)]
pub struct NodePorts;

/// Registered name.
pub const NAME: &str = "NodePorts";
/// Filter reason.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(NodePorts))
}

const ANY_IP: &str = "0.0.0.0";

/// Whether `want` conflicts with `used` (upstream's HostPortInfo.CheckConflict: the
/// wildcard address conflicts with every address).
pub fn conflicts(want: &HostPort, used: &HostPort) -> bool {
    want.port == used.port
        && want.protocol == used.protocol
        && (want.ip == used.ip || want.ip == ANY_IP || used.ip == ANY_IP)
}

/// Whether any of `ports` is taken on `node`.
pub fn fits_ports(ports: &[HostPort], node: &NodeInfo) -> bool {
    !ports
        .iter()
        .any(|w| node.used_ports.iter().any(|u| conflicts(w, u)))
}

fn hint_pod_deleted(pod: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    match objs {
        EventObjects::Pod {
            old: Some(deleted),
            new: None,
        } => {
            let freed = PodInfo::new(Arc::new(deleted.clone()));
            let helps = pod
                .host_ports
                .iter()
                .any(|w| freed.host_ports.iter().any(|u| conflicts(w, u)));
            if helps {
                QueueingHint::Queue
            } else {
                QueueingHint::Skip
            }
        }
        _ => QueueingHint::Queue,
    }
}

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![
            ClusterEventWithHint::with_hint(
                EventResource::AssignedPod,
                action::DELETE,
                hint_pod_deleted,
            ),
            ClusterEventWithHint::new(EventResource::Node, action::ADD),
        ]
    }
    crate::serves!(pre_filter, filter);
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        if pod.host_ports.is_empty() {
            return (None, Status::skip());
        }
        (None, Status::success())
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if fits_ports(&pod.host_ports, node) {
            Status::success()
        } else {
            Status::unschedulable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::test_support::{ninfo, pinfo};

    fn pod_with_ports(ports: &[(&str, &str, i32)]) -> String {
        let ps: Vec<String> = ports
            .iter()
            .map(|(proto, ip, port)| {
                format!(
                    "{{containerPort: {port}, hostPort: {port}, protocol: {proto}, hostIP: '{ip}'}}"
                )
            })
            .collect();
        format!(
            "metadata: {{name: p, uid: p{}}}\nspec:\n  containers: [{{name: c, image: i, ports: [{}]}}]\n",
            ports.len(),
            ps.join(", ")
        )
    }

    #[test]
    fn filter_table() {
        // From upstream's TestNodePorts.
        type Ports<'a> = &'a [(&'a str, &'a str, i32)];
        let cases: &[(Ports, Ports, bool)] = &[
            (&[], &[], true),
            (
                &[("UDP", "127.0.0.1", 8080)],
                &[("UDP", "127.0.0.1", 9090)],
                true,
            ),
            (
                &[("UDP", "127.0.0.1", 8080)],
                &[("UDP", "127.0.0.1", 8080)],
                false,
            ),
            (
                &[("TCP", "127.0.0.1", 8080)],
                &[("TCP", "127.0.0.1", 8080)],
                false,
            ),
            (
                &[("TCP", "127.0.0.1", 8080)],
                &[("UDP", "127.0.0.1", 8080)],
                true,
            ),
            (
                &[("TCP", "127.0.0.1", 8080)],
                &[("TCP", "127.0.0.2", 8080)],
                true,
            ),
            (
                &[("UDP", "127.0.0.1", 8080)],
                &[("TCP", "127.0.0.1", 8001), ("UDP", "127.0.0.1", 8080)],
                false,
            ),
            (
                &[("TCP", "0.0.0.0", 8001)],
                &[("TCP", "127.0.0.1", 8001)],
                false,
            ),
            (
                &[("TCP", "10.0.10.10", 8001), ("TCP", "0.0.0.0", 8001)],
                &[("TCP", "127.0.0.1", 8001)],
                false,
            ),
            (
                &[("TCP", "0.0.0.0", 8001)],
                &[("TCP", "127.0.0.1", 8001), ("TCP", "0.0.0.0", 8001)],
                false,
            ),
            (
                &[("TCP", "127.0.0.1", 8001)],
                &[("TCP", "0.0.0.0", 8001)],
                false,
            ),
            (
                &[("TCP", "127.0.0.1", 8001)],
                &[("UDP", "0.0.0.0", 8001)],
                true,
            ),
            (&[("UDP", "", 8001)], &[("UDP", "127.0.0.1", 8001)], false),
        ];
        for (want, used, ok) in cases {
            let existing = pod_with_ports(used);
            let node = ninfo("metadata: {name: n}", &[&existing]);
            let p = pinfo(&pod_with_ports(want));
            let mut st = CycleState::default();
            let (_, pre) = NodePorts.pre_filter(&mut st, &p, &Snapshot::default());
            if want.is_empty() {
                assert!(pre.is_skip());
                continue;
            }
            let s = NodePorts.filter(&st, &p, &node);
            assert_eq!(s.is_success(), *ok, "{want:?} vs {used:?}");
            if !ok {
                assert_eq!(s.code(), Code::Unschedulable);
                assert_eq!(s.message(), ERR_REASON);
            }
        }
    }
}
