use super::*;
use crate::framework::Code;
use crate::test_support::{ninfo, pinfo};

fn node(name: &str, labels: &str) -> NodeInfo {
    ninfo(
        &format!("metadata: {{name: {name}, labels: {{{labels}}}}}"),
        &[],
    )
}

fn pod(spec_extra: &str) -> PodInfo {
    pinfo(&format!(
        "metadata: {{name: p}}\nspec:\n  containers: []\n{spec_extra}"
    ))
}

fn run_filter(pl: &NodeAffinity, p: &PodInfo, n: &NodeInfo) -> (Status, Option<PreFilterResult>) {
    let mut st = CycleState::default();
    let (r, pre) = pl.pre_filter(&mut st, p, &Snapshot::default());
    if pre.is_skip() {
        return (Status::success(), r);
    }
    if !pre.is_success() {
        return (pre, r);
    }
    (pl.filter(&st, p, n), r)
}

#[test]
fn filter_table() {
    // Adapted from upstream's TestNodeAffinity.
    let req = |exprs: &str| {
        format!(
            "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms: {exprs}\n"
        )
    };
    let cases: Vec<(String, &str, bool)> = vec![
        (String::new(), "", true),
        ("  nodeSelector: {foo: bar}\n".into(), "", false),
        ("  nodeSelector: {foo: bar}\n".into(), "foo: bar", true),
        (
            "  nodeSelector: {foo: bar}\n".into(),
            "foo: bar, baz: blah",
            true,
        ),
        (
            req("[{matchExpressions: [{key: foo, operator: In, values: [bar, value2]}]}]"),
            "foo: bar",
            true,
        ),
        (
            req("[{matchExpressions: [{key: kernel-version, operator: Gt, values: ['0204']}]}]"),
            "kernel-version: '0206'",
            true,
        ),
        (
            req("[{matchExpressions: [{key: mem-type, operator: NotIn, values: [DDR, DDR2]}]}]"),
            "mem-type: DDR3",
            true,
        ),
        (
            req("[{matchExpressions: [{key: GPU, operator: Exists}]}]"),
            "GPU: NVIDIA-GRID-K1",
            true,
        ),
        (
            req("[{matchExpressions: [{key: foo, operator: In, values: [value1, value2]}]}]"),
            "foo: bar",
            false,
        ),
        (req("[]"), "foo: bar", false),
        (req("[{}]"), "foo: bar", false),
        (
            req(
                "[{matchExpressions: [{key: foo, operator: In, values: [bar]}]}, {matchExpressions: [{key: diffkey, operator: In, values: [wrong]}]}]",
            ),
            "foo: bar",
            true,
        ),
        (
            req(
                "[{matchExpressions: [{key: foo, operator: Exists}, {key: bar, operator: Exists}]}]",
            ),
            "foo: bar",
            false,
        ),
        (
            format!(
                "  nodeSelector: {{foo: bar}}\n{}",
                req("[{matchExpressions: [{key: foo, operator: Exists}]}]")
            ),
            "foo: bar",
            true,
        ),
        (
            format!(
                "  nodeSelector: {{foo: bar}}\n{}",
                req("[{matchExpressions: [{key: foo, operator: Exists}]}]")
            ),
            "foo: baz",
            false,
        ),
        (
            req("[{matchFields: [{key: metadata.name, operator: In, values: [node1]}]}]"),
            "",
            true,
        ),
        (
            req("[{matchFields: [{key: metadata.name, operator: In, values: [node2]}]}]"),
            "",
            false,
        ),
        (
            req(
                "[{matchFields: [{key: metadata.name, operator: In, values: [node1]}], matchExpressions: [{key: foo, operator: In, values: [bar]}]}]",
            ),
            "foo: bar",
            true,
        ),
        (
            req(
                "[{matchFields: [{key: metadata.name, operator: In, values: [node1]}], matchExpressions: [{key: foo, operator: In, values: [bar]}]}]",
            ),
            "foo: baz",
            false,
        ),
    ];
    let pl = NodeAffinity::default();
    for (extra, labels, ok) in cases {
        let (s, _) = run_filter(&pl, &pod(&extra), &node("node1", labels));
        assert_eq!(s.is_success(), ok, "{extra} / {labels}");
        if !ok {
            assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
            assert_eq!(s.message(), ERR_REASON_POD);
        }
    }
}

#[test]
fn prefilter_node_names() {
    let pl = NodeAffinity::default();
    let p = pod(
        "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchFields: [{key: metadata.name, operator: In, values: [node1]}]\n        - matchFields: [{key: metadata.name, operator: In, values: [node2]}]\n",
    );
    let (_, r) = run_filter(&pl, &p, &node("node1", ""));
    let mut names: Vec<String> = r.unwrap().node_names.unwrap().into_iter().collect();
    names.sort();
    assert_eq!(names, vec!["node1", "node2"]);
    let p = pod(
        "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchFields: [{key: metadata.name, operator: In, values: [node1]}, {key: metadata.name, operator: In, values: [node2]}]\n",
    );
    let (s, _) = run_filter(&pl, &p, &node("node1", ""));
    assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
    assert_eq!(s.message(), ERR_REASON_CONFLICT);
    // A term without a name pin: no restriction.
    let p = pod(
        "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchFields: [{key: metadata.name, operator: In, values: [node1]}]\n        - matchExpressions: [{key: foo, operator: Exists}]\n",
    );
    let (_, r) = run_filter(&pl, &p, &node("node1", ""));
    assert!(r.is_none());
}

#[test]
fn added_affinity() {
    let mut args = PluginArgsSet::default();
    args.node_affinity.added_affinity = Some(serde_json::from_str(
        r#"{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["foo"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":5,"preference":{"matchExpressions":[{"key":"x","operator":"Exists"}]}}]}"#,
    ).unwrap());
    let pl = new(&args, &Handle::offline()).unwrap();
    let f = pl.as_filter().unwrap();
    let pf = pl.as_pre_filter().unwrap();
    let p = pod("");
    let mut st = CycleState::default();
    let (_, pre) = pf.pre_filter(&mut st, &p, &Snapshot::default());
    assert!(pre.is_success());
    let s = f.filter(&st, &p, &node("n", "zone: bar"));
    assert_eq!(s.message(), ERR_REASON_ENFORCED);
    assert!(f.filter(&st, &p, &node("n", "zone: foo")).is_success());
    let sc = pl.as_score().unwrap();
    let ps = pl.as_pre_score().unwrap();
    assert!(
        ps.pre_score(&mut st, &p, &Snapshot::default(), &[])
            .is_success()
    );
    assert_eq!(sc.score(&st, &p, &node("n", "x: y")).unwrap(), 5);
    assert_eq!(sc.score(&st, &p, &node("n", "")).unwrap(), 0);
}

#[test]
fn score_table() {
    // Upstream's TestNodeAffinityPriority "all nodes matches the preferred scheduling requirements of pod but with different priorities".
    let p = pod(r#"  affinity:
    nodeAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - {weight: 2, preference: {matchExpressions: [{key: foo, operator: In, values: [bar]}]}}
      - {weight: 4, preference: {matchExpressions: [{key: key, operator: In, values: [value]}]}}
      - {weight: 5, preference: {matchExpressions: [{key: foo, operator: In, values: [bar]}, {key: key, operator: In, values: [value]}, {key: az, operator: In, values: [az1]}]}}
"#);
    let nodes: Vec<Arc<NodeInfo>> = vec![
        Arc::new(node("node1", "foo: bar")),
        Arc::new(node("node5", "foo: bar, key: value, az: az1")),
        Arc::new(node("node2", "key: value")),
    ];
    let pl = NodeAffinity::default();
    let mut st = CycleState::default();
    assert!(
        pl.pre_score(
            &mut st,
            &p,
            &Snapshot::default(),
            &crate::test_support::refs(&nodes)
        )
        .is_success()
    );
    let mut scores: Vec<i64> = nodes
        .iter()
        .map(|n| pl.score(&st, &p, n).unwrap())
        .collect();
    assert_eq!(scores, vec![2, 11, 4]);
    pl.normalize_scores(&st, &p, &crate::test_support::refs(&nodes), &mut scores);
    assert_eq!(scores, vec![18, 100, 36]);
    // No preferences at all: PreScore skips.
    assert!(
        pl.pre_score(
            &mut CycleState::default(),
            &pod(""),
            &Snapshot::default(),
            &crate::test_support::refs(&nodes)
        )
        .is_skip()
    );
}

#[test]
fn queueing_hint_on_node_change() {
    use crate::framework::events::{EventObjects, QueueingHint};
    use crate::test_support::node as n;
    let p = pod("  nodeSelector: {foo: bar}\n");
    let matching = n("metadata: {name: a, labels: {foo: bar}}");
    let other = n("metadata: {name: a, labels: {foo: baz}}");
    let h = |old, new| {
        hint_node(
            &p,
            EventObjects::Node {
                old,
                new: Some(new),
            },
        )
    };
    assert_eq!(h(None, &matching), QueueingHint::Queue);
    assert_eq!(h(None, &other), QueueingHint::Skip);
    assert_eq!(h(Some(&other), &matching), QueueingHint::Queue);
    assert_eq!(h(Some(&matching), &matching), QueueingHint::Skip);
}
