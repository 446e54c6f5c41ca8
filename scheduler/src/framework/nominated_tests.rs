//! The two-pass filter with nominated pods, alone and in the scheduling algorithm.

use super::*;
use crate::cache::Snapshot;
use crate::framework::Nominating;
use crate::plugins::tests::default_framework;
use crate::schedule::{Algorithm, ScheduleError};
use crate::test_support::{ninfo, pinfo};

/// A pod with a priority, a cpu request and labels; `nominated` sets its status.
fn pod(name: &str, priority: i32, cpu: &str, labels: &str, extra: &str, nominated: &str) -> String {
    let status = if nominated.is_empty() {
        String::new()
    } else {
        format!("status: {{nominatedNodeName: {nominated}}}\n")
    };
    format!(
        "metadata: {{name: {name}, namespace: default, uid: {name}, labels: {{{labels}}}}}\nspec:\n  priority: {priority}\n{extra}  containers: [{{name: c, image: i, resources: {{requests: {{cpu: '{cpu}'}}}}}}]\n{status}"
    )
}

fn node(name: &str, cpu: &str) -> NodeInfo {
    ninfo(
        &format!(
            "metadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}}}}}\nstatus: {{allocatable: {{cpu: '{cpu}', memory: 10Gi, pods: '110'}}}}"
        ),
        &[],
    )
}

/// PreFilter of the default profile, as a cycle runs it.
fn pre_filter(fw: &Framework, p: &PodInfo, snap: &Snapshot) -> CycleState {
    let mut state = CycleState::default();
    let (_, s, _) = fw.run_pre_filter_plugins(&mut state, p, snap);
    assert!(s.is_success(), "{}: {s}", s.plugin());
    state
}

/// Filters `p` on the snapshot's only node with nominated pods.
fn filter(fw: &Framework, p: &str, n: NodeInfo) -> Status {
    let p = pinfo(p);
    let snap = Snapshot::from_nodes(vec![n]);
    let state = pre_filter(fw, &p, &snap);
    fw.run_filter_plugins_with_nominated_pods(&state, &p, &snap.nodes()[0])
}

fn nominate(fw: &Framework, p: &str, node: &str) {
    fw.nominator()
        .add(&pinfo(p), Nominating::Override(node.into()));
}

#[test]
fn a_lower_priority_pod_does_not_take_room_reserved_by_a_higher_priority_nomination() {
    let fw = default_framework();
    nominate(&fw, &pod("high", 100, "2", "", "", ""), "n1");
    let s = filter(&fw, &pod("low", 10, "1", "", "", ""), node("n1", "2"));
    assert!(!s.is_success(), "the nominee's 2 CPUs are reserved");
    assert_eq!(s.reasons(), ["Insufficient cpu"]);
    assert!(
        filter(&fw, &pod("low", 10, "1", "", "", ""), node("n2", "2")).is_success(),
        "other nodes are not reserved"
    );
}

#[test]
fn an_equal_priority_nomination_is_considered_and_a_lower_one_is_not() {
    let fw = default_framework();
    nominate(&fw, &pod("peer", 10, "2", "", "", ""), "n1");
    assert!(!filter(&fw, &pod("p", 10, "1", "", "", ""), node("n1", "2")).is_success());
    assert!(
        filter(&fw, &pod("top", 11, "1", "", "", ""), node("n1", "2")).is_success(),
        "a higher-priority pod may take room freed for a lower-priority one"
    );
}

#[test]
fn the_pod_does_not_yield_to_its_own_nomination() {
    let fw = default_framework();
    let me = pod("me", 100, "2", "", "", "n1");
    nominate(&fw, &me, "n1");
    assert!(filter(&fw, &me, node("n1", "2")).is_success());
}

#[test]
fn filters_pass_only_when_they_pass_with_and_without_the_nominated_pods() {
    let fw = default_framework();
    // Required affinity to a pod that is only nominated: the first pass (with it) passes,
    // the second (without it) does not, so the node does not fit.
    nominate(&fw, &pod("db", 100, "1", "app: db", "", ""), "n1");
    let affinity = "  affinity:\n    podAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector: {matchLabels: {app: db}}\n        topologyKey: kubernetes.io/hostname\n";
    let s = filter(&fw, &pod("web", 10, "1", "", affinity, ""), node("n1", "4"));
    assert!(!s.is_success(), "a nominated pod may still land elsewhere");
}

#[test]
fn the_algorithm_prefers_the_nominated_node_and_others_avoid_its_reserved_room() {
    let fw = default_framework();
    let snap = Snapshot::from_nodes(vec![node("n1", "2"), node("n2", "2"), node("n3", "2")]);
    let mut alg = Algorithm::new(None);
    let high = pod("high", 100, "2", "", "", "n2");
    nominate(&fw, &high, "n2");
    for _ in 0..10 {
        let p = pinfo(&high);
        let mut state = CycleState::default();
        let r = alg.schedule(&fw, &mut state, &p, &snap).expect("fits");
        assert_eq!(
            r.suggested_host, "n2",
            "its nominated node, before any other"
        );
        assert_eq!(r.evaluated_nodes, 1);

        let p = pinfo(&pod("low", 10, "2", "", "", ""));
        let mut state = CycleState::default();
        let r = alg.schedule(&fw, &mut state, &p, &snap).expect("fits");
        assert_ne!(r.suggested_host, "n2", "n2 is held for the nominee");
    }
    let snap = Snapshot::from_nodes(vec![node("n2", "2")]);
    let p = pinfo(&pod("low", 10, "1", "", "", ""));
    let mut state = CycleState::default();
    match alg.schedule(&fw, &mut state, &p, &snap) {
        Err(ScheduleError::Fit(fit)) => {
            assert_eq!(
                fit.message(),
                "0/1 nodes are available: 1 Insufficient cpu."
            )
        }
        other => panic!("expected a fit error, got {other:?}"),
    }
}
