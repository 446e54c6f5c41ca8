//! Upstream's `NodeVolumeLimits` (CSI): the volumes each CSI driver would attach to a node
//! (its pods' claims, in-tree disks migrated to CSI, and VolumeAttachments) must stay
//! within the driver's `allocatable.count` in the node's CSINode. With VolumeLimitScaling
//! (beta, on at 1.37) a driver that asks for it must be installed on the node.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Volume};
use k8s_openapi::api::storage::v1::CSINode;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{ClusterEventWithHint, EventResource, action};
use crate::framework::{
    ClusterLister, CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult,
    Status,
};
use crate::model::PodInfo;
use crate::plugins::volume_binding::claim_hint;
use crate::plugins::volume_util::{
    PodId, claim_class, claim_is_for_pod, claim_name, claim_volume_name, not_found,
};

/// Registered name.
pub const NAME: &str = "NodeVolumeLimits";
/// The node's CSI attach limit would be exceeded.
pub const ERR_REASON_MAX_VOLUME_COUNT_EXCEEDED: &str = "node(s) exceed max volume count";

/// Upstream's `NodeVolumeLimits`.
pub struct NodeVolumeLimits {
    lister: Arc<dyn ClusterLister>,
}

/// Factory.
pub fn new(_: &PluginArgsSet, handle: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(NodeVolumeLimits {
        lister: handle.lister.clone(),
    }))
}

/// In-tree plugins whose volumes count against a CSI driver once migrated, with that driver.
const MIGRATED: [(&str, &str); 5] = [
    ("kubernetes.io/aws-ebs", "ebs.csi.aws.com"),
    ("kubernetes.io/gce-pd", "pd.csi.storage.gke.io"),
    ("kubernetes.io/azure-disk", "disk.csi.azure.com"),
    ("kubernetes.io/cinder", "cinder.csi.openstack.org"),
    ("kubernetes.io/portworx-volume", "pxd.portworx.com"),
];

/// Upstream's isCSIMigrationOn: the node has a CSINode and the plugin is one of those.
fn migrated_driver(csi_node: Option<&CSINode>, plugin: &str) -> Option<&'static str> {
    csi_node?;
    MIGRATED.iter().find(|(p, _)| *p == plugin).map(|(_, d)| *d)
}

/// An in-tree disk's plugin and a handle naming the disk (what CSI translation keys on).
fn in_tree_disk(v: &Volume) -> Option<(&'static str, String)> {
    if let Some(d) = &v.gce_persistent_disk {
        Some(("kubernetes.io/gce-pd", d.pd_name.clone()))
    } else if let Some(d) = &v.aws_elastic_block_store {
        let id = d.volume_id.rsplit('/').next().unwrap_or(&d.volume_id);
        Some(("kubernetes.io/aws-ebs", id.to_string()))
    } else if let Some(d) = &v.azure_disk {
        Some(("kubernetes.io/azure-disk", d.disk_uri.clone()))
    } else if let Some(d) = &v.cinder {
        Some(("kubernetes.io/cinder", d.volume_id.clone()))
    } else {
        v.portworx_volume
            .as_ref()
            .map(|d| ("kubernetes.io/portworx-volume", d.volume_id.clone()))
    }
}

fn inline_migratable(v: &Volume) -> bool {
    in_tree_disk(v).is_some()
}

/// Volumes by unique name (`driver/handle`) → driver.
type Attachable = FxHashMap<String, String>;

impl NodeVolumeLimits {
    /// The CSI driver and handle a claim's volume has (or will have, from its class).
    fn claim_driver(
        &self,
        csi_node: Option<&CSINode>,
        pvc: &PersistentVolumeClaim,
    ) -> Option<(String, String)> {
        let pv_name = claim_volume_name(pvc);
        if let Some(pv) = (!pv_name.is_empty())
            .then(|| self.lister.persistent_volume(pv_name))
            .flatten()
        {
            let spec = pv.spec.as_ref()?;
            if let Some(csi) = &spec.csi {
                return Some((csi.driver.clone(), csi.volume_handle.clone()));
            }
            let as_volume = Volume {
                gce_persistent_disk: spec.gce_persistent_disk.clone(),
                aws_elastic_block_store: spec.aws_elastic_block_store.clone(),
                azure_disk: spec.azure_disk.clone(),
                cinder: spec.cinder.as_ref().map(|c| {
                    k8s_openapi::api::core::v1::CinderVolumeSource {
                        volume_id: c.volume_id.clone(),
                        ..Default::default()
                    }
                }),
                portworx_volume: spec.portworx_volume.clone(),
                ..Default::default()
            };
            let (plugin, handle) = in_tree_disk(&as_volume)?;
            return migrated_driver(csi_node, plugin).map(|d| (d.to_string(), handle));
        }
        // Not bound yet (or its PV is not listed): the class's provisioner will attach it.
        let class = claim_class(pvc);
        if class.is_empty() {
            return None;
        }
        let sc = self.lister.storage_class(class)?;
        let handle = format!(
            "unbound-{}/{}",
            pvc.metadata.namespace.as_deref().unwrap_or(""),
            pvc.metadata.name.as_deref().unwrap_or("")
        );
        if MIGRATED.iter().any(|(p, _)| *p == sc.provisioner) {
            return migrated_driver(csi_node, &sc.provisioner).map(|d| (d.to_string(), handle));
        }
        Some((sc.provisioner.clone(), handle))
    }

    /// Upstream's filterAttachableVolumes. For the pod being scheduled a missing claim is
    /// an error (Err carries whether it is a not-found); for placed pods it is skipped.
    fn attachable(
        &self,
        pod: &PodInfo,
        csi_node: Option<&CSINode>,
        new_pod: bool,
        out: &mut Attachable,
    ) -> Result<(), (bool, String)> {
        let ns = pod.namespace();
        for v in pod.volumes() {
            let Some((name, ephemeral)) = claim_name(pod.name(), v) else {
                if let Some((plugin, handle)) = in_tree_disk(v)
                    && let Some(driver) = migrated_driver(csi_node, plugin)
                {
                    out.insert(format!("{driver}/{handle}"), driver.to_string());
                }
                continue;
            };
            if name.is_empty() {
                return Err((false, "PersistentVolumeClaim had no name".into()));
            }
            let Some(pvc) = self.lister.persistent_volume_claim(ns, &name) else {
                if new_pod {
                    return Err((
                        true,
                        format!(
                            "looking up PVC {ns}/{name}: {}",
                            not_found("persistentvolumeclaim", &name)
                        ),
                    ));
                }
                continue;
            };
            if ephemeral {
                claim_is_for_pod(
                    PodId {
                        uid: &pod.uid,
                        namespace: ns,
                        name: pod.name(),
                    },
                    &pvc,
                )
                .map_err(|e| (false, e))?;
            }
            if let Some((driver, handle)) = self.claim_driver(csi_node, &pvc)
                && !driver.is_empty()
                && !handle.is_empty()
            {
                out.insert(format!("{driver}/{handle}"), driver);
            }
        }
        Ok(())
    }

    /// Volumes attached to the node through VolumeAttachments of CSI PVs.
    fn attached_by_attachments(&self, node: &str) -> Attachable {
        let mut out = Attachable::default();
        for va in self.lister.volume_attachments(node) {
            let attacher = &va.spec.attacher;
            if attacher.is_empty() {
                continue;
            }
            let Some(pv_name) = &va.spec.source.persistent_volume_name else {
                continue;
            };
            let Some(pv) = self.lister.persistent_volume(pv_name) else {
                continue;
            };
            if let Some(csi) = pv.spec.as_ref().and_then(|s| s.csi.as_ref()) {
                out.insert(
                    format!("{attacher}/{}", csi.volume_handle),
                    attacher.clone(),
                );
            }
        }
        out
    }
}

impl Plugin for NodeVolumeLimits {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![
            ClusterEventWithHint::new(EventResource::CsiNode, action::ADD | action::UPDATE),
            ClusterEventWithHint::new(EventResource::AssignedPod, action::DELETE),
            ClusterEventWithHint::with_hint(
                EventResource::PersistentVolumeClaim,
                action::ADD,
                claim_hint,
            ),
            ClusterEventWithHint::new(EventResource::VolumeAttachment, action::DELETE),
        ]
    }
    crate::serves!(pre_filter, filter);
}

impl PreFilterPlugin for NodeVolumeLimits {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let relevant = pod.volumes().iter().any(|v| {
            v.persistent_volume_claim.is_some() || v.ephemeral.is_some() || inline_migratable(v)
        });
        if relevant {
            (None, Status::success())
        } else {
            (None, Status::skip())
        }
    }
}

impl FilterPlugin for NodeVolumeLimits {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let csi_node = self.lister.csi_node(&node.name);
        let csi_node = csi_node.as_deref();
        let mut new_volumes = Attachable::default();
        if let Err((is_not_found, msg)) = self.attachable(pod, csi_node, true, &mut new_volumes) {
            return if is_not_found {
                Status::unresolvable(msg)
            } else {
                Status::error(msg)
            };
        }
        if new_volumes.is_empty() {
            return Status::success();
        }
        let installed: FxHashSet<&str> = csi_node
            .map(|c| c.spec.drivers.iter().map(|d| d.name.as_str()).collect())
            .unwrap_or_default();
        for driver in new_volumes.values() {
            let required = self
                .lister
                .csi_driver(driver)
                .is_some_and(|d| d.spec.prevent_pod_scheduling_if_missing == Some(true));
            if required && !installed.contains(driver.as_str()) {
                return Status::unschedulable(format!(
                    "{driver} CSI driver is not installed on the node"
                ));
            }
        }
        let limits: FxHashMap<&str, i64> = csi_node
            .map(|c| {
                c.spec
                    .drivers
                    .iter()
                    .filter_map(|d| {
                        let n = d.allocatable.as_ref()?.count?;
                        Some((d.name.as_str(), i64::from(n)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if limits.is_empty() {
            return Status::success();
        }
        let mut attached = Attachable::default();
        for p in &node.pods {
            // Placed pods' missing claims are skipped, so this cannot fail.
            let _ = self.attachable(p, csi_node, false, &mut attached);
        }
        let mut counts: FxHashMap<String, i64> = FxHashMap::default();
        for (unique, driver) in &attached {
            new_volumes.remove(unique);
            *counts.entry(driver.clone()).or_default() += 1;
        }
        for (unique, driver) in self.attached_by_attachments(&node.name) {
            if !attached.contains_key(&unique) {
                *counts.entry(driver).or_default() += 1;
            }
        }
        let mut wanted: FxHashMap<&str, i64> = FxHashMap::default();
        for driver in new_volumes.values() {
            *wanted.entry(driver.as_str()).or_default() += 1;
        }
        for (driver, n) in wanted {
            if let Some(limit) = limits.get(driver)
                && counts.get(driver).copied().unwrap_or(0) + n > *limit
            {
                return Status::unschedulable(ERR_REASON_MAX_VOLUME_COUNT_EXCEEDED);
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

    /// A pod using claims, on `node` ("" = incoming).
    fn pod(name: &str, claims: &[&str], node: &str) -> String {
        let vols: Vec<String> = claims
            .iter()
            .map(|c| format!("{{name: {c}, persistentVolumeClaim: {{claimName: {c}}}}}"))
            .collect();
        let node = if node.is_empty() {
            String::new()
        } else {
            format!(", nodeName: {node}")
        };
        format!(
            "metadata: {{name: {name}, namespace: default, uid: {name}}}\nspec: {{containers: []{node}, volumes: [{}]}}",
            vols.join(", ")
        )
    }

    fn storage() -> Storage {
        let mut s = Storage::default()
            .csi_node("metadata: {name: n1}\nspec: {drivers: [{name: ebs.csi.aws.com, nodeID: n1, allocatable: {count: 2}}, {name: other.example.com, nodeID: n1}]}")
            .class("metadata: {name: ebs}\nprovisioner: ebs.csi.aws.com")
            .class("metadata: {name: gated}\nprovisioner: gated.example.com")
            .driver("metadata: {name: gated.example.com}\nspec: {preventPodSchedulingIfMissing: true}")
            .claim("metadata: {name: unbound, namespace: default}\nspec: {storageClassName: ebs}")
            .claim("metadata: {name: gated, namespace: default}\nspec: {storageClassName: gated}");
        for i in 1..=4 {
            s = s
                .claim(&format!("metadata: {{name: c{i}, namespace: default}}\nspec: {{volumeName: pv{i}}}"))
                .volume(&format!("metadata: {{name: pv{i}}}\nspec: {{csi: {{driver: ebs.csi.aws.com, volumeHandle: vol-{i}}}}}"));
        }
        s
    }

    fn filter(s: Storage, incoming: &str, placed: &[&str]) -> Status {
        let p = NodeVolumeLimits {
            lister: Arc::new(s),
        };
        let incoming = pinfo(incoming);
        let node = ninfo("metadata: {name: n1}", placed);
        let mut st = CycleState::default();
        assert!(
            p.pre_filter(&mut st, &incoming, &Snapshot::default())
                .1
                .is_success()
        );
        p.filter(&st, &incoming, &node)
    }

    #[test]
    fn attach_limits() {
        let full = pod("e1", &["c1", "c2"], "n1");
        let half = pod("e1", &["c1"], "n1");
        let exceeded = |s: Status| {
            assert_eq!(
                (s.code(), s.message().as_str()),
                (Code::Unschedulable, ERR_REASON_MAX_VOLUME_COUNT_EXCEEDED)
            )
        };
        exceeded(filter(storage(), &pod("new", &["c3"], ""), &[&full]));
        assert!(filter(storage(), &pod("new", &["c3"], ""), &[&half]).is_success());
        // A volume already attached does not count twice.
        assert!(filter(storage(), &pod("new", &["c1", "c2"], ""), &[&full]).is_success());
        // Unbound claims count against their class's driver.
        exceeded(filter(storage(), &pod("new", &["unbound"], ""), &[&full]));
        // VolumeAttachments of other PVs count too.
        let attached = storage().attachment("metadata: {name: va}\nspec: {attacher: ebs.csi.aws.com, nodeName: n1, source: {persistentVolumeName: pv4}}");
        exceeded(filter(attached, &pod("new", &["c3"], ""), &[&half]));
        // Migrated in-tree disks count against the CSI driver.
        let inline = "metadata: {name: new, namespace: default}\nspec: {containers: [], volumes: [{name: d, awsElasticBlockStore: {volumeID: 'aws://us-east-1a/vol-9'}}]}";
        exceeded(filter(storage(), inline, &[&full]));
        // A driver that must be installed on the node.
        let s = filter(storage(), &pod("new", &["gated"], ""), &[]);
        assert_eq!(
            (s.code(), s.message().as_str()),
            (
                Code::Unschedulable,
                "gated.example.com CSI driver is not installed on the node"
            )
        );
        let s = filter(storage(), &pod("new", &["missing"], ""), &[]);
        assert_eq!(
            (s.code(), s.message().as_str()),
            (
                Code::UnschedulableAndUnresolvable,
                "looking up PVC default/missing: persistentvolumeclaim \"missing\" not found"
            )
        );
        // No CSINode: no limits known.
        let mut no_csi = storage();
        no_csi.csi_nodes.clear();
        assert!(filter(no_csi, &pod("new", &["c3"], ""), &[&full]).is_success());
    }
}
