//! Upstream's `VolumeRestrictions`: inline disks that cannot be shared (GCE PD, AWS EBS,
//! iSCSI, RBD) conflict with the same disk on the node, and a ReadWriteOncePod claim can be
//! used by one pod in the whole cluster.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Volume;
use rustc_hash::FxHashSet;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{ClusterEventWithHint, EventResource, action};
use crate::framework::{
    ClusterLister, CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult,
    Status,
};
use crate::model::PodInfo;
use crate::plugins::volume_binding::claim_hint;
use crate::plugins::volume_util::not_found;

/// Registered name.
pub const NAME: &str = "VolumeRestrictions";
/// An inline disk of the pod is in use on the node.
pub const ERR_REASON_DISK_CONFLICT: &str = "node(s) had no available disk";
/// A ReadWriteOncePod claim of the pod is in use by another pod.
pub const ERR_REASON_RWOP_CONFLICT: &str = "node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode already in-use by another pod";

/// Upstream's `VolumeRestrictions`.
pub struct VolumeRestrictions {
    lister: Arc<dyn ClusterLister>,
}

/// Factory.
pub fn new(_: &PluginArgsSet, handle: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(VolumeRestrictions {
        lister: handle.lister.clone(),
    }))
}

fn needs_restrictions_check(v: &Volume) -> bool {
    v.gce_persistent_disk.is_some()
        || v.aws_elastic_block_store.is_some()
        || v.rbd.is_some()
        || v.iscsi.is_some()
}

/// The pod's ReadWriteOncePod claims, and how many uses of them placed pods make.
#[derive(Debug, Clone, Default)]
struct State {
    rwop: FxHashSet<String>,
    conflicts: i64,
}

impl State {
    fn uses(&self, namespace: &str, pod: &PodInfo) -> i64 {
        if pod.namespace() != namespace {
            return 0;
        }
        pod.volumes()
            .iter()
            .filter_map(|v| v.persistent_volume_claim.as_ref())
            .filter(|c| self.rwop.contains(&c.claim_name))
            .count() as i64
    }
}

/// Upstream's `isVolumeConflict`: whether `v` conflicts with a volume of `other`.
pub fn volume_conflicts(v: &Volume, other: &PodInfo) -> bool {
    other.volumes().iter().any(|e| {
        let ro = |a: Option<bool>, b: Option<bool>| a.unwrap_or(false) && b.unwrap_or(false);
        if let (Some(a), Some(b)) = (&v.gce_persistent_disk, &e.gce_persistent_disk)
            && a.pd_name == b.pd_name
            && !ro(a.read_only, b.read_only)
        {
            return true;
        }
        if let (Some(a), Some(b)) = (&v.aws_elastic_block_store, &e.aws_elastic_block_store)
            && a.volume_id == b.volume_id
        {
            return true;
        }
        if let (Some(a), Some(b)) = (&v.iscsi, &e.iscsi)
            && a.iqn == b.iqn
            && !ro(a.read_only, b.read_only)
        {
            return true;
        }
        if let (Some(a), Some(b)) = (&v.rbd, &e.rbd)
            && a.monitors.iter().any(|m| b.monitors.contains(m))
            && a.pool == b.pool
            && a.image == b.image
            && !ro(a.read_only, b.read_only)
        {
            return true;
        }
        false
    })
}

impl Plugin for VolumeRestrictions {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![
            ClusterEventWithHint::new(EventResource::AssignedPod, action::DELETE),
            ClusterEventWithHint::new(EventResource::Node, action::ADD),
            ClusterEventWithHint::with_hint(
                EventResource::PersistentVolumeClaim,
                action::ADD,
                claim_hint,
            ),
        ]
    }
    crate::serves!(pre_filter, filter);
}

impl PreFilterPlugin for VolumeRestrictions {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let needs_check = pod.volumes().iter().any(needs_restrictions_check);
        let ns = pod.namespace();
        let mut st = State::default();
        for c in pod
            .volumes()
            .iter()
            .filter_map(|v| v.persistent_volume_claim.as_ref())
        {
            let Some(pvc) = self.lister.persistent_volume_claim(ns, &c.claim_name) else {
                return (
                    None,
                    Status::unresolvable(not_found("persistentvolumeclaim", &c.claim_name)),
                );
            };
            let modes = pvc.spec.as_ref().and_then(|s| s.access_modes.as_deref());
            if modes
                .unwrap_or_default()
                .iter()
                .any(|m| m == "ReadWriteOncePod")
            {
                st.rwop.insert(c.claim_name.clone());
            }
        }
        if !st.rwop.is_empty() {
            // Upstream's IsPVCUsedByPods: a claim counts once however many pods use it.
            let used: FxHashSet<&str> = snapshot
                .nodes()
                .iter()
                .flat_map(|n| n.pods.iter())
                .filter(|p| p.namespace() == ns)
                .flat_map(|p| p.volumes().iter())
                .filter_map(|v| v.persistent_volume_claim.as_ref())
                .map(|c| c.claim_name.as_str())
                .filter(|c| st.rwop.contains(*c))
                .collect();
            st.conflicts = used.len() as i64;
        }
        if !needs_check && st.conflicts == 0 {
            return (None, Status::skip());
        }
        state.insert(st);
        (None, Status::success())
    }
    fn has_extensions(&self) -> bool {
        true
    }
    fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        to_add: &Arc<PodInfo>,
        _: &NodeInfo,
    ) -> Status {
        if let Some(st) = state.get_mut::<State>() {
            st.conflicts += st.uses(pod.namespace(), to_add);
        }
        Status::success()
    }
    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        to_remove: &Arc<PodInfo>,
        _: &NodeInfo,
    ) -> Status {
        if let Some(st) = state.get_mut::<State>() {
            st.conflicts -= st.uses(pod.namespace(), to_remove);
        }
        Status::success()
    }
}

impl FilterPlugin for VolumeRestrictions {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let conflict = pod
            .volumes()
            .iter()
            .filter(|v| needs_restrictions_check(v))
            .any(|v| node.pods.iter().any(|p| volume_conflicts(v, p)));
        if conflict {
            return Status::unschedulable(ERR_REASON_DISK_CONFLICT);
        }
        match state.get::<State>() {
            Some(st) if st.conflicts > 0 => Status::unschedulable(ERR_REASON_RWOP_CONFLICT),
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::test_support::storage::Storage;
    use crate::test_support::{ninfo, pinfo};

    fn plugin_with(storage: Storage) -> VolumeRestrictions {
        VolumeRestrictions {
            lister: Arc::new(storage),
        }
    }

    fn plugin() -> VolumeRestrictions {
        plugin_with(Storage::default())
    }

    #[test]
    fn read_write_once_pod_claims() {
        let storage = Storage::default()
            .claim("metadata: {name: rwop, namespace: default}\nspec: {accessModes: [ReadWriteOncePod]}")
            .claim("metadata: {name: rwo, namespace: default}\nspec: {accessModes: [ReadWriteOnce]}");
        let p = plugin_with(storage);
        let uses = |name: &str, claim: &str, node: &str| {
            format!(
                "metadata: {{name: {name}, namespace: default, uid: {name}}}\nspec: {{containers: [], nodeName: {node}, volumes: [{{name: v, persistentVolumeClaim: {{claimName: {claim}}}}}]}}"
            )
        };
        let incoming = pinfo(&uses("new", "rwop", "''"));
        let holder = uses("holder", "rwop", "n1");
        let n1 = ninfo("metadata: {name: n1}", &[&holder]);
        let n2 = ninfo("metadata: {name: n2}", &[]);
        let snap = Snapshot::from_nodes(vec![n1.clone(), n2.clone()]);
        let mut st = CycleState::default();
        assert!(p.pre_filter(&mut st, &incoming, &snap).1.is_success());
        // In use anywhere in the cluster: every node rejects, preemption may help.
        for n in [&n1, &n2] {
            let s = p.filter(&st, &incoming, n);
            assert_eq!(
                (s.code(), s.message().as_str()),
                (Code::Unschedulable, ERR_REASON_RWOP_CONFLICT)
            );
        }
        // Preemption's dry run removing the holder clears the conflict.
        let holder = Arc::new(pinfo(&holder));
        assert!(p.remove_pod(&mut st, &incoming, &holder, &n1).is_success());
        assert!(p.filter(&st, &incoming, &n2).is_success());
        assert!(p.add_pod(&mut st, &incoming, &holder, &n1).is_success());
        assert!(!p.filter(&st, &incoming, &n2).is_success());
        // Not in use, or not ReadWriteOncePod: nothing to check.
        let empty = Snapshot::from_nodes(vec![n2.clone()]);
        assert!(
            p.pre_filter(&mut CycleState::default(), &incoming, &empty)
                .1
                .is_skip()
        );
        let rwo = pinfo(&uses("new", "rwo", "''"));
        assert!(
            p.pre_filter(&mut CycleState::default(), &rwo, &snap)
                .1
                .is_skip()
        );
        // A missing claim.
        let s = p
            .pre_filter(
                &mut CycleState::default(),
                &pinfo(&uses("new", "nope", "''")),
                &snap,
            )
            .1;
        assert_eq!(
            (s.code(), s.message().as_str()),
            (
                Code::UnschedulableAndUnresolvable,
                "persistentvolumeclaim \"nope\" not found"
            )
        );
    }

    fn pod(volumes: &str) -> PodInfo {
        pinfo(&format!(
            "metadata: {{name: p, uid: p}}\nspec: {{containers: [], volumes: {volumes}}}"
        ))
    }

    #[test]
    fn disk_conflicts() {
        // From upstream's TestGCEDiskConflicts / TestISCSIDiskConflicts / TestRBDDiskConflicts.
        let cases = [
            (
                "[{name: v, gcePersistentDisk: {pdName: foo}}]",
                "[{name: v, gcePersistentDisk: {pdName: foo}}]",
                false,
            ),
            (
                "[{name: v, gcePersistentDisk: {pdName: foo}}]",
                "[{name: v, gcePersistentDisk: {pdName: bar}}]",
                true,
            ),
            (
                "[{name: v, gcePersistentDisk: {pdName: foo, readOnly: true}}]",
                "[{name: v, gcePersistentDisk: {pdName: foo, readOnly: true}}]",
                true,
            ),
            (
                "[{name: v, awsElasticBlockStore: {volumeID: foo}}]",
                "[{name: v, awsElasticBlockStore: {volumeID: foo}}]",
                false,
            ),
            (
                "[{name: v, awsElasticBlockStore: {volumeID: foo}}]",
                "[{name: v, awsElasticBlockStore: {volumeID: bar}}]",
                true,
            ),
            (
                "[{name: v, iscsi: {iqn: a, targetPortal: p, lun: 0}}]",
                "[{name: v, iscsi: {iqn: a, targetPortal: p, lun: 0}}]",
                false,
            ),
            (
                "[{name: v, iscsi: {iqn: a, targetPortal: p, lun: 0, readOnly: true}}]",
                "[{name: v, iscsi: {iqn: a, targetPortal: p, lun: 0, readOnly: true}}]",
                true,
            ),
            (
                "[{name: v, rbd: {monitors: [a, b], pool: foo, image: bar}}]",
                "[{name: v, rbd: {monitors: [b, c], pool: foo, image: bar}}]",
                false,
            ),
            (
                "[{name: v, rbd: {monitors: [a], pool: foo, image: bar}}]",
                "[{name: v, rbd: {monitors: [c], pool: foo, image: bar}}]",
                true,
            ),
        ];
        for (mine, theirs, ok) in cases {
            let p = pod(mine);
            let existing = format!(
                "metadata: {{name: e, uid: e}}\nspec: {{containers: [], nodeName: n, volumes: {theirs}}}"
            );
            let node = ninfo("metadata: {name: n}", &[&existing]);
            let mut st = CycleState::default();
            let (_, pre) = plugin().pre_filter(&mut st, &p, &Snapshot::default());
            assert!(pre.is_success());
            let s = plugin().filter(&st, &p, &node);
            assert_eq!(s.is_success(), ok, "{mine} vs {theirs}");
            if !ok {
                assert_eq!(
                    (s.code(), s.message().as_str()),
                    (Code::Unschedulable, ERR_REASON_DISK_CONFLICT)
                );
            }
        }
    }
}
