//! The volume plugins. VolumeRestrictions checks inline disk conflicts as upstream does;
//! everything that needs PersistentVolumeClaims, PersistentVolumes, StorageClasses or
//! CSINodes is not built yet, so a pod using such volumes is held back in PreFilter with
//! a clear message instead of being placed as if it had none.

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Pod, Volume};

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{ClusterEventWithHint, EventResource, action};
use crate::framework::{
    BindContext, CycleState, FilterPlugin, Handle, Plugin, PreBindPlugin, PreFilterPlugin,
    PreFilterResult, PreScorePlugin, ReservePlugin, ScorePlugin, Status,
};
use crate::model::PodInfo;

/// VolumeRestrictions' disk-conflict reason.
pub const ERR_REASON_DISK_CONFLICT: &str = "node(s) had no available disk";

/// The message for a pod using a volume kind this scheduler cannot evaluate yet.
pub fn unsupported(kind: &str) -> String {
    format!("pod uses {kind} volumes, which this scheduler does not support yet")
}

fn volumes(pod: &Pod) -> &[Volume] {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default()
}

/// The first claim-backed volume kind the pod uses (`persistentVolumeClaim`, `ephemeral`).
pub fn claim_volume_kind(pod: &Pod) -> Option<&'static str> {
    volumes(pod).iter().find_map(|v| {
        if v.persistent_volume_claim.is_some() {
            Some("persistentVolumeClaim")
        } else if v.ephemeral.is_some() {
            Some("ephemeral")
        } else {
            None
        }
    })
}

/// In-tree volume kinds that upstream counts against CSI attach limits (CSI migration).
fn migratable_inline_kind(v: &Volume) -> Option<&'static str> {
    if v.gce_persistent_disk.is_some() {
        Some("gcePersistentDisk")
    } else if v.aws_elastic_block_store.is_some() {
        Some("awsElasticBlockStore")
    } else if v.azure_disk.is_some() {
        Some("azureDisk")
    } else if v.cinder.is_some() {
        Some("cinder")
    } else if v.vsphere_volume.is_some() {
        Some("vsphereVolume")
    } else if v.portworx_volume.is_some() {
        Some("portworxVolume")
    } else {
        None
    }
}

fn claim_guard(pod: &PodInfo) -> Status {
    match claim_volume_kind(&pod.pod) {
        Some(kind) => Status::unresolvable(unsupported(kind)),
        None => Status::skip(),
    }
}

fn needs_restrictions_check(v: &Volume) -> bool {
    v.gce_persistent_disk.is_some()
        || v.aws_elastic_block_store.is_some()
        || v.rbd.is_some()
        || v.iscsi.is_some()
}

/// Upstream's `isVolumeConflict`: whether `v` conflicts with a volume of `other`.
pub fn volume_conflicts(v: &Volume, other: &Pod) -> bool {
    volumes(other).iter().any(|e| {
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

macro_rules! volume_plugin {
    ($ty:ident, $name:literal, $doc:literal, [$($point:ident),*], $events:expr) => {
        #[doc = $doc]
        #[derive(Debug, Default)]
        pub struct $ty;

        impl $ty {
            /// Registered name.
            pub const NAME: &'static str = $name;
            /// Factory.
            pub fn factory(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
                Ok(Arc::new($ty))
            }
        }

        impl Plugin for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
                $events
            }
            $(volume_plugin!(@as $point);)*
        }
    };
    (@as pre_filter) => { fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> { Some(self) } };
    (@as filter) => { fn as_filter(&self) -> Option<&dyn FilterPlugin> { Some(self) } };
    (@as pre_score) => { fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> { Some(self) } };
    (@as score) => { fn as_score(&self) -> Option<&dyn ScorePlugin> { Some(self) } };
    (@as reserve) => { fn as_reserve(&self) -> Option<&dyn ReservePlugin> { Some(self) } };
    (@as pre_bind) => { fn as_pre_bind(&self) -> Option<&dyn PreBindPlugin> { Some(self) } };
}

fn claim_events() -> Vec<ClusterEventWithHint> {
    vec![
        ClusterEventWithHint::new(
            EventResource::PersistentVolumeClaim,
            action::ADD | action::UPDATE,
        ),
        ClusterEventWithHint::new(
            EventResource::PersistentVolume,
            action::ADD | action::UPDATE,
        ),
        ClusterEventWithHint::new(EventResource::StorageClass, action::ADD | action::UPDATE),
        ClusterEventWithHint::new(EventResource::Node, action::ADD | action::UPDATE_NODE_LABEL),
    ]
}

volume_plugin!(
    VolumeRestrictions,
    "VolumeRestrictions",
    "Upstream's `VolumeRestrictions`: inline disk conflicts; ReadWriteOncePod claims are guarded.",
    [pre_filter, filter],
    vec![
        ClusterEventWithHint::new(EventResource::AssignedPod, action::DELETE),
        ClusterEventWithHint::new(EventResource::Node, action::ADD),
        ClusterEventWithHint::new(
            EventResource::PersistentVolumeClaim,
            action::ADD | action::UPDATE
        ),
    ]
);
volume_plugin!(
    NodeVolumeLimits,
    "NodeVolumeLimits",
    "Upstream's `NodeVolumeLimits` (CSI attach limits): guarded until CSINodes are listed.",
    [pre_filter, filter],
    claim_events()
);
volume_plugin!(
    VolumeBinding,
    "VolumeBinding",
    "Upstream's `VolumeBinding`: guarded until claims and volumes are listed.",
    [pre_filter, filter, pre_score, score, reserve, pre_bind],
    claim_events()
);
volume_plugin!(
    VolumeZone,
    "VolumeZone",
    "Upstream's `VolumeZone`: guarded until claims and volumes are listed.",
    [pre_filter, filter],
    claim_events()
);

impl PreFilterPlugin for VolumeRestrictions {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        if claim_volume_kind(&pod.pod) == Some("persistentVolumeClaim") {
            return (
                None,
                Status::unresolvable(unsupported("persistentVolumeClaim")),
            );
        }
        if volumes(&pod.pod).iter().any(needs_restrictions_check) {
            (None, Status::success())
        } else {
            (None, Status::skip())
        }
    }
}

impl FilterPlugin for VolumeRestrictions {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let conflict = volumes(&pod.pod)
            .iter()
            .filter(|v| needs_restrictions_check(v))
            .any(|v| node.pods.iter().any(|p| volume_conflicts(v, &p.pod)));
        if conflict {
            Status::unschedulable(ERR_REASON_DISK_CONFLICT)
        } else {
            Status::success()
        }
    }
}

impl PreFilterPlugin for NodeVolumeLimits {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        if let Some(kind) = claim_volume_kind(&pod.pod)
            .or_else(|| volumes(&pod.pod).iter().find_map(migratable_inline_kind))
        {
            return (None, Status::unresolvable(unsupported(kind)));
        }
        (None, Status::skip())
    }
}

macro_rules! pass_filter {
    ($($ty:ident),*) => {$(
        impl FilterPlugin for $ty {
            fn filter(&self, _: &CycleState, _: &PodInfo, _: &NodeInfo) -> Status {
                Status::success()
            }
        }
    )*};
}
pass_filter!(NodeVolumeLimits, VolumeBinding, VolumeZone);

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        (None, claim_guard(pod))
    }
}

impl PreFilterPlugin for VolumeZone {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        match claim_volume_kind(&pod.pod) {
            Some("persistentVolumeClaim") => (
                None,
                Status::unresolvable(unsupported("persistentVolumeClaim")),
            ),
            _ => (None, Status::skip()),
        }
    }
}

impl PreScorePlugin for VolumeBinding {
    fn pre_score(&self, _: &mut CycleState, _: &PodInfo, _: &Snapshot, _: &[&NodeInfo]) -> Status {
        Status::skip()
    }
}

impl ScorePlugin for VolumeBinding {
    fn score(&self, _: &CycleState, _: &PodInfo, _: &NodeInfo) -> Result<i64, Status> {
        Ok(0)
    }
}

impl ReservePlugin for VolumeBinding {
    fn reserve(&self, _: &mut CycleState, _: &PodInfo, _: &str) -> Status {
        Status::success()
    }
    fn unreserve(&self, _: &mut CycleState, _: &PodInfo, _: &str) {}
}

impl PreBindPlugin for VolumeBinding {
    fn pre_bind<'a>(
        &'a self,
        _: &'a BindContext,
        _: &'a CycleState,
        _: &'a PodInfo,
        _: &'a str,
    ) -> BoxFuture<'a, Status> {
        Box::pin(async { Status::success() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::helpers::testutil::{ninfo, pinfo};

    fn pod(volumes: &str) -> PodInfo {
        pinfo(&format!(
            "metadata: {{name: p, uid: p}}\nspec: {{containers: [], volumes: {volumes}}}"
        ))
    }

    #[test]
    fn guards() {
        let pvc = pod("[{name: v, persistentVolumeClaim: {claimName: c}}]");
        let eph = pod("[{name: v, ephemeral: {volumeClaimTemplate: {spec: {}}}}]");
        let plain = pod("[{name: v, emptyDir: {}}]");
        let gce = pod("[{name: v, gcePersistentDisk: {pdName: d}}]");
        let snap = Snapshot::default();
        let run = |pf: &dyn PreFilterPlugin, p: &PodInfo| {
            pf.pre_filter(&mut CycleState::default(), p, &snap).1
        };
        let pvc_msg =
            "pod uses persistentVolumeClaim volumes, which this scheduler does not support yet";
        for pf in [
            &VolumeRestrictions as &dyn PreFilterPlugin,
            &NodeVolumeLimits,
            &VolumeBinding,
            &VolumeZone,
        ] {
            let s = run(pf, &pvc);
            assert_eq!(
                (s.code(), s.message().as_str()),
                (Code::UnschedulableAndUnresolvable, pvc_msg)
            );
            assert!(run(pf, &plain).is_skip());
        }
        assert_eq!(
            run(&VolumeBinding, &eph).message(),
            "pod uses ephemeral volumes, which this scheduler does not support yet"
        );
        assert_eq!(
            run(&NodeVolumeLimits, &eph).code(),
            Code::UnschedulableAndUnresolvable
        );
        assert!(run(&VolumeZone, &eph).is_skip());
        assert_eq!(
            run(&NodeVolumeLimits, &gce).message(),
            "pod uses gcePersistentDisk volumes, which this scheduler does not support yet"
        );
        assert!(run(&VolumeRestrictions, &gce).is_success());
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
            let (_, pre) = VolumeRestrictions.pre_filter(&mut st, &p, &Snapshot::default());
            assert!(pre.is_success());
            let s = VolumeRestrictions.filter(&st, &p, &node);
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
