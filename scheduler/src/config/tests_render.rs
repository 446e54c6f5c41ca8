//! Rendering a document and parsing it back gives the same configuration.

use std::time::Duration;

use super::*;

fn full_document() -> KubeSchedulerConfiguration {
    let fit_args = wire_args::NodeResourcesFitArgs {
        kind: Some("NodeResourcesFitArgs".into()),
        scoring_strategy: Some(wire_args::ScoringStrategy {
            type_: "MostAllocated".into(),
            resources: vec![wire_args::ResourceSpec {
                name: "cpu".into(),
                weight: 3,
            }],
            requested_to_capacity_ratio: None,
        }),
        ..Default::default()
    };
    let mut plugins = Plugins::default();
    plugins
        .multi_point
        .enabled
        .push(Plugin::weighted("PodCapacityOfNode", 4));
    plugins.score.disabled.push(Plugin::named("ImageLocality"));
    plugins.filter.enabled.push(Plugin::named("NodePorts"));
    KubeSchedulerConfiguration {
        parallelism: Some(8),
        percentage_of_nodes_to_score: Some(50),
        pod_initial_backoff_seconds: Some(3),
        pod_max_backoff_seconds: Some(30),
        leader_election: LeaderElectionConfiguration {
            leader_elect: Some(true),
            lease_duration: GoDuration::from_secs(30),
            renew_deadline: GoDuration::from_secs(20),
            retry_period: GoDuration::from_millis(1500),
            resource_namespace: "ferrosched".into(),
            ..Default::default()
        },
        client_connection: ClientConnectionConfiguration {
            qps: 75.5,
            burst: 150,
            ..Default::default()
        },
        profiles: vec![
            KubeSchedulerProfile {
                scheduler_name: Some("true".into()),
                percentage_of_nodes_to_score: Some(20),
                plugins: Some(plugins),
                plugin_config: vec![PluginConfig {
                    name: "NodeResourcesFit".into(),
                    args: serde_json::to_value(fit_args).ok(),
                }],
            },
            KubeSchedulerProfile {
                scheduler_name: Some("10s".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

#[test]
fn render_round_trips() {
    for doc in [KubeSchedulerConfiguration::default(), full_document()] {
        let text = render(&doc);
        let back = parse_document(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, doc, "{text}");
        assert_eq!(parse(&text), resolve(doc.clone()), "{text}");
    }
    let cfg = resolve(full_document()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.profiles[0].plugins.score_weight("PodCapacityOfNode"),
        Some(4)
    );
    assert_eq!(cfg.profiles[0].plugins.score_weight("ImageLocality"), None);
    let fit = &cfg.profiles[0]
        .plugin_args
        .node_resources_fit
        .scoring_strategy;
    assert_eq!(fit.strategy, ScoringStrategyType::MostAllocated);
    assert_eq!(
        fit.resources,
        vec![ResourceWeight {
            name: "cpu".into(),
            weight: 3
        }]
    );
    assert_eq!(
        cfg.leader_election.retry_period,
        Duration::from_millis(1500)
    );
}

/// A configuration as upstream kube-scheduler v1.37 dumps its defaults (abridged
/// `multiPoint`), with explicit empty sets, zero weights and typed args.
const UPSTREAM_DUMP: &str = r#"apiVersion: kubescheduler.config.k8s.io/v1
clientConnection:
  acceptContentTypes: ""
  burst: 100
  contentType: application/vnd.kubernetes.protobuf
  kubeconfig: /etc/kubernetes/scheduler.conf
  qps: 50
delayCacheUntilActive: false
enableContentionProfiling: true
enableProfiling: true
extenders: null
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: true
  leaseDuration: 15s
  renewDeadline: 10s
  resourceLock: leases
  resourceName: kube-scheduler
  resourceNamespace: kube-system
  retryPeriod: 2s
parallelism: 16
percentageOfNodesToScore: 0
podInitialBackoffSeconds: 1
podMaxBackoffSeconds: 10
profiles:
- pluginConfig:
  - args:
      apiVersion: kubescheduler.config.k8s.io/v1
      kind: DefaultPreemptionArgs
      minCandidateNodesAbsolute: 100
      minCandidateNodesPercentage: 10
    name: DefaultPreemption
  - args:
      apiVersion: kubescheduler.config.k8s.io/v1
      bindingTimeout: 10m0s
      filterTimeout: 10s
      kind: DynamicResourcesArgs
    name: DynamicResources
  - args:
      apiVersion: kubescheduler.config.k8s.io/v1
      hardPodAffinityWeight: 1
      ignorePreferredTermsOfExistingPods: false
      kind: InterPodAffinityArgs
    name: InterPodAffinity
  - args:
      apiVersion: kubescheduler.config.k8s.io/v1
      kind: NodeAffinityArgs
    name: NodeAffinity
  - args:
      apiVersion: kubescheduler.config.k8s.io/v1
      kind: NodeResourcesBalancedAllocationArgs
      resources:
      - name: cpu
        weight: 1
      - name: memory
        weight: 1
    name: NodeResourcesBalancedAllocation
  - args:
      apiVersion: kubescheduler.config.k8s.io/v1
      kind: NodeResourcesFitArgs
      scoringStrategy:
        resources:
        - name: cpu
          weight: 1
        - name: memory
          weight: 1
        type: LeastAllocated
    name: NodeResourcesFit
  - args:
      apiVersion: kubescheduler.config.k8s.io/v1
      defaultingType: System
      kind: PodTopologySpreadArgs
    name: PodTopologySpread
  - args:
      apiVersion: kubescheduler.config.k8s.io/v1
      bindTimeoutSeconds: 600
      kind: VolumeBindingArgs
      shape:
      - score: 10
        utilization: 0
      - score: 0
        utilization: 100
    name: VolumeBinding
  plugins:
    bind: {}
    filter: {}
    multiPoint:
      enabled:
      - name: SchedulingGates
        weight: 0
      - name: PrioritySort
        weight: 0
      - name: TaintToleration
        weight: 3
      - name: NodeAffinity
        weight: 2
    permit: {}
    placementGenerate: {}
    placementScore: {}
    podGroupPostFilter: {}
    postBind: {}
    postFilter: {}
    preBind: {}
    preEnqueue: {}
    preFilter: {}
    preScore: {}
    queueSort: {}
    reserve: {}
    score: {}
  schedulerName: default-scheduler
"#;

#[test]
fn upstream_dump_is_accepted() {
    let dumped = parse(UPSTREAM_DUMP).unwrap_or_else(|e| panic!("{e}"));
    let mut expected = parse(super::tests_good::HEAD).unwrap_or_else(|e| panic!("{e}"));
    expected.client_connection.kubeconfig = "/etc/kubernetes/scheduler.conf".into();
    expected.percentage_of_nodes_to_score = Some(0);
    assert_eq!(dumped, expected);
}
