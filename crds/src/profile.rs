//! `SchedulerProfile`: what a cluster admin applies to get a running scheduler.
// kube-derive's `printcolumn(...)` repeats keys by design; clippy reads them as duplicates.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::plugins::{PluginConfig, Plugins, Preset};
use crate::status::SchedulerProfileStatus;

/// Replicas a profile gets when it does not say: two, so a standby is always warm.
pub const DEFAULT_REPLICAS: i32 = 2;
/// Most replicas a profile may ask for: one leads, the rest only stand by (each one a
/// full watch of pods and nodes on the API server), so more buys nothing.
pub const MAX_REPLICAS: i32 = 10;

/// A scheduler Ferrosched runs for you: its name, plugins and how its pods are deployed.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "ferrosched.dev",
    version = "v1alpha1",
    kind = "SchedulerProfile",
    plural = "schedulerprofiles",
    singular = "schedulerprofile",
    shortname = "sprof",
    category = "ferrosched",
    status = "SchedulerProfileStatus",
    derive = "PartialEq",
    doc = "A pod scheduler run by the Ferrosched operator: plugins in upstream KubeSchedulerConfiguration shape and how the scheduler pods are deployed.",
    validation = Rule::new(
        "size(self.metadata.name) <= 52 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"
    ).message("metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, ending with a letter or digit) of at most 52 characters, so that Service ferrosched-<name> fits 63"),
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(
        name = "Scheduler",
        type_ = "string",
        json_path = ".status.schedulerName"
    ),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Leader", type_ = "string", json_path = ".status.leader"),
    printcolumn(
        name = "Available",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Available\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new(
    "has(self.schedulerName) == has(oldSelf.schedulerName) && (!has(self.schedulerName) || self.schedulerName == oldSelf.schedulerName)"
).message("schedulerName is immutable").field_path(".schedulerName"))]
#[x_kube(validation = Rule::new(
    "(has(self.podMaxBackoffSeconds) ? self.podMaxBackoffSeconds : 10) >= (has(self.podInitialBackoffSeconds) ? self.podInitialBackoffSeconds : 1)"
).message("podMaxBackoffSeconds must be greater than or equal to podInitialBackoffSeconds"))]
#[x_kube(validation = Rule::new(
    "!has(self.leaderElection) || !has(self.leaderElection.leaderElect) || self.leaderElection.leaderElect || self.replicas <= 1"
).message("leaderElection.leaderElect: false needs replicas 0 or 1: two schedulers without an election would both bind").field_path(".leaderElection.leaderElect"))]
#[serde(rename_all = "camelCase")]
pub struct SchedulerProfileSpec {
    /// The name pods put in `spec.schedulerName` to be scheduled by this profile. Defaults to
    /// the profile's name; immutable; unique across profiles (a second claim gets `Conflict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[schemars(regex(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub scheduler_name: Option<String>,

    /// Scheduler pods; one leads, the others stand by with warm caches. `kubectl scale` works.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = MAX_REPLICAS))]
    pub replicas: i32,

    /// Container image for the scheduler pods. Defaults to the operator's own image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Secrets (in the operands' namespace) for pulling `image` from a private registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,

    /// Image pull policy for the scheduler pods (`Always`, `IfNotPresent`, `Never`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(Always|IfNotPresent|Never)$"))]
    pub image_pull_policy: Option<String>,

    /// Lease timings for the scheduler replicas' leader election (upstream defaults 15s/10s/2s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_election: Option<LeaderElectionSpec>,

    /// A named plugin preset applied before `plugins`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,

    /// Plugins enabled and disabled per extension point, as in an upstream profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Plugins>,

    /// Plugin arguments, as in an upstream profile's `pluginConfig`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugin_config: Vec<PluginConfig>,

    /// Share of nodes to find feasible before scoring (0 or unset: upstream's adaptive rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub percentage_of_nodes_to_score: Option<i32>,

    /// First backoff of a pod that failed to schedule, in seconds (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub pod_initial_backoff_seconds: Option<i64>,

    /// Longest backoff of a pod that keeps failing, in seconds (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub pod_max_backoff_seconds: Option<i64>,

    /// Resources of the scheduler container. Unset: requests cpu 100m, memory 128Mi; no limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Node selector for the scheduler pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// Tolerations for the scheduler pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,

    /// Affinity for the scheduler pods. Unset: prefer spreading replicas across nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Priority class of the scheduler pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,

    /// Log verbosity of the scheduler (`-v`), 0–10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10))]
    pub log_level: Option<i32>,

    /// Client limits of the scheduler towards the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_connection: Option<ClientConnectionSpec>,

    /// The scheduler pods' PodDisruptionBudget. Unset: minAvailable 1 when replicas > 1,
    /// none otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption_budget: Option<DisruptionBudgetSpec>,

    /// Seconds a stopping scheduler pod gets to finish its binds and release its Lease.
    /// Unset: the bind drain (30 s) plus renewDeadline plus 5 s; a smaller value is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub termination_grace_period_seconds: Option<i64>,

    /// Seconds a rollout may go without progress (the Deployment's
    /// `progressDeadlineSeconds`) before the operator rolls back to the last good
    /// configuration and image. Unset: 120.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 3600))]
    pub progress_deadline_seconds: Option<i32>,
}

/// The PodDisruptionBudget of the scheduler pods.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[x_kube(validation = Rule::new(
    "!(has(self.minAvailable) && has(self.maxUnavailable))"
).message("set minAvailable or maxUnavailable, not both"))]
#[x_kube(validation = Rule::new(
    "!has(self.enabled) || self.enabled || !(has(self.minAvailable) || has(self.maxUnavailable))"
).message("minAvailable and maxUnavailable need enabled: true"))]
#[serde(rename_all = "camelCase")]
pub struct DisruptionBudgetSpec {
    /// `false`: no PodDisruptionBudget (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Pods that must stay up during voluntary disruptions (a number or a percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    /// Pods that may be down during voluntary disruptions (a number or a percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

fn default_replicas() -> i32 {
    DEFAULT_REPLICAS
}

/// Leader election timings, as Go durations (`15s`, `1m30s`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[x_kube(validation = Rule::new(
    "duration(has(self.leaseDuration) ? self.leaseDuration : '15s') > duration(has(self.renewDeadline) ? self.renewDeadline : '10s')"
).message("leaseDuration must be greater than renewDeadline"))]
#[x_kube(validation = Rule::new(
    "duration(has(self.renewDeadline) ? self.renewDeadline : '10s') > duration(has(self.retryPeriod) ? self.retryPeriod : '2s')"
).message("renewDeadline must be greater than retryPeriod"))]
#[serde(rename_all = "camelCase")]
pub struct LeaderElectionSpec {
    /// `false` runs a single scheduler with no election (replicas 0 or 1 only), as
    /// kube-scheduler with `leaderElect: false`; rollouts then stop the old pod before the
    /// new one starts. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_elect: Option<bool>,
    /// How long a standby waits after the last renewal before taking over (default 15s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    pub lease_duration: Option<String>,
    /// How long the leader keeps trying to renew before it gives up (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    pub renew_deadline: Option<String>,
    /// Interval between attempts to acquire or renew (default 2s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    pub retry_period: Option<String>,
}

/// Client rate limits of a scheduler.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClientConnectionSpec {
    /// Sustained queries per second to the API server (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub qps: Option<f64>,
    /// Burst of queries above qps (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub burst: Option<i32>,
}
