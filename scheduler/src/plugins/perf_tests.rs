//! A rough timing of one scheduling cycle's plugin work over 5,000 nodes (run with
//! `cargo test --release -p ferrosched-scheduler plugins::perf -- --ignored --nocapture`).

use std::sync::Arc;
use std::time::Instant;

use crate::cache::{NodeInfo, Snapshot};
use crate::framework::CycleState;
use crate::model::PodInfo;
use crate::plugins::tests::default_framework;
use crate::test_support::{node, pod};

#[test]
#[ignore]
fn one_cycle_over_5000_nodes() {
    let fw = default_framework();
    let mut infos = Vec::new();
    for i in 0..5000 {
        let n = node(&format!(
            "metadata: {{name: n{i}, labels: {{kubernetes.io/hostname: n{i}, topology.kubernetes.io/zone: z{}}}}}\nstatus: {{allocatable: {{cpu: '64', memory: 256Gi, pods: '110'}}}}",
            i % 3
        ));
        let mut ni = NodeInfo::new(&format!("n{i}"));
        ni.set_node(Arc::new(n));
        for j in 0..20 {
            let p = pod(&format!(
                "metadata: {{name: p{i}-{j}, namespace: default, uid: p{i}-{j}, labels: {{app: a{}}}}}\nspec: {{nodeName: n{i}, containers: [{{name: c, image: nginx, resources: {{requests: {{cpu: 100m, memory: 100Mi}}}}}}]}}",
                j % 5
            ));
            ni.add_pod(Arc::new(PodInfo::new(Arc::new(p))));
        }
        infos.push(ni);
    }
    let snap = Snapshot::from_nodes(infos);
    let incoming = PodInfo::new(Arc::new(pod(
        "metadata: {name: x, namespace: default, uid: x, labels: {app: a1}}\nspec:\n  containers: [{name: c, image: nginx, resources: {requests: {cpu: 500m, memory: 1Gi}}}]\n  topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: a1}}}]\n  affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 10, podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: a1}}}}]}}\n",
    )));
    for round in 0..3 {
        let t0 = Instant::now();
        let mut state = CycleState::default();
        let (_, s, _) = fw.run_pre_filter_plugins(&mut state, &incoming, &snap);
        assert!(s.is_success(), "{s}");
        let t1 = Instant::now();
        let feasible: Vec<Arc<NodeInfo>> = snap
            .nodes()
            .iter()
            .filter(|n| fw.run_filter_plugins(&state, &incoming, n).is_success())
            .cloned()
            .collect();
        let t2 = Instant::now();
        let nodes = crate::test_support::refs(&feasible);
        let s = fw.run_pre_score_plugins(&mut state, &incoming, &snap, &nodes);
        assert!(s.is_success(), "{s}");
        let t3 = Instant::now();
        let scores = fw
            .run_score_plugins(&state, &incoming, &nodes)
            .expect("scores");
        assert_eq!(scores.totals.len(), feasible.len());
        let t4 = Instant::now();
        println!(
            "round {round}: prefilter {:?}, filter {:?} ({} feasible), prescore {:?}, score {:?}",
            t1 - t0,
            t2 - t1,
            feasible.len(),
            t3 - t2,
            t4 - t3
        );
    }
}
