//! Per-plugin timing: sampled cycles report each plugin call with upstream's labels.

use std::sync::{Arc, Mutex};

use super::*;
use crate::test_support::{ninfo, pinfo};

type Seen = Arc<Mutex<Vec<(&'static str, &'static str, &'static str)>>>;

/// The default profile's framework, reporting plugin calls to the returned list.
fn observed() -> (Framework, Seen) {
    let cfg = crate::config::parse(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n",
    )
    .expect("defaults");
    let fw = Framework::new(
        &cfg.profiles[0],
        &crate::plugins::registry(),
        &Handle::offline(),
    )
    .expect("framework");
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let observer: PluginObserver = Arc::new(move |plugin, point, status, secs| {
        assert!(secs >= 0.0);
        sink.lock().expect("lock").push((plugin, point, status));
    });
    (fw.with_plugin_observer(observer), seen)
}

#[test]
fn sampled_cycles_report_each_call_with_upstream_labels() {
    let (fw, seen) = observed();
    let pod = pinfo("metadata: {name: p}\nspec: {containers: [{name: c, image: i}]}");
    let cordoned = ninfo("metadata: {name: n}\nspec: {unschedulable: true}", &[]);

    let mut state = CycleState::default();
    state.record_plugin_metrics = false;
    let status = fw.run_filter_plugins(&state, &pod, &cordoned);
    assert_eq!(status.code_label(), "UnschedulableAndUnresolvable");
    assert_eq!(status.plugin(), "NodeUnschedulable");
    assert!(seen.lock().expect("lock").is_empty(), "unsampled cycle");

    state.record_plugin_metrics = true;
    fw.run_filter_plugins(&state, &pod, &cordoned);
    let seen = seen.lock().expect("lock").clone();
    // The filters before it pass; NodeUnschedulable rejects and ends the pass.
    assert_eq!(
        seen.last(),
        Some(&(
            "NodeUnschedulable",
            "Filter",
            "UnschedulableAndUnresolvable"
        )),
        "{seen:?}"
    );
    assert!(seen.iter().all(|(_, point, _)| *point == "Filter"));
    assert!(
        seen[..seen.len() - 1]
            .iter()
            .all(|(_, _, status)| *status == "Success"),
        "{seen:?}"
    );
}

#[test]
fn score_and_normalize_are_reported_apart() {
    let (fw, seen) = observed();
    let pod = pinfo("metadata: {name: p}\nspec: {containers: [{name: c, image: i}]}");
    let nodes = [
        ninfo(
            "metadata: {name: a}\nstatus: {allocatable: {cpu: '2', memory: 2Gi, pods: '10'}}",
            &[],
        ),
        ninfo(
            "metadata: {name: b}\nstatus: {allocatable: {cpu: '4', memory: 4Gi, pods: '10'}}",
            &[],
        ),
    ];
    let refs: Vec<&crate::cache::NodeInfo> = nodes.iter().collect();
    let mut state = CycleState::default();
    state.record_plugin_metrics = true;
    let snapshot = crate::cache::Snapshot::from_nodes(nodes.to_vec());
    assert!(
        fw.run_pre_score_plugins(&mut state, &pod, &snapshot, &refs)
            .is_success()
    );
    fw.run_score_plugins(&state, &pod, &refs).expect("scores");
    let seen = seen.lock().expect("lock").clone();
    let fit_scores = seen
        .iter()
        .filter(|s| **s == ("NodeResourcesFit", "Score", "Success"))
        .count();
    assert_eq!(fit_scores, 2, "one per node: {seen:?}");
    assert!(seen.contains(&("TaintToleration", "ScoreExtensionNormalize", "Success")));
    assert!(seen.iter().any(|(_, point, _)| *point == "PreScore"));
}

#[test]
fn about_a_tenth_of_cycles_are_sampled() {
    let sampled = (0..10_000)
        .filter(|_| CycleState::default().record_plugin_metrics)
        .count();
    assert!((700..1300).contains(&sampled), "{sampled} of 10000");
    let mut state = CycleState::default();
    state.record_plugin_metrics = true;
    assert!(
        state.clone().record_plugin_metrics,
        "a clone keeps the decision"
    );
}
