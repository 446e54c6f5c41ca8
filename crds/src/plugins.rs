//! Plugin selection, in the same shape as an upstream `KubeSchedulerProfile`.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// One plugin reference: a name and, for score plugins, a weight.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Plugin {
    /// Plugin name as registered upstream (e.g. `NodeResourcesFit`) or by Ferrosched
    /// (`PodCapacityOfNode`); `*` in `disabled` means every default plugin of that point.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Weight of a score plugin (upstream range 1–100; unset means the plugin's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub weight: Option<i32>,
}

/// Plugins enabled and disabled at one extension point.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PluginSet {
    /// Plugins enabled in addition to the defaults, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled: Vec<Plugin>,
    /// Default plugins to disable; `*` disables all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled: Vec<Plugin>,
}

/// Plugin sets per extension point, as in upstream's `Plugins`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Plugins {
    /// PreEnqueue plugins run before a pod enters the active queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_enqueue: Option<PluginSet>,
    /// The one plugin that orders the scheduling queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_sort: Option<PluginSet>,
    /// PreFilter plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_filter: Option<PluginSet>,
    /// Filter plugins: which nodes can run the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<PluginSet>,
    /// PostFilter plugins, run when no node fits (preemption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_filter: Option<PluginSet>,
    /// PreScore plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_score: Option<PluginSet>,
    /// Score plugins with weights: which feasible node is best.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<PluginSet>,
    /// Reserve plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve: Option<PluginSet>,
    /// Permit plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit: Option<PluginSet>,
    /// PreBind plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_bind: Option<PluginSet>,
    /// Bind plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<PluginSet>,
    /// PostBind plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_bind: Option<PluginSet>,
    /// Plugins enabled or disabled at every extension point they implement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_point: Option<PluginSet>,
}

/// Arguments for one plugin, as in upstream's `PluginConfig`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PluginConfig {
    /// Name of the plugin the arguments are for.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The plugin's arguments object (e.g. `NodeResourcesFitArgs`), checked by the operator
    /// with the scheduler's own validation before anything is rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub args: Option<serde_json::Value>,
}

fn preserve_unknown_object(_: &mut schemars::generate::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// A named starting point for the profile's plugins, applied before `plugins`.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// Upstream's defaults: spread load (NodeResourcesFit LeastAllocated).
    LowNodeUtilization,
    /// Bin packing: NodeResourcesFit MostAllocated, NodeResourcesBalancedAllocation off.
    HighNodeUtilization,
    /// Every score plugin off: the first feasible node wins.
    NoScoring,
}
