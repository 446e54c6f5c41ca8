use super::*;
use crate::cache::Snapshot;
use crate::framework::CycleState;
use crate::framework::{Code, FilterPlugin, PreFilterPlugin, PreScorePlugin, ScorePlugin};
use crate::test_support::{ninfo, pinfo};

const HOST: &str = "kubernetes.io/hostname";

/// A node: name, labels (`k: v` YAML flow body), extra spec (e.g. taints).
type N<'a> = (&'a str, &'a str, &'a str);
/// An existing pod: name, node, labels, namespace.
type P<'a> = (&'a str, &'a str, &'a str, &'a str);

fn existing(p: &P) -> String {
    let ns = if p.3.is_empty() { "default" } else { p.3 };
    format!(
        "metadata: {{name: {}, namespace: {ns}, uid: {}, labels: {{{}}}}}\nspec: {{containers: [], nodeName: {}}}",
        p.0, p.0, p.2, p.1
    )
}

fn cluster(nodes: &[N], pods: &[P]) -> Vec<NodeInfo> {
    nodes
        .iter()
        .map(|(name, labels, spec)| {
            let ps: Vec<String> = pods.iter().filter(|p| p.1 == *name).map(existing).collect();
            let refs: Vec<&str> = ps.iter().map(String::as_str).collect();
            ninfo(
                &format!("metadata: {{name: {name}, labels: {{{labels}}}}}\nspec: {{{spec}}}"),
                &refs,
            )
        })
        .collect()
}

fn constraint(skew: i32, key: &str, when: &str, selector: &str, extra: &str) -> String {
    format!(
        "{{maxSkew: {skew}, topologyKey: {key}, whenUnsatisfiable: {when}, labelSelector: {selector}{extra}}}"
    )
}

const FOO: &str = "{matchExpressions: [{key: foo, operator: Exists}]}";
const BAR: &str = "{matchExpressions: [{key: bar, operator: Exists}]}";

fn incoming(labels: &str, constraints: &[String], extra: &str) -> PodInfo {
    pinfo(&format!(
        "metadata: {{name: p, namespace: default, uid: p, labels: {{{labels}}}}}\nspec:\n  containers: []\n  topologySpreadConstraints: [{}]\n{extra}",
        constraints.join(", ")
    ))
}

fn plugin() -> PodTopologySpread {
    PodTopologySpread::from_args(&PluginArgsSet::default())
}

fn filter_codes(pod: &PodInfo, nodes: Vec<NodeInfo>) -> Vec<Code> {
    let snap = Snapshot::from_nodes(nodes);
    let pl = plugin();
    let mut st = CycleState::default();
    let (_, s) = pl.pre_filter(&mut st, pod, &snap);
    assert!(s.is_success(), "{s}");
    snap.nodes()
        .iter()
        .map(|n| {
            let s = pl.filter(&st, pod, n);
            match s.code() {
                Code::Unschedulable => assert_eq!(s.message(), ERR_REASON_CONSTRAINTS_NOT_MATCH),
                Code::UnschedulableAndUnresolvable => {
                    assert_eq!(s.message(), ERR_REASON_NODE_LABEL_NOT_MATCH)
                }
                _ => {}
            }
            s.code()
        })
        .collect()
}

const ZONES: [N; 4] = [
    ("node-a", "zone: zone1, node: node-a", ""),
    ("node-b", "zone: zone1, node: node-b", ""),
    ("node-x", "zone: zone2, node: node-x", ""),
    ("node-y", "zone: zone2, node: node-y", ""),
];

#[test]
fn single_constraint_filter() {
    use Code::{Success as S, Unschedulable as U, UnschedulableAndUnresolvable as UU};
    // From upstream's TestSingleConstraint.
    let zone = |sel: &str| {
        incoming(
            "foo: ''",
            &[constraint(1, "zone", "DoNotSchedule", sel, "")],
            "",
        )
    };
    assert_eq!(filter_codes(&zone(FOO), cluster(&ZONES, &[])), [S, S, S, S]);
    assert_eq!(filter_codes(&zone(BAR), cluster(&ZONES, &[])), [S, S, S, S]);
    let pods = [
        ("p-a1", "node-a", "foo: ''", "ns1"),
        ("p-b1", "node-a", "foo: ''", "ns2"),
        ("p-x1", "node-x", "foo: ''", ""),
        ("p-y1", "node-y", "foo: ''", ""),
    ];
    assert_eq!(
        filter_codes(&zone(FOO), cluster(&ZONES, &pods)),
        [S, S, U, U]
    );
    let pods = [
        ("p-x1", "node-x", "foo: ''", ""),
        ("p-y1", "node-y", "foo: ''", ""),
    ];
    assert_eq!(
        filter_codes(&zone("null"), cluster(&ZONES, &pods)),
        [S, S, S, S]
    );
    let pods = [
        ("p-a1", "node-a", "foo: ''", ""),
        ("p-a2", "node-a", "foo: ''", ""),
        ("p-b1", "node-b", "foo: ''", ""),
        ("p-y1", "node-y", "foo: ''", ""),
        ("p-y2", "node-y", "foo: ''", ""),
        ("p-y3", "node-y", "foo: ''", ""),
    ];
    assert_eq!(
        filter_codes(&zone(FOO), cluster(&ZONES, &pods)),
        [S, S, S, S]
    );
    let nodes: [N; 4] = [
        ("node-a", "zone: zone1, node: node-a", ""),
        ("node-b", "zon: zone1, node: node-b", ""),
        ("node-x", "zone: zone2, node: node-x", ""),
        ("node-y", "zone: zone2, node: node-y", ""),
    ];
    let pods = [
        ("p-a1", "node-a", "foo: ''", ""),
        ("p-b1", "node-b", "foo: ''", ""),
        ("p-x1", "node-x", "foo: ''", ""),
        ("p-y1", "node-y", "foo: ''", ""),
    ];
    assert_eq!(
        filter_codes(&zone(FOO), cluster(&nodes, &pods)),
        [S, UU, U, U]
    );
    // Per-node spreading 2/1/0/3 with maxSkew 1: only node-x fits.
    let node_c = incoming(
        "foo: ''",
        &[constraint(1, "node", "DoNotSchedule", FOO, "")],
        "",
    );
    let pods = [
        ("p-a1", "node-a", "foo: ''", ""),
        ("p-a2", "node-a", "foo: ''", ""),
        ("p-b1", "node-b", "foo: ''", ""),
        ("p-y1", "node-y", "foo: ''", ""),
        ("p-y2", "node-y", "foo: ''", ""),
        ("p-y3", "node-y", "foo: ''", ""),
    ];
    assert_eq!(filter_codes(&node_c, cluster(&ZONES, &pods)), [U, U, S, U]);
    // minDomains larger than the number of domains: the global minimum counts as 0.
    let min_domains = incoming(
        "foo: ''",
        &[constraint(
            1,
            "zone",
            "DoNotSchedule",
            FOO,
            ", minDomains: 3",
        )],
        "",
    );
    let pods = [
        ("p-a1", "node-a", "foo: ''", ""),
        ("p-x1", "node-x", "foo: ''", ""),
    ];
    assert_eq!(
        filter_codes(&min_domains, cluster(&ZONES, &pods)),
        [U, U, U, U]
    );
    let min_domains = incoming(
        "foo: ''",
        &[constraint(
            2,
            "zone",
            "DoNotSchedule",
            FOO,
            ", minDomains: 3",
        )],
        "",
    );
    assert_eq!(
        filter_codes(&min_domains, cluster(&ZONES, &pods)),
        [S, S, S, S]
    );
}

#[test]
fn inclusion_policies_and_match_label_keys() {
    use Code::{Success as S, Unschedulable as U};
    let nodes: [N; 3] = [
        ("node-a", "node: node-a, foo: ''", ""),
        ("node-b", "node: node-b, foo: ''", ""),
        (
            "node-c",
            "node: node-c",
            "taints: [{key: k, value: v, effect: NoSchedule}]",
        ),
    ];
    let pods = [
        ("p-a1", "node-a", "foo: ''", ""),
        ("p-b1", "node-b", "foo: ''", ""),
    ];
    // nodeAffinityPolicy Honor (default): node-c is outside the pod's nodeSelector, its 0 pods
    // do not make the minimum 0.
    let p = incoming(
        "foo: ''",
        &[constraint(1, "node", "DoNotSchedule", FOO, "")],
        "  nodeSelector: {foo: ''}\n",
    );
    assert_eq!(filter_codes(&p, cluster(&nodes, &pods)), [S, S, S]);
    let p = incoming(
        "foo: ''",
        &[constraint(
            1,
            "node",
            "DoNotSchedule",
            FOO,
            ", nodeAffinityPolicy: Ignore",
        )],
        "  nodeSelector: {foo: ''}\n",
    );
    assert_eq!(filter_codes(&p, cluster(&nodes, &pods)), [U, U, S]);
    let p = incoming(
        "foo: ''",
        &[constraint(
            1,
            "node",
            "DoNotSchedule",
            FOO,
            ", nodeTaintsPolicy: Honor",
        )],
        "",
    );
    assert_eq!(filter_codes(&p, cluster(&nodes, &pods)), [S, S, S]);
    // matchLabelKeys: only pods with the same `rev` count.
    let pods = [
        ("p-a1", "node-a", "foo: '', rev: '1'", ""),
        ("p-a2", "node-a", "foo: '', rev: '2'", ""),
    ];
    let p = incoming(
        "foo: '', rev: '2'",
        &[constraint(
            1,
            "node",
            "DoNotSchedule",
            FOO,
            ", matchLabelKeys: [rev]",
        )],
        "",
    );
    assert_eq!(filter_codes(&p, cluster(&nodes[..2], &pods)), [U, S]);
    let pods = [("p-a1", "node-a", "foo: '', rev: '1'", "")];
    assert_eq!(filter_codes(&p, cluster(&nodes[..2], &pods)), [S, S]);
}

#[test]
fn prefilter_skips_without_hard_constraints_and_extensions_update() {
    let pl = plugin();
    let snap = Snapshot::from_nodes(cluster(&ZONES, &[]));
    let soft = incoming(
        "foo: ''",
        &[constraint(1, "zone", "ScheduleAnyway", FOO, "")],
        "",
    );
    let (_, s) = pl.pre_filter(&mut CycleState::default(), &soft, &snap);
    assert!(s.is_skip());
    let p = incoming(
        "foo: ''",
        &[constraint(1, "zone", "DoNotSchedule", FOO, "")],
        "",
    );
    let mut st = CycleState::default();
    pl.pre_filter(&mut st, &p, &snap);
    let zone1 = snap.get("node-a").unwrap().clone();
    let added = Arc::new(pinfo(&existing(&("q", "node-a", "foo: ''", ""))));
    assert!(pl.filter(&st, &p, &zone1).is_success());
    pl.add_pod(&mut st, &p, &added, &zone1);
    assert_eq!(pl.filter(&st, &p, &zone1).code(), Code::Unschedulable);
    pl.remove_pod(&mut st, &p, &added, &zone1);
    assert!(pl.filter(&st, &p, &zone1).is_success());
}

#[test]
fn prefilter_counts_kept_across_cycles_match_a_fresh_count() {
    use crate::cache::Cache;
    use crate::test_support::node;

    let mut cache = Cache::new(std::time::Duration::ZERO);
    let add_node = |cache: &mut Cache, name: &str, labels: &str, spec: &str| {
        cache.upsert_node(Arc::new(node(&format!(
            "metadata: {{name: {name}, labels: {{{labels}}}}}\nspec: {{{spec}}}"
        ))));
    };
    for (name, labels, spec) in ZONES {
        add_node(&mut cache, name, labels, spec);
    }
    let bind = |cache: &mut Cache, p: P| cache.upsert_bound_pod(Arc::new(pinfo(&existing(&p))));
    let cached = plugin();
    let pods = [
        incoming(
            "foo: ''",
            &[constraint(1, "zone", "DoNotSchedule", FOO, "")],
            "",
        ),
        incoming(
            "foo: '', bar: ''",
            &[
                constraint(1, "zone", "DoNotSchedule", FOO, ""),
                constraint(2, "node", "DoNotSchedule", BAR, ""),
                constraint(1, HOST, "DoNotSchedule", FOO, ""),
            ],
            "",
        ),
        incoming(
            "foo: ''",
            &[constraint(
                1,
                "zone",
                "DoNotSchedule",
                FOO,
                ", nodeTaintsPolicy: Honor",
            )],
            "  nodeSelector: {zone: zone1}",
        ),
    ];
    let mut snap = Snapshot::default();
    type Step = Box<dyn Fn(&mut Cache)>;
    let steps: Vec<Step> = vec![
        Box::new(|_| {}),
        Box::new(move |c| bind(c, ("p1", "node-a", "foo: ''", ""))),
        Box::new(move |c| bind(c, ("p2", "node-x", "foo: '', bar: ''", ""))),
        Box::new(move |c| bind(c, ("p3", "node-x", "foo: ''", "other"))),
        Box::new(|c| {
            c.remove_pod("p1");
        }),
        Box::new(move |c| {
            add_node(
                c,
                "node-b",
                "zone: zone3, node: node-b",
                "taints: [{key: k, effect: NoSchedule}]",
            )
        }),
        Box::new(move |c| add_node(c, "node-c", "zone: zone3, node: node-c", "")),
        Box::new(move |c| bind(c, ("p4", "node-c", "foo: '', bar: ''", ""))),
        Box::new(move |c| add_node(c, "node-y", "node: node-y", "")),
        Box::new(|c| c.remove_node("node-a")),
        Box::new(move |c| bind(c, ("p5", "node-b", "foo: ''", ""))),
    ];
    for (step, change) in steps.iter().enumerate() {
        change(&mut cache);
        cache.update_snapshot(&mut snap);
        for (k, p) in pods.iter().enumerate() {
            let (mut a, mut b) = (CycleState::default(), CycleState::default());
            assert!(cached.pre_filter(&mut a, p, &snap).1.is_success());
            assert!(plugin().pre_filter(&mut b, p, &snap).1.is_success());
            let (a, b) = (
                a.get::<PreFilterState>().unwrap(),
                b.get::<PreFilterState>().unwrap(),
            );
            assert_eq!(a.domain_counts(), b.domain_counts(), "step {step}, pod {k}");
            assert_eq!(a.path_mins(), b.path_mins(), "step {step}, pod {k}");
        }
    }
}

fn scores(pod: &PodInfo, candidates: &[N], failed: &[N], pods: &[P]) -> Vec<i64> {
    let mut all: Vec<N> = candidates.to_vec();
    all.extend_from_slice(failed);
    let snap = Snapshot::from_nodes(cluster(&all, pods));
    let pl = plugin();
    let mut st = CycleState::default();
    pl.pre_filter(&mut st, pod, &snap);
    let feasible: Vec<Arc<NodeInfo>> = candidates
        .iter()
        .map(|n| snap.get(n.0).unwrap().clone())
        .collect();
    assert!(
        pl.pre_score(&mut st, pod, &snap, &crate::test_support::refs(&feasible))
            .is_success()
    );
    let mut s: Vec<i64> = feasible
        .iter()
        .map(|n| pl.score(&st, pod, n).unwrap())
        .collect();
    pl.normalize_scores(&st, pod, &crate::test_support::refs(&feasible), &mut s);
    s
}

#[test]
fn score_table() {
    // From upstream's TestPodTopologySpreadScore.
    let host = |skew| {
        incoming(
            "foo: ''",
            &[constraint(skew, HOST, "ScheduleAnyway", FOO, "")],
            "",
        )
    };
    let hn = |n: &'static str| -> N { (n, Box::leak(format!("{HOST}: {n}").into_boxed_str()), "") };
    let f = "foo: ''";
    assert_eq!(
        scores(&host(1), &[hn("node-a"), hn("node-b")], &[], &[]),
        [100, 100]
    );
    let pods = [
        ("p-a1", "node-a", f, ""),
        ("p-a2", "node-a", f, ""),
        ("p-b1", "node-b", f, ""),
        ("p-d1", "node-d", f, ""),
        ("p-d2", "node-d", f, ""),
        ("p-d3", "node-d", f, ""),
    ];
    assert_eq!(
        scores(
            &host(1),
            &[hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")],
            &[],
            &pods
        ),
        [20, 60, 100, 0]
    );
    let pods = [
        ("p-a1", "node-a", f, ""),
        ("p-a2", "node-a", f, ""),
        ("p-a3", "node-a", f, ""),
        ("p-a4", "node-a", f, ""),
        ("p-b1", "node-b", f, ""),
        ("p-b2", "node-b", f, ""),
        ("p-x1", "node-x", f, ""),
        ("p-y1", "node-y", f, ""),
        ("p-y2", "node-y", f, ""),
        ("p-y3", "node-y", f, ""),
    ];
    assert_eq!(
        scores(
            &host(1),
            &[hn("node-a"), hn("node-b"), hn("node-x")],
            &[hn("node-y")],
            &pods
        ),
        [33, 83, 100]
    );
    assert_eq!(
        scores(
            &host(1),
            &[hn("node-a"), ("node-b", "n: node-b", ""), hn("node-x")],
            &[hn("node-y")],
            &pods
        ),
        [16, 0, 100]
    );
    let zone = incoming(f, &[constraint(1, "zone", "ScheduleAnyway", FOO, "")], "");
    let zn = |n: &'static str, z: &str| -> N {
        (
            n,
            Box::leak(format!("zone: {z}, {HOST}: {n}").into_boxed_str()),
            "",
        )
    };
    assert_eq!(
        scores(
            &zone,
            &[
                zn("node-a", "zone1"),
                zn("node-b", "zone1"),
                zn("node-x", "zone2")
            ],
            &[zn("node-y", "zone2")],
            &pods
        ),
        [75, 75, 100]
    );
    let two = incoming(
        f,
        &[
            constraint(1, "zone", "ScheduleAnyway", FOO, ""),
            constraint(1, HOST, "ScheduleAnyway", FOO, ""),
        ],
        "",
    );
    let pods = [
        ("p-a1", "node-a", f, ""),
        ("p-a2", "node-a", f, ""),
        ("p-b1", "node-b", f, ""),
        ("p-x1", "node-x", f, ""),
        ("p-x2", "node-x", f, ""),
        ("p-y1", "node-y", f, ""),
        ("p-y2", "node-y", f, ""),
        ("p-y3", "node-y", f, ""),
        ("p-y4", "node-y", f, ""),
    ];
    assert_eq!(
        scores(
            &two,
            &[zn("node-a", "zone1"), zn("node-x", "zone2")],
            &[zn("node-b", "zone1"), zn("node-y", "zone2")],
            &pods
        ),
        [100, 63]
    );
    let nd = |n: &'static str, extra: &'static str| -> N {
        (n, Box::leak(format!("node: {n}").into_boxed_str()), extra)
    };
    let pods = [
        ("p-a1", "node-a", f, ""),
        ("p-a2", "node-a", f, ""),
        ("p-b1", "node-b", f, ""),
        ("p-b2", "node-b", f, ""),
        ("p-c1", "node-c", f, ""),
    ];
    let md = incoming(
        f,
        &[constraint(
            2,
            "node",
            "ScheduleAnyway",
            FOO,
            ", minDomains: 10",
        )],
        "",
    );
    assert_eq!(
        scores(
            &md,
            &[nd("node-a", ""), nd("node-b", ""), nd("node-c", "")],
            &[],
            &pods
        ),
        [75, 75, 100]
    );
    let taint = "taints: [{key: k, value: v, effect: NoSchedule}]";
    let pods = [
        ("p-a1", "node-a", f, ""),
        ("p-a2", "node-a", f, ""),
        ("p-b1", "node-b", f, ""),
        ("p-c1", "node-c", f, ""),
    ];
    let honor = incoming(
        f,
        &[constraint(
            1,
            "node",
            "ScheduleAnyway",
            FOO,
            ", nodeTaintsPolicy: Honor",
        )],
        "",
    );
    assert_eq!(
        scores(
            &honor,
            &[nd("node-a", ""), nd("node-b", ""), nd("node-c", taint)],
            &[],
            &pods
        ),
        [0, 33, 100]
    );
    let ignore = incoming(f, &[constraint(1, "node", "ScheduleAnyway", FOO, "")], "");
    assert_eq!(
        scores(
            &ignore,
            &[nd("node-a", ""), nd("node-b", ""), nd("node-c", taint)],
            &[],
            &pods
        ),
        [66, 100, 100]
    );
}

/// Services and a ReplicaSet, as the scheduler's listers would hold them.
struct Workloads;

impl ClusterLister for Workloads {
    fn services(&self, namespace: &str) -> Vec<Arc<k8s_openapi::api::core::v1::Service>> {
        let svc = |name: &str, sel: &str| {
            Arc::new(
                serde_saphyr::from_str(&format!(
                    "metadata: {{name: {name}, namespace: {namespace}}}\nspec: {{selector: {{{sel}}}}}"
                ))
                .expect("service"),
            )
        };
        vec![
            svc("web", "app: web"),
            svc("other", "app: db"),
            Arc::new(
                serde_saphyr::from_str(&format!(
                    "metadata: {{name: headless, namespace: {namespace}}}\nspec: {{}}"
                ))
                .expect("service"),
            ),
        ]
    }
    fn replica_set(
        &self,
        _: &str,
        name: &str,
    ) -> Option<Arc<k8s_openapi::api::apps::v1::ReplicaSet>> {
        (name == "web-7d4").then(|| {
            Arc::new(
                serde_saphyr::from_str(
                    "metadata: {name: web-7d4, namespace: default}\nspec: {selector: {matchLabels: {app: web, pod-template-hash: 7d4}}}",
                )
                .expect("replicaset"),
            )
        })
    }
}

#[test]
fn system_default_constraints_use_services_and_the_owning_replica_set() {
    let owned = pinfo(
        "metadata: {name: p, namespace: default, labels: {app: web, pod-template-hash: 7d4}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d4, uid: u, controller: true}]}\nspec: {containers: []}",
    );
    let sel = default_selector(owned.pod(), &Workloads);
    let labels = |l: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
        l.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert!(sel.matches(&labels(&[("app", "web"), ("pod-template-hash", "7d4")])));
    assert!(
        !sel.matches(&labels(&[("app", "web"), ("pod-template-hash", "other")])),
        "the ReplicaSet's selector counts"
    );
    assert!(
        !sel.matches(&labels(&[("app", "db"), ("pod-template-hash", "7d4")])),
        "the Service's selector counts"
    );
    // Under System defaulting the pod gets upstream's two soft constraints.
    let pl = PodTopologySpread::with_lister(&PluginArgsSet::default(), Arc::new(Workloads));
    let keys: Vec<(String, i64)> = pl
        .constraints(owned.pod(), "ScheduleAnyway")
        .iter()
        .map(|c| (c.topology_key.to_string(), c.max_skew))
        .collect();
    assert_eq!(
        keys,
        [
            (HOST.to_string(), 3),
            ("topology.kubernetes.io/zone".to_string(), 5)
        ]
    );
    // A bare pod nothing selects keeps no default constraints.
    let bare = pinfo(
        "metadata: {name: b, namespace: default, labels: {app: cache}}\nspec: {containers: []}",
    );
    assert!(default_selector(bare.pod(), &Workloads).is_empty());
    assert!(pl.constraints(bare.pod(), "ScheduleAnyway").is_empty());
}
