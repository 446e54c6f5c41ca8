//! Configurations that must be rejected, with the exact messages.

use super::tests_good::HEAD;
use super::*;

/// Parse `HEAD + body` (or `body` alone when it starts with `!`) and return the lines.
pub(super) fn problems(body: &str) -> Vec<String> {
    let text = match body.strip_prefix('!') {
        Some(whole) => whole.to_string(),
        None => format!("{HEAD}{body}"),
    };
    match parse(&text) {
        Ok(_) => vec!["<accepted>".to_string()],
        Err(e) => e.lines(),
    }
}

pub(super) fn check_table(cases: &[(&str, &str, &[&str])]) {
    for (name, body, want) in cases {
        assert_eq!(problems(body), *want, "case {name:?}");
    }
}

#[test]
fn bad_top_level() {
    check_table(&[
        (
            "wrong apiVersion",
            "!apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n",
            &[
                "apiVersion: Unsupported value: \"kubescheduler.config.k8s.io/v1beta3\": supported values: \"kubescheduler.config.k8s.io/v1\"",
            ],
        ),
        (
            "missing kind",
            "!apiVersion: kubescheduler.config.k8s.io/v1\n",
            &["kind: Required value"],
        ),
        (
            "parallelism",
            "parallelism: 0\n",
            &["parallelism: Invalid value: 0: should be an integer value greater than zero"],
        ),
        (
            "percentages",
            "percentageOfNodesToScore: 101\nprofiles:\n- percentageOfNodesToScore: -1\n",
            &[
                "profiles[0].percentageOfNodesToScore: Invalid value: -1: not in valid range [0-100]",
                "percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]",
            ],
        ),
        (
            "initial backoff",
            "podInitialBackoffSeconds: 0\n",
            &["podInitialBackoffSeconds: Invalid value: 0: must be greater than 0"],
        ),
        (
            "max backoff below initial",
            "podInitialBackoffSeconds: 5\npodMaxBackoffSeconds: 1\n",
            &[
                "podMaxBackoffSeconds: Invalid value: 1: must be greater than or equal to PodInitialBackoffSeconds",
            ],
        ),
        (
            "lease not longer than renew deadline",
            "leaderElection:\n  leaseDuration: 5s\n",
            &[
                "leaderElection.leaseDuration: Invalid value: \"10s\": must be greater than `RenewDeadline`",
            ],
        ),
        (
            "renew deadline within jitter of retry period",
            "leaderElection:\n  renewDeadline: 2s\n  retryPeriod: 2s\n",
            &[
                "leaderElection.renewDeadline: Invalid value: \"2s\": must be greater than retryPeriod*JitterFactor (1.2)",
            ],
        ),
        (
            "negative retry period",
            "leaderElection:\n  retryPeriod: -1s\n",
            &["leaderElection.retryPeriod: Invalid value: \"-1s\": must be greater than zero"],
        ),
        (
            "resource lock",
            "leaderElection:\n  resourceLock: endpoints\n",
            &[
                "leaderElection.resourceLock: Invalid value: \"endpoints\": resourceLock value must be \"leases\"",
            ],
        ),
        (
            "lease timings are not checked without leader election",
            "leaderElection:\n  leaderElect: false\n  leaseDuration: 1s\n  resourceLock: endpoints\nparallelism: -3\n",
            &["parallelism: Invalid value: -3: should be an integer value greater than zero"],
        ),
        (
            "client connection",
            "clientConnection:\n  burst: -1\n  qps: -5\n  contentType: text/plain\n",
            &[
                "clientConnection.burst: Invalid value: -1: must be non-negative",
                "clientConnection.qps: Invalid value: \"-5\": must be a non-negative number",
                "clientConnection.contentType: Unsupported value: \"text/plain\": supported values: \"application/json\", \"application/vnd.kubernetes.protobuf\"",
            ],
        ),
        (
            "extenders",
            "extenders:\n- urlPrefix: http://x\n",
            &["extenders: Forbidden: scheduler extenders are not supported by Ferrosched"],
        ),
        (
            "bad duration text",
            "leaderElection:\n  leaseDuration: 15\n",
            &["time: missing unit in duration \"15\" at line 4, column 18"],
        ),
    ]);
}

#[test]
fn bad_profiles() {
    check_table(&[
        (
            "duplicate scheduler names",
            "profiles:\n- schedulerName: a\n- schedulerName: b\n- schedulerName: a\n",
            &["profiles[2].schedulerName: Duplicate value: \"a\""],
        ),
        (
            "scheduler name required with several profiles",
            "profiles:\n- schedulerName: a\n- {}\n",
            &["profiles[1].schedulerName: Required value"],
        ),
        (
            "explicit empty scheduler name",
            "profiles:\n- schedulerName: ''\n",
            &["profiles[0].schedulerName: Required value"],
        ),
        (
            "no queue sort",
            "profiles:\n- plugins:\n    queueSort:\n      disabled: [{name: '*'}]\n",
            &[
                "profiles[0].plugins.queueSort: only one queue sort plugin required for profile with scheduler name \"default-scheduler\", but got 0",
            ],
        ),
        (
            "no bind",
            "profiles:\n- schedulerName: x\n  plugins:\n    bind:\n      disabled: [{name: DefaultBinder}]\n",
            &[
                "profiles[0].plugins.bind: at least one bind plugin is needed for profile with scheduler name \"x\"",
            ],
        ),
        (
            "profiles must share the queue sort plugin",
            "profiles:\n- schedulerName: a\n- schedulerName: b\n  plugins:\n    multiPoint:\n      disabled: [{name: PrioritySort}]\n",
            &[
                "profiles[1].plugins.queueSort: only one queue sort plugin required for profile with scheduler name \"b\", but got 0",
                "profiles[1].plugins.queueSort: Invalid value: []: must be the same for all profiles",
            ],
        ),
        (
            "profiles must share the queue sort args",
            "profiles:\n- schedulerName: a\n- schedulerName: b\n  pluginConfig:\n  - name: PrioritySort\n    args: {kind: PrioritySortArgs}\n",
            &[
                "profiles[1].pluginConfig[0].args: Invalid value: {\"kind\":\"PrioritySortArgs\"}: queueSort must be the same for all profiles",
            ],
        ),
    ]);
}

#[test]
fn bad_plugins() {
    check_table(&[
        (
            "unknown plugin at a point",
            "profiles:\n- plugins:\n    score:\n      enabled:\n      - name: ImageLocality\n      - name: Foo\n",
            &["profiles[0].plugins.score.enabled[1].name: unknown plugin \"Foo\""],
        ),
        (
            "legacy volume limits plugins are unknown",
            "profiles:\n- plugins:\n    filter:\n      enabled: [{name: EBSLimits}]\n    multiPoint:\n      enabled: [{name: AzureDiskLimits}]\n",
            &[
                "profiles[0].plugins.filter.enabled[0].name: unknown plugin \"EBSLimits\"",
                "profiles[0].plugins.multiPoint.enabled[0].name: unknown plugin \"AzureDiskLimits\"",
            ],
        ),
        (
            "unknown plugin in disabled",
            "profiles:\n- plugins:\n    filter:\n      disabled: [{name: NodePort}]\n",
            &["profiles[0].plugins.filter.disabled[0].name: unknown plugin \"NodePort\""],
        ),
        (
            "plugin at a point it does not implement",
            "profiles:\n- plugins:\n    score:\n      enabled: [{name: NodePorts}]\n",
            &[
                "profiles[0].plugins.score.enabled[0].name: plugin \"NodePorts\" does not extend ScorePlugin plugin",
            ],
        ),
        (
            "negative weight",
            "profiles:\n- plugins:\n    score:\n      enabled: [{name: ImageLocality, weight: -2}]\n",
            &[
                "profiles[0].plugins.score.enabled[0].weight: Invalid value: -2: must be non-negative",
            ],
        ),
        (
            "duplicate at a point and in multiPoint",
            "profiles:\n- plugins:\n    filter:\n      enabled: [{name: NodePorts}, {name: NodePorts}]\n    multiPoint:\n      enabled: [{name: PodCapacityOfNode}, {name: PodCapacityOfNode}]\n",
            &[
                "profiles[0].plugins.filter.enabled[1].name: Duplicate value: \"NodePorts\"",
                "profiles[0].plugins.multiPoint.enabled[1].name: Duplicate value: \"PodCapacityOfNode\"",
            ],
        ),
        (
            "empty plugin name",
            "profiles:\n- plugins:\n    filter:\n      enabled: [{name: ''}]\n",
            &["profiles[0].plugins.filter.enabled[0].name: Required value"],
        ),
        (
            "gang scheduling points",
            "profiles:\n- plugins:\n    placementScore:\n      enabled: [{name: NodeResourcesFit}]\n",
            &[
                "profiles[0].plugins.placementScore.enabled: Forbidden: extension point of workload (gang) scheduling, which is not supported",
            ],
        ),
        (
            "every problem is reported",
            "parallelism: 0\nprofiles:\n- schedulerName: a\n  plugins:\n    score:\n      enabled: [{name: Foo}]\n- schedulerName: a\n  pluginConfig:\n  - name: Bar\n",
            &[
                "parallelism: Invalid value: 0: should be an integer value greater than zero",
                "profiles[0].plugins.score.enabled[0].name: unknown plugin \"Foo\"",
                "profiles[1].schedulerName: Duplicate value: \"a\"",
                "profiles[1].pluginConfig[0].name: unknown plugin \"Bar\"",
            ],
        ),
    ]);
}

#[test]
fn bad_documents() {
    check_table(&[
        (
            "unknown top-level field",
            "parallelizm: 3\n",
            &[
                "unknown field `parallelizm`, expected one of apiVersion, kind, parallelism, leaderElection, clientConnection, enableProfiling, enableContentionProfiling, percentageOfNodesToScore, podInitialBackoffSeconds, podMaxBackoffSeconds, profiles, extenders, delayCacheUntilActive at line 3, column 1",
            ],
        ),
        (
            "unknown profile field",
            "profiles:\n- schedulerName: a\n  plugin: {}\n",
            &[
                "unknown field `plugin`, expected one of schedulerName, percentageOfNodesToScore, plugins, pluginConfig at line 5, column 3",
            ],
        ),
        (
            "unknown plugin set field",
            "profiles:\n- plugins:\n    score:\n      enable: []\n",
            &["unknown field `enable`, expected one of enabled, disabled at line 6, column 7"],
        ),
        (
            "wrong type",
            "parallelism: many\n",
            &["invalid i32 at line 3, column 14"],
        ),
        (
            "syntax error",
            "profiles: [\n",
            &["unclosed bracket '[' at line 3, column 11"],
        ),
        (
            "not a mapping",
            "!- a\n",
            &["expected mapping start at line 1, column 1"],
        ),
    ]);
}
