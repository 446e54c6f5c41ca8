//! ServiceAccount, ClusterRole(+Binding) with exactly the rules the enabled plugins need,
//! the Lease Role(+Binding) and the kube-system auth-reader RoleBinding (pure).
//!
//! The read rules follow upstream's `system:kube-scheduler` and `system:volume-scheduler`
//! bootstrap roles (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, v1.37.2),
//! split by the plugin whose informers need them. Write verbs are only the calls
//! Ferrosched's scheduler makes (checked against an audit log in
//! `tests/tests/scheduler_rbac.rs`): binds, status patches, `events.k8s.io` creates,
//! preemption's deletes, VolumeBinding's PV/PVC updates; DynamicResources, a guard for
//! now, only reads.

use std::collections::{BTreeMap, BTreeSet};

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::Settings;
use crate::names;

const READ: &[&str] = &["get", "list", "watch"];
const READ_UPDATE: &[&str] = &["get", "list", "watch", "update"];
const CORE: &str = "";
const APPS: &str = "apps";
const POLICY: &str = "policy";
const STORAGE: &str = "storage.k8s.io";
const RESOURCE: &str = "resource.k8s.io";

/// One grant: verbs on resources of an API group.
type Grant = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// What every scheduler needs, whatever its plugins.
const BASE: &[Grant] = &[
    (CORE, &["nodes", "pods"], READ),
    (CORE, &["pods/binding"], &["create"]),
    (CORE, &["pods/status"], &["patch"]),
    ("events.k8s.io", &["events"], &["create"]),
    ("authentication.k8s.io", &["tokenreviews"], &["create"]),
    (
        "authorization.k8s.io",
        &["subjectaccessreviews"],
        &["create"],
    ),
];

/// What each plugin adds (plugins missing here read only nodes and pods).
const PER_PLUGIN: &[(&str, &[Grant])] = &[
    ("InterPodAffinity", &[(CORE, &["namespaces"], READ)]),
    (
        "PodTopologySpread",
        &[
            (CORE, &["services", "replicationcontrollers"], READ),
            (APPS, &["replicasets", "statefulsets"], READ),
        ],
    ),
    (
        "DefaultPreemption",
        &[
            (CORE, &["pods"], &["delete"]),
            (POLICY, &["poddisruptionbudgets"], READ),
        ],
    ),
    (
        "VolumeBinding",
        &[
            (
                CORE,
                &["persistentvolumes", "persistentvolumeclaims"],
                READ_UPDATE,
            ),
            (
                STORAGE,
                &[
                    "storageclasses",
                    "csinodes",
                    "csidrivers",
                    "csistoragecapacities",
                ],
                READ,
            ),
        ],
    ),
    (
        "VolumeRestrictions",
        &[(CORE, &["persistentvolumeclaims"], READ)],
    ),
    (
        "VolumeZone",
        &[
            (CORE, &["persistentvolumes", "persistentvolumeclaims"], READ),
            (STORAGE, &["storageclasses"], READ),
        ],
    ),
    (
        "NodeVolumeLimits",
        &[
            (CORE, &["persistentvolumes", "persistentvolumeclaims"], READ),
            (
                STORAGE,
                &[
                    "storageclasses",
                    "csidrivers",
                    "csinodes",
                    "volumeattachments",
                ],
                READ,
            ),
        ],
    ),
    (
        "DynamicResources",
        &[(
            RESOURCE,
            &[
                "deviceclasses",
                "resourceclaims",
                "resourceslices",
                "devicetaintrules",
            ],
            READ,
        )],
    ),
];

/// Canonical verb order inside a rule.
const VERB_ORDER: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];

/// The ClusterRole rules for a scheduler running `enabled` plugins: one rule per
/// (API group, verb set), resources sorted, so equal inputs give byte-equal rules.
pub fn cluster_rules<S: AsRef<str>>(enabled: &BTreeSet<S>) -> Vec<PolicyRule> {
    let enabled: BTreeSet<&str> = enabled.iter().map(AsRef::as_ref).collect();
    let grants = BASE.iter().chain(
        PER_PLUGIN
            .iter()
            .filter(|(plugin, _)| enabled.contains(plugin))
            .flat_map(|(_, g)| g.iter()),
    );
    let mut verbs_of: BTreeMap<(&str, &str), BTreeSet<usize>> = BTreeMap::new();
    for (group, resources, verbs) in grants {
        for resource in *resources {
            let set = verbs_of.entry((group, resource)).or_default();
            set.extend(
                verbs
                    .iter()
                    .filter_map(|v| VERB_ORDER.iter().position(|o| o == v)),
            );
        }
    }
    let mut rules: BTreeMap<(&str, Vec<usize>), Vec<String>> = BTreeMap::new();
    for ((group, resource), verbs) in verbs_of {
        rules
            .entry((group, verbs.into_iter().collect()))
            .or_default()
            .push(resource.to_string());
    }
    rules
        .into_iter()
        .map(|((group, verbs), resources)| PolicyRule {
            api_groups: Some(vec![group.to_string()]),
            resources: Some(resources),
            verbs: verbs
                .into_iter()
                .map(|i| VERB_ORDER[i].to_string())
                .collect(),
            ..PolicyRule::default()
        })
        .collect()
}

fn subject(p: &str, s: &Settings) -> Subject {
    Subject {
        kind: "ServiceAccount".to_string(),
        name: names::child_name(p),
        namespace: Some(s.namespace.clone()),
        ..Subject::default()
    }
}

fn role_ref(kind: &str, name: String) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".to_string()),
        kind: kind.to_string(),
        name,
    }
}

/// The scheduler pods' ServiceAccount.
pub fn service_account(profile: &SchedulerProfile, s: &Settings) -> ServiceAccount {
    let p = names::profile_name(profile);
    ServiceAccount {
        metadata: names::child_meta(profile, names::child_name(p), Some(&s.namespace)),
        ..ServiceAccount::default()
    }
}

/// The ClusterRole with [`cluster_rules`].
pub fn cluster_role<S: AsRef<str>>(
    profile: &SchedulerProfile,
    enabled: &BTreeSet<S>,
) -> ClusterRole {
    let p = names::profile_name(profile);
    ClusterRole {
        metadata: names::child_meta(profile, names::cluster_role_name(p), None),
        rules: Some(cluster_rules(enabled)),
        ..ClusterRole::default()
    }
}

/// Binds the ClusterRole to the ServiceAccount.
pub fn cluster_role_binding(profile: &SchedulerProfile, s: &Settings) -> ClusterRoleBinding {
    let p = names::profile_name(profile);
    ClusterRoleBinding {
        metadata: names::child_meta(profile, names::cluster_role_name(p), None),
        role_ref: role_ref("ClusterRole", names::cluster_role_name(p)),
        subjects: Some(vec![subject(p, s)]),
    }
}

/// get/update on the scheduler's own Lease only (the operator creates it).
pub fn lease_role(profile: &SchedulerProfile, s: &Settings) -> Role {
    let p = names::profile_name(profile);
    Role {
        metadata: names::child_meta(profile, names::child_name(p), Some(&s.namespace)),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["coordination.k8s.io".to_string()]),
            resources: Some(vec!["leases".to_string()]),
            resource_names: Some(vec![names::child_name(p)]),
            verbs: vec!["get".to_string(), "update".to_string()],
            ..PolicyRule::default()
        }]),
    }
}

/// Binds the Lease Role to the ServiceAccount.
pub fn lease_role_binding(profile: &SchedulerProfile, s: &Settings) -> RoleBinding {
    let p = names::profile_name(profile);
    RoleBinding {
        metadata: names::child_meta(profile, names::child_name(p), Some(&s.namespace)),
        role_ref: role_ref("Role", names::child_name(p)),
        subjects: Some(vec![subject(p, s)]),
    }
}

/// Lets the scheduler read the client CA for delegated authentication (kube-system).
pub fn auth_reader_binding(profile: &SchedulerProfile, s: &Settings) -> RoleBinding {
    let p = names::profile_name(profile);
    RoleBinding {
        metadata: names::child_meta(
            profile,
            names::auth_reader_binding_name(p),
            Some(names::KUBE_SYSTEM),
        ),
        role_ref: role_ref("Role", names::AUTH_READER_ROLE.to_string()),
        subjects: Some(vec![subject(p, s)]),
    }
}
