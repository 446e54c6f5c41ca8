//! Builders, from a profile as a user writes it to the objects the operator applies.

use std::collections::BTreeSet;

use ferrosched_scheduler::config as sc;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::identity;
use crate::test_support::{FULL, desired, minimal, profile, settings};

#[test]
fn rendered_config_parses_with_the_schedulers_own_parser() {
    let p = profile(FULL);
    let cm = desired(&p).config_map;
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get("config.yaml"))
        .expect("config.yaml");
    let cfg = match sc::parse(text) {
        Ok(c) => c,
        Err(e) => panic!("rendered config does not parse: {e}\n{text}"),
    };
    assert_eq!(cfg.profiles.len(), 1);
    let prof = &cfg.profiles[0];
    assert_eq!(prof.scheduler_name, "bin-packer");
    assert_eq!(prof.percentage_of_nodes_to_score, Some(50));
    assert_eq!(
        prof.plugins.score_weight("NodeResourcesBalancedAllocation"),
        None,
        "preset disables it"
    );
    let strategy = &prof.plugin_args.node_resources_fit.scoring_strategy;
    assert_eq!(
        strategy.strategy,
        sc::ScoringStrategyType::MostAllocated,
        "preset sets MostAllocated"
    );
    let le = &cfg.leader_election;
    assert!(le.leader_elect);
    assert_eq!(
        (le.resource_lock.as_str(), le.resource_name.as_str()),
        ("leases", "ferrosched-packer")
    );
    assert_eq!(le.resource_namespace, "ferrosched-system");
    assert_eq!(le.lease_duration.as_secs(), 30);
    assert_eq!(
        (le.renew_deadline.as_secs(), le.retry_period.as_secs()),
        (20, 4)
    );
    assert_eq!(
        (cfg.client_connection.qps, cfg.client_connection.burst),
        (100.0, 200)
    );
    assert_eq!(cfg.client_connection.kubeconfig, "", "in-cluster");
    assert_eq!(
        (
            cfg.pod_initial_backoff.as_secs(),
            cfg.pod_max_backoff.as_secs()
        ),
        (2, 20)
    );
}

#[test]
fn no_scoring_preset_disables_every_score_plugin() {
    let p = profile(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata: {name: first-fit}\nspec: {preset: NoScoring}\n",
    );
    let text = desired(&p)
        .config_map
        .data
        .and_then(|d| d.get("config.yaml").cloned())
        .unwrap_or_default();
    let cfg = sc::parse(&text).expect("parses");
    assert!(
        cfg.profiles[0]
            .plugins
            .at(sc::ExtensionPoint::Score)
            .is_empty()
    );
}

#[test]
fn config_map_name_changes_iff_content_changes() {
    let base = desired(&minimal("demo")).config_map;
    assert_eq!(base.immutable, Some(true));
    let name = base.metadata.name.clone().unwrap_or_default();
    assert!(
        name.starts_with("ferrosched-demo-config-")
            && name.len() == "ferrosched-demo-config-".len() + 10,
        "{name}"
    );
    assert_eq!(
        base.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("ferrosched.dev/config-hash"))
            .map(|h| h.len()),
        Some(10)
    );

    let scaled = profile(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata: {name: demo}\nspec: {replicas: 5, logLevel: 3}\n",
    );
    assert_eq!(
        desired(&scaled).config_map.metadata.name,
        base.metadata.name,
        "pod-only changes keep the config"
    );
    let tuned = profile(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata: {name: demo}\nspec: {percentageOfNodesToScore: 30}\n",
    );
    assert_ne!(desired(&tuned).config_map.metadata.name, base.metadata.name);
    let again = desired(&minimal("demo")).config_map;
    assert_eq!(again.data, base.data, "rendering is deterministic");
}

#[test]
fn pdb_only_with_more_than_one_replica() {
    let with = |n: i32| {
        profile(&format!(
            "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata: {{name: demo}}\nspec: {{replicas: {n}}}\n"
        ))
    };
    assert!(pdb(&with(0), &settings()).is_none());
    assert!(pdb(&with(1), &settings()).is_none());
    let pdb = pdb(&with(2), &settings()).expect("pdb for 2 replicas");
    let spec = pdb.spec.expect("spec");
    assert_eq!(spec.min_available, Some(IntOrString::Int(1)));
    assert_eq!(
        spec.selector.and_then(|s| s.match_labels),
        Some(identity::selector_labels("demo"))
    );
    assert!(
        desired(&minimal("demo")).pdb.is_some(),
        "default replicas is 2"
    );
}

#[test]
fn service_exposes_the_secure_port() {
    let s = desired(&minimal("demo")).service;
    assert_eq!(s.metadata.name.as_deref(), Some("ferrosched-demo"));
    let spec = s.spec.expect("spec");
    assert_eq!(spec.selector, Some(identity::selector_labels("demo")));
    let port = &spec.ports.expect("ports")[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.target_port.clone()),
        (Some("https"), 10259, Some(IntOrString::Int(10259)))
    );
}

#[test]
fn lease_has_no_spec_for_the_operator_to_own() {
    let l = desired(&minimal("demo")).lease;
    assert_eq!(l.metadata.name.as_deref(), Some("ferrosched-demo"));
    assert!(l.spec.is_none());
    let json = serde_json::to_value(&l).unwrap_or_default();
    assert!(json.get("spec").is_none(), "{json}");
}

#[test]
fn every_child_is_labelled_and_owned_by_the_profile() {
    let p = minimal("demo");
    let d = desired(&p);
    let mut metas = vec![
        &d.service_account.metadata,
        &d.lease_role.metadata,
        &d.lease_role_binding.metadata,
        &d.auth_reader_binding.metadata,
        &d.lease.metadata,
        &d.config_map.metadata,
        &d.deployment.metadata,
        &d.service.metadata,
        &d.pdb.as_ref().expect("pdb").metadata,
    ];
    metas.extend(d.cluster_role_bindings.iter().map(|b| &b.metadata));
    for meta in &metas {
        let labels = meta.labels.clone().unwrap_or_default();
        for (k, v) in identity::labels("demo") {
            assert_eq!(labels.get(&k), Some(&v), "{:?} lacks {k}", meta.name);
        }
        let owners = meta.owner_references.clone().unwrap_or_default();
        assert_eq!(owners.len(), 1);
        let o = &owners[0];
        assert_eq!(
            (o.api_version.as_str(), o.kind.as_str(), o.name.as_str()),
            ("ferrosched.dev/v1alpha1", "SchedulerProfile", "demo")
        );
        assert_eq!(
            (o.controller, o.block_owner_deletion, o.uid.as_str()),
            (Some(true), Some(true), "uid-demo")
        );
        assert_eq!(identity::owning_profile(meta).as_deref(), Some("demo"));
    }
    let names_and_namespaces: BTreeSet<(Option<String>, Option<String>)> = metas
        .iter()
        .map(|m| (m.name.clone(), m.namespace.clone()))
        .collect();
    let s = |x: &str| Some(x.to_string());
    for expected in [
        (s("ferrosched:scheduler:demo:base"), None),
        (s("ferrosched:scheduler:demo:volume-binding"), None),
        (s("ferrosched-demo-auth-reader"), s("kube-system")),
        (s("ferrosched-demo"), s("ferrosched-system")),
    ] {
        assert!(
            names_and_namespaces.contains(&expected),
            "missing {expected:?}"
        );
    }
}
