//! The resolved configuration: every default applied, everything validated.

use std::time::Duration;

use super::args::PluginArgsSet;
use super::merge::ResolvedPlugins;

/// A defaulted and validated `KubeSchedulerConfiguration`.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Parallel workers for filtering and scoring (default 16).
    pub parallelism: u32,
    /// Global share of nodes to score, 0..=100; `None` or `Some(0)` means adaptive.
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Initial backoff of an unschedulable pod (default 1s).
    pub pod_initial_backoff: Duration,
    /// Maximum backoff of an unschedulable pod (default 10s).
    pub pod_max_backoff: Duration,
    /// Leader election settings.
    pub leader_election: LeaderElection,
    /// API client settings.
    pub client_connection: ClientConnection,
    /// Serve profiling handlers (default true).
    pub enable_profiling: bool,
    /// Lock contention profiling (default true when profiling is on).
    pub enable_contention_profiling: bool,
    /// Wait for leadership before filling caches (default false).
    pub delay_cache_until_active: bool,
    /// The profiles, one per scheduler name, in configuration order.
    pub profiles: Vec<Profile>,
}

impl SchedulerConfig {
    /// The profile serving `scheduler_name`.
    pub fn profile(&self, scheduler_name: &str) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.scheduler_name == scheduler_name)
    }
}

/// Leader election settings, defaulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElection {
    /// Whether to run leader election (default true).
    pub leader_elect: bool,
    /// Lease validity (default 15s).
    pub lease_duration: Duration,
    /// Renewal deadline of the leader (default 10s).
    pub renew_deadline: Duration,
    /// Wait between attempts (default 2s).
    pub retry_period: Duration,
    /// Lock type, always `leases` when leader election is on.
    pub resource_lock: String,
    /// Lease name (default `kube-scheduler`).
    pub resource_name: String,
    /// Lease namespace (default `kube-system`).
    pub resource_namespace: String,
}

/// API client settings, defaulted.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConnection {
    /// Path to a kubeconfig file; empty means in-cluster configuration.
    pub kubeconfig: String,
    /// `Accept` header for API requests (may be empty).
    pub accept_content_types: String,
    /// Content type of requests (default `application/vnd.kubernetes.protobuf`).
    pub content_type: String,
    /// Client QPS (default 50).
    pub qps: f32,
    /// Client burst (default 100).
    pub burst: u32,
}

/// One resolved scheduling profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The scheduler name pods select (default `default-scheduler` for a lone profile).
    pub scheduler_name: String,
    /// Per-profile share of nodes to score; overrides the global value when set
    /// (`Some(0)` means adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Effective plugins per extension point.
    pub plugins: ResolvedPlugins,
    /// Typed plugin args, defaults applied.
    pub plugin_args: PluginArgsSet,
}
