//! ServiceAccount, ClusterRoleBindings to the fixed grant roles the enabled plugins need,
//! the Lease Role(+Binding) and the kube-system auth-reader RoleBinding (pure).
//!
//! The operator writes no ClusterRole. The chart ships one fixed ClusterRole per grant
//! group ([`grant_roles`]: `base`, and one per plugin that needs more), and the operator
//! binds a profile's ServiceAccount to the groups of its enabled plugins. It holds `bind`
//! on those roles only, so it can grant nothing else, and it does not need to hold the
//! schedulers' rights itself (docs/decisions.md, *The operator writes no ClusterRole*).
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
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::identity;
use crate::settings::Settings;

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

/// Name of the grant group every scheduler is bound to.
pub const BASE_GROUP: &str = "base";

/// One grant group: a fixed ClusterRole the chart ships, bound per profile. `base` for
/// every scheduler, then one per plugin that needs more than nodes and pods.
#[derive(Clone, Copy, Debug)]
pub struct GrantGroup {
    /// The plugin whose informers and calls need it; `None` for the base group.
    pub plugin: Option<&'static str>,
    grants: &'static [Grant],
}

impl GrantGroup {
    /// The group's name in role and binding names: `base`, or the plugin in kebab case
    /// (`VolumeBinding` → `volume-binding`).
    pub fn name(&self) -> String {
        let Some(plugin) = self.plugin else {
            return BASE_GROUP.to_string();
        };
        let mut out = String::with_capacity(plugin.len() + 4);
        for (i, c) in plugin.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    /// The group's rules.
    pub fn rules(&self) -> Vec<PolicyRule> {
        rules_of(self.grants.iter())
    }
}

/// Every grant group, base first.
pub fn grant_groups() -> Vec<GrantGroup> {
    std::iter::once(GrantGroup {
        plugin: None,
        grants: BASE,
    })
    .chain(PER_PLUGIN.iter().map(|(plugin, grants)| GrantGroup {
        plugin: Some(plugin),
        grants,
    }))
    .collect()
}

/// The grant groups a scheduler running `enabled` plugins is bound to.
pub fn groups_for<S: AsRef<str>>(enabled: &BTreeSet<S>) -> Vec<GrantGroup> {
    let enabled: BTreeSet<&str> = enabled.iter().map(AsRef::as_ref).collect();
    grant_groups()
        .into_iter()
        .filter(|g| g.plugin.is_none_or(|p| enabled.contains(p)))
        .collect()
}

/// The fixed ClusterRole of grant group `group` under `prefix` (the chart's
/// `<release>:grants:`).
pub fn grant_role_name(prefix: &str, group: &str) -> String {
    format!("{prefix}{group}")
}

/// Every fixed ClusterRole, as the chart ships them (without the chart's labels).
pub fn grant_roles(prefix: &str) -> Vec<ClusterRole> {
    grant_groups()
        .iter()
        .map(|g| ClusterRole {
            metadata: ObjectMeta {
                name: Some(grant_role_name(prefix, &g.name())),
                ..ObjectMeta::default()
            },
            rules: Some(g.rules()),
            ..ClusterRole::default()
        })
        .collect()
}

/// The rules a scheduler running `enabled` plugins holds (the union of its groups'): one
/// rule per (API group, verb set), resources sorted, so equal inputs give equal rules.
pub fn cluster_rules<S: AsRef<str>>(enabled: &BTreeSet<S>) -> Vec<PolicyRule> {
    let groups = groups_for(enabled);
    rules_of(groups.iter().flat_map(|g| g.grants.iter()))
}

fn rules_of<'a>(grants: impl Iterator<Item = &'a Grant>) -> Vec<PolicyRule> {
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
        name: identity::child_name(p),
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
    let p = identity::profile_name(profile);
    ServiceAccount {
        metadata: identity::child_meta(profile, identity::child_name(p), Some(&s.namespace)),
        ..ServiceAccount::default()
    }
}

/// One ClusterRoleBinding per grant group of the `enabled` plugins, each binding the
/// group's fixed ClusterRole to the scheduler's ServiceAccount, sorted by name.
pub fn cluster_role_bindings<S: AsRef<str>>(
    profile: &SchedulerProfile,
    s: &Settings,
    enabled: &BTreeSet<S>,
) -> Vec<ClusterRoleBinding> {
    let p = identity::profile_name(profile);
    let mut out: Vec<_> = groups_for(enabled)
        .iter()
        .map(|g| {
            let group = g.name();
            ClusterRoleBinding {
                metadata: identity::child_meta(
                    profile,
                    identity::grant_binding_name(p, &group),
                    None,
                ),
                role_ref: role_ref("ClusterRole", grant_role_name(&s.grant_role_prefix, &group)),
                subjects: Some(vec![subject(p, s)]),
            }
        })
        .collect();
    out.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    out
}

/// A binding the profile no longer needs (its plugin was disabled), emptied: the
/// operator may not delete ClusterRoleBindings, so it takes the subjects away; garbage
/// collection removes the binding with the profile.
pub fn emptied_binding(
    profile: &SchedulerProfile,
    existing: &ClusterRoleBinding,
) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: identity::child_meta(
            profile,
            existing.metadata.name.clone().unwrap_or_default(),
            None,
        ),
        role_ref: existing.role_ref.clone(),
        subjects: Some(Vec::new()),
    }
}

/// get/update on the scheduler's own Lease only (the operator creates it).
pub fn lease_role(profile: &SchedulerProfile, s: &Settings) -> Role {
    let p = identity::profile_name(profile);
    Role {
        metadata: identity::child_meta(profile, identity::child_name(p), Some(&s.namespace)),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["coordination.k8s.io".to_string()]),
            resources: Some(vec!["leases".to_string()]),
            resource_names: Some(vec![identity::child_name(p)]),
            verbs: vec!["get".to_string(), "update".to_string()],
            ..PolicyRule::default()
        }]),
    }
}

/// Binds the Lease Role to the ServiceAccount.
pub fn lease_role_binding(profile: &SchedulerProfile, s: &Settings) -> RoleBinding {
    let p = identity::profile_name(profile);
    RoleBinding {
        metadata: identity::child_meta(profile, identity::child_name(p), Some(&s.namespace)),
        role_ref: role_ref("Role", identity::child_name(p)),
        subjects: Some(vec![subject(p, s)]),
    }
}

/// Lets the scheduler read the client CA for delegated authentication (kube-system).
pub fn auth_reader_binding(profile: &SchedulerProfile, s: &Settings) -> RoleBinding {
    let p = identity::profile_name(profile);
    RoleBinding {
        metadata: identity::child_meta(
            profile,
            identity::auth_reader_binding_name(p),
            Some(identity::KUBE_SYSTEM),
        ),
        role_ref: role_ref("Role", identity::AUTH_READER_ROLE.to_string()),
        subjects: Some(vec![subject(p, s)]),
    }
}
