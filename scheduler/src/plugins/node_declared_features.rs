//! NodeDeclaredFeatures: a pod needing a node feature (inferred from its spec, as
//! upstream's feature registry does at v1.37) fits only nodes declaring it in
//! `status.declaredFeatures`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PodSpec, VolumeMount};

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{
    ClusterEventWithHint, EventObjects, EventResource, QueueingHint, action,
};
use crate::framework::{
    CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult, Status,
};
use crate::model::PodInfo;

/// Registered name.
pub const NAME: &str = "NodeDeclaredFeatures";
/// Filter reason.
pub const ERR_REASON: &str = "node(s) didn't match Pod's required features";

/// Upstream's `NodeDeclaredFeatures`.
#[derive(Debug, Default)]
pub struct NodeDeclaredFeatures;

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(NodeDeclaredFeatures))
}

fn mounts(spec: &PodSpec) -> impl Iterator<Item = &VolumeMount> {
    let c = spec
        .containers
        .iter()
        .flat_map(|c| c.volume_mounts.iter().flatten());
    let i = spec
        .init_containers
        .iter()
        .flatten()
        .flat_map(|c| c.volume_mounts.iter().flatten());
    let e = spec
        .ephemeral_containers
        .iter()
        .flatten()
        .flat_map(|c| c.volume_mounts.iter().flatten());
    c.chain(i).chain(e)
}

/// The node features the pod needs (upstream's features whose scheduling inference can fire).
pub fn required_features(spec: &PodSpec) -> Vec<&'static str> {
    let mut out = Vec::new();
    let restart_all = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.restart_policy_rules.iter().flatten())
        .any(|r| r.action == "RestartAllContainers");
    if restart_all {
        out.push("RestartAllContainersOnContainerExits");
    }
    if spec.host_network == Some(true) && spec.host_users == Some(false) {
        out.push("UserNamespacesHostNetworkSupport");
    }
    if mounts(spec).any(|m| m.bind_mount_options.as_ref().is_some_and(|o| !o.is_empty())) {
        out.push("VolumeBindMountOptions");
    }
    out
}

#[derive(Clone)]
struct PreFilterState(Vec<&'static str>);

fn hint_node(_: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    match objs {
        EventObjects::Node {
            old: Some(o),
            new: Some(n),
        } if o.declared_features == n.declared_features => QueueingHint::Skip,
        _ => QueueingHint::Queue,
    }
}

impl Plugin for NodeDeclaredFeatures {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![
            ClusterEventWithHint::with_hint(
                EventResource::Node,
                action::ADD | action::UPDATE_OTHER,
                hint_node,
            ),
            ClusterEventWithHint::new(EventResource::UnscheduledPod, action::UPDATE_OTHER),
        ]
    }
    crate::serves!(pre_filter, filter);
}

impl PreFilterPlugin for NodeDeclaredFeatures {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let reqs = pod
            .pod()
            .spec
            .as_ref()
            .map(required_features)
            .unwrap_or_default();
        if reqs.is_empty() {
            return (None, Status::skip());
        }
        state.insert(PreFilterState(reqs));
        (None, Status::success())
    }
}

impl FilterPlugin for NodeDeclaredFeatures {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.get::<PreFilterState>() else {
            return Status::success();
        };
        let have = node
            .node
            .as_deref()
            .map(|n| n.declared_features.as_slice())
            .unwrap_or_default();
        if s.0.iter().all(|f| have.iter().any(|h| h == f)) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::test_support::{ninfo, pinfo};

    #[test]
    fn filter_table() {
        let plain = pinfo("metadata: {name: p}\nspec: {containers: [{name: c}]}");
        let userns = pinfo(
            "metadata: {name: p}\nspec: {hostNetwork: true, hostUsers: false, containers: [{name: c}]}",
        );
        let bind = pinfo(
            "metadata: {name: p}\nspec: {containers: [{name: c, volumeMounts: [{name: v, mountPath: /x, bindMountOptions: [nosuid]}]}]}",
        );
        let none = ninfo("metadata: {name: a}", &[]);
        let has = ninfo(
            "metadata: {name: b}\nstatus: {declaredFeatures: [UserNamespacesHostNetworkSupport]}",
            &[],
        );
        let run = |p: &PodInfo, n: &NodeInfo| {
            let mut st = CycleState::default();
            let (_, s) = NodeDeclaredFeatures.pre_filter(&mut st, p, &Snapshot::default());
            if s.is_skip() {
                return Status::success();
            }
            NodeDeclaredFeatures.filter(&st, p, n)
        };
        assert!(run(&plain, &none).is_success());
        let s = run(&userns, &none);
        assert_eq!(
            (s.code(), s.message().as_str()),
            (Code::UnschedulableAndUnresolvable, ERR_REASON)
        );
        assert!(run(&userns, &has).is_success());
        assert_eq!(run(&bind, &has).code(), Code::UnschedulableAndUnresolvable);
    }
}
