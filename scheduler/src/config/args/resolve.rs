//! Decoding `pluginConfig` entries into the typed args, each checked by its plugin's
//! rules.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;

use super::check;
use super::placement;
use super::types::*;
use crate::config::error::{Errs, FieldPath, shown};
use crate::config::plugins_table::plugin_info;
use crate::config::types::{API_VERSION, PluginConfig};

/// Every plugin's args at their defaults: the checks' own defaulting, run on empty input.
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
