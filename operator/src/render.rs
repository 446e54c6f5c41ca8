//! From a profile's spec to the `KubeSchedulerConfiguration` its scheduler runs (pure).
//!
//! The document has one profile. Presets are expanded here; what a preset adds goes
//! *after* the user's own entries, so a validation message's list index still points at
//! the entry the user wrote.

use ferrosched_crds::{PluginConfig, PluginSet, Plugins, Preset, SchedulerProfile};
use ferrosched_scheduler::config as sc;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::identity;

/// A rendered configuration with its content hash.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// The document, as handed to the scheduler's `resolve`.
    pub document: sc::KubeSchedulerConfiguration,
    /// The YAML text stored in the ConfigMap.
    pub text: String,
    /// First ten hex digits of the SHA-256 of `text`.
    pub hash: String,
}

/// A spec field the operator could not even put into a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderProblem {
    /// Path of the field in the profile, e.g. `spec.leaderElection.leaseDuration`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Renders `profile` for a scheduler whose Lease lives in `namespace`.
pub fn render(profile: &SchedulerProfile, namespace: &str) -> Result<Rendered, Vec<RenderProblem>> {
    let spec = &profile.spec;
    let mut problems = Vec::new();
    let le = spec.leader_election.clone().unwrap_or_default();
    let mut duration = |field: &str, value: Option<&String>, default: i64| match value {
        None => sc::GoDuration::from_secs(default),
        Some(text) => sc::GoDuration::parse(text).unwrap_or_else(|e| {
            let path = format!("spec.leaderElection.{field}");
            problems.push(RenderProblem {
                path,
                message: format!("Invalid value: {text:?}: {e}"),
            });
            sc::GoDuration::ZERO
        }),
    };
    let leader_election = sc::LeaderElectionConfiguration {
        leader_elect: Some(le.leader_elect.unwrap_or(true)),
        lease_duration: duration("leaseDuration", le.lease_duration.as_ref(), 15),
        renew_deadline: duration("renewDeadline", le.renew_deadline.as_ref(), 10),
        retry_period: duration("retryPeriod", le.retry_period.as_ref(), 2),
        resource_lock: "leases".to_string(),
        resource_name: identity::child_name(identity::profile_name(profile)),
        resource_namespace: namespace.to_string(),
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let cc = spec.client_connection.clone().unwrap_or_default();
    let client_connection = sc::ClientConnectionConfiguration {
        qps: cc.qps.unwrap_or(0.0),
        burst: cc.burst.unwrap_or(0),
        ..sc::ClientConnectionConfiguration::default()
    };
    let (plugins, plugin_config) =
        with_preset(spec.preset, spec.plugins.as_ref(), &spec.plugin_config);
    let document = sc::KubeSchedulerConfiguration {
        leader_election,
        client_connection,
        pod_initial_backoff_seconds: spec.pod_initial_backoff_seconds,
        pod_max_backoff_seconds: spec.pod_max_backoff_seconds,
        profiles: vec![sc::KubeSchedulerProfile {
            scheduler_name: Some(identity::scheduler_name(profile)),
            percentage_of_nodes_to_score: spec.percentage_of_nodes_to_score,
            plugins: plugins.map(|p| to_wire_plugins(&p)),
            plugin_config: plugin_config.iter().map(to_wire_plugin_config).collect(),
        }],
        ..sc::KubeSchedulerConfiguration::default()
    };
    let text = sc::render(&document);
    let hash = content_hash(&text);
    Ok(Rendered {
        document,
        text,
        hash,
    })
}

/// First ten hex digits of the SHA-256 of `text`.
pub fn content_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(digest)[..10].to_string()
}

/// The user's plugins and pluginConfig with the preset's additions appended.
fn with_preset(
    preset: Option<Preset>,
    plugins: Option<&Plugins>,
    plugin_config: &[PluginConfig],
) -> (Option<Plugins>, Vec<PluginConfig>) {
    let mut plugins = plugins.cloned();
    let mut config = plugin_config.to_vec();
    let disable_score = |plugins: &mut Option<Plugins>, name: &str| {
        let p = plugins.get_or_insert_with(Plugins::default);
        let score = p.score.get_or_insert_with(PluginSet::default);
        score.disabled.push(ferrosched_crds::Plugin {
            name: name.to_string(),
            weight: None,
        });
    };
    match preset {
        None | Some(Preset::LowNodeUtilization) => {}
        Some(Preset::HighNodeUtilization) => {
            disable_score(&mut plugins, "NodeResourcesBalancedAllocation");
            if !config.iter().any(|c| c.name == "NodeResourcesFit") {
                config.push(PluginConfig {
                    name: "NodeResourcesFit".to_string(),
                    args: Some(json!({
                        "scoringStrategy": {
                            "type": "MostAllocated",
                            "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
                        }
                    })),
                });
            }
        }
        Some(Preset::NoScoring) => disable_score(&mut plugins, "*"),
    }
    (plugins, config)
}

fn to_wire_set(set: Option<&PluginSet>) -> sc::PluginSet {
    let conv = |p: &ferrosched_crds::Plugin| sc::Plugin {
        name: p.name.clone(),
        weight: p.weight,
    };
    set.map(|s| sc::PluginSet {
        enabled: s.enabled.iter().map(conv).collect(),
        disabled: s.disabled.iter().map(conv).collect(),
    })
    .unwrap_or_default()
}

fn to_wire_plugins(p: &Plugins) -> sc::Plugins {
    sc::Plugins {
        pre_enqueue: to_wire_set(p.pre_enqueue.as_ref()),
        queue_sort: to_wire_set(p.queue_sort.as_ref()),
        pre_filter: to_wire_set(p.pre_filter.as_ref()),
        filter: to_wire_set(p.filter.as_ref()),
        post_filter: to_wire_set(p.post_filter.as_ref()),
        pre_score: to_wire_set(p.pre_score.as_ref()),
        score: to_wire_set(p.score.as_ref()),
        reserve: to_wire_set(p.reserve.as_ref()),
        permit: to_wire_set(p.permit.as_ref()),
        pre_bind: to_wire_set(p.pre_bind.as_ref()),
        bind: to_wire_set(p.bind.as_ref()),
        post_bind: to_wire_set(p.post_bind.as_ref()),
        multi_point: to_wire_set(p.multi_point.as_ref()),
        ..sc::Plugins::default()
    }
}

fn to_wire_plugin_config(c: &PluginConfig) -> sc::PluginConfig {
    sc::PluginConfig {
        name: c.name.clone(),
        args: c.args.clone(),
    }
}
