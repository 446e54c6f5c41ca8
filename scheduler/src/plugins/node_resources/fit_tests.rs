use super::*;
use crate::config::{ResourceWeight, ScoringStrategyType, ShapePoint};
use crate::test_support::{ninfo, pinfo};

/// A pod with one container per request map, e.g. `&[&[("cpu", "1"), ("memory", "2")]]`.
pub(crate) fn req_pod(name: &str, node: &str, containers: &[&[(&str, &str)]]) -> String {
    let cs: Vec<String> = containers
        .iter()
        .enumerate()
        .map(|(i, reqs)| {
            let r: Vec<String> = reqs.iter().map(|(k, v)| format!("{k}: '{v}'")).collect();
            format!(
                "{{name: c{i}, image: i, resources: {{requests: {{{}}}}}}}",
                r.join(", ")
            )
        })
        .collect();
    let node = if node.is_empty() {
        String::new()
    } else {
        format!(", nodeName: {node}")
    };
    format!(
        "metadata: {{name: {name}, namespace: default, uid: {name}}}\nspec: {{containers: [{}]{node}}}\n",
        cs.join(", ")
    )
}

pub(crate) fn cap_node(name: &str, alloc: &[(&str, &str)], pods: &[String]) -> NodeInfo {
    let a: Vec<String> = alloc.iter().map(|(k, v)| format!("{k}: '{v}'")).collect();
    let pods: Vec<&str> = pods.iter().map(String::as_str).collect();
    ninfo(
        &format!(
            "metadata: {{name: {name}}}\nstatus: {{allocatable: {{{}}}}}",
            a.join(", ")
        ),
        &pods,
    )
}

fn fit_with(strategy: ScoringStrategyType, resources: &[(&str, u32)]) -> Fit {
    let mut args = PluginArgsSet::default();
    args.node_resources_fit.scoring_strategy.strategy = strategy;
    args.node_resources_fit.scoring_strategy.resources = resources
        .iter()
        .map(|(n, w)| ResourceWeight {
            name: n.to_string(),
            weight: *w,
        })
        .collect();
    Fit::from_args(&args)
}

fn run_filter(fit: &Fit, pod: &str, node: &NodeInfo) -> Status {
    let p = pinfo(pod);
    fit.filter(&CycleState::default(), &p, node)
}

#[test]
fn filter_table() {
    // Adapted from upstream's TestEnoughRequests: node allocatable cpu 10, memory 20, pods 32,
    // example.com/aaa 5, hugepages-2Mi 5; each case lists existing usage, the pod, and the result.
    let alloc = [
        ("cpu", "10m"),
        ("memory", "20"),
        ("pods", "32"),
        ("example.com/aaa", "5"),
        ("hugepages-2Mi", "5"),
        ("ephemeral-storage", "20"),
    ];
    let used = |cpu: &str, mem: &str| vec![req_pod("u", "n", &[&[("cpu", cpu), ("memory", mem)]])];
    type Case<'a> = (
        Vec<String>,
        Vec<(&'a str, &'a str)>,
        Option<(Code, Vec<&'a str>)>,
    );
    let cases: Vec<Case> = vec![
        (used("10m", "20"), vec![], None),
        (used("5m", "5"), vec![("cpu", "1m"), ("memory", "1")], None),
        (
            used("10m", "20"),
            vec![("cpu", "1m"), ("memory", "1")],
            Some((
                Code::Unschedulable,
                vec!["Insufficient cpu", "Insufficient memory"],
            )),
        ),
        (
            used("9m", "5"),
            vec![("cpu", "2m"), ("memory", "1")],
            Some((Code::Unschedulable, vec!["Insufficient cpu"])),
        ),
        (
            used("5m", "19"),
            vec![("cpu", "1m"), ("memory", "2")],
            Some((Code::Unschedulable, vec!["Insufficient memory"])),
        ),
        (
            used("0", "0"),
            vec![("cpu", "11m")],
            Some((Code::UnschedulableAndUnresolvable, vec!["Insufficient cpu"])),
        ),
        (
            used("0", "0"),
            vec![("example.com/aaa", "6")],
            Some((
                Code::UnschedulableAndUnresolvable,
                vec!["Insufficient example.com/aaa"],
            )),
        ),
        (used("0", "0"), vec![("example.com/aaa", "5")], None),
        (
            used("0", "0"),
            vec![("example.com/bbb", "1")],
            Some((
                Code::UnschedulableAndUnresolvable,
                vec!["Insufficient example.com/bbb"],
            )),
        ),
        (
            used("0", "0"),
            vec![("hugepages-2Mi", "6")],
            Some((
                Code::UnschedulableAndUnresolvable,
                vec!["Insufficient hugepages-2Mi"],
            )),
        ),
        (
            used("0", "0"),
            vec![("ephemeral-storage", "25")],
            Some((
                Code::UnschedulableAndUnresolvable,
                vec!["Insufficient ephemeral-storage"],
            )),
        ),
        (used("0", "0"), vec![("ephemeral-storage", "10")], None),
    ];
    let fit = fit_with(
        ScoringStrategyType::LeastAllocated,
        &[("cpu", 1), ("memory", 1)],
    );
    for (existing, reqs, want) in cases {
        let node = cap_node("n", &alloc, &existing);
        let pod = req_pod("p", "", &[&reqs]);
        let s = run_filter(&fit, &pod, &node);
        match want {
            None => assert!(s.is_success(), "{reqs:?}: {s}"),
            Some((code, reasons)) => {
                assert_eq!(s.code(), code, "{reqs:?}");
                assert_eq!(
                    s.reasons(),
                    reasons
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .as_slice()
                );
            }
        }
    }
}

#[test]
fn too_many_pods_and_ignored() {
    let node = cap_node(
        "n",
        &[("cpu", "10m"), ("memory", "20"), ("pods", "1")],
        &[req_pod("u", "n", &[&[]])],
    );
    let fit = fit_with(ScoringStrategyType::LeastAllocated, &[("cpu", 1)]);
    let s = run_filter(&fit, &req_pod("p", "", &[&[("cpu", "20m")]]), &node);
    assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
    assert_eq!(
        s.reasons(),
        ["Too many pods".to_string(), "Insufficient cpu".to_string()]
    );
    let s = run_filter(&fit, &req_pod("p", "", &[&[]]), &node);
    assert_eq!(s.code(), Code::Unschedulable);
    assert_eq!(s.message(), "Too many pods");

    let node = cap_node("n", &[("cpu", "10m"), ("pods", "10")], &[]);
    let mut args = PluginArgsSet::default();
    args.node_resources_fit.ignored_resources = vec!["example.com/aaa".into()];
    args.node_resources_fit.ignored_resource_groups = vec!["example.org".into()];
    let fit = Fit::from_args(&args);
    assert!(
        run_filter(
            &fit,
            &req_pod("p", "", &[&[("example.com/aaa", "1")]]),
            &node
        )
        .is_success()
    );
    assert!(run_filter(&fit, &req_pod("p", "", &[&[("example.org/x", "1")]]), &node).is_success());
    assert_eq!(
        run_filter(
            &fit,
            &req_pod("p", "", &[&[("example.com/bbb", "1")]]),
            &node
        )
        .message(),
        "Insufficient example.com/bbb"
    );
    // Ignoring only applies to extended resources.
    args.node_resources_fit.ignored_resources = vec!["hugepages-2Mi".into()];
    let fit = Fit::from_args(&args);
    assert_eq!(
        run_filter(&fit, &req_pod("p", "", &[&[("hugepages-2Mi", "1")]]), &node).message(),
        "Insufficient hugepages-2Mi"
    );
}

fn scores(fit: &Fit, pod: &str, nodes: &[NodeInfo]) -> Vec<i64> {
    let p = pinfo(pod);
    nodes
        .iter()
        .map(|n| fit.score(&CycleState::default(), &p, n).unwrap())
        .collect()
}

#[test]
fn least_allocated_table() {
    // From upstream's TestLeastAllocatedScoringStrategy.
    let fit = fit_with(
        ScoringStrategyType::LeastAllocated,
        &[("cpu", 1), ("memory", 1)],
    );
    let two = [("cpu", "1000"), ("memory", "2000")];
    let three = [("cpu", "2000"), ("memory", "3000")];
    let pod = req_pod("p", "", &[&two, &three]);
    let empty = req_pod("p", "", &[]);
    let n = |name: &str, cpu: &str, mem: &str, pods: Vec<String>| {
        cap_node(name, &[("cpu", cpu), ("memory", mem)], &pods)
    };
    assert_eq!(
        scores(
            &fit,
            &empty,
            &[
                n("n1", "4000", "10000", vec![]),
                n("n2", "4000", "10000", vec![])
            ]
        ),
        [100, 100]
    );
    assert_eq!(
        scores(
            &fit,
            &pod,
            &[
                n("n1", "4000", "10000", vec![]),
                n("n2", "6000", "10000", vec![])
            ]
        ),
        [37, 50]
    );
    let u = |cpu: &str, mem: &str| req_pod("u", "", &[&[("cpu", cpu), ("memory", mem)]]);
    assert_eq!(
        scores(
            &fit,
            &empty,
            &[
                n("n1", "10000", "20000", vec![u("3000", "0"), u("3000", "0")]),
                n(
                    "n2",
                    "10000",
                    "20000",
                    vec![u("3000", "0"), u("3000", "5000")]
                )
            ]
        ),
        [70, 57]
    );
    assert_eq!(
        scores(
            &fit,
            &pod,
            &[
                n("n1", "10000", "20000", vec![u("3000", "0")]),
                n("n2", "10000", "20000", vec![u("3000", "5000")])
            ]
        ),
        [57, 45]
    );
    assert_eq!(
        scores(
            &fit,
            &pod,
            &[
                n("n1", "10000", "20000", vec![u("3000", "0")]),
                n("n2", "10000", "50000", vec![u("3000", "5000")])
            ]
        ),
        [57, 60]
    );
    let big = req_pod("p", "", &[&[("cpu", "3000"), ("memory", "0")]]);
    assert_eq!(
        scores(
            &fit,
            &big,
            &[
                n("n1", "4000", "10000", vec![u("3000", "0")]),
                n("n2", "4000", "10000", vec![u("3000", "5000")])
            ]
        ),
        [50, 25]
    );
    let weighted = fit_with(
        ScoringStrategyType::LeastAllocated,
        &[("memory", 2), ("cpu", 1)],
    );
    assert_eq!(
        scores(
            &weighted,
            &pod,
            &[
                n("n1", "4000", "10000", vec![]),
                n("n2", "6000", "10000", vec![])
            ]
        ),
        [41, 50]
    );
    // Extended resources count only when the pod requests them.
    let ext = fit_with(
        ScoringStrategyType::LeastAllocated,
        &[("cpu", 1), ("memory", 1), ("example.com/gpu", 1)],
    );
    let gpu_nodes = [
        cap_node(
            "n1",
            &[
                ("cpu", "4000"),
                ("memory", "10000"),
                ("example.com/gpu", "4"),
            ],
            &[],
        ),
        cap_node(
            "n2",
            &[
                ("cpu", "6000"),
                ("memory", "10000"),
                ("example.com/gpu", "10"),
            ],
            &[],
        ),
    ];
    assert_eq!(scores(&ext, &pod, &gpu_nodes), [37, 50]);
    let gpu_pod = req_pod(
        "p",
        "",
        &[
            &two,
            &[
                ("cpu", "2000"),
                ("memory", "3000"),
                ("example.com/gpu", "2"),
            ],
        ],
    );
    // node1: (25 + 50 + 50) / 3; node2: (50 + 50 + 80) / 3.
    assert_eq!(scores(&ext, &gpu_pod, &gpu_nodes), [41, 60]);
}

#[test]
fn most_allocated_table() {
    // From upstream's TestMostAllocatedScoringStrategy.
    let fit = fit_with(
        ScoringStrategyType::MostAllocated,
        &[("cpu", 1), ("memory", 1)],
    );
    let n = |name: &str, cpu: &str, mem: &str, pods: Vec<String>| {
        cap_node(name, &[("cpu", cpu), ("memory", mem)], &pods)
    };
    let u = |cpu: &str, mem: &str| req_pod("u", "", &[&[("cpu", cpu), ("memory", mem)]]);
    let empty = req_pod("p", "", &[]);
    assert_eq!(
        scores(
            &fit,
            &empty,
            &[
                n("n1", "4000", "10000", vec![]),
                n("n2", "4000", "10000", vec![])
            ]
        ),
        [0, 0]
    );
    let pod = req_pod(
        "p",
        "",
        &[
            &[("cpu", "1000"), ("memory", "2000")],
            &[("cpu", "2000"), ("memory", "3000")],
        ],
    );
    assert_eq!(
        scores(
            &fit,
            &pod,
            &[
                n("n1", "4000", "10000", vec![]),
                n("n2", "6000", "10000", vec![])
            ]
        ),
        [62, 50]
    );
    assert_eq!(
        scores(
            &fit,
            &empty,
            &[
                n("n1", "10000", "20000", vec![u("3000", "0"), u("3000", "0")]),
                n(
                    "n2",
                    "10000",
                    "20000",
                    vec![u("3000", "0"), u("3000", "5000")]
                )
            ]
        ),
        [30, 42]
    );
    let big = req_pod("p", "", &[&[("cpu", "5000"), ("memory", "9000")]]);
    assert_eq!(
        scores(
            &fit,
            &big,
            &[
                n("n1", "4000", "10000", vec![]),
                n("n2", "10000", "8000", vec![])
            ]
        ),
        [95, 75]
    );
}

#[test]
fn requested_to_capacity_ratio_table() {
    // From upstream's TestRequestedToCapacityRatioScoringStrategy (shape {0,10},{100,0}).
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
    let fit = fit_with(
        ScoringStrategyType::RequestedToCapacityRatio { shape },
        &[("cpu", 1), ("memory", 1)],
    );
    let n = |name: &str, pods: Vec<String>| {
        cap_node(name, &[("cpu", "4000"), ("memory", "10000")], &pods)
    };
    let empty = req_pod("p", "", &[]);
    assert_eq!(
        scores(&fit, &empty, &[n("n1", vec![]), n("n2", vec![])]),
        [100, 100]
    );
    let pod = req_pod("p", "", &[&[("cpu", "3000"), ("memory", "5000")]]);
    assert_eq!(
        scores(&fit, &pod, &[n("n1", vec![]), n("n2", vec![])]),
        [38, 38]
    );
    let u = req_pod("u", "", &[&[("cpu", "3000"), ("memory", "5000")]]);
    assert_eq!(
        scores(&fit, &empty, &[n("n1", vec![u.clone()]), n("n2", vec![u])]),
        [38, 38]
    );
}

#[test]
fn queueing_hints() {
    use crate::framework::events::{EventObjects, QueueingHint};
    use crate::test_support::{node, pod};
    let p = pinfo(&req_pod("p", "", &[&[("cpu", "2")]]));
    let small = node("metadata: {name: n}\nstatus: {allocatable: {cpu: '1', pods: '10'}}");
    let big = node("metadata: {name: n}\nstatus: {allocatable: {cpu: '4', pods: '10'}}");
    let h = |old, new| {
        hint_node(
            &p,
            EventObjects::Node {
                old,
                new: Some(new),
            },
        )
    };
    assert_eq!(h(None, &small), QueueingHint::Skip);
    assert_eq!(h(None, &big), QueueingHint::Queue);
    assert_eq!(h(Some(&small), &big), QueueingHint::Queue);
    assert_eq!(h(Some(&big), &big), QueueingHint::Skip);
    let bound = pod(&req_pod("d", "n", &[&[("cpu", "1")]]));
    let pending = pod(&req_pod("d", "", &[&[("cpu", "1")]]));
    assert_eq!(
        hint_pod_deleted(
            &p,
            EventObjects::Pod {
                old: Some(&bound),
                new: None
            }
        ),
        QueueingHint::Queue
    );
    assert_eq!(
        hint_pod_deleted(
            &p,
            EventObjects::Pod {
                old: Some(&pending),
                new: None
            }
        ),
        QueueingHint::Skip
    );
}
