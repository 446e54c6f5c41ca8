use super::*;
use crate::framework::{Code, EmptyLister, PreScorePlugin, ScorePlugin};
use crate::test_support::{ninfo, pinfo};

/// Namespaces with labels, for namespaceSelector tests.
struct Namespaces(Vec<(String, BTreeMap<String, String>)>);

impl ClusterLister for Namespaces {
    fn namespace_labels(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l.clone())
    }
    fn namespaces(&self) -> Vec<(String, BTreeMap<String, String>)> {
        self.0.clone()
    }
}

fn teams() -> Arc<dyn ClusterLister> {
    let l = |t: &str| [("team".to_string(), t.to_string())].into_iter().collect();
    Arc::new(Namespaces(vec![
        ("subteam1.team1".into(), l("team1")),
        ("subteam2.team1".into(), l("team1")),
        ("subteam1.team2".into(), l("team2")),
        ("subteam2.team2".into(), l("team2")),
    ]))
}

fn plugin_with(lister: Arc<dyn ClusterLister>) -> InterPodAffinity {
    InterPodAffinity::new(&PluginArgsSet::default(), lister)
}

fn plugin() -> InterPodAffinity {
    plugin_with(Arc::new(EmptyLister))
}

/// A pod: name, namespace, labels, node ("" = incoming), affinity YAML (block under `affinity:`).
fn pod(name: &str, ns: &str, labels: &str, node: &str, affinity: &str) -> String {
    let node = if node.is_empty() {
        String::new()
    } else {
        format!("  nodeName: {node}\n")
    };
    let aff = if affinity.is_empty() {
        String::new()
    } else {
        format!("  affinity: {affinity}\n")
    };
    format!(
        "metadata: {{name: {name}, namespace: {ns}, uid: {name}, labels: {{{labels}}}}}\nspec:\n  containers: []\n{node}{aff}"
    )
}

fn cluster(nodes: &[(&str, &str)], pods: &[String]) -> Snapshot {
    let infos = nodes
        .iter()
        .map(|(name, labels)| {
            let mine: Vec<&str> = pods
                .iter()
                .filter(|p| p.contains(&format!("nodeName: {name}\n")))
                .map(String::as_str)
                .collect();
            ninfo(
                &format!("metadata: {{name: {name}, labels: {{{labels}}}}}"),
                &mine,
            )
        })
        .collect();
    Snapshot::from_nodes(infos)
}

fn filter(pl: &InterPodAffinity, incoming: &str, snap: &Snapshot) -> Vec<(Code, String)> {
    let p = pinfo(incoming);
    let mut st = CycleState::default();
    let (_, s) = pl.pre_filter(&mut st, &p, snap);
    if s.is_skip() {
        return snap
            .nodes()
            .iter()
            .map(|_| (Code::Success, String::new()))
            .collect();
    }
    snap.nodes()
        .iter()
        .map(|n| {
            let s = pl.filter(&st, &p, n);
            (s.code(), s.message())
        })
        .collect()
}

fn req(kind: &str, selector: &str, key: &str, extra: &str) -> String {
    format!(
        "{{{kind}: {{requiredDuringSchedulingIgnoredDuringExecution: [{{labelSelector: {selector}, topologyKey: {key}{extra}}}]}}}}"
    )
}

const S1: &str =
    "{matchExpressions: [{key: service, operator: In, values: [securityscan, value2]}]}";

#[test]
fn filter_table() {
    use Code::{Success as S, Unschedulable as U, UnschedulableAndUnresolvable as UU};
    let pl = plugin();
    let nodes = [(
        "machine1",
        "region: r1, zone: z11, kubernetes.io/hostname: machine1",
    )];
    let existing = pod("e", "default", "service: securityscan", "machine1", "");
    let snap = cluster(&nodes, std::slice::from_ref(&existing));
    let codes = |incoming: &str, snap: &Snapshot| {
        filter(&pl, incoming, snap)
            .into_iter()
            .map(|(c, _)| c)
            .collect::<Vec<_>>()
    };
    // From upstream's TestRequiredAffinitySingleNode.
    assert_eq!(
        codes(
            &pod(
                "p",
                "default",
                "",
                "",
                &req("podAffinity", S1, "region", "")
            ),
            &snap
        ),
        [S]
    );
    let notin =
        "{matchExpressions: [{key: service, operator: NotIn, values: [securityscan3, value3]}]}";
    assert_eq!(
        codes(
            &pod(
                "p",
                "default",
                "",
                "",
                &req("podAffinity", notin, "region", "")
            ),
            &snap
        ),
        [S]
    );
    // Different namespace: no matching pod, and the pod does not match itself.
    let r = filter(
        &pl,
        &pod(
            "p",
            "default",
            "",
            "",
            &req("podAffinity", S1, "region", ", namespaces: [DiffNameSpace]"),
        ),
        &snap,
    );
    assert_eq!(r, [(UU, ERR_REASON_AFFINITY.to_string())]);
    let antivirus =
        "{matchExpressions: [{key: service, operator: In, values: [antivirusscan, value2]}]}";
    assert_eq!(
        codes(
            &pod(
                "p",
                "default",
                "",
                "",
                &req("podAffinity", antivirus, "region", "")
            ),
            &snap
        ),
        [UU]
    );
    // Anti-affinity against the existing pod.
    let r = filter(
        &pl,
        &pod(
            "p",
            "default",
            "",
            "",
            &req("podAntiAffinity", S1, "zone", ""),
        ),
        &snap,
    );
    assert_eq!(r, [(U, ERR_REASON_ANTI_AFFINITY.to_string())]);
    // Existing pod's anti-affinity (symmetry).
    let anti_existing = pod(
        "e",
        "default",
        "service: securityscan",
        "machine1",
        &req(
            "podAntiAffinity",
            "{matchExpressions: [{key: security, operator: In, values: [S1]}]}",
            "zone",
            "",
        ),
    );
    let snap2 = cluster(&nodes, &[anti_existing]);
    let r = filter(&pl, &pod("p", "default", "security: S1", "", ""), &snap2);
    assert_eq!(r, [(U, ERR_REASON_EXISTING_ANTI_AFFINITY.to_string())]);
    assert_eq!(
        codes(&pod("p", "default", "security: S2", "", ""), &snap2),
        [S]
    );
    // A pod matching its own affinity term may go first when no pod matches anywhere.
    let own = "{matchExpressions: [{key: service, operator: In, values: [self]}]}";
    assert_eq!(
        codes(
            &pod(
                "p",
                "default",
                "service: self",
                "",
                &req("podAffinity", own, "region", "")
            ),
            &snap
        ),
        [S]
    );
    // ... but only on nodes with the topology key.
    assert_eq!(
        codes(
            &pod(
                "p",
                "default",
                "service: self",
                "",
                &req("podAffinity", own, "rack", "")
            ),
            &snap
        ),
        [UU]
    );
}

#[test]
fn topology_domains() {
    use Code::{Success as S, Unschedulable as U, UnschedulableAndUnresolvable as UU};
    let pl = plugin();
    // From upstream's TestRequiredAffinityMultipleNodes: nodeA and nodeB share region r1.
    let nodes = [
        ("nodeA", "region: r1, zone: z1"),
        ("nodeB", "region: r1, zone: z2"),
        ("nodeC", "region: r2, zone: z3"),
    ];
    let existing = pod("e", "default", "foo: bar", "nodeA", "");
    let snap = cluster(&nodes, &[existing]);
    let foo = "{matchExpressions: [{key: foo, operator: In, values: [bar]}]}";
    let codes = |p: &str| {
        filter(&pl, p, &snap)
            .into_iter()
            .map(|(c, _)| c)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        codes(&pod(
            "p",
            "default",
            "",
            "",
            &req("podAffinity", foo, "region", "")
        )),
        [S, S, UU]
    );
    assert_eq!(
        codes(&pod(
            "p",
            "default",
            "",
            "",
            &req("podAntiAffinity", foo, "region", "")
        )),
        [U, U, S]
    );
    assert_eq!(
        codes(&pod(
            "p",
            "other",
            "",
            "",
            &req("podAntiAffinity", foo, "region", "")
        )),
        [S, S, S]
    );
}

#[test]
fn namespace_selector() {
    use Code::{Success as S, UnschedulableAndUnresolvable as UU};
    let pl = plugin_with(teams());
    let nodes = [("n1", "region: r1")];
    let existing = pod("e", "subteam2.team2", "service: securityscan", "n1", "");
    let snap = cluster(&nodes, &[existing]);
    let codes = |p: &str| {
        filter(&pl, p, &snap)
            .into_iter()
            .map(|(c, _)| c)
            .collect::<Vec<_>>()
    };
    let sel = |team: &str| format!(", namespaceSelector: {{matchLabels: {{team: {team}}}}}");
    assert_eq!(
        codes(&pod(
            "p",
            "subteam1.team1",
            "",
            "",
            &req("podAffinity", S1, "region", &sel("team2"))
        )),
        [S]
    );
    assert_eq!(
        codes(&pod(
            "p",
            "subteam1.team1",
            "",
            "",
            &req("podAffinity", S1, "region", &sel("team1"))
        )),
        [UU]
    );
    // Empty selector: all namespaces.
    assert_eq!(
        codes(&pod(
            "p",
            "subteam1.team1",
            "",
            "",
            &req("podAffinity", S1, "region", ", namespaceSelector: {}")
        )),
        [S]
    );
}

#[test]
fn add_remove_pod_updates_state() {
    let pl = plugin();
    let nodes = [("nodeA", "zone: z1"), ("nodeB", "zone: z2")];
    let snap = cluster(&nodes, &[]);
    let foo = "{matchExpressions: [{key: foo, operator: Exists}]}";
    let p = pinfo(&pod(
        "p",
        "default",
        "",
        "",
        &req("podAntiAffinity", foo, "zone", ""),
    ));
    let mut st = CycleState::default();
    let (_, s) = pl.pre_filter(&mut st, &p, &snap);
    assert!(s.is_success());
    let a = snap.get("nodeA").unwrap().clone();
    let other = Arc::new(pinfo(&pod("q", "default", "foo: x", "nodeA", "")));
    assert!(pl.filter(&st, &p, &a).is_success());
    pl.add_pod(&mut st, &p, &other, &a);
    assert_eq!(pl.filter(&st, &p, &a).code(), Code::Unschedulable);
    pl.remove_pod(&mut st, &p, &other, &a);
    assert!(pl.filter(&st, &p, &a).is_success());
}

fn scores(pl: &InterPodAffinity, incoming: &str, snap: &Snapshot) -> Option<Vec<i64>> {
    let p = pinfo(incoming);
    let mut st = CycleState::default();
    let nodes = snap.nodes().to_vec();
    if pl
        .pre_score(&mut st, &p, snap, &crate::test_support::refs(&nodes))
        .is_skip()
    {
        return None;
    }
    let mut s: Vec<i64> = nodes
        .iter()
        .map(|n| pl.score(&st, &p, n).unwrap())
        .collect();
    pl.normalize_scores(&st, &p, &crate::test_support::refs(&nodes), &mut s);
    Some(s)
}

fn pref(kind: &str, weight: i32, selector: &str, key: &str) -> String {
    format!(
        "{{{kind}: {{preferredDuringSchedulingIgnoredDuringExecution: [{{weight: {weight}, podAffinityTerm: {{labelSelector: {selector}, topologyKey: {key}}}}}]}}}}"
    )
}

#[test]
fn score_table() {
    // From upstream's TestPreferredAffinity.
    let pl = plugin();
    let s1 = "{matchExpressions: [{key: security, operator: In, values: [S1]}]}";
    let s2 = "{matchExpressions: [{key: security, operator: In, values: [S2]}]}";
    let nodes = [
        ("node1", "region: China"),
        ("node2", "region: India"),
        ("node3", "az: az1"),
    ];
    let pods = [
        pod("a", "default", "security: S1", "node1", ""),
        pod("b", "default", "security: S2", "node2", ""),
        pod("c", "default", "security: S1", "node3", ""),
    ];
    let snap = cluster(&nodes, &pods);
    assert_eq!(
        scores(&pl, &pod("p", "default", "security: S1", "", ""), &snap),
        None
    );
    assert_eq!(
        scores(
            &pl,
            &pod(
                "p",
                "default",
                "security: S1",
                "",
                &pref("podAffinity", 5, s1, "region")
            ),
            &snap
        ),
        Some(vec![100, 0, 0])
    );
    // Same region as a matching pod scores the same.
    let nodes2 = [
        ("node1", "region: China"),
        ("node2", "region: China, az: az1"),
        ("node3", "region: India"),
    ];
    let snap2 = cluster(&nodes2, &[pod("a", "default", "security: S1", "node1", "")]);
    assert_eq!(
        scores(
            &pl,
            &pod(
                "p",
                "default",
                "",
                "",
                &pref("podAffinity", 5, s1, "region")
            ),
            &snap2
        ),
        Some(vec![100, 100, 0])
    );
    // Anti-affinity: the node with matching pods gets the low score.
    assert_eq!(
        scores(
            &pl,
            &pod(
                "p",
                "default",
                "",
                "",
                &pref("podAntiAffinity", 5, s1, "region")
            ),
            &snap
        ),
        Some(vec![0, 100, 100])
    );
    // Symmetry: existing pods' preferred affinity toward the incoming pod.
    let sym = [
        pod(
            "a",
            "default",
            "security: S1",
            "node1",
            &pref("podAffinity", 5, s1, "region"),
        ),
        pod(
            "b",
            "default",
            "security: S2",
            "node2",
            &pref("podAffinity", 6, s2, "region"),
        ),
    ];
    let snap3 = cluster(&nodes, &sym);
    assert_eq!(
        scores(&pl, &pod("p", "default", "security: S2", "", ""), &snap3),
        Some(vec![0, 100, 0])
    );
    // Symmetry with required affinity of existing pods (hardPodAffinityWeight 1).
    let hard = [pod(
        "a",
        "default",
        "security: S1",
        "node1",
        &req("podAffinity", s2, "region", ""),
    )];
    let snap4 = cluster(&nodes, &hard);
    assert_eq!(
        scores(&pl, &pod("p", "default", "security: S2", "", ""), &snap4),
        Some(vec![100, 0, 0])
    );
    // Existing pods whose only terms are required anti-affinity score nothing, so PreScore
    // skips rather than walking them (upstream walks them and scores every node 0).
    let anti_only = [pod(
        "a",
        "default",
        "security: S1",
        "node1",
        &req("podAntiAffinity", s2, "region", ""),
    )];
    let snap5 = cluster(&nodes, &anti_only);
    assert!(snap5.has_pods_with_affinity());
    assert_eq!(
        scores(&pl, &pod("p", "default", "security: S2", "", ""), &snap5),
        None
    );
    // ... but not when the incoming pod has preferred terms of its own.
    assert_eq!(
        scores(
            &pl,
            &pod(
                "p",
                "default",
                "security: S2",
                "",
                &pref("podAntiAffinity", 5, s1, "region")
            ),
            &snap5
        ),
        Some(vec![0, 100, 100])
    );
    let mut args = PluginArgsSet::default();
    args.inter_pod_affinity
        .ignore_preferred_terms_of_existing_pods = true;
    let ignoring = InterPodAffinity::new(&args, Arc::new(EmptyLister));
    assert_eq!(
        scores(
            &ignoring,
            &pod("p", "default", "security: S2", "", ""),
            &snap3
        ),
        None
    );
}

#[test]
fn score_table_upstream_combinations() {
    // More of upstream's TestPreferredAffinity.
    let pl = plugin();
    let nodes = [
        ("node1", "region: China"),
        ("node2", "region: India"),
        ("node3", "az: az1"),
    ];
    let affinity3 = "{podAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [\
        {weight: 8, podAffinityTerm: {labelSelector: {matchExpressions: [{key: security, operator: NotIn, values: [S1]}, {key: security, operator: In, values: [S2]}]}, topologyKey: region}},\
        {weight: 2, podAffinityTerm: {labelSelector: {matchExpressions: [{key: security, operator: Exists}, {key: wrongkey, operator: DoesNotExist}]}, topologyKey: region}}]}}";
    let pods = [
        pod("a", "default", "security: S1", "node1", ""),
        pod("b", "default", "security: S2", "node2", ""),
        pod("c", "default", "security: S1", "node3", ""),
    ];
    assert_eq!(
        scores(
            &pl,
            &pod("p", "default", "security: S1", "", affinity3),
            &cluster(&nodes, &pods)
        ),
        Some(vec![20, 100, 0])
    );

    // Symmetry of existing pods' required affinity (hardPodAffinityWeight).
    let hard = "{podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [\
        {labelSelector: {matchExpressions: [{key: security, operator: In, values: [S1, value2]}]}, topologyKey: region},\
        {labelSelector: {matchExpressions: [{key: security, operator: Exists}, {key: wrongkey, operator: DoesNotExist}]}, topologyKey: region}]}}";
    let pods = [
        pod("a", "default", "security: S1", "node1", hard),
        pod("b", "default", "security: S2", "node2", hard),
    ];
    assert_eq!(
        scores(
            &pl,
            &pod("p", "default", "security: S1", "", ""),
            &cluster(&nodes, &pods)
        ),
        Some(vec![100, 100, 0])
    );

    // Affinity, anti-affinity and both symmetries together.
    let stay_away = "{podAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 8, podAffinityTerm: {labelSelector: {matchExpressions: [{key: security, operator: In, values: [S1]}]}, topologyKey: region}}]},\
        podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 5, podAffinityTerm: {labelSelector: {matchExpressions: [{key: security, operator: In, values: [S2]}]}, topologyKey: az}}]}}";
    let away_s1 = "{podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 5, podAffinityTerm: {labelSelector: {matchExpressions: [{key: security, operator: In, values: [S1]}]}, topologyKey: az}}]}}";
    let nodes4 = [
        ("node1", "region: China"),
        ("node2", "az: az1"),
        ("node3", "region: India"),
        ("node4", "az: az2"),
    ];
    let pods = [
        pod("a", "default", "security: S1", "node1", ""),
        pod("b", "default", "security: S2", "node2", ""),
        pod("c", "default", "", "node3", stay_away),
        pod("d", "default", "", "node4", away_s1),
    ];
    assert_eq!(
        scores(
            &pl,
            &pod("p", "default", "security: S1", "", stay_away),
            &cluster(&nodes4, &pods)
        ),
        Some(vec![100, 0, 100, 0])
    );
}

/// Namespaces whose labels a test changes between cycles.
struct MutableNamespaces(std::sync::Mutex<Vec<(String, BTreeMap<String, String>)>>);

impl ClusterLister for MutableNamespaces {
    fn namespace_labels(&self, name: &str) -> Option<BTreeMap<String, String>> {
        let l = self.0.lock().unwrap();
        l.iter().find(|(n, _)| n == name).map(|(_, l)| l.clone())
    }
    fn namespaces(&self) -> Vec<(String, BTreeMap<String, String>)> {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn prefilter_counts_kept_across_cycles_match_a_fresh_count() {
    use crate::cache::Cache;
    use crate::test_support::node;

    let team = |t: &str| -> BTreeMap<String, String> {
        [("team".to_string(), t.to_string())].into_iter().collect()
    };
    let namespaces = Arc::new(MutableNamespaces(std::sync::Mutex::new(vec![
        ("default".into(), BTreeMap::new()),
        ("other".into(), BTreeMap::new()),
        ("subteam1.team1".into(), team("team1")),
        ("subteam2.team1".into(), team("team1")),
    ])));
    let lister: Arc<dyn ClusterLister> = namespaces.clone();
    let mut cache = Cache::new(std::time::Duration::ZERO);
    let add_node = |cache: &mut Cache, name: &str, labels: &str| {
        cache.upsert_node(Arc::new(node(&format!(
            "metadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}, {labels}}}}}"
        ))));
    };
    for (name, zone) in [("n1", "z1"), ("n2", "z1"), ("n3", "z2")] {
        add_node(&mut cache, name, &format!("zone: {zone}"));
    }
    let green = "{matchLabels: {color: green}}";
    let web = "{matchLabels: {app: web}}";
    let team1 = ", namespaceSelector: {matchLabels: {team: team1}}";
    let host = "kubernetes.io/hostname";
    let both = format!(
        "{{podAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: [{{labelSelector: {web}, topologyKey: zone}}]}}, podAntiAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: [{{labelSelector: {green}, topologyKey: {host}}}]}}}}"
    );
    let incoming: Vec<PodInfo> = [
        pod(
            "i1",
            "default",
            "color: green",
            "",
            &req("podAntiAffinity", green, host, ""),
        ),
        pod("i2", "default", "color: green", "", &both),
        pod(
            "i3",
            "subteam1.team1",
            "color: green",
            "",
            &req("podAffinity", green, "zone", team1),
        ),
        pod(
            "i4",
            "other",
            "color: green",
            "",
            &req("podAntiAffinity", green, "zone", ""),
        ),
        pod(
            "i5",
            "subteam2.team1",
            "app: web",
            "",
            &req("podAffinity", web, "zone", ""),
        ),
    ]
    .iter()
    .map(|p| pinfo(p))
    .collect();
    let bind = |cache: &mut Cache, p: String| cache.upsert_bound_pod(Arc::new(pinfo(&p)));
    let anti_green = req("podAntiAffinity", green, host, "");
    let anti_team1 = req("podAntiAffinity", green, "zone", team1);
    type Step = Box<dyn Fn(&mut Cache)>;
    let ns = namespaces.clone();
    let steps: Vec<Step> = vec![
        Box::new(|_| {}),
        Box::new(move |c| bind(c, pod("e1", "default", "color: green", "n1", &anti_green))),
        Box::new(move |c| bind(c, pod("e2", "default", "app: web", "n2", ""))),
        Box::new(move |c| bind(c, pod("e3", "other", "color: green", "n3", &anti_team1))),
        Box::new(move |c| {
            bind(
                c,
                pod("e4", "subteam1.team1", "app: web, color: green", "n1", ""),
            )
        }),
        Box::new(move |c| bind(c, pod("e5", "subteam2.team1", "app: web", "n3", ""))),
        Box::new(|c| {
            c.remove_pod("e1");
        }),
        Box::new(move |c| add_node(c, "n2", "zone: z2")),
        Box::new(move |_| {
            ns.lock_labels("subteam1.team1", team("team2"));
        }),
        Box::new(move |c| add_node(c, "n4", "zone: z2")),
        Box::new(|c| c.remove_node("n3")),
        Box::new(move |c| {
            bind(
                c,
                pod(
                    "e6",
                    "default",
                    "color: green",
                    "n4",
                    &req("podAntiAffinity", green, host, ""),
                ),
            )
        }),
        Box::new(|c| {
            c.remove_pod("e2");
        }),
    ];
    let cached = plugin_with(lister.clone());
    let mut snap = Snapshot::default();
    for (step, change) in steps.iter().enumerate() {
        change(&mut cache);
        cache.update_snapshot(&mut snap);
        for (k, p) in incoming.iter().enumerate() {
            let fresh = plugin_with(lister.clone());
            let (mut a, mut b) = (CycleState::default(), CycleState::default());
            let (sa, sb) = (
                cached.pre_filter(&mut a, p, &snap).1,
                fresh.pre_filter(&mut b, p, &snap).1,
            );
            assert_eq!(sa.code(), sb.code(), "step {step}, pod {k}");
            if let (Some(a), Some(b)) = (a.get::<PreFilterState>(), b.get::<PreFilterState>()) {
                assert_eq!(a.sorted_counts(), b.sorted_counts(), "step {step}, pod {k}");
            }
            for n in snap.nodes() {
                let (fa, fb) = (cached.filter(&a, p, n), fresh.filter(&b, p, n));
                if sa.is_success() {
                    assert_eq!(
                        (fa.code(), fa.message()),
                        (fb.code(), fb.message()),
                        "step {step}, pod {k}, node {}",
                        n.name
                    );
                }
            }
        }
    }
}

impl MutableNamespaces {
    fn lock_labels(&self, name: &str, labels: BTreeMap<String, String>) {
        let mut l = self.0.lock().unwrap();
        if let Some(e) = l.iter_mut().find(|(n, _)| n == name) {
            e.1 = labels;
        }
    }
}
