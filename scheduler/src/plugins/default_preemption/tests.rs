use super::*;
use crate::cache::Snapshot;
use crate::framework::{EmptyLister, NodeStatusMap};
use crate::plugins::tests::default_framework;
use crate::test_support::{ninfo, pinfo};

struct Pdbs(Vec<Arc<PodDisruptionBudget>>);

impl ClusterLister for Pdbs {
    fn pod_disruption_budgets(&self) -> Vec<Arc<PodDisruptionBudget>> {
        self.0.clone()
    }
}

/// A pod with a cpu request and a priority, on `node` ("" = pending), started at second `start` (0 = not started).
fn prio_pod(
    name: &str,
    node: &str,
    cpu: &str,
    priority: i32,
    labels: &str,
    start: u32,
    extra: &str,
) -> String {
    let node_line = if node.is_empty() {
        String::new()
    } else {
        format!("  nodeName: {node}\n")
    };
    let status = if start == 0 {
        String::new()
    } else {
        format!("status: {{startTime: '2026-01-01T00:00:{start:02}Z'}}\n")
    };
    format!(
        "metadata: {{name: {name}, namespace: default, uid: {name}, labels: {{{labels}}}}}\nspec:\n  priority: {priority}\n{node_line}{extra}  containers: [{{name: c, image: i, resources: {{requests: {{cpu: '{cpu}'}}}}}}]\n{status}"
    )
}

fn node(name: &str, cpu: &str, pods: &[String]) -> NodeInfo {
    let refs: Vec<&str> = pods.iter().map(String::as_str).collect();
    ninfo(
        &format!(
            "metadata: {{name: {name}}}\nstatus: {{allocatable: {{cpu: '{cpu}', memory: 10Gi, pods: '110'}}}}"
        ),
        &refs,
    )
}

/// Runs PreFilter and Filter of the default profile as the scheduling cycle does, then preemption.
fn preempt(
    pod: &str,
    nodes: Vec<NodeInfo>,
    lister: Arc<dyn ClusterLister>,
) -> (Option<PostFilterResult>, Status) {
    preempt_with(&default_framework(), pod, nodes, lister)
}

/// [`preempt`] with a framework of the test's own (e.g. with nominated pods).
fn preempt_with(
    fw: &Framework,
    pod: &str,
    nodes: Vec<NodeInfo>,
    lister: Arc<dyn ClusterLister>,
) -> (Option<PostFilterResult>, Status) {
    let snap = Snapshot::from_nodes(nodes);
    let p = pinfo(pod);
    let mut state = CycleState::default();
    let (_, s, _) = fw.run_pre_filter_plugins(&mut state, &p, &snap);
    assert!(s.is_success(), "{}: {s}", s.plugin());
    let mut statuses = NodeStatusMap::default();
    for n in snap.nodes() {
        let s = fw.run_filter_plugins_with_nominated_pods(&state, &p, n);
        assert!(!s.is_success(), "{} fits without preemption", n.name);
        statuses.insert(n.name.clone(), s);
    }
    let pl = DefaultPreemption::new(&PluginArgsSet::default(), lister);
    let ctx = PostFilterContext {
        framework: fw,
        snapshot: &snap,
        statuses: &statuses,
    };
    pl.post_filter(&state, &p, &ctx)
}

fn names(r: &PostFilterResult) -> Vec<&str> {
    r.victims.iter().map(|v| v.name()).collect()
}

#[test]
fn picks_node_with_lowest_priority_victims_and_reprieves() {
    let n1 = node(
        "n1",
        "2",
        &[
            prio_pod("p1", "n1", "1", 1, "", 1, ""),
            prio_pod("p2", "n1", "1", 2, "", 2, ""),
        ],
    );
    let n2 = node("n2", "2", &[prio_pod("p5", "n2", "2", 5, "", 3, "")]);
    let (r, s) = preempt(
        &prio_pod("hi", "", "1", 10, "", 0, ""),
        vec![n1, n2],
        Arc::new(EmptyLister),
    );
    assert!(s.is_success(), "{s}");
    let r = r.unwrap();
    assert_eq!(r.nominated_node_name.as_deref(), Some("n1"));
    assert_eq!(names(&r), ["p1"]);
    assert_eq!(
        s.message(),
        "preemption: found a potential placement for pod on node n1, preempting 1 victims"
    );
}

#[test]
fn never_policy_and_unhelpful_nodes() {
    let n1 = node("n1", "2", &[prio_pod("p1", "n1", "2", 1, "", 1, "")]);
    let never = prio_pod("hi", "", "1", 10, "", 0, "  preemptionPolicy: Never\n");
    let (r, s) = preempt(&never, vec![n1.clone()], Arc::new(EmptyLister));
    assert!(r.is_none());
    assert_eq!(
        (s.code(), s.message().as_str()),
        (
            Code::Unschedulable,
            "preemption: not eligible due to preemptionPolicy=Never."
        )
    );

    // Equal priority: nothing to evict.
    let (r, s) = preempt(
        &prio_pod("eq", "", "1", 1, "", 0, ""),
        vec![n1.clone()],
        Arc::new(EmptyLister),
    );
    assert!(r.unwrap().nominated_node_name.is_none());
    assert_eq!(
        s.message(),
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );

    // A node rejected as unresolvable (cpu above allocatable) is not a candidate.
    let n2 = node("n2", "2", &[prio_pod("p2", "n2", "2", 1, "", 1, "")]);
    let (_, s) = preempt(
        &prio_pod("big", "", "3", 10, "", 0, ""),
        vec![n2.clone()],
        Arc::new(EmptyLister),
    );
    assert_eq!(
        s.message(),
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    );

    // Mixed: one node without victims, one unresolvable.
    let a = node("a", "4", &[prio_pod("x", "a", "2", 1, "", 1, "")]);
    let (_, s) = preempt(
        &prio_pod("mid", "", "3", 1, "", 0, ""),
        vec![a, n2],
        Arc::new(EmptyLister),
    );
    assert_eq!(
        s.message(),
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    );
}

#[test]
fn pdb_violations_are_avoided() {
    let pdb: PodDisruptionBudget = serde_json::from_str(
        r#"{"metadata":{"name":"b","namespace":"default"},"spec":{"selector":{"matchLabels":{"app":"db"}}},"status":{"disruptionsAllowed":0,"currentHealthy":1,"desiredHealthy":1,"expectedPods":1}}"#,
    )
    .unwrap();
    let n1 = node("n1", "1", &[prio_pod("db", "n1", "1", 1, "app: db", 1, "")]);
    let n2 = node(
        "n2",
        "1",
        &[prio_pod("web", "n2", "1", 3, "app: web", 1, "")],
    );
    let hi = prio_pod("hi", "", "1", 10, "", 0, "");
    let (r, s) = preempt(
        &hi,
        vec![n1.clone(), n2.clone()],
        Arc::new(Pdbs(vec![Arc::new(pdb)])),
    );
    assert!(s.is_success());
    let r = r.unwrap();
    assert_eq!(r.nominated_node_name.as_deref(), Some("n2"));
    assert_eq!(names(&r), ["web"]);
    // Without the PDB the lower-priority victim wins.
    let (r, _) = preempt(&hi, vec![n1, n2], Arc::new(EmptyLister));
    assert_eq!(r.unwrap().nominated_node_name.as_deref(), Some("n1"));
}

fn cand(node: &str, victims: &[(i32, u32)], pdb: usize) -> Candidate {
    let victims = victims
        .iter()
        .enumerate()
        .map(|(i, (p, start))| {
            Arc::new(pinfo(&prio_pod(
                &format!("{node}-{i}"),
                node,
                "1",
                *p,
                "",
                *start,
                "",
            )))
        })
        .collect();
    Candidate {
        node: node.into(),
        victims,
        pdb_violations: pdb,
    }
}

#[test]
fn pick_one_order() {
    // Fewest PDB violations first.
    assert_eq!(
        pick_one(&[cand("a", &[(1, 1)], 1), cand("b", &[(9, 1)], 0)])
            .unwrap()
            .node,
        "b"
    );
    // Then the lowest highest-priority victim.
    assert_eq!(
        pick_one(&[cand("a", &[(5, 1)], 0), cand("b", &[(3, 1), (3, 1)], 0)])
            .unwrap()
            .node,
        "b"
    );
    // Then the smallest priority sum.
    assert_eq!(
        pick_one(&[
            cand("a", &[(5, 1), (4, 1)], 0),
            cand("b", &[(5, 1), (2, 1)], 0)
        ])
        .unwrap()
        .node,
        "b"
    );
    // Then the fewest victims.
    assert_eq!(
        pick_one(&[cand("a", &[(5, 1), (0, 1)], 0), cand("b", &[(5, 1)], 0)])
            .unwrap()
            .node,
        "b"
    );
    // Then the latest start of the highest-priority victims.
    assert_eq!(
        pick_one(&[cand("a", &[(5, 1)], 0), cand("b", &[(5, 9)], 0)])
            .unwrap()
            .node,
        "b"
    );
    // Then the first.
    assert_eq!(
        pick_one(&[cand("a", &[(5, 1)], 0), cand("b", &[(5, 1)], 0)])
            .unwrap()
            .node,
        "a"
    );
}

#[test]
fn num_candidates() {
    let pl = DefaultPreemption::new(&PluginArgsSet::default(), Arc::new(EmptyLister));
    assert_eq!(pl.num_candidates(50), 50);
    assert_eq!(pl.num_candidates(5000), 500);
    assert_eq!(pl.num_candidates(500), 100);
}

#[test]
fn fit_error_format() {
    let mut r = BTreeMap::new();
    r.insert("Insufficient cpu".to_string(), 2);
    r.insert("node(s) had untolerated taint(s)".to_string(), 3);
    assert_eq!(
        fit_error_message(5, &r),
        "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint(s)."
    );
}

#[test]
fn a_preemptor_does_not_evict_for_room_a_higher_priority_nominee_holds() {
    let lows = || {
        node(
            "n1",
            "2",
            &[
                prio_pod("low-a", "n1", "1", 1, "", 1, ""),
                prio_pod("low-b", "n1", "1", 1, "", 2, ""),
            ],
        )
    };
    let mid = prio_pod("mid", "", "1", 50, "", 0, "");
    // Alone, mid evicts one low pod.
    let (r, s) = preempt(&mid, vec![lows()], Arc::new(EmptyLister));
    assert!(s.is_success(), "{s}");
    assert_eq!(r.unwrap().victims.len(), 1);

    // With a higher-priority pod nominated to the node for both CPUs, evicting every low
    // pod still leaves no room: no victims, no nomination.
    let fw = default_framework();
    fw.nominator().add(
        &pinfo(&prio_pod("high", "", "2", 100, "", 0, "")),
        crate::framework::Nominating::Override("n1".into()),
    );
    let (r, s) = preempt_with(&fw, &mid, vec![lows()], Arc::new(EmptyLister));
    assert!(r.unwrap().nominated_node_name.is_none());
    assert_eq!(
        s.message(),
        "preemption: 0/1 nodes are available: 1 Insufficient cpu."
    );
}

#[test]
fn a_pod_nominated_in_memory_does_not_preempt_again_while_its_victims_terminate() {
    // The victim of the first round: being deleted, with the condition preemption adds.
    let victim = "metadata: {name: v, namespace: default, uid: v, deletionTimestamp: '2026-01-01T00:01:00Z'}\nspec:\n  priority: 1\n  nodeName: n1\n  containers: [{name: c, image: i, resources: {requests: {cpu: '2'}}}]\nstatus:\n  conditions: [{type: DisruptionTarget, status: 'True', reason: PreemptionByScheduler}]\n".to_string();
    let other = prio_pod("other", "n1", "1", 1, "", 1, "");
    let n1 = || node("n1", "3", &[victim.clone(), other.clone()]);
    let hi = prio_pod("hi", "", "2", 10, "", 0, "");
    let fw = default_framework();
    // The nomination is recorded, its status patch not seen yet.
    fw.nominator().add(
        &pinfo(&hi),
        crate::framework::Nominating::Override("n1".into()),
    );
    let (r, s) = preempt_with(&fw, &hi, vec![n1()], Arc::new(EmptyLister));
    assert!(r.is_none(), "the nomination is kept");
    assert_eq!(
        s.message(),
        "preemption: not eligible due to a terminating pod on the nominated node."
    );
}
