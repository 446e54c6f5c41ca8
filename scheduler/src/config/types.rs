//! Serde mirror of the `kubescheduler.config.k8s.io/v1` wire format.
//!
//! Optional fields are `Option`s (or empty collections / zero values where upstream
//! treats zero as "unset") so that defaulting can tell "not given" from "given".
//! Integers keep upstream's signed widths so that out-of-range values reach
//! validation and get upstream's messages instead of a type error.

use serde::{Deserialize, Serialize};

use super::duration::GoDuration;
use super::nullable::nullable;
use super::plugins_table::ExtensionPoint;

/// The only `apiVersion` accepted.
pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";
/// The only `kind` accepted.
pub const KIND: &str = "KubeSchedulerConfiguration";

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

/// A `KubeSchedulerConfiguration` document as written by users.
///
/// `Default` yields an empty document with the right `apiVersion` and `kind`, which
/// resolves to upstream's defaults (one `default-scheduler` profile).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeSchedulerConfiguration {
    /// Must be `kubescheduler.config.k8s.io/v1`.
    #[serde(default, deserialize_with = "nullable")]
    pub api_version: String,
    /// Must be `KubeSchedulerConfiguration`.
    #[serde(default, deserialize_with = "nullable")]
    pub kind: String,
    /// Number of parallel workers for filtering and scoring (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    /// Leader election settings.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "LeaderElectionConfiguration::is_unset")]
    pub leader_election: LeaderElectionConfiguration,
    /// API client settings.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "ClientConnectionConfiguration::is_unset")]
    pub client_connection: ClientConnectionConfiguration,
    /// Serve profiling handlers (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_profiling: Option<bool>,
    /// Enable lock contention profiling when profiling is on (default true then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_contention_profiling: Option<bool>,
    /// Global share of nodes to score, 0..=100; 0 or unset means adaptive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Initial backoff for unschedulable pods, in seconds (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_initial_backoff_seconds: Option<i64>,
    /// Maximum backoff for unschedulable pods, in seconds (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_max_backoff_seconds: Option<i64>,
    /// Scheduling profiles; one `default-scheduler` profile when empty.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<KubeSchedulerProfile>,
    /// Scheduler extenders. Accepted in the format but not supported: must be empty.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extenders: Vec<serde_json::Value>,
    /// Wait for leadership before filling caches.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "is_false")]
    pub delay_cache_until_active: bool,
}

impl Default for KubeSchedulerConfiguration {
    fn default() -> Self {
        KubeSchedulerConfiguration {
            api_version: API_VERSION.to_string(),
            kind: KIND.to_string(),
            parallelism: None,
            leader_election: LeaderElectionConfiguration::default(),
            client_connection: ClientConnectionConfiguration::default(),
            enable_profiling: None,
            enable_contention_profiling: None,
            percentage_of_nodes_to_score: None,
            pod_initial_backoff_seconds: None,
            pod_max_backoff_seconds: None,
            profiles: Vec::new(),
            extenders: Vec::new(),
            delay_cache_until_active: false,
        }
    }
}

/// `leaderElection` (component-base `LeaderElectionConfiguration`). Zero durations
/// and empty strings mean "use the default".
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaderElectionConfiguration {
    /// Whether to run leader election (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_elect: Option<bool>,
    /// How long a lease is valid (default 15s).
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub lease_duration: GoDuration,
    /// How long the leader keeps retrying to renew (default 10s).
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub renew_deadline: GoDuration,
    /// Wait between attempts (default 2s).
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub retry_period: GoDuration,
    /// Lock type; only `leases` is accepted (default `leases`).
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_lock: String,
    /// Lease name (default `kube-scheduler`).
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_name: String,
    /// Lease namespace (default `kube-system`).
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_namespace: String,
}

impl LeaderElectionConfiguration {
    fn is_unset(&self) -> bool {
        *self == Self::default()
    }
}

/// `clientConnection` (component-base `ClientConnectionConfiguration`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConnectionConfiguration {
    /// Path to a kubeconfig file; empty means in-cluster.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kubeconfig: String,
    /// `Accept` header for API requests.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub accept_content_types: String,
    /// Content type of requests (default `application/vnd.kubernetes.protobuf`).
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content_type: String,
    /// Client QPS (0 means the default, 50). A float32 upstream; read as f64 so that a
    /// value beyond float32 is reported with its field path rather than as a syntax error.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub qps: f64,
    /// Client burst (0 means the default, 100).
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub burst: i32,
}

impl ClientConnectionConfiguration {
    fn is_unset(&self) -> bool {
        *self == Self::default()
    }
}

/// One scheduling profile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeSchedulerProfile {
    /// Name pods select with `spec.schedulerName`; defaults to `default-scheduler`
    /// only when there is a single profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// Per-profile override of the share of nodes to score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Plugins to enable and disable, merged with the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Plugins>,
    /// Arguments per plugin.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plugin_config: Vec<PluginConfig>,
}

/// The `plugins` section of a profile: one set per extension point plus `multiPoint`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plugins {
    /// PreEnqueue plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub pre_enqueue: PluginSet,
    /// QueueSort plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub queue_sort: PluginSet,
    /// PreFilter plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub pre_filter: PluginSet,
    /// Filter plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub filter: PluginSet,
    /// PostFilter plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub post_filter: PluginSet,
    /// PreScore plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub pre_score: PluginSet,
    /// Score plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub score: PluginSet,
    /// Reserve plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub reserve: PluginSet,
    /// Permit plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub permit: PluginSet,
    /// PreBind plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub pre_bind: PluginSet,
    /// Bind plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub bind: PluginSet,
    /// PostBind plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub post_bind: PluginSet,
    /// Plugins enabled at every extension point they implement.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub multi_point: PluginSet,
    /// Workload placement generation (gang scheduling, off at 1.37): must not enable plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub placement_generate: PluginSet,
    /// Workload placement scoring (gang scheduling, off at 1.37): must not enable plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub placement_score: PluginSet,
    /// Pod group post-filter (gang scheduling, off at 1.37): must not enable plugins.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "PluginSet::is_empty")]
    pub pod_group_post_filter: PluginSet,
}

impl Plugins {
    /// The set configured for one extension point.
    pub fn point(&self, point: ExtensionPoint) -> &PluginSet {
        match point {
            ExtensionPoint::PreEnqueue => &self.pre_enqueue,
            ExtensionPoint::QueueSort => &self.queue_sort,
            ExtensionPoint::PreFilter => &self.pre_filter,
            ExtensionPoint::Filter => &self.filter,
            ExtensionPoint::PostFilter => &self.post_filter,
            ExtensionPoint::PreScore => &self.pre_score,
            ExtensionPoint::Score => &self.score,
            ExtensionPoint::Reserve => &self.reserve,
            ExtensionPoint::Permit => &self.permit,
            ExtensionPoint::PreBind => &self.pre_bind,
            ExtensionPoint::Bind => &self.bind,
            ExtensionPoint::PostBind => &self.post_bind,
        }
    }

    /// Mutable access to the set of one extension point.
    pub fn point_mut(&mut self, point: ExtensionPoint) -> &mut PluginSet {
        match point {
            ExtensionPoint::PreEnqueue => &mut self.pre_enqueue,
            ExtensionPoint::QueueSort => &mut self.queue_sort,
            ExtensionPoint::PreFilter => &mut self.pre_filter,
            ExtensionPoint::Filter => &mut self.filter,
            ExtensionPoint::PostFilter => &mut self.post_filter,
            ExtensionPoint::PreScore => &mut self.pre_score,
            ExtensionPoint::Score => &mut self.score,
            ExtensionPoint::Reserve => &mut self.reserve,
            ExtensionPoint::Permit => &mut self.permit,
            ExtensionPoint::PreBind => &mut self.pre_bind,
            ExtensionPoint::Bind => &mut self.bind,
            ExtensionPoint::PostBind => &mut self.post_bind,
        }
    }
}

/// Plugins enabled and disabled at one point.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginSet {
    /// Plugins to enable, after the defaults of this point.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enabled: Vec<Plugin>,
    /// Default plugins to disable; `*` disables all of them.
    #[serde(default, deserialize_with = "nullable")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disabled: Vec<Plugin>,
}

impl PluginSet {
    /// Whether nothing is enabled or disabled.
    pub fn is_empty(&self) -> bool {
        self.enabled.is_empty() && self.disabled.is_empty()
    }
}

/// A plugin reference with an optional Score weight.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plugin {
    /// Plugin name.
    pub name: String,
    /// Score weight (used by Score plugins only; unset or 0 means 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

impl Plugin {
    /// A plugin reference without weight.
    pub fn named(name: &str) -> Self {
        Plugin {
            name: name.to_string(),
            weight: None,
        }
    }

    /// A plugin reference with a weight.
    pub fn weighted(name: &str, weight: i32) -> Self {
        Plugin {
            name: name.to_string(),
            weight: Some(weight),
        }
    }
}

/// Arguments for one plugin. `args` is decoded according to the plugin's args kind
/// (see [`super::wire_args`]); it may carry `apiVersion`/`kind` or not.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginConfig {
    /// Plugin name.
    pub name: String,
    /// Plugin arguments, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<serde_json::Value>,
}
