//! What a profile may not take (pure): names the operator reserves for itself, objects of
//! a child's name that the profile does not control, and images outside the allowlist.
//!
//! Whoever may edit a SchedulerProfile decides what runs with the scheduler's
//! cluster-wide rights, so a profile must never overwrite the operator's own objects or
//! someone else's, and may run only images the cluster admin allowed.

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::children;
use crate::identity::{self, controlled_by};
use crate::images::{image_allowed, repository};
use crate::settings::Settings;
use crate::snapshot::Snapshot;
use crate::validate::{Invalid, Valid};

/// The effective allowlist, for messages.
fn allowed_list(s: &Settings) -> Vec<String> {
    if s.allowed_images.is_empty() {
        vec![repository(&s.default_image).to_string()]
    } else {
        s.allowed_images.clone()
    }
}

/// Who controls `meta`, in words.
fn controller_of(meta: &ObjectMeta) -> String {
    match meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
    {
        Some(o) => format!("controlled by {} {} (uid {})", o.kind, o.name, o.uid),
        None => "not controlled by this profile".to_string(),
    }
}

/// Checks the image, the reserved names, every existing child of `profile` and the grant
/// roles its plugins need.
pub fn check(
    profile: &SchedulerProfile,
    s: &Settings,
    valid: &Valid,
    snap: &Snapshot,
) -> Result<(), Invalid> {
    if let Some(image) = profile.spec.image.as_deref()
        && !image_allowed(image, &s.allowed_images, &s.default_image)
    {
        return Err(Invalid::ImageNotAllowed {
            image: image.to_string(),
            allowed: allowed_list(s),
        });
    }
    let p = identity::profile_name(profile);
    let child = identity::child_name(p);
    for name in [child.clone(), identity::auth_reader_binding_name(p)] {
        if name == identity::OPERATOR_LEASE || s.reserved_names.contains(&name) {
            return Err(Invalid::NameConflict {
                kind: "object".to_string(),
                name,
                why: "the name is reserved for the operator's own objects".to_string(),
            });
        }
    }
    let groups = children::groups_for(&valid.enabled_plugins);
    for g in &groups {
        let role = children::grant_role_name(&s.grant_role_prefix, &g.name());
        if !snap.grant_roles.contains(&role) {
            return Err(Invalid::GrantRoleMissing { name: role });
        }
        let binding = identity::grant_binding_name(p, &g.name());
        if let Some(b) = snap
            .children
            .cluster_role_bindings
            .iter()
            .find(|b| b.metadata.name.as_deref() == Some(&binding))
            && !controlled_by(&b.metadata, profile)
        {
            return Err(conflict("ClusterRoleBinding", &b.metadata));
        }
    }
    let metas: [(&str, Option<&ObjectMeta>); 7] = [
        (
            "ServiceAccount",
            snap.children.service_account.as_ref().map(|o| &o.metadata),
        ),
        (
            "Role",
            snap.children.lease_role.as_ref().map(|o| &o.metadata),
        ),
        (
            "RoleBinding",
            snap.children
                .lease_role_binding
                .as_ref()
                .map(|o| &o.metadata),
        ),
        (
            "RoleBinding",
            snap.children
                .auth_reader_binding
                .as_ref()
                .map(|o| &o.metadata),
        ),
        (
            "Deployment",
            snap.children.deployment.as_ref().map(|o| &o.metadata),
        ),
        (
            "Service",
            snap.children.service.as_ref().map(|o| &o.metadata),
        ),
        (
            "PodDisruptionBudget",
            snap.children.pdb.as_ref().map(|o| &o.metadata),
        ),
    ];
    for (kind, meta) in metas {
        if let Some(meta) = meta
            && !controlled_by(meta, profile)
        {
            return Err(conflict(kind, meta));
        }
    }
    if let Some(lease) = &snap.children.lease
        && !controlled_by(&lease.metadata, profile)
        && !own_scheduler_lease(lease, &child)
    {
        return Err(conflict("Lease", &lease.metadata));
    }
    Ok(())
}

/// A Lease with no owner that no one holds, or that one of this profile's scheduler pods
/// (`ferrosched-<profile>-…`) holds: the scheduler recreates its Lease when it is deleted,
/// so the operator adopts it again.
fn own_scheduler_lease(lease: &k8s_openapi::api::coordination::v1::Lease, child: &str) -> bool {
    let ownerless = lease
        .metadata
        .owner_references
        .as_ref()
        .is_none_or(Vec::is_empty);
    let holder = lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        .unwrap_or_default();
    ownerless && (holder.is_empty() || holder.starts_with(&format!("{child}-")))
}

fn conflict(kind: &str, meta: &ObjectMeta) -> Invalid {
    Invalid::NameConflict {
        kind: kind.to_string(),
        name: meta.name.clone().unwrap_or_default(),
        why: format!("it exists and is {}", controller_of(meta)),
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
