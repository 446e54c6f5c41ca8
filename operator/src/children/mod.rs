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
pub use deployment::{CONTAINER, RUN_AS, command, default_resources, deployment};
pub use kinds::{
    BuildCx, Child, ChildKind, ChildWrites, Deletion, Desired, Existing, PlanCx, Slot, kind,
};
pub use lease::lease;
pub use pdb::pdb;
pub use rbac::{
    BASE_GROUP, GrantGroup, auth_reader_binding, cluster_role_bindings, cluster_rules,
    emptied_binding, grant_groups, grant_role_name, grant_roles, groups_for, lease_role,
    lease_role_binding, service_account,
};
pub use service::service;

use crate::config_ref::ConfigRef;
use crate::settings::Settings;
use crate::validate::Valid;

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
