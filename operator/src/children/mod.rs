//! The desired objects of a profile, built by pure functions, one module per child kind.

mod configmap;
mod deployment;
mod lease;
mod pdb;
mod rbac;
mod service;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_deployment;
#[cfg(test)]
mod tests_knobs;
#[cfg(test)]
mod tests_rbac;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding};

use ferrosched_crds::SchedulerProfile;

pub use configmap::config_map;
pub use deployment::{
    BIND_DRAIN_SECONDS, CONTAINER, PROGRESS_DEADLINE_SECONDS, RUN_AS, command, default_resources,
    deployment, grace_seconds, leader_elect, min_grace_seconds, renew_deadline_seconds,
};
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

/// Every object a valid profile should have.
#[derive(Clone, Debug)]
pub struct Desired {
    /// The scheduler pods' identity.
    pub service_account: ServiceAccount,
    /// Bindings of `service_account` to the grant roles of the enabled plugins, sorted
    /// by name.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    /// get/update on the scheduler's Lease.
    pub lease_role: Role,
    /// Binds `lease_role`.
    pub lease_role_binding: RoleBinding,
    /// kube-system binding to `extension-apiserver-authentication-reader`.
    pub auth_reader_binding: RoleBinding,
    /// The scheduler's Lease (metadata only).
    pub lease: Lease,
    /// The ConfigMap of the desired configuration.
    pub config_map: ConfigMap,
    /// The Deployment, mounting the configuration chosen by the rollout logic.
    pub deployment: Deployment,
    /// The metrics Service.
    pub service: Service,
    /// The PDB, when replicas > 1.
    pub pdb: Option<PodDisruptionBudget>,
}

/// Builds every child of `profile`; the Deployment runs `deployed` (the desired
/// configuration, or the last good one during a rollback).
pub fn build(
    profile: &SchedulerProfile,
    s: &Settings,
    valid: &Valid,
    deployed: &ConfigRef,
) -> Desired {
    Desired {
        service_account: service_account(profile, s),
        cluster_role_bindings: cluster_role_bindings(profile, s, &valid.enabled_plugins),
        lease_role: lease_role(profile, s),
        lease_role_binding: lease_role_binding(profile, s),
        auth_reader_binding: auth_reader_binding(profile, s),
        lease: lease(profile, s),
        config_map: config_map(
            profile,
            s,
            &valid.rendered,
            &ConfigRef::desired(profile, s, &valid.rendered),
        ),
        deployment: deployment(profile, s, deployed),
        service: service(profile, s),
        pdb: pdb(profile, s),
    }
}
