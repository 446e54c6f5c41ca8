//! The typed plugin args, defaults applied.

use std::time::Duration;

use k8s_openapi::api::core::v1::{NodeAffinity, TopologySpreadConstraint};

/// Resolved `DefaultPreemptionArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultPreemptionArgs {
    /// Minimum preemption candidates as a percentage of nodes, 0..=100 (default 10).
    pub min_candidate_nodes_percentage: u32,
    /// Minimum preemption candidates as an absolute number (default 100).
    pub min_candidate_nodes_absolute: u32,
}

/// Resolved `InterPodAffinityArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterPodAffinityArgs {
    /// Weight of existing pods' required affinity terms when scoring, 0..=100 (default 1).
    pub hard_pod_affinity_weight: u32,
    /// Ignore preferred affinity terms of existing pods when scoring.
    pub ignore_preferred_terms_of_existing_pods: bool,
}

/// Resolved `NodeAffinityArgs`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeAffinityArgs {
    /// Node affinity added to every pod of the profile.
    pub added_affinity: Option<NodeAffinity>,
}

/// A resource and its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceWeight {
    /// Resource name.
    pub name: String,
    /// Weight, 1..=100.
    pub weight: u32,
}

/// A point of a piecewise-linear scoring function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapePoint {
    /// Utilization, 0..=100.
    pub utilization: u32,
    /// Score, 0..=10.
    pub score: u32,
}

/// How NodeResourcesFit scores nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScoringStrategyType {
    /// Favour nodes with fewer requested resources (the default).
    LeastAllocated,
    /// Favour nodes with more requested resources.
    MostAllocated,
    /// Score with a function of the requested/capacity ratio.
    RequestedToCapacityRatio {
        /// The function's points, by increasing utilization.
        shape: Vec<ShapePoint>,
    },
}

/// NodeResourcesFit's scoring strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoringStrategy {
    /// The strategy.
    pub strategy: ScoringStrategyType,
    /// Resources considered and their weights (default cpu:1, memory:1).
    pub resources: Vec<ResourceWeight>,
}

/// Resolved `NodeResourcesFitArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeResourcesFitArgs {
    /// Resources the filter ignores.
    pub ignored_resources: Vec<String>,
    /// Resource groups the filter ignores.
    pub ignored_resource_groups: Vec<String>,
    /// The scoring strategy.
    pub scoring_strategy: ScoringStrategy,
}

/// Resolved `NodeResourcesBalancedAllocationArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeResourcesBalancedAllocationArgs {
    /// Resources to balance (weights are always 1).
    pub resources: Vec<ResourceWeight>,
}

/// Where PodTopologySpread takes its default constraints from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultingType {
    /// Kubernetes' built-in defaults ([`system_default_constraints`]).
    System,
    /// The configured `defaultConstraints`.
    List,
}

/// Resolved `PodTopologySpreadArgs`.
#[derive(Clone, Debug, PartialEq)]
pub struct PodTopologySpreadArgs {
    /// Configured default constraints (empty with `System` defaulting).
    pub default_constraints: Vec<TopologySpreadConstraint>,
    /// `System` (default) or `List`.
    pub defaulting_type: DefaultingType,
}

impl PodTopologySpreadArgs {
    /// The constraints applied to pods that define none.
    pub fn effective_default_constraints(&self) -> Vec<TopologySpreadConstraint> {
        match self.defaulting_type {
            DefaultingType::System => system_default_constraints(),
            DefaultingType::List => self.default_constraints.clone(),
        }
    }
}

/// Upstream's system default spreading: hostname (maxSkew 3) and zone (maxSkew 5),
/// both `ScheduleAnyway`.
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    let soft = |key: &str, skew: i32| TopologySpreadConstraint {
        topology_key: key.to_string(),
        when_unsatisfiable: "ScheduleAnyway".to_string(),
        max_skew: skew,
        ..TopologySpreadConstraint::default()
    };
    vec![
        soft("kubernetes.io/hostname", 3),
        soft("topology.kubernetes.io/zone", 5),
    ]
}

/// Resolved `VolumeBindingArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeBindingArgs {
    /// Timeout of volume binding, seconds (default 600).
    pub bind_timeout_seconds: u64,
    /// Storage capacity scoring function (default `[{0, 10}, {100, 0}]`).
    pub shape: Vec<ShapePoint>,
}

/// Resolved `DynamicResourcesArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynamicResourcesArgs {
    /// Limit on filtering one node (default 10s; zero means no limit).
    pub filter_timeout: Duration,
    /// Wait for device binding conditions (default 10m).
    pub binding_timeout: Duration,
}

/// Typed args for every plugin that takes args, upstream defaults applied where the
/// profile gives none.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginArgsSet {
    /// DefaultPreemption.
    pub default_preemption: DefaultPreemptionArgs,
    /// InterPodAffinity.
    pub inter_pod_affinity: InterPodAffinityArgs,
    /// NodeAffinity.
    pub node_affinity: NodeAffinityArgs,
    /// NodeResourcesFit.
    pub node_resources_fit: NodeResourcesFitArgs,
    /// NodeResourcesBalancedAllocation.
    pub node_resources_balanced_allocation: NodeResourcesBalancedAllocationArgs,
    /// PodTopologySpread.
    pub pod_topology_spread: PodTopologySpreadArgs,
    /// VolumeBinding.
    pub volume_binding: VolumeBindingArgs,
    /// DynamicResources.
    pub dynamic_resources: DynamicResourcesArgs,
}
