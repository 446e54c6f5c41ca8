//! The operator-wide settings the builders, the checks and the rollout logic need.

use ferrosched_crds::SchedulerProfile;

/// Operator-wide settings the builders need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Namespace of the operands.
    pub namespace: String,
    /// Scheduler image for profiles that do not name one.
    pub default_image: String,
    /// Where `spec.image` may come from (see [`crate::images::image_allowed`]); empty: the
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
