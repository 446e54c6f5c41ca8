//! What exists of a profile's children and of the grant roles (pure data; the `read`
//! module fills it in).

use std::collections::BTreeSet;

use crate::children::Existing;

/// What exists of a profile's children, and which fixed grant ClusterRoles exist.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every child kind's slot (see [`crate::children::kinds`]).
    pub children: Existing,
    /// The fixed grant ClusterRoles that exist, by name.
    pub grant_roles: BTreeSet<String>,
}
