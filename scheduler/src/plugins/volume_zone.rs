//! Upstream's `VolumeZone`: a node must be in the zones and regions the pod's bound PVs
//! are labelled with (`topology.kubernetes.io/zone`, `.../region` and their beta forms;
//! `a__b` names several zones). Nodes without any such label pass.

use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{ClusterEventWithHint, EventResource, action};
use crate::framework::{
    ClusterLister, CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult,
    Status,
};
use crate::model::PodInfo;
use crate::plugins::helpers::node_labels;
use crate::plugins::volume_binding::claim_hint;
use crate::plugins::volume_util::{
    TOPOLOGY_LABELS, claim_class, claim_volume_name, not_found, zone_set,
};

/// Registered name.
pub const NAME: &str = "VolumeZone";
/// The node is not in a zone (or region) of the pod's volumes.
pub const ERR_REASON_CONFLICT: &str = "node(s) had no available volume zone";

/// Upstream's `VolumeZone`.
pub struct VolumeZone {
    lister: Arc<dyn ClusterLister>,
}

/// Factory.
pub fn new(_: &PluginArgsSet, handle: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(VolumeZone {
        lister: handle.lister.clone(),
    }))
}

/// One PV label: its key and the zones (or regions) it names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PvTopology {
    key: &'static str,
    values: FxHashSet<String>,
}

#[derive(Debug, Clone, Default)]
struct State(Vec<PvTopology>);

fn ga_label(key: &str) -> &str {
    match key {
        "failure-domain.beta.kubernetes.io/zone" => "topology.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region" => "topology.kubernetes.io/region",
        k => k,
    }
}

impl VolumeZone {
    fn pv_topologies(&self, pod: &PodInfo) -> Result<Vec<PvTopology>, Status> {
        let mut out = Vec::new();
        for v in pod.volumes() {
            let Some(c) = &v.persistent_volume_claim else {
                continue;
            };
            let name = c.claim_name.as_str();
            if name.is_empty() {
                return Err(Status::unresolvable("PersistentVolumeClaim had no name"));
            }
            let pvc = self
                .lister
                .persistent_volume_claim(pod.namespace(), name)
                .ok_or_else(|| Status::unresolvable(not_found("persistentvolumeclaim", name)))?;
            let pv_name = claim_volume_name(&pvc);
            if pv_name.is_empty() {
                let class = claim_class(&pvc);
                if class.is_empty() {
                    return Err(Status::unresolvable(
                        "PersistentVolumeClaim had no pv name and storageClass name",
                    ));
                }
                let sc = self.lister.storage_class(class).ok_or_else(|| {
                    Status::unresolvable(not_found("storageclass.storage.k8s.io", class))
                })?;
                match sc.volume_binding_mode.as_deref() {
                    None => {
                        return Err(Status::unresolvable(format!(
                            "VolumeBindingMode not set for StorageClass \"{class}\""
                        )));
                    }
                    Some("WaitForFirstConsumer") => continue,
                    Some(_) => return Err(Status::unresolvable("PersistentVolume had no name")),
                }
            }
            let pv = self
                .lister
                .persistent_volume(pv_name)
                .ok_or_else(|| Status::unresolvable(not_found("persistentvolume", pv_name)))?;
            let Some(labels) = &pv.metadata.labels else {
                continue;
            };
            for key in TOPOLOGY_LABELS {
                if let Some(values) = labels.get(key).and_then(|v| zone_set(v)) {
                    out.push(PvTopology {
                        key,
                        values: values.into_iter().collect(),
                    });
                }
            }
        }
        Ok(out)
    }
}

impl Plugin for VolumeZone {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![
            ClusterEventWithHint::new(EventResource::StorageClass, action::ADD),
            ClusterEventWithHint::new(EventResource::Node, action::ADD | action::UPDATE_NODE_LABEL),
            ClusterEventWithHint::with_hint(
                EventResource::PersistentVolumeClaim,
                action::ADD | action::UPDATE,
                claim_hint,
            ),
            ClusterEventWithHint::new(
                EventResource::PersistentVolume,
                action::ADD | action::UPDATE,
            ),
        ]
    }
    crate::serves!(pre_filter, filter);
}

impl PreFilterPlugin for VolumeZone {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        match self.pv_topologies(pod) {
            Err(s) => (None, s),
            Ok(t) if t.is_empty() => (None, Status::skip()),
            Ok(t) => {
                state.insert(State(t));
                (None, Status::success())
            }
        }
    }
}

impl FilterPlugin for VolumeZone {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(State(topologies)) = state.get::<State>() else {
            return Status::success();
        };
        let labels = node_labels(node);
        if !TOPOLOGY_LABELS.iter().any(|k| labels.contains_key(k)) {
            return Status::success();
        }
        for t in topologies {
            let v = labels.get(t.key).or_else(|| labels.get(ga_label(t.key)));
            if !v.is_some_and(|v| t.values.contains(v)) {
                return Status::unresolvable(ERR_REASON_CONFLICT);
            }
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::test_support::storage::Storage;
    use crate::test_support::{ninfo, pinfo};

    fn pod(claim: &str) -> PodInfo {
        pinfo(&format!(
            "metadata: {{name: p, namespace: default}}\nspec: {{containers: [], volumes: [{{name: v, persistentVolumeClaim: {{claimName: {claim}}}}}]}}"
        ))
    }

    fn storage() -> Storage {
        let bound = |c: &str, pv: &str| {
            format!("metadata: {{name: {c}, namespace: default}}\nspec: {{volumeName: {pv}}}")
        };
        Storage::default()
            .claim(&bound("in-a", "pv-a"))
            .claim(&bound("in-ab", "pv-ab"))
            .claim(&bound("beta", "pv-beta"))
            .claim(&bound("region", "pv-region"))
            .claim(&bound("dangling", "pv-missing"))
            .claim("metadata: {name: wffc, namespace: default}\nspec: {storageClassName: late}")
            .claim("metadata: {name: immediate, namespace: default}\nspec: {storageClassName: now}")
            .claim("metadata: {name: classless, namespace: default}\nspec: {storageClassName: ''}")
            .class(
                "metadata: {name: late}\nprovisioner: p\nvolumeBindingMode: WaitForFirstConsumer",
            )
            .class("metadata: {name: now}\nprovisioner: p\nvolumeBindingMode: Immediate")
            .volume("metadata: {name: pv-a, labels: {topology.kubernetes.io/zone: a}}")
            .volume("metadata: {name: pv-ab, labels: {topology.kubernetes.io/zone: a__b}}")
            .volume(
                "metadata: {name: pv-beta, labels: {failure-domain.beta.kubernetes.io/zone: b}}",
            )
            .volume("metadata: {name: pv-region, labels: {topology.kubernetes.io/region: r1}}")
    }

    fn node(labels: &str) -> NodeInfo {
        ninfo(&format!("metadata: {{name: n, labels: {{{labels}}}}}"), &[])
    }

    #[test]
    fn zones_and_regions() {
        let p = VolumeZone {
            lister: Arc::new(storage()),
        };
        let (za, zb) = (
            node("topology.kubernetes.io/zone: a"),
            node("topology.kubernetes.io/zone: b"),
        );
        let beta_b = node("failure-domain.beta.kubernetes.io/zone: b");
        let unlabelled = node("kubernetes.io/hostname: n");
        let region = node("topology.kubernetes.io/region: r2, topology.kubernetes.io/zone: a");
        let cases: [(&str, &NodeInfo, bool); 10] = [
            ("in-a", &za, true),
            ("in-a", &zb, false),
            ("in-a", &unlabelled, true),
            ("in-ab", &zb, true),
            ("in-ab", &beta_b, false),
            // A beta PV label is also read from the GA node label.
            ("beta", &zb, true),
            ("beta", &beta_b, true),
            ("beta", &za, false),
            ("region", &region, false),
            ("region", &za, false),
        ];
        for (claim, n, ok) in cases {
            let mut st = CycleState::default();
            let (_, pre) = p.pre_filter(&mut st, &pod(claim), &Snapshot::default());
            assert!(pre.is_success(), "{claim}: {pre:?}");
            let s = p.filter(&st, &pod(claim), n);
            if ok {
                assert!(s.is_success(), "{claim} on {:?}", n.node);
            } else {
                assert_eq!(
                    (s.code(), s.message().as_str()),
                    (Code::UnschedulableAndUnresolvable, ERR_REASON_CONFLICT),
                    "{claim}"
                );
            }
        }
        let pre = |c: &str| {
            p.pre_filter(&mut CycleState::default(), &pod(c), &Snapshot::default())
                .1
        };
        assert!(pre("wffc").is_skip());
        for (claim, msg) in [
            ("immediate", "PersistentVolume had no name"),
            (
                "classless",
                "PersistentVolumeClaim had no pv name and storageClass name",
            ),
            ("dangling", "persistentvolume \"pv-missing\" not found"),
            ("nope", "persistentvolumeclaim \"nope\" not found"),
        ] {
            let s = pre(claim);
            assert_eq!(
                (s.code(), s.message().as_str()),
                (Code::UnschedulableAndUnresolvable, msg)
            );
        }
    }
}
