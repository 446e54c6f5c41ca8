//! What the operator reports about a profile.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a `SchedulerProfile`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerProfileStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The scheduler name this profile serves (spec.schedulerName or metadata.name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// `Available`, `Progressing` and `Degraded`, Kubernetes style.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Scheduler pods that exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Scheduler pods that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Label selector of the scheduler pods, for the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// The replica currently holding the Lease (its identity), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// How many times the Lease changed hands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_transitions: Option<i32>,
    /// Content hash of the configuration the scheduler pods run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    /// Name of the ConfigMap holding that configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_name: Option<String>,
}

/// Condition types.
pub mod condition_types {
    /// The leader is scheduling with the desired configuration.
    pub const AVAILABLE: &str = "Available";
    /// A rollout is under way.
    pub const PROGRESSING: &str = "Progressing";
    /// Something needs the admin: invalid config, name conflict, failed rollout.
    pub const DEGRADED: &str = "Degraded";
}

/// Condition reasons.
pub mod condition_reasons {
    /// The spec does not make a valid scheduler configuration.
    pub const INVALID_CONFIG: &str = "InvalidConfig";
    /// Another, older profile already serves this scheduler name.
    pub const CONFLICT: &str = "Conflict";
    /// A rollout missed its progress deadline and was rolled back.
    pub const ROLLOUT_FAILED: &str = "RolloutFailed";
    /// All replicas run the desired configuration.
    pub const AS_EXPECTED: &str = "AsExpected";
    /// The Deployment is rolling out.
    pub const ROLLING_OUT: &str = "RollingOut";
    /// No ready scheduler replica yet.
    pub const NO_READY_REPLICAS: &str = "NoReadyReplicas";
    /// The profile asks for zero replicas.
    pub const SCALED_TO_ZERO: &str = "ScaledToZero";
    /// A child's name is reserved by the operator or held by an object the profile does
    /// not control.
    pub const NAME_CONFLICT: &str = "NameConflict";
    /// `spec.image` is outside the operator's allowlist.
    pub const IMAGE_NOT_ALLOWED: &str = "ImageNotAllowed";
    /// The API server refused a child in a dry run (an invalid pod-template field, say).
    pub const REJECTED: &str = "Rejected";
    /// A grant ClusterRole the profile's plugins need is missing (the chart ships them).
    pub const GRANT_ROLE_MISSING: &str = "GrantRoleMissing";
}
