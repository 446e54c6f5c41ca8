//! `kubescheduler.config.k8s.io/v1` `KubeSchedulerConfiguration`: parsing,
//! defaulting and validation with upstream (Kubernetes v1.37) semantics.
//!
//! - [`parse`] reads a YAML or JSON document, [`resolve`] takes one built in memory
//!   (the operator's path); both apply upstream's v1 defaults and validation and
//!   return a [`SchedulerConfig`] or a [`ConfigError`] listing every problem with its
//!   field path.
//! - [`KubeSchedulerConfiguration`] mirrors the wire format (unknown fields are
//!   rejected); [`render`] writes it back as YAML.
//! - [`PLUGINS`] is the table of plugins Ferrosched knows and the extension points
//!   each implements; a profile's effective plugins per point are in
//!   [`ResolvedPlugins`], its typed plugin args in [`PluginArgsSet`].
//!
//! Deliberate differences from upstream kube-scheduler: scheduler extenders are
//! rejected; unknown plugin names are rejected everywhere (also in `disabled` lists
//! and in `pluginConfig`, where upstream ignores them); negative score weights are
//! rejected; non-empty args for a plugin that takes none are rejected; enabling
//! plugins at the gang-scheduling points (off by default at 1.37) is rejected.

mod args;
mod duration;
mod error;
mod labels;
mod merge;
mod nullable;
mod plugins_table;
mod resolved;
mod types;
mod validate;
pub mod wire_args;

#[cfg(test)]
mod tests_args;
#[cfg(test)]
mod tests_bad;
#[cfg(test)]
mod tests_extreme;
#[cfg(test)]
mod tests_good;
#[cfg(test)]
mod tests_render;

pub use args::{
    DefaultPreemptionArgs, DefaultingType, DynamicResourcesArgs, InterPodAffinityArgs,
    NodeAffinityArgs, NodeResourcesBalancedAllocationArgs, NodeResourcesFitArgs, PluginArgsSet,
    PodTopologySpreadArgs, ResourceWeight, ScoringStrategy, ScoringStrategyType, ShapePoint,
    VolumeBindingArgs, system_default_constraints,
};
pub use duration::GoDuration;
pub use error::{ConfigError, Problem};
pub use merge::{PluginRef, ResolvedPlugins};
pub use plugins_table::{DEFAULT_MULTI_POINT, ExtensionPoint, PLUGINS, PluginInfo, plugin_info};
pub use resolved::{ClientConnection, LeaderElection, Profile, SchedulerConfig};
pub use types::{
    API_VERSION, ClientConnectionConfiguration, KIND, KubeSchedulerConfiguration,
    KubeSchedulerProfile, LeaderElectionConfiguration, Plugin, PluginConfig, PluginSet, Plugins,
};
pub use validate::DEFAULT_SCHEDULER_NAME;

/// Parse, default and validate a `KubeSchedulerConfiguration` document (YAML or JSON).
pub fn parse(text: &str) -> Result<SchedulerConfig, ConfigError> {
    resolve(parse_document(text)?)
}

/// Parse a document into the wire form without defaulting or validating it.
/// Syntax errors and unknown fields are reported with their line and column.
pub fn parse_document(text: &str) -> Result<KubeSchedulerConfiguration, ConfigError> {
    serde_saphyr::from_str(text)
        .map_err(|e| ConfigError::single("", e.without_snippet().to_string()))
}

/// Default and validate an already-deserialized document.
pub fn resolve(raw: KubeSchedulerConfiguration) -> Result<SchedulerConfig, ConfigError> {
    validate::resolve_config(&raw)
}

/// Render a document as YAML that [`parse`] reads back to the same configuration.
pub fn render(cfg: &KubeSchedulerConfiguration) -> String {
    serde_saphyr::to_string(cfg).unwrap_or_else(|_| {
        // JSON is YAML too; serde_json cannot fail on these types.
        serde_json::to_string_pretty(cfg).unwrap_or_default()
    })
}
