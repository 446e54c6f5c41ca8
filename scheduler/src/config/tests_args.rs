//! Plugin args: defaults, decoding and validation messages.

use std::time::Duration;

use super::tests_bad::check_table;
use super::tests_good::HEAD;
use super::*;

fn args_of(plugin_config: &str) -> PluginArgsSet {
    let yaml = format!("{HEAD}profiles:\n- pluginConfig:\n{plugin_config}");
    match parse(&yaml) {
        Ok(cfg) => cfg.profiles[0].plugin_args.clone(),
        Err(e) => panic!("unexpected errors:\n{e}\n{yaml}"),
    }
}

fn rw(name: &str, weight: u32) -> ResourceWeight {
    ResourceWeight {
        name: name.to_string(),
        weight,
    }
}

#[test]
fn defaults_match_upstream() {
    let d = PluginArgsSet::default();
    assert_eq!(
        d.default_preemption,
        DefaultPreemptionArgs {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100
        }
    );
    assert_eq!(
        d.inter_pod_affinity,
        InterPodAffinityArgs {
            hard_pod_affinity_weight: 1,
            ignore_preferred_terms_of_existing_pods: false
        }
    );
    assert_eq!(d.node_affinity.added_affinity, None);
    let fit = &d.node_resources_fit;
    assert_eq!(
        fit.scoring_strategy.strategy,
        ScoringStrategyType::LeastAllocated
    );
    assert_eq!(
        fit.scoring_strategy.resources,
        vec![rw("cpu", 1), rw("memory", 1)]
    );
    assert_eq!(
        d.node_resources_balanced_allocation.resources,
        vec![rw("cpu", 1), rw("memory", 1)]
    );
    assert_eq!(
        d.pod_topology_spread.defaulting_type,
        DefaultingType::System
    );
    let system = d.pod_topology_spread.effective_default_constraints();
    let shown: Vec<_> = system
        .iter()
        .map(|c| {
            (
                c.topology_key.as_str(),
                c.max_skew,
                c.when_unsatisfiable.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            ("kubernetes.io/hostname", 3, "ScheduleAnyway"),
            ("topology.kubernetes.io/zone", 5, "ScheduleAnyway")
        ]
    );
    assert_eq!(d.volume_binding.bind_timeout_seconds, 600);
    let shape = vec![
        ShapePoint {
            utilization: 0,
            score: 10,
        },
        ShapePoint {
            utilization: 100,
            score: 0,
        },
    ];
    assert_eq!(d.volume_binding.shape, shape);
    assert_eq!(d.dynamic_resources.filter_timeout, Duration::from_secs(10));
    assert_eq!(
        d.dynamic_resources.binding_timeout,
        Duration::from_secs(600)
    );
}

#[test]
fn given_args_are_decoded_and_defaulted() {
    let a = args_of(
        "  - name: NodeResourcesFit\n    args:\n      apiVersion: kubescheduler.config.k8s.io/v1\n      kind: NodeResourcesFitArgs\n      ignoredResourceGroups: [example.com]\n      scoringStrategy:\n        type: RequestedToCapacityRatio\n        resources: [{name: cpu}, {name: nvidia.com/gpu, weight: 5}]\n        requestedToCapacityRatio:\n          shape: [{utilization: 0, score: 0}, {utilization: 100, score: 10}]\n\
         \x20 - name: PodTopologySpread\n    args:\n      defaultingType: List\n      defaultConstraints:\n      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n\
         \x20 - name: DynamicResources\n    args: {filterTimeout: 0s, bindingTimeout: 1m30s}\n\
         \x20 - name: InterPodAffinity\n    args: {ignorePreferredTermsOfExistingPods: true}\n\
         \x20 - name: VolumeBinding\n    args: {bindTimeoutSeconds: 30}\n\
         \x20 - name: NodeResourcesBalancedAllocation\n    args: {resources: [{name: cpu}, {name: example.com/foo, weight: 1}]}\n\
         \x20 - name: DefaultPreemption\n    args: {minCandidateNodesPercentage: 0}\n\
         \x20 - name: PrioritySort\n    args: {kind: PrioritySortArgs}\n\
         \x20 - name: NodeAffinity\n    args:\n      addedAffinity:\n        requiredDuringSchedulingIgnoredDuringExecution:\n          nodeSelectorTerms:\n          - matchExpressions: [{key: pool, operator: In, values: [a]}]\n",
    );
    let fit = &a.node_resources_fit;
    assert_eq!(fit.ignored_resource_groups, vec!["example.com".to_string()]);
    let shape = vec![
        ShapePoint {
            utilization: 0,
            score: 0,
        },
        ShapePoint {
            utilization: 100,
            score: 10,
        },
    ];
    assert_eq!(
        fit.scoring_strategy.strategy,
        ScoringStrategyType::RequestedToCapacityRatio { shape }
    );
    assert_eq!(
        fit.scoring_strategy.resources,
        vec![rw("cpu", 1), rw("nvidia.com/gpu", 5)]
    );
    assert_eq!(a.pod_topology_spread.defaulting_type, DefaultingType::List);
    assert_eq!(
        a.pod_topology_spread.effective_default_constraints()[0].max_skew,
        1
    );
    assert_eq!(a.dynamic_resources.filter_timeout, Duration::ZERO);
    assert_eq!(a.dynamic_resources.binding_timeout, Duration::from_secs(90));
    assert!(a.inter_pod_affinity.ignore_preferred_terms_of_existing_pods);
    assert_eq!(a.inter_pod_affinity.hard_pod_affinity_weight, 1);
    assert_eq!(a.volume_binding.bind_timeout_seconds, 30);
    assert_eq!(
        a.node_resources_balanced_allocation.resources,
        vec![rw("cpu", 1), rw("example.com/foo", 1)]
    );
    assert_eq!(a.default_preemption.min_candidate_nodes_percentage, 0);
    assert_eq!(a.default_preemption.min_candidate_nodes_absolute, 100);
    assert!(a.node_affinity.added_affinity.is_some());
}

const PC: &str = "profiles:\n- pluginConfig:\n";

#[test]
fn bad_plugin_config() {
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "duplicate",
            format!("{PC}  - name: NodeResourcesFit\n  - name: NodeResourcesFit\n"),
            vec!["profiles[0].pluginConfig[1]: Duplicate value: \"NodeResourcesFit\""],
        ),
        (
            "unknown field",
            format!("{PC}  - name: NodeResourcesFit\n    args: {{foo: 1}}\n"),
            vec!["profiles[0].pluginConfig[0].args: decoding args for plugin NodeResourcesFit: unknown field `foo`, expected one of `apiVersion`, `kind`, `ignoredResources`, `ignoredResourceGroups`, `scoringStrategy`"],
        ),
        (
            "wrong kind and apiVersion",
            format!("{PC}  - name: NodeResourcesFit\n    args: {{kind: InterPodAffinityArgs, apiVersion: v1}}\n"),
            vec![
                "profiles[0].pluginConfig[0].args.apiVersion: Invalid value: \"v1\": must be \"kubescheduler.config.k8s.io/v1\"",
                "profiles[0].pluginConfig[0].args.kind: Invalid value: \"InterPodAffinityArgs\": args for plugin NodeResourcesFit must be of kind \"NodeResourcesFitArgs\"",
            ],
        ),
        (
            "args for a plugin without args",
            format!("{PC}  - name: ImageLocality\n    args: {{x: 1}}\n"),
            vec!["profiles[0].pluginConfig[0].args: Forbidden: plugin \"ImageLocality\" does not take args"],
        ),
        (
            "args of a plugin enabled nowhere are validated",
            "profiles:\n- plugins:\n    multiPoint:\n      disabled: [{name: InterPodAffinity}]\n  pluginConfig:\n  - name: InterPodAffinity\n    args: {hardPodAffinityWeight: 101}\n".to_string(),
            vec!["profiles[0].pluginConfig[0].args.hardPodAffinityWeight: Invalid value: 101: not in valid range [0, 100]"],
        ),
        (
            "preemption",
            format!("{PC}  - name: DefaultPreemption\n    args: {{minCandidateNodesPercentage: 0, minCandidateNodesAbsolute: 0}}\n"),
            vec![
                "profiles[0].pluginConfig[0].args.minCandidateNodesPercentage: Invalid value: 0: cannot be zero at the same time as minCandidateNodesAbsolute",
                "profiles[0].pluginConfig[0].args.minCandidateNodesAbsolute: Invalid value: 0: cannot be zero at the same time as minCandidateNodesPercentage",
            ],
        ),
        (
            "preemption ranges",
            format!("{PC}  - name: DefaultPreemption\n    args: {{minCandidateNodesPercentage: 101, minCandidateNodesAbsolute: -1}}\n"),
            vec![
                "profiles[0].pluginConfig[0].args.minCandidateNodesPercentage: Invalid value: 101: not in valid range [0, 100]",
                "profiles[0].pluginConfig[0].args.minCandidateNodesAbsolute: Invalid value: -1: not in valid range [0, inf)",
            ],
        ),
        (
            "fit",
            format!("{PC}  - name: NodeResourcesFit\n    args:\n      ignoredResources: [-x]\n      ignoredResourceGroups: [a/b]\n      scoringStrategy:\n        type: Foo\n        resources: [{{name: cpu, weight: 101}}]\n        requestedToCapacityRatio: {{}}\n"),
            vec![
                "profiles[0].pluginConfig[0].args.ignoredResources[0]: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "profiles[0].pluginConfig[0].args.ignoredResourceGroups[0]: Invalid value: \"a/b\": resource group name can't contain '/'",
                "profiles[0].pluginConfig[0].args.scoringStrategy.type: Unsupported value: \"Foo\": supported values: \"LeastAllocated\", \"MostAllocated\", \"RequestedToCapacityRatio\"",
                "profiles[0].pluginConfig[0].args.scoringStrategy.resources[0].weight: Invalid value: 101: resource weight of cpu not in valid range (0, 100]",
                "profiles[0].pluginConfig[0].args.scoringStrategy.requestedToCapacityRatio: Forbidden: must be nil when type is not RequestedToCapacityRatio",
            ],
        ),
        (
            "fit requested to capacity ratio",
            format!("{PC}  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        type: RequestedToCapacityRatio\n\
                     \x20 - name: VolumeBinding\n    args:\n      bindTimeoutSeconds: -1\n      shape: [{{utilization: 50, score: 11}}, {{utilization: 50, score: 1}}, {{utilization: 101, score: 0}}]\n"),
            vec![
                "profiles[0].pluginConfig[0].args.scoringStrategy.requestedToCapacityRatio: Required value: must be specified when type is RequestedToCapacityRatio",
                "profiles[0].pluginConfig[1].args.bindTimeoutSeconds: Invalid value: -1: invalid BindTimeoutSeconds, should not be a negative value",
                "profiles[0].pluginConfig[1].args.shape[1].utilization: Invalid value: 50: values must be sorted in increasing order",
                "profiles[0].pluginConfig[1].args.shape[0].score: Invalid value: 11: not in valid range [0, 10]",
                "profiles[0].pluginConfig[1].args.shape[2].utilization: Invalid value: 101: not in valid range [0, 100]",
            ],
        ),
        (
            "balanced allocation",
            format!("{PC}  - name: NodeResourcesBalancedAllocation\n    args: {{resources: [{{name: cpu}}, {{name: cpu, weight: 2}}]}}\n"),
            vec![
                "profiles[0].pluginConfig[0].args.resources[1].name: Duplicate value: \"cpu\"",
                "profiles[0].pluginConfig[0].args.resources[1].weight: Invalid value: 2: must be 1",
            ],
        ),
        (
            "topology spread",
            format!("{PC}  - name: PodTopologySpread\n    args:\n      defaultConstraints:\n      - {{maxSkew: 0, topologyKey: '', whenUnsatisfiable: Maybe, labelSelector: {{}}}}\n      - {{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: ''}}\n      - {{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: ''}}\n"),
            vec![
                "profiles[0].pluginConfig[0].args.defaultingType: Invalid value: \"System\": when .defaultConstraints are not empty",
                "profiles[0].pluginConfig[0].args.defaultConstraints[0].maxSkew: Invalid value: 0: not in valid range (0, inf)",
                "profiles[0].pluginConfig[0].args.defaultConstraints[0].topologyKey: Required value: can not be empty",
                "profiles[0].pluginConfig[0].args.defaultConstraints[0].whenUnsatisfiable: Unsupported value: \"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
                "profiles[0].pluginConfig[0].args.defaultConstraints[0].labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod",
                "profiles[0].pluginConfig[0].args.defaultConstraints[1].whenUnsatisfiable: Required value: can not be empty",
                "profiles[0].pluginConfig[0].args.defaultConstraints[2].whenUnsatisfiable: Required value: can not be empty",
                "profiles[0].pluginConfig[0].args.defaultConstraints[2]: Duplicate value: \"{zone, }\"",
            ],
        ),
        (
            "topology spread defaulting type",
            format!("{PC}  - name: PodTopologySpread\n    args: {{defaultingType: Sometimes}}\n"),
            vec!["profiles[0].pluginConfig[0].args.defaultingType: Unsupported value: \"Sometimes\": supported values: \"System\", \"List\""],
        ),
        (
            "dynamic resources",
            format!("{PC}  - name: DynamicResources\n    args: {{filterTimeout: -1s, bindingTimeout: 500ms}}\n"),
            vec![
                "profiles[0].pluginConfig[0].args.filterTimeout: Invalid value: \"-1s\": must be zero or positive",
                "profiles[0].pluginConfig[0].args.bindingTimeout: Invalid value: \"500ms\": must be at least 1 second",
            ],
        ),
        (
            "node affinity",
            format!("{PC}  - name: NodeAffinity\n    args:\n      addedAffinity:\n        requiredDuringSchedulingIgnoredDuringExecution:\n          nodeSelectorTerms:\n          - matchExpressions:\n            - {{key: a, operator: Foo}}\n            - {{key: b, operator: In}}\n            - {{key: c, operator: Gt, values: ['1', x]}}\n            matchFields:\n            - {{key: metadata.name, operator: Exists}}\n        preferredDuringSchedulingIgnoredDuringExecution:\n        - weight: 1\n          preference:\n            matchExpressions: [{{key: '-d', operator: Exists, values: ['v']}}]\n"),
            vec![
                "profiles[0].pluginConfig[0].args.addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Unsupported value: \"Foo\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\", \"Lt\"",
                "profiles[0].pluginConfig[0].args.addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
                "profiles[0].pluginConfig[0].args.addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[2].values: Invalid value: [\"1\",\"x\"]: for 'Gt', 'Lt' operators, exactly one value is required",
                "profiles[0].pluginConfig[0].args.addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[2].values[1]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
                "profiles[0].pluginConfig[0].args.addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].operator: Unsupported value: \"Exists\": supported values: \"In\", \"NotIn\"",
                "profiles[0].pluginConfig[0].args.addedAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].matchExpressions[0].key: Invalid value: \"-d\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "profiles[0].pluginConfig[0].args.addedAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].matchExpressions[0].values: Invalid value: [\"v\"]: values set must be empty for exists and does not exist",
            ],
        ),
    ];
    let table: Vec<(&str, &str, &[&str])> = cases
        .iter()
        .map(|(n, body, want)| (*n, body.as_str(), want.as_slice()))
        .collect();
    check_table(&table);
}
