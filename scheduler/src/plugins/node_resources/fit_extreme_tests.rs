//! NodeResourcesFit and the resource scorers at the ends of i64 (issue #20).

use super::*;
use crate::config::{ResourceWeight, ScoringStrategyType, ShapePoint};
use crate::plugins::node_resources::balanced_allocation::BalancedAllocation;
use crate::plugins::node_resources::fit::tests::{cap_node, req_pod};
use crate::test_support::pinfo;

fn fit(strategy: ScoringStrategyType) -> Fit {
    let mut args = PluginArgsSet::default();
    args.node_resources_fit.scoring_strategy.strategy = strategy;
    args.node_resources_fit.scoring_strategy.resources = ["cpu", "memory"]
        .iter()
        .map(|n| ResourceWeight {
            name: n.to_string(),
            weight: 1,
        })
        .collect();
    Fit::from_args(&args)
}

#[test]
fn two_8ei_containers_do_not_fit_a_32gi_node() {
    // Deliberately unlike upstream, whose sum wraps to -2 bytes and binds the pod.
    let node = cap_node(
        "n",
        &[("cpu", "8"), ("memory", "32Gi"), ("pods", "110")],
        &[],
    );
    let pod = pinfo(&req_pod(
        "p",
        "",
        &[&[("memory", "8Ei")], &[("memory", "8Ei")]],
    ));
    let s = fit(ScoringStrategyType::LeastAllocated).filter(&CycleState::default(), &pod, &node);
    assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
    assert_eq!(s.reasons(), ["Insufficient memory".to_string()]);
}

#[test]
fn negative_usage_does_not_overflow_the_room_left() {
    // cpu, memory and storage requests never sum below 0 (the init-container maximum
    // starts there); an extended resource can.
    let gpu = "example.com/gpu";
    let used = req_pod("u", "n", &[&[(gpu, "-10E")]]);
    let node = cap_node("n", &[(gpu, "16E"), ("pods", "110")], &[used]);
    assert_eq!(
        (node.allocatable.get(gpu), node.requested.get(gpu)),
        (i64::MAX, i64::MIN)
    );
    let pod = pinfo(&req_pod("p", "", &[&[(gpu, "1")]]));
    let s = fit(ScoringStrategyType::LeastAllocated).filter(&CycleState::default(), &pod, &node);
    assert!(s.is_success(), "{s:?}");
}

#[test]
fn scores_on_a_100pi_node_do_not_overflow() {
    let node = cap_node(
        "n",
        &[("cpu", "4"), ("memory", "100Pi"), ("pods", "110")],
        &[],
    );
    let pod = pinfo(&req_pod("p", "", &[&[("cpu", "1"), ("memory", "1Gi")]]));
    let score = |f: Fit| f.score(&CycleState::default(), &pod, &node);
    // cpu 75, memory 99 (99.99…, floored).
    assert_eq!(score(fit(ScoringStrategyType::LeastAllocated)), Ok(87));
    // cpu 25, memory 0.
    assert_eq!(score(fit(ScoringStrategyType::MostAllocated)), Ok(12));
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
    let ratio = ScoringStrategyType::RequestedToCapacityRatio { shape };
    assert_eq!(score(fit(ratio)), Ok(25));
}

#[test]
fn scores_with_saturated_requests_stay_in_range() {
    let used = req_pod("u", "n", &[&[("cpu", "8E"), ("memory", "8Ei")]]);
    let node = cap_node(
        "n",
        &[("cpu", "8E"), ("memory", "8Ei"), ("pods", "110")],
        &[used],
    );
    let pod = pinfo(&req_pod("p", "", &[&[("cpu", "8E"), ("memory", "8Ei")]]));
    for strategy in [
        ScoringStrategyType::LeastAllocated,
        ScoringStrategyType::MostAllocated,
    ] {
        let s = fit(strategy).score(&CycleState::default(), &pod, &node);
        assert!(s.as_ref().is_ok_and(|s| (0..=100).contains(s)), "{s:?}");
    }
    let mut args = PluginArgsSet::default();
    args.node_resources_balanced_allocation.resources = ["cpu", "memory"]
        .iter()
        .map(|n| ResourceWeight {
            name: n.to_string(),
            weight: 1,
        })
        .collect();
    let balanced = BalancedAllocation::from_args(&args);
    let s = balanced.score(&CycleState::default(), &pod, &node);
    assert!(s.as_ref().is_ok_and(|s| (0..=100).contains(s)), "{s:?}");
}
