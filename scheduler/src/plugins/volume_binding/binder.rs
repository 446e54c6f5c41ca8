//! VolumeBinding's binder: the pod's claims sorted as upstream's volume binder sorts them,
//! what each node offers them (FindPodVolumes), and an assume cache so a volume chosen for
//! one pod is not offered to the next before the API confirms the choice.

use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::{CSIStorageCapacity, StorageClass};
use rustc_hash::FxHashMap;

use crate::framework::ClusterLister;
use crate::model::{Labels, SlimNode};
use crate::plugins::helpers::Selector;
use crate::plugins::volume_util::{
    ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, NOT_SUPPORTED_PROVISIONER, PodId, claim_class,
    claim_fully_bound, claim_is_for_pod, claim_name, claim_request, claim_volume_name,
    find_matching_volume, not_found, pv_fits_labels, quantity, selected_node, topology_terms_match,
    volume_bound_to_claim, volume_class, volumes,
};

/// A bound claim's PV does not fit the node.
pub const ERR_REASON_NODE_CONFLICT: &str = "node(s) didn't match PersistentVolume's node affinity";
/// No PV to bind and no way to provision on the node.
pub const ERR_REASON_BIND_CONFLICT: &str =
    "node(s) didn't find available persistent volumes to bind";
/// The CSI driver reports too little capacity for the node.
pub const ERR_REASON_NOT_ENOUGH_SPACE: &str = "node(s) did not have enough free storage";
/// A bound claim names a PV that does not exist.
pub const ERR_REASON_PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
/// A pod with an unbound claim of an Immediate class waits for the PV controller.
pub const ERR_REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

type Pvc = Arc<PersistentVolumeClaim>;
type Pv = Arc<PersistentVolume>;

fn key(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

fn rv_number<K: kube::Resource>(o: &K) -> u64 {
    rv(o).parse().unwrap_or(0)
}

fn rv<K: kube::Resource>(o: &K) -> &str {
    o.meta().resource_version.as_deref().unwrap_or("")
}

/// Assumed versions of PVs and claims, each over the informer version it was made from.
/// An informer version that differs (newer) replaces the assumption.
#[derive(Default)]
pub struct AssumeCache {
    pvs: Mutex<FxHashMap<String, (Pv, String)>>,
    pvcs: Mutex<FxHashMap<String, (Pvc, String)>>,
}

fn overlay<K: kube::Resource>(
    map: &Mutex<FxHashMap<String, (Arc<K>, String)>>,
    k: &str,
    informer: Option<Arc<K>>,
) -> Option<Arc<K>> {
    let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
    match (m.get(k), informer) {
        (Some((assumed, base)), Some(cur)) if rv(&*cur) == base => Some(assumed.clone()),
        (Some(_), cur) => {
            m.remove(k);
            cur
        }
        (None, cur) => cur,
    }
}

impl AssumeCache {
    /// The claim as the scheduler last assumed it, else as listed.
    pub fn claim(&self, lister: &dyn ClusterLister, ns: &str, name: &str) -> Option<Pvc> {
        overlay(
            &self.pvcs,
            &key(ns, name),
            lister.persistent_volume_claim(ns, name),
        )
    }

    /// The PV as last assumed, else as listed.
    pub fn volume(&self, lister: &dyn ClusterLister, name: &str) -> Option<Pv> {
        overlay(&self.pvs, name, lister.persistent_volume(name))
    }

    /// Every PV of a class, assumed versions first.
    pub fn volumes_of_class(&self, lister: &dyn ClusterLister, class: &str) -> Vec<Pv> {
        lister
            .persistent_volumes()
            .into_iter()
            .filter_map(|pv| {
                let name = pv.metadata.name.clone().unwrap_or_default();
                overlay(&self.pvs, &name, Some(pv))
            })
            .filter(|pv| volume_class(pv) == class)
            .collect()
    }

    fn assume_volume(&self, base: &Pv, assumed: Pv) {
        let name = assumed.metadata.name.clone().unwrap_or_default();
        let mut m = self.pvs.lock().unwrap_or_else(|e| e.into_inner());
        let base_rv = m
            .get(&name)
            .map_or_else(|| rv(&**base).to_string(), |(_, b)| b.clone());
        m.insert(name, (assumed, base_rv));
    }

    fn assume_claim(&self, base: &Pvc, assumed: Pvc) {
        let k = key(
            assumed.metadata.namespace.as_deref().unwrap_or(""),
            assumed.metadata.name.as_deref().unwrap_or(""),
        );
        let mut m = self.pvcs.lock().unwrap_or_else(|e| e.into_inner());
        let base_rv = m
            .get(&k)
            .map_or_else(|| rv(&**base).to_string(), |(_, b)| b.clone());
        m.insert(k, (assumed, base_rv));
    }

    /// Drops the assumptions made for these bindings.
    pub fn revert(&self, pv: &PodVolumes) {
        let mut pvs = self.pvs.lock().unwrap_or_else(|e| e.into_inner());
        for (v, _) in &pv.static_bindings {
            pvs.remove(v.metadata.name.as_deref().unwrap_or(""));
        }
        drop(pvs);
        let mut pvcs = self.pvcs.lock().unwrap_or_else(|e| e.into_inner());
        for (c, _) in &pv.provisions {
            pvcs.remove(&key(
                c.metadata.namespace.as_deref().unwrap_or(""),
                c.metadata.name.as_deref().unwrap_or(""),
            ));
        }
    }
}

/// The pod's claims, as PreFilter sorts them.
#[derive(Debug, Default)]
pub struct PodClaims {
    /// Fully bound claims.
    pub bound: Vec<Pvc>,
    /// Unbound claims of WaitForFirstConsumer classes.
    pub delayed: Vec<Pvc>,
    /// Unbound claims the PV controller binds on its own (Immediate classes).
    pub immediate: Vec<Pvc>,
    /// PVs of each delayed claim's class.
    pub volumes_by_class: FxHashMap<String, Vec<Pv>>,
}

/// What one node offers the pod's claims.
#[derive(Debug, Clone, Default)]
pub struct PodVolumes {
    /// PVs to bind to claims: (PV, claim).
    pub static_bindings: Vec<(Pv, Pvc)>,
    /// Claims to provision, with the capacity that made the node fit (if checked).
    pub provisions: Vec<(Pvc, Option<Arc<CSIStorageCapacity>>)>,
}

/// A failure that is not about fitting: the pod is retried with backoff.
pub type BinderError = String;

/// Upstream's podHasPVCs: whether the pod uses claims, and the error (unresolvable)
/// when one is missing, lost, being deleted or not the pod's own ephemeral claim.
pub fn pod_has_claims(
    cache: &AssumeCache,
    lister: &dyn ClusterLister,
    pod: &Pod,
) -> Result<bool, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    let mut has = false;
    for v in volumes(pod) {
        let Some((name, ephemeral)) = claim_name(pod.metadata.name.as_deref().unwrap_or(""), v)
        else {
            continue;
        };
        has = true;
        let Some(pvc) = cache.claim(lister, ns, &name) else {
            return Err(if ephemeral {
                format!(
                    "waiting for ephemeral volume controller to create the persistentvolumeclaim \"{name}\""
                )
            } else {
                not_found("persistentvolumeclaim", &name)
            });
        };
        if pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Lost") {
            return Err(format!(
                "persistentvolumeclaim \"{name}\" bound to non-existent persistentvolume \"{}\"",
                claim_volume_name(&pvc)
            ));
        }
        if pvc.metadata.deletion_timestamp.is_some() {
            return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
        }
        if ephemeral {
            claim_is_for_pod(PodId::of(pod), &pvc)?;
        }
    }
    Ok(has)
}

fn binding_mode_delayed(
    lister: &dyn ClusterLister,
    pvc: &PersistentVolumeClaim,
) -> Result<bool, BinderError> {
    let class = claim_class(pvc);
    if class.is_empty() {
        return Ok(false);
    }
    let Some(sc) = lister.storage_class(class) else {
        return Ok(false);
    };
    match sc.volume_binding_mode.as_deref() {
        None => Err(format!(
            "VolumeBindingMode not set for StorageClass \"{class}\""
        )),
        Some(m) => Ok(m == "WaitForFirstConsumer"),
    }
}

/// Upstream's GetPodVolumeClaims.
pub fn pod_claims(
    cache: &AssumeCache,
    lister: &dyn ClusterLister,
    pod: &Pod,
) -> Result<PodClaims, BinderError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    let mut out = PodClaims::default();
    for v in volumes(pod) {
        let Some((name, _)) = claim_name(pod.metadata.name.as_deref().unwrap_or(""), v) else {
            continue;
        };
        let pvc = cache
            .claim(lister, ns, &name)
            .ok_or_else(|| format!("error getting PVC \"{ns}/{name}\": not found"))?;
        if claim_fully_bound(&pvc) {
            out.bound.push(pvc);
        } else if binding_mode_delayed(lister, &pvc)? && claim_volume_name(&pvc).is_empty() {
            out.delayed.push(pvc);
        } else {
            out.immediate.push(pvc);
        }
    }
    for pvc in &out.delayed {
        let class = claim_class(pvc).to_string();
        if let std::collections::hash_map::Entry::Vacant(e) = out.volumes_by_class.entry(class) {
            let pvs = cache.volumes_of_class(lister, e.key());
            e.insert(pvs);
        }
    }
    Ok(out)
}

fn node_name(node: &SlimNode) -> &str {
    &node.name
}

fn node_labels(node: &SlimNode) -> &Labels {
    &node.labels
}

/// Upstream's FindPodVolumes: the node's conflict reasons (in upstream's order), or what it
/// would bind and provision.
pub fn find_pod_volumes(
    cache: &AssumeCache,
    lister: &dyn ClusterLister,
    claims: &PodClaims,
    node: &SlimNode,
) -> Result<(PodVolumes, Vec<&'static str>), BinderError> {
    let labels = node_labels(node);
    let (mut bound_ok, mut unbound_ok, mut space_ok, mut pvs_found) = (true, true, true, true);
    let mut out = PodVolumes::default();
    for pvc in &claims.bound {
        match cache.volume(lister, claim_volume_name(pvc)) {
            None => {
                pvs_found = false;
                break;
            }
            Some(pv) if !pv_fits_labels(&pv, labels) => {
                bound_ok = false;
                break;
            }
            Some(_) => {}
        }
    }
    'delayed: {
        if claims.delayed.is_empty() {
            break 'delayed;
        }
        let mut to_provision: Vec<Pvc> = Vec::new();
        let mut to_match: Vec<Pvc> = Vec::new();
        for pvc in &claims.delayed {
            match selected_node(pvc) {
                Some(n) if n != node_name(node) => {
                    unbound_ok = false;
                    break 'delayed;
                }
                Some(_) => to_provision.push(pvc.clone()),
                None => to_match.push(pvc.clone()),
            }
        }
        if !to_match.is_empty() {
            to_match.sort_by_key(|c| claim_request(c).unwrap_or(0));
            let mut chosen: Vec<String> = Vec::new();
            let mut all = true;
            for pvc in to_match {
                let pvs = claims
                    .volumes_by_class
                    .get(claim_class(&pvc))
                    .map_or(&[][..], Vec::as_slice);
                let excluded: Vec<&str> = chosen.iter().map(String::as_str).collect();
                match find_matching_volume(&pvc, pvs, labels, &excluded) {
                    Some(pv) => {
                        chosen.push(pv.metadata.name.clone().unwrap_or_default());
                        out.static_bindings.push((pv.clone(), pvc));
                    }
                    None => {
                        all = false;
                        to_provision.push(pvc);
                    }
                }
            }
            unbound_ok = all;
        }
        if !to_provision.is_empty() {
            let (u, s, provisions) = check_provisions(lister, &to_provision, node)?;
            unbound_ok = u;
            space_ok = s;
            out.provisions = provisions;
        }
    }
    let mut reasons = Vec::new();
    for (ok, reason) in [
        (bound_ok, ERR_REASON_NODE_CONFLICT),
        (unbound_ok, ERR_REASON_BIND_CONFLICT),
        (space_ok, ERR_REASON_NOT_ENOUGH_SPACE),
        (pvs_found, ERR_REASON_PV_NOT_EXIST),
    ] {
        if !ok {
            reasons.push(reason);
        }
    }
    Ok((out, reasons))
}

type Provisions = Vec<(Pvc, Option<Arc<CSIStorageCapacity>>)>;

/// Upstream's checkVolumeProvisions: (provisioning possible, enough space, provisions).
fn check_provisions(
    lister: &dyn ClusterLister,
    claims: &[Pvc],
    node: &SlimNode,
) -> Result<(bool, bool, Provisions), BinderError> {
    let mut out = Vec::new();
    for pvc in claims {
        let class = claim_class(pvc);
        if class.is_empty() {
            return Err(format!(
                "no class for claim \"{}\"",
                key(
                    pvc.metadata.namespace.as_deref().unwrap_or(""),
                    pvc.metadata.name.as_deref().unwrap_or("")
                )
            ));
        }
        let sc = lister
            .storage_class(class)
            .ok_or_else(|| format!("failed to find storage class \"{class}\""))?;
        if sc.provisioner.is_empty() || sc.provisioner == NOT_SUPPORTED_PROVISIONER {
            return Ok((false, true, Vec::new()));
        }
        let terms = sc.allowed_topologies.as_deref().unwrap_or_default();
        if !topology_terms_match(terms, node_labels(node)) {
            return Ok((false, true, Vec::new()));
        }
        match enough_capacity(lister, pvc, &sc, node) {
            None => return Ok((true, false, Vec::new())),
            Some(cap) => out.push((pvc.clone(), cap)),
        }
    }
    Ok((true, true, out))
}

/// The capacity limit of a CSIStorageCapacity: its maximum volume size, else its capacity.
pub fn capacity_limit(c: &CSIStorageCapacity) -> Option<i64> {
    c.maximum_volume_size
        .as_ref()
        .or(c.capacity.as_ref())
        .map(quantity)
}

/// Upstream's hasEnoughCapacity: None when the driver tracks capacity and no capacity
/// object for the class and node is big enough; Some(the one that is), or Some(None)
/// when capacity is not checked.
fn enough_capacity(
    lister: &dyn ClusterLister,
    pvc: &PersistentVolumeClaim,
    sc: &StorageClass,
    node: &SlimNode,
) -> Option<Option<Arc<CSIStorageCapacity>>> {
    let Some(size) = claim_request(pvc) else {
        return Some(None);
    };
    let Some(driver) = lister.csi_driver(&sc.provisioner) else {
        return Some(None);
    };
    if driver.spec.storage_capacity != Some(true) {
        return Some(None);
    }
    let class = sc.metadata.name.as_deref().unwrap_or("");
    lister
        .csi_storage_capacities()
        .into_iter()
        .find(|c| {
            c.storage_class_name == class
                && capacity_limit(c).is_some_and(|l| l >= size)
                && c.node_topology.as_ref().is_some_and(|t| {
                    Selector::from_label_selector(Some(t)).matches(node_labels(node))
                })
        })
        .map(Some)
}

fn claim_reference(pvc: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        name: pvc.metadata.name.clone(),
        namespace: pvc.metadata.namespace.clone(),
        uid: pvc.metadata.uid.clone(),
        resource_version: pvc.metadata.resource_version.clone(),
        field_path: None,
    }
}

/// Upstream's GetBindVolumeToClaim: the PV with its claimRef set to the claim and the
/// bound-by-controller annotation, and whether anything changed.
pub fn bind_volume_to_claim(
    pv: &PersistentVolume,
    pvc: &PersistentVolumeClaim,
) -> (PersistentVolume, bool) {
    let mut out = pv.clone();
    let mut dirty = false;
    let set_by_controller = !volume_bound_to_claim(pv, pvc);
    let spec = out.spec.get_or_insert_with(Default::default);
    let same = spec.claim_ref.as_ref().is_some_and(|r| {
        r.name == pvc.metadata.name
            && r.namespace == pvc.metadata.namespace
            && r.uid == pvc.metadata.uid
    });
    if !same {
        spec.claim_ref = Some(claim_reference(pvc));
        dirty = true;
    }
    let ann = out
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    if set_by_controller && !ann.contains_key(ANN_BOUND_BY_CONTROLLER) {
        ann.insert(ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
        dirty = true;
    }
    (out, dirty)
}

/// Upstream's AssumePodVolumes: records the node's choices in the assume cache and returns
/// them as they will be written (None when every claim is already bound).
pub fn assume_pod_volumes(
    cache: &AssumeCache,
    lister: &dyn ClusterLister,
    pod: &Pod,
    node: &str,
    chosen: &PodVolumes,
) -> Option<PodVolumes> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    let all_bound = volumes(pod).iter().all(|v| {
        match claim_name(pod.metadata.name.as_deref().unwrap_or(""), v) {
            None => true,
            Some((name, _)) => cache
                .claim(lister, ns, &name)
                .is_some_and(|c| claim_fully_bound(&c)),
        }
    });
    if all_bound {
        return None;
    }
    let mut out = PodVolumes::default();
    for (pv, pvc) in &chosen.static_bindings {
        let (new_pv, dirty) = bind_volume_to_claim(pv, pvc);
        let new_pv = Arc::new(new_pv);
        if dirty {
            cache.assume_volume(pv, new_pv.clone());
        }
        out.static_bindings.push((new_pv, pvc.clone()));
    }
    for (pvc, cap) in &chosen.provisions {
        let mut claim = (**pvc).clone();
        claim
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANN_SELECTED_NODE.into(), node.into());
        let claim = Arc::new(claim);
        cache.assume_claim(pvc, claim.clone());
        out.provisions.push((claim, cap.clone()));
    }
    Some(out)
}

/// Upstream's checkBindings: Ok(true) once every claim is bound as chosen, Ok(false) while
/// the PV controller (or a provisioner) is still at work, Err when a choice was undone.
pub fn bindings_done(
    lister: &dyn ClusterLister,
    node: &SlimNode,
    chosen: &PodVolumes,
) -> Result<bool, BinderError> {
    let labels = node_labels(node);
    for (pv, pvc) in &chosen.static_bindings {
        let name = pv.metadata.name.as_deref().unwrap_or("");
        let Some(cur) = lister.persistent_volume(name) else {
            return Err(format!("failed to get pv \"{name}\" from cache"));
        };
        if !pv_fits_labels(&cur, labels) {
            return Err(format!(
                "pv \"{name}\" node affinity doesn't match node \"{}\"",
                node_name(node)
            ));
        }
        if cur
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .is_none_or(|r| r.uid.as_deref().unwrap_or("").is_empty())
        {
            return Err(format!("ClaimRef got reset for pv \"{name}\""));
        }
        let ns = pvc.metadata.namespace.as_deref().unwrap_or("");
        let claim = pvc.metadata.name.as_deref().unwrap_or("");
        match lister.persistent_volume_claim(ns, claim) {
            Some(c) if claim_fully_bound(&c) => {}
            _ => return Ok(false),
        }
    }
    for (pvc, _) in &chosen.provisions {
        let ns = pvc.metadata.namespace.as_deref().unwrap_or("");
        let name = pvc.metadata.name.as_deref().unwrap_or("");
        let Some(cur) = lister.persistent_volume_claim(ns, name) else {
            return Err(format!(
                "failed to check provisioning pvc: {}",
                not_found("persistentvolumeclaim", name)
            ));
        };
        // Our write is not in the informer yet.
        if rv_number(&**pvc) > rv_number(&*cur) {
            return Ok(false);
        }
        if selected_node(&cur) != Some(node_name(node)) {
            return Err(format!("provisioning failed for PVC \"{name}\""));
        }
        let vol = claim_volume_name(&cur);
        if !vol.is_empty() {
            let Some(pv) = lister.persistent_volume(vol) else {
                return Ok(false);
            };
            if !pv_fits_labels(&pv, labels) {
                return Err(format!(
                    "pv \"{vol}\" node affinity doesn't match node \"{}\"",
                    node_name(node)
                ));
            }
        }
        if !claim_fully_bound(&cur) {
            return Ok(false);
        }
    }
    Ok(true)
}
