//! The children of a profile: the registry of their kinds ([`kinds`]) and the pure
//! functions that build the desired objects, one module per child kind.

mod configmap;
mod deployment;
pub mod kinds;
mod lease;
mod pdb;
mod rbac;
mod service;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_deployment;
#[cfg(test)]
mod tests_kinds;
#[cfg(test)]
mod tests_knobs;
#[cfg(test)]
mod tests_rbac;

use ferrosched_crds::SchedulerProfile;

pub use configmap::config_map;
pub use deployment::{
    BIND_DRAIN_SECONDS, CONTAINER, PROGRESS_DEADLINE_SECONDS, RUN_AS, command, default_resources,
    deployment, grace_seconds, leader_elect, min_grace_seconds, renew_deadline_seconds,
};
pub use kinds::{BuildCx, Child, ChildKind, Deletion, Desired, Existing, PlanCx, Slot, kind};
pub use lease::lease;
pub use pdb::pdb;
pub use rbac::{
    BASE_GROUP, GrantGroup, auth_reader_binding, cluster_role_bindings, cluster_rules,
    emptied_binding, grant_groups, grant_role_name, grant_roles, groups_for, lease_role,
    lease_role_binding, service_account,
};
pub use service::service;

use crate::rollout::ConfigRef;
use crate::validate::Valid;

// The scheduler pods' layout, shared by the Deployment, its Service and its ConfigMap.
/// Secure port of the scheduler (HTTPS: health, metrics).
pub const SECURE_PORT: i32 = 10259;
/// Directory the config ConfigMap is mounted at.
pub const CONFIG_DIR: &str = "/etc/ferrosched";
/// Key of the rendered configuration in the ConfigMap.
pub const CONFIG_KEY: &str = "config.yaml";
/// Where the scheduler pods mount the operator-issued serving certificate.
pub const TLS_DIR: &str = "/var/run/ferrosched/tls";
/// Where the scheduler keeps its generated serving certificate.
pub const CERT_DIR: &str = "/var/run/ferrosched/certs";

/// Operator-wide settings the builders need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Namespace of the operands.
    pub namespace: String,
    /// Scheduler image for profiles that do not name one.
    pub default_image: String,
    /// Where `spec.image` may come from (see [`crate::guard::image_allowed`]); empty: the
    /// repository of `default_image` only.
    pub allowed_images: Vec<String>,
    /// Names in the operands' namespace that belong to the operator itself (its
    /// Deployment, ServiceAccount, Lease, …): no profile's child may take one.
    pub reserved_names: Vec<String>,
    /// Prefix of the fixed grant ClusterRoles the chart ships (`<release>:grants:`).
    pub grant_role_prefix: String,
    /// The Secret with the schedulers' operator-issued serving certificate; `None`: each
    /// scheduler signs its own.
    pub serving_secret: Option<String>,
}

/// `spec.image`, else the operator's default scheduler image.
pub fn scheduler_image(profile: &SchedulerProfile, s: &Settings) -> String {
    profile
        .spec
        .image
        .clone()
        .unwrap_or_else(|| s.default_image.clone())
}

/// Builds every child of `profile`; the Deployment runs `deployed` (the desired
/// configuration, or the last good one during a rollback).
pub fn build(
    profile: &SchedulerProfile,
    s: &Settings,
    valid: &Valid,
    deployed: &ConfigRef,
) -> Desired {
    let desired = ConfigRef::desired(profile, s, &valid.rendered);
    Desired::build(&BuildCx {
        profile,
        settings: s,
        valid,
        desired: &desired,
        deployed,
    })
}
