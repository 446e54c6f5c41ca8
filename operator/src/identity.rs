//! How the operator's objects are identified: their names and namespaces, labels,
//! annotation keys, owner references and the field manager that writes them.
//!
//! These are user-visible decisions (end-to-end tests and admins read them); change them
//! only together with the docs.

use std::collections::BTreeMap;

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

/// The one field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "ferrosched-operator";
/// Namespace operands live in when none is configured.
pub const DEFAULT_NAMESPACE: &str = "ferrosched-system";
/// Namespace of the delegated-authentication RoleBinding.
pub const KUBE_SYSTEM: &str = "kube-system";
/// Upstream Role that lets a component read the client CA for delegated authentication.
pub const AUTH_READER_ROLE: &str = "extension-apiserver-authentication-reader";
/// Prefix of the fixed grant ClusterRoles when the operator runs without the chart's
/// `--grant-role-prefix` (the chart's release `ferrosched` gives the same).
pub const DEFAULT_GRANT_ROLE_PREFIX: &str = "ferrosched:grants:";
/// Lease the operator replicas elect their leader on.
pub const OPERATOR_LEASE: &str = "ferrosched-operator";
/// `app.kubernetes.io/name`, always [`APP_NAME`].
pub const LABEL_NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/instance`: the profile name.
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
/// `app.kubernetes.io/managed-by`, always [`FIELD_MANAGER`].
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// `ferrosched.dev/profile`: the profile name.
pub const LABEL_PROFILE: &str = "ferrosched.dev/profile";
/// Label on config ConfigMaps and annotation on the pod template: the config hash.
pub const CONFIG_HASH_KEY: &str = "ferrosched.dev/config-hash";
/// On a config ConfigMap: the image that configuration runs with (part of its hash).
pub const IMAGE_ANNOTATION: &str = "ferrosched.dev/image";
/// Annotation on the profile: the config hash whose rollout failed and was rolled back.
pub const FAILED_HASH_ANNOTATION: &str = "ferrosched.dev/failed-config-hash";
/// Value of `app.kubernetes.io/name` on every operand.
pub const APP_NAME: &str = "ferrosched-scheduler";

/// The profile's name (empty when the object has none, which the API server forbids).
pub fn profile_name(profile: &SchedulerProfile) -> &str {
    profile.metadata.name.as_deref().unwrap_or_default()
}

/// The scheduler name a profile serves: `spec.schedulerName`, else the profile's name.
pub fn scheduler_name(profile: &SchedulerProfile) -> String {
    profile
        .spec
        .scheduler_name
        .clone()
        .unwrap_or_else(|| profile_name(profile).to_string())
}

/// ServiceAccount, Deployment, Service, PDB, Role, RoleBinding and Lease of profile `p`.
pub fn child_name(p: &str) -> String {
    format!("ferrosched-{p}")
}

/// ClusterRoleBinding of profile `p` to the fixed ClusterRole of grant group `group`.
pub fn grant_binding_name(p: &str, group: &str) -> String {
    format!("ferrosched:scheduler:{p}:{group}")
}

/// RoleBinding in kube-system to [`AUTH_READER_ROLE`].
pub fn auth_reader_binding_name(p: &str) -> String {
    format!("ferrosched-{p}-auth-reader")
}

/// The ConfigMap holding configuration `hash` of profile `p`.
pub fn config_map_name(p: &str, hash: &str) -> String {
    format!("ferrosched-{p}-config-{hash}")
}

/// The four labels every child carries.
pub fn labels(p: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), APP_NAME.to_string()),
        (LABEL_INSTANCE.to_string(), p.to_string()),
        (LABEL_MANAGED_BY.to_string(), FIELD_MANAGER.to_string()),
        (LABEL_PROFILE.to_string(), p.to_string()),
    ])
}

/// The labels that select a profile's scheduler pods (Deployment, Service, PDB).
pub fn selector_labels(p: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), APP_NAME.to_string()),
        (LABEL_INSTANCE.to_string(), p.to_string()),
    ])
}

/// [`selector_labels`] as a label selector string, for the scale subresource.
pub fn selector_string(p: &str) -> String {
    selector_labels(p)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Label selector of everything the operator manages (for its watches).
pub fn managed_selector() -> String {
    format!("{LABEL_MANAGED_BY}={FIELD_MANAGER}")
}

/// Label selector of one profile's config ConfigMaps.
pub fn config_maps_selector(p: &str) -> String {
    format!("{LABEL_MANAGED_BY}={FIELD_MANAGER},{LABEL_PROFILE}={p}")
}

/// The controller ownerReference pointing at the profile, so garbage collection removes
/// every child with it.
pub fn owner_reference(profile: &SchedulerProfile) -> OwnerReference {
    OwnerReference {
        api_version: SchedulerProfile::api_version(&()).into_owned(),
        kind: SchedulerProfile::kind(&()).into_owned(),
        name: profile_name(profile).to_string(),
        uid: profile.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Metadata of a child: name, namespace (None for cluster-scoped), labels, owner.
pub fn child_meta(profile: &SchedulerProfile, name: String, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: namespace.map(str::to_string),
        labels: Some(labels(profile_name(profile))),
        owner_references: Some(vec![owner_reference(profile)]),
        ..ObjectMeta::default()
    }
}

/// Whether `meta` has a controller reference to `profile` (by UID: a profile deleted and
/// created again under the same name does not control the old one's objects).
pub fn controlled_by(meta: &ObjectMeta, profile: &SchedulerProfile) -> bool {
    let uid = profile.metadata.uid.as_deref().unwrap_or_default();
    meta.owner_references.iter().flatten().any(|o| {
        o.controller == Some(true)
            && o.kind == SchedulerProfile::kind(&())
            && o.api_version == SchedulerProfile::api_version(&())
            && o.uid == uid
    })
}

/// The profile owning `meta` through a controller ownerReference, if any.
pub fn owning_profile(meta: &ObjectMeta) -> Option<String> {
    let api_version = SchedulerProfile::api_version(&());
    let kind = SchedulerProfile::kind(&());
    meta.owner_references.iter().flatten().find_map(|o| {
        let ours = o.controller == Some(true) && o.api_version == api_version && o.kind == kind;
        ours.then(|| o.name.clone())
    })
}
