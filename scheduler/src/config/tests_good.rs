//! Configurations that must resolve, and the plugin lists they resolve to.

use std::time::Duration;

use super::ExtensionPoint::{self, *};
use super::*;

pub(super) const HEAD: &str =
    "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";

const FILTERS: &[&str] = &[
    "NodeName",
    "NodeUnschedulable",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeBinding",
    "VolumeZone",
    "PodTopologySpread",
    "InterPodAffinity",
    "DynamicResources",
    "NodeDeclaredFeatures",
];

const SCORES: &[&str] = &[
    "TaintToleration:3",
    "NodeAffinity:2",
    "NodeResourcesFit:1",
    "VolumeBinding:1",
    "PodTopologySpread:2",
    "InterPodAffinity:2",
    "DynamicResources:2",
    "NodeResourcesBalancedAllocation:1",
    "ImageLocality:1",
];

/// The effective defaults of upstream v1.37 (its `ExpandedPluginsV1`).
pub(super) fn default_points() -> Vec<(ExtensionPoint, Vec<&'static str>)> {
    vec![
        (
            PreEnqueue,
            vec!["SchedulingGates", "DynamicResources", "DefaultPreemption"],
        ),
        (QueueSort, vec!["PrioritySort"]),
        (PreFilter, FILTERS.to_vec()),
        (Filter, FILTERS.to_vec()),
        (PostFilter, vec!["DynamicResources", "DefaultPreemption"]),
        (
            PreScore,
            vec![
                "TaintToleration",
                "NodeAffinity",
                "NodeResourcesFit",
                "VolumeBinding",
                "PodTopologySpread",
                "InterPodAffinity",
                "NodeResourcesBalancedAllocation",
            ],
        ),
        (Score, SCORES.to_vec()),
        (Reserve, vec!["VolumeBinding", "DynamicResources"]),
        (Permit, vec![]),
        (PreBind, vec!["VolumeBinding", "DynamicResources"]),
        (Bind, vec!["DefaultBinder"]),
        (PostBind, vec![]),
    ]
}

/// A point's plugins as `Name` (or `Name:weight` at Score).
pub(super) fn shown_at(p: &Profile, point: ExtensionPoint) -> Vec<String> {
    p.plugins
        .at(point)
        .iter()
        .map(|r| {
            if point == Score {
                format!("{}:{}", r.name, r.weight)
            } else {
                r.name.clone()
            }
        })
        .collect()
}

fn must_parse(name: &str, yaml: &str) -> SchedulerConfig {
    parse(yaml).unwrap_or_else(|e| panic!("{name}: unexpected errors:\n{e}"))
}

fn with_score(scores: &[&'static str]) -> Vec<(ExtensionPoint, Vec<&'static str>)> {
    let mut points = default_points();
    points[Score.index()].1 = scores.to_vec();
    points
}

struct Case {
    name: &'static str,
    body: &'static str,
    /// (profile index, point, expected list); points not listed are not checked.
    want: Vec<(usize, ExtensionPoint, Vec<&'static str>)>,
}

fn all_points(
    profile: usize,
    points: Vec<(ExtensionPoint, Vec<&'static str>)>,
) -> Vec<(usize, ExtensionPoint, Vec<&'static str>)> {
    points
        .into_iter()
        .map(|(pt, list)| (profile, pt, list))
        .collect()
}

#[test]
fn good_configs_resolve_to_expected_plugins() {
    let mut override_first = vec!["NodeAffinity:7"];
    override_first.extend(SCORES.iter().filter(|s| !s.starts_with("NodeAffinity")));
    let mut with_capacity = SCORES.to_vec();
    with_capacity[0] = "TaintToleration:1";
    with_capacity.push("PodCapacityOfNode:5");
    let mut reset_affinity = SCORES.to_vec();
    reset_affinity[1] = "NodeAffinity:1";
    let filters_without_ports: Vec<&str> = FILTERS
        .iter()
        .copied()
        .filter(|n| *n != "NodePorts")
        .collect();

    let cases = vec![
        Case {
            name: "empty document",
            body: "",
            want: all_points(0, default_points()),
        },
        Case {
            name: "empty profile",
            body: "profiles:\n- {}\n",
            want: all_points(0, default_points()),
        },
        Case {
            name: "multiPoint adds a plugin and overrides a default's weight",
            body: "profiles:\n- plugins:\n    multiPoint:\n      enabled:\n      - {name: PodCapacityOfNode, weight: 5}\n      - {name: TaintToleration, weight: 1}\n",
            want: all_points(0, with_score(&with_capacity)),
        },
        Case {
            name: "re-listing a default in multiPoint without weight resets it to 1",
            body: "profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: NodeAffinity}]\n",
            want: all_points(0, with_score(&reset_affinity)),
        },
        Case {
            name: "weight 0 means 1",
            body: "profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: NodeAffinity, weight: 0}]\n",
            want: all_points(0, with_score(&reset_affinity)),
        },
        Case {
            name: "disabled * at score keeps only the point's own plugins, in order",
            body: "profiles:\n- plugins:\n    score:\n      disabled: [{name: '*'}]\n      enabled:\n      - {name: ImageLocality, weight: 4}\n      - {name: NodeResourcesFit, weight: 2}\n",
            want: all_points(0, with_score(&["ImageLocality:4", "NodeResourcesFit:2"])),
        },
        Case {
            name: "per-point weight override moves the plugin first",
            body: "profiles:\n- plugins:\n    score:\n      enabled: [{name: NodeAffinity, weight: 7}]\n",
            want: all_points(0, with_score(&override_first)),
        },
        Case {
            name: "per-point disable leaves the plugin's other points alone",
            body: "profiles:\n- plugins:\n    filter:\n      disabled: [{name: NodePorts}]\n",
            want: vec![
                (0, Filter, filters_without_ports),
                (0, PreFilter, FILTERS.to_vec()),
            ],
        },
        Case {
            name: "multiPoint disabled * with a custom set",
            body: "profiles:\n- plugins:\n    multiPoint:\n      disabled: [{name: '*'}]\n      enabled:\n      - {name: PrioritySort}\n      - {name: NodeResourcesFit, weight: 3}\n      - {name: DefaultBinder}\n",
            want: all_points(
                0,
                vec![
                    (PreEnqueue, vec![]),
                    (QueueSort, vec!["PrioritySort"]),
                    (PreFilter, vec!["NodeResourcesFit"]),
                    (Filter, vec!["NodeResourcesFit"]),
                    (PostFilter, vec![]),
                    (PreScore, vec!["NodeResourcesFit"]),
                    (Score, vec!["NodeResourcesFit:3"]),
                    (Reserve, vec![]),
                    (Permit, vec![]),
                    (PreBind, vec![]),
                    (Bind, vec!["DefaultBinder"]),
                    (PostBind, vec![]),
                ],
            ),
        },
        Case {
            name: "multiPoint disables one default everywhere",
            body: "profiles:\n- plugins:\n    multiPoint:\n      disabled: [{name: ImageLocality}]\n",
            want: all_points(0, with_score(&SCORES[..8])),
        },
        Case {
            name: "empty (null) lists are empty",
            body: "extenders:\nprofiles:\n- pluginConfig:\n  plugins:\n    score:\n      disabled:\n      enabled: []\n",
            want: all_points(0, default_points()),
        },
        Case {
            name: "two profiles",
            body: "profiles:\n- schedulerName: a\n- schedulerName: b\n  plugins:\n    score:\n      disabled: [{name: '*'}]\n",
            want: [
                all_points(0, default_points()),
                all_points(1, with_score(&[])),
            ]
            .concat(),
        },
    ];
    for case in cases {
        let cfg = must_parse(case.name, &format!("{HEAD}{}", case.body));
        for (profile, point, want) in case.want {
            let got = shown_at(&cfg.profiles[profile], point);
            assert_eq!(got, want, "{}: profile {profile}, {point}", case.name);
        }
    }
}

#[test]
fn json_document_parses() {
    let json = r#"{"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
        "profiles": [{"schedulerName": "json", "plugins": {"score": {"enabled": [{"name": "PodCapacityOfNode", "weight": 2}]}}}]}"#;
    let cfg = must_parse("json", json);
    assert_eq!(cfg.profiles[0].scheduler_name, "json");
    assert_eq!(
        cfg.profiles[0].plugins.score_weight("PodCapacityOfNode"),
        Some(2)
    );
}

#[test]
fn top_level_defaults() {
    let cfg = must_parse("defaults", HEAD);
    assert_eq!(cfg.parallelism, 16);
    assert_eq!(cfg.percentage_of_nodes_to_score, None);
    assert_eq!(cfg.pod_initial_backoff, Duration::from_secs(1));
    assert_eq!(cfg.pod_max_backoff, Duration::from_secs(10));
    let le = &cfg.leader_election;
    assert!(le.leader_elect);
    assert_eq!(
        (le.lease_duration, le.renew_deadline, le.retry_period),
        (
            Duration::from_secs(15),
            Duration::from_secs(10),
            Duration::from_secs(2)
        )
    );
    assert_eq!(
        (
            le.resource_lock.as_str(),
            le.resource_name.as_str(),
            le.resource_namespace.as_str()
        ),
        ("leases", "kube-scheduler", "kube-system")
    );
    let cc = &cfg.client_connection;
    assert_eq!((cc.kubeconfig.as_str(), cc.qps, cc.burst), ("", 50.0, 100));
    assert_eq!(cc.content_type, "application/vnd.kubernetes.protobuf");
    assert!(cfg.enable_profiling && cfg.enable_contention_profiling);
    assert_eq!(cfg.profiles.len(), 1);
    assert_eq!(cfg.profiles[0].scheduler_name, DEFAULT_SCHEDULER_NAME);
    assert_eq!(cfg.profiles[0].plugin_args, PluginArgsSet::default());
    assert_eq!(resolve(KubeSchedulerConfiguration::default()), Ok(cfg));
}

#[test]
fn top_level_values_are_taken() {
    let yaml = format!(
        "{HEAD}parallelism: 4\npercentageOfNodesToScore: 30\npodInitialBackoffSeconds: 2\npodMaxBackoffSeconds: 2\n\
         leaderElection:\n  leaderElect: false\n  leaseDuration: 1s\n  resourceName: mine\n\
         clientConnection:\n  kubeconfig: /etc/kube.conf\n  qps: 12.5\n  burst: 30\n\
         profiles:\n- schedulerName: fast\n  percentageOfNodesToScore: 0\n"
    );
    let cfg = must_parse("values", &yaml);
    assert_eq!(cfg.parallelism, 4);
    assert_eq!(cfg.percentage_of_nodes_to_score, Some(30));
    assert_eq!(
        (cfg.pod_initial_backoff, cfg.pod_max_backoff),
        (Duration::from_secs(2), Duration::from_secs(2))
    );
    assert!(!cfg.leader_election.leader_elect);
    assert_eq!(cfg.leader_election.lease_duration, Duration::from_secs(1));
    assert_eq!(cfg.leader_election.resource_name, "mine");
    assert_eq!(cfg.client_connection.kubeconfig, "/etc/kube.conf");
    assert_eq!(
        (cfg.client_connection.qps, cfg.client_connection.burst),
        (12.5, 30)
    );
    assert_eq!(cfg.profiles[0].scheduler_name, "fast");
    assert_eq!(cfg.profiles[0].percentage_of_nodes_to_score, Some(0));
    assert!(cfg.profile("fast").is_some());
}

#[test]
fn plugin_table_matches_defaults() {
    for (name, _) in DEFAULT_MULTI_POINT {
        assert!(plugin_info(name).is_some(), "{name}");
    }
    assert_eq!(PLUGINS.len(), 21);
    let capacity = plugin_info("PodCapacityOfNode").map(|p| p.points);
    assert_eq!(capacity, Some(&[Score][..]));
    for legacy in [
        "EBSLimits",
        "GCEPDLimits",
        "AzureDiskLimits",
        "CinderLimits",
        "NodeResourcesLeastAllocated",
    ] {
        assert!(plugin_info(legacy).is_none(), "{legacy}");
    }
    let cfg = must_parse("names", HEAD);
    assert_eq!(cfg.profiles[0].plugins.enabled_names().len(), 20);
    assert_eq!(
        cfg.profiles[0].plugins.score_weight("TaintToleration"),
        Some(3)
    );
}
