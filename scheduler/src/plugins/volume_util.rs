//! What the volume plugins share: a pod's claims, storage classes, PV node affinity,
//! topology terms and zone label sets, with upstream's rules (component-helpers' storage
//! volume helpers and the scheduler's volume binder).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, Pod, TopologySelectorTerm, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::model::LabelSet;
use crate::model::quantity::parse_value;
use crate::plugins::helpers::{parse_node_selector, terms_match};

/// Annotation the scheduler sets on a WaitForFirstConsumer claim to ask for provisioning.
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// Annotation the PV controller sets once a claim's binding is complete.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Annotation marking a PV as bound by a controller (the scheduler counts as one).
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// The beta storage class annotation, read before `storageClassName`.
const ANN_BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
/// The provisioner of classes that cannot provision (local volumes).
pub const NOT_SUPPORTED_PROVISIONER: &str = "kubernetes.io/no-provisioner";
/// The label keys VolumeZone compares, beta ones first as upstream lists them.
pub const TOPOLOGY_LABELS: [&str; 4] = [
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
];

/// The pod's volumes.
pub fn volumes(pod: &Pod) -> &[Volume] {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default()
}

/// The claim a volume uses and whether it is a generic ephemeral volume's claim
/// (named `<pod>-<volume>`).
pub fn claim_name(pod_name: &str, v: &Volume) -> Option<(String, bool)> {
    if let Some(c) = &v.persistent_volume_claim {
        Some((c.claim_name.clone(), false))
    } else if v.ephemeral.is_some() {
        Some((format!("{pod_name}-{}", v.name), true))
    } else {
        None
    }
}

/// Upstream's not-found error text, e.g. `persistentvolumeclaim "data" not found`.
pub fn not_found(resource: &str, name: &str) -> String {
    format!("{resource} \"{name}\" not found")
}

/// A pod's identity: uid, namespace, name.
#[derive(Debug, Clone, Copy)]
pub struct PodId<'a> {
    /// `metadata.uid`.
    pub uid: &'a str,
    /// `metadata.namespace`.
    pub namespace: &'a str,
    /// `metadata.name`.
    pub name: &'a str,
}

impl<'a> PodId<'a> {
    /// The identity of a pod object.
    pub fn of(pod: &'a Pod) -> Self {
        PodId {
            uid: pod.metadata.uid.as_deref().unwrap_or(""),
            namespace: pod.metadata.namespace.as_deref().unwrap_or(""),
            name: pod.metadata.name.as_deref().unwrap_or(""),
        }
    }
}

/// An ephemeral volume's claim must be controlled by the pod (upstream's VolumeIsForPod).
pub fn claim_is_for_pod(pod: PodId<'_>, pvc: &PersistentVolumeClaim) -> Result<(), String> {
    let PodId {
        uid,
        namespace,
        name,
    } = pod;
    let owned = pvc
        .metadata
        .owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|o| o.controller == Some(true) && o.uid == uid);
    if owned {
        Ok(())
    } else {
        Err(format!(
            "PVC {}/{} was not created for pod {}/{} (pod is not owner)",
            pvc.metadata.namespace.as_deref().unwrap_or(""),
            pvc.metadata.name.as_deref().unwrap_or(""),
            namespace,
            name,
        ))
    }
}

fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// A claim's storage class: the beta annotation, else `spec.storageClassName`, else "".
pub fn claim_class(pvc: &PersistentVolumeClaim) -> &str {
    annotation(&pvc.metadata, ANN_BETA_STORAGE_CLASS)
        .or_else(|| pvc.spec.as_ref()?.storage_class_name.as_deref())
        .unwrap_or("")
}

/// A volume's storage class, by the same rule.
pub fn volume_class(pv: &PersistentVolume) -> &str {
    annotation(&pv.metadata, ANN_BETA_STORAGE_CLASS)
        .or_else(|| pv.spec.as_ref()?.storage_class_name.as_deref())
        .unwrap_or("")
}

/// The node a WaitForFirstConsumer claim was given, if any.
pub fn selected_node(pvc: &PersistentVolumeClaim) -> Option<&str> {
    annotation(&pvc.metadata, ANN_SELECTED_NODE)
}

/// `spec.volumeName`, "" when unset.
pub fn claim_volume_name(pvc: &PersistentVolumeClaim) -> &str {
    pvc.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("")
}

/// Bound, and the PV controller has finished the binding.
pub fn claim_fully_bound(pvc: &PersistentVolumeClaim) -> bool {
    !claim_volume_name(pvc).is_empty() && annotation(&pvc.metadata, ANN_BIND_COMPLETED).is_some()
}

/// The bytes a claim requests (`spec.resources.requests.storage`), if it says.
pub fn claim_request(pvc: &PersistentVolumeClaim) -> Option<i64> {
    let q = pvc
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")?;
    Some(quantity(q))
}

/// A PV's capacity in bytes (0 when unset).
pub fn volume_capacity(pv: &PersistentVolume) -> i64 {
    pv.spec
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .map_or(0, quantity)
}

/// A quantity's integer value (rounded up, as upstream's `Value()`); 0 if unparsable.
pub fn quantity(q: &Quantity) -> i64 {
    parse_value(&q.0).unwrap_or(0)
}

/// Upstream's CheckNodeAffinity: a PV without required node affinity fits anywhere;
/// otherwise a node with these labels must match one of its terms.
pub fn pv_fits_labels<L: LabelSet + ?Sized>(pv: &PersistentVolume, labels: &L) -> bool {
    match pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
    {
        None => true,
        Some(sel) => terms_match(&parse_node_selector(sel), "", labels),
    }
}

/// Upstream's MatchTopologySelectorTerms (StorageClass `allowedTopologies`): no terms
/// match everything; otherwise a term with requirements that all hold.
pub fn topology_terms_match<L: LabelSet + ?Sized>(
    terms: &[TopologySelectorTerm],
    labels: &L,
) -> bool {
    if terms.is_empty() {
        return true;
    }
    terms.iter().any(|t| {
        let reqs = t.match_label_expressions.as_deref().unwrap_or_default();
        !reqs.is_empty()
            && reqs.iter().all(|r| {
                !r.values.is_empty()
                    && labels
                        .label(&r.key)
                        .is_some_and(|v| r.values.iter().any(|x| x == v))
            })
    })
}

/// Upstream's LabelZonesToSet: `a__b` names zones a and b; an empty element is an error.
pub fn zone_set(value: &str) -> Option<Vec<String>> {
    value
        .split("__")
        .map(|z| {
            let z = z.trim();
            (!z.is_empty()).then(|| z.to_string())
        })
        .collect()
}

/// Whether `pv` is bound (or pre-bound) to `pvc`: name and namespace match, and the UID if set.
pub fn volume_bound_to_claim(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name == pvc.metadata.name
        && r.namespace == pvc.metadata.namespace
        && r.uid
            .as_deref()
            .is_none_or(|u| u.is_empty() || Some(u) == pvc.metadata.uid.as_deref())
}

fn volume_mode(m: Option<&String>) -> &str {
    m.map_or("Filesystem", String::as_str)
}

/// Upstream's FindMatchingVolume with a node (delayed binding): the claim's pre-bound
/// volume if it fits the node, else the smallest available volume of the claim's class
/// that is big enough, has the claim's volume mode, access modes, attributes class and
/// labels, and fits the node. `excluded` are volumes already chosen for other claims.
pub fn find_matching_volume<'a, L: LabelSet + ?Sized>(
    pvc: &PersistentVolumeClaim,
    pvs: &'a [std::sync::Arc<PersistentVolume>],
    node_labels: &L,
    excluded: &[&str],
) -> Option<&'a std::sync::Arc<PersistentVolume>> {
    let spec = pvc.spec.as_ref()?;
    let requested = claim_request(pvc).unwrap_or(0);
    let class = claim_class(pvc);
    let selector = spec
        .selector
        .as_ref()
        .map(|s| crate::plugins::helpers::Selector::from_label_selector(Some(s)));
    let mut best: Option<(&std::sync::Arc<PersistentVolume>, i64)> = None;
    for pv in pvs {
        let name = pv.metadata.name.as_deref().unwrap_or("");
        let Some(vs) = pv.spec.as_ref() else { continue };
        if excluded.contains(&name) {
            continue;
        }
        if vs.claim_ref.is_some() && !volume_bound_to_claim(pv, pvc) {
            continue;
        }
        let size = volume_capacity(pv);
        if size < requested {
            continue;
        }
        if volume_mode(spec.volume_mode.as_ref()) != volume_mode(vs.volume_mode.as_ref()) {
            continue;
        }
        if spec.volume_attributes_class_name.as_deref().unwrap_or("")
            != vs.volume_attributes_class_name.as_deref().unwrap_or("")
        {
            continue;
        }
        if pv.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let fits = pv_fits_labels(pv, node_labels);
        if volume_bound_to_claim(pv, pvc) {
            return fits.then_some(pv);
        }
        if pv.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Available") {
            continue;
        }
        let empty = BTreeMap::new();
        if let Some(sel) = &selector
            && !sel.matches(pv.metadata.labels.as_ref().unwrap_or(&empty))
        {
            continue;
        }
        if volume_class(pv) != class || !fits {
            continue;
        }
        let pv_modes = vs.access_modes.as_deref().unwrap_or_default();
        if !spec
            .access_modes
            .as_deref()
            .unwrap_or_default()
            .iter()
            .all(|m| pv_modes.contains(m))
        {
            continue;
        }
        if best.is_none_or(|(_, s)| s > size) {
            best = Some((pv, size));
        }
    }
    best.map(|(pv, _)| pv)
}
