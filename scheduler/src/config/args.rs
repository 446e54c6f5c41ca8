//! Resolved (defaulted and validated) plugin args, and the decoding of
//! `pluginConfig` entries into them.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::{NodeAffinity, TopologySpreadConstraint};
use serde::de::DeserializeOwned;

use super::args_check as check;
use super::args_placement as placement;
use super::error::{Errs, FieldPath, shown};
use super::plugins_table::plugin_info;
use super::types::{API_VERSION, PluginConfig};

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

impl Default for PluginArgsSet {
    fn default() -> Self {
        let mut sink = Errs::default();
        let p = FieldPath::default();
        PluginArgsSet {
            default_preemption: check::default_preemption(Default::default(), &p, &mut sink),
            inter_pod_affinity: check::inter_pod_affinity(Default::default(), &p, &mut sink),
            node_affinity: NodeAffinityArgs::default(),
            node_resources_fit: check::node_resources_fit(Default::default(), &p, &mut sink),
            node_resources_balanced_allocation: check::balanced_allocation(
                Default::default(),
                &p,
                &mut sink,
            ),
            pod_topology_spread: placement::pod_topology_spread(Default::default(), &p, &mut sink),
            volume_binding: check::volume_binding(Default::default(), &p, &mut sink),
            dynamic_resources: check::dynamic_resources(Default::default(), &p, &mut sink),
        }
    }
}

fn decode<T: DeserializeOwned>(
    value: serde_json::Value,
    plugin: &str,
    path: &FieldPath,
    errs: &mut Errs,
) -> Option<T> {
    match serde_json::from_value(value) {
        Ok(v) => Some(v),
        Err(e) => {
            errs.push(path, format!("decoding args for plugin {plugin}: {e}"));
            None
        }
    }
}

fn check_type_meta(
    value: &serde_json::Value,
    plugin: &str,
    kind: &str,
    path: &FieldPath,
    errs: &mut Errs,
) {
    if let Some(v) = value.get("apiVersion").and_then(|v| v.as_str())
        && v != API_VERSION
    {
        let detail = format!("must be {}", shown(API_VERSION));
        errs.invalid(&path.child("apiVersion"), v, &detail);
    }
    if let Some(k) = value.get("kind").and_then(|v| v.as_str())
        && k != kind
    {
        let detail = format!("args for plugin {plugin} must be of kind {}", shown(kind));
        errs.invalid(&path.child("kind"), k, &detail);
    }
}

fn only_type_meta(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Object(map) => map.keys().all(|k| k == "apiVersion" || k == "kind"),
        _ => false,
    }
}

/// Decode, default and validate a profile's `pluginConfig`. Problems are reported
/// under `profile_path.pluginConfig[i]`.
pub(crate) fn resolve_plugin_config(
    configs: &[PluginConfig],
    profile_path: &FieldPath,
    errs: &mut Errs,
) -> PluginArgsSet {
    let mut set = PluginArgsSet::default();
    let mut seen = BTreeSet::new();
    for (i, pc) in configs.iter().enumerate() {
        let path = profile_path.child("pluginConfig").index(i);
        let first = seen.insert(pc.name.as_str());
        if !first {
            errs.duplicate(&path, &pc.name);
        }
        let Some(info) = plugin_info(&pc.name) else {
            errs.push(
                &path.child("name"),
                format!("unknown plugin {}", shown(&pc.name)),
            );
            continue;
        };
        let args_path = path.child("args");
        let value = match &pc.args {
            None | Some(serde_json::Value::Null) => serde_json::Value::Object(Default::default()),
            Some(v) => v.clone(),
        };
        let Some(kind) = info.args_kind else {
            if !only_type_meta(&value) {
                errs.forbidden(
                    &args_path,
                    &format!("plugin {} does not take args", shown(info.name)),
                );
            }
            continue;
        };
        check_type_meta(&value, info.name, kind, &args_path, errs);
        macro_rules! resolve_into {
            ($field:ident, $check:path) => {
                if let Some(wire) = decode(value, info.name, &args_path, errs) {
                    let resolved = $check(wire, &args_path, errs);
                    if first {
                        set.$field = resolved;
                    }
                }
            };
        }
        match info.name {
            "DefaultPreemption" => resolve_into!(default_preemption, check::default_preemption),
            "InterPodAffinity" => resolve_into!(inter_pod_affinity, check::inter_pod_affinity),
            "NodeAffinity" => resolve_into!(node_affinity, placement::node_affinity),
            "NodeResourcesFit" => resolve_into!(node_resources_fit, check::node_resources_fit),
            "NodeResourcesBalancedAllocation" => {
                resolve_into!(
                    node_resources_balanced_allocation,
                    check::balanced_allocation
                )
            }
            "PodTopologySpread" => {
                resolve_into!(pod_topology_spread, placement::pod_topology_spread)
            }
            "VolumeBinding" => resolve_into!(volume_binding, check::volume_binding),
            "DynamicResources" => resolve_into!(dynamic_resources, check::dynamic_resources),
            other => errs.push(&args_path, format!("no args decoder for plugin {other}")),
        }
    }
    set
}
