//! Upstream v1 defaulting and validation of each plugin args kind, turning the wire
//! form into the resolved form. Problems are reported under the given args path.

use std::collections::BTreeSet;
use std::time::Duration;

use super::types::{
    DefaultPreemptionArgs, DynamicResourcesArgs, InterPodAffinityArgs,
    NodeResourcesBalancedAllocationArgs, NodeResourcesFitArgs, ResourceWeight, ScoringStrategy,
    ScoringStrategyType, ShapePoint, VolumeBindingArgs,
};
use crate::config::duration::GoDuration;
use crate::config::error::{Errs, FieldPath};
use crate::config::labels::check_label_name;
use crate::config::wire_args as wire;

/// Largest score a shape point may give (upstream `MaxCustomPriorityScore`).
const MAX_SHAPE_SCORE: i32 = 10;

fn to_u32(v: impl TryInto<u32>) -> u32 {
    v.try_into().unwrap_or(0)
}

fn default_resources() -> Vec<wire::ResourceSpec> {
    vec![
        wire::ResourceSpec {
            name: "cpu".to_string(),
            weight: 1,
        },
        wire::ResourceSpec {
            name: "memory".to_string(),
            weight: 1,
        },
    ]
}

pub(crate) fn default_preemption(
    w: wire::DefaultPreemptionArgs,
    p: &FieldPath,
    errs: &mut Errs,
) -> DefaultPreemptionArgs {
    let pct = w.min_candidate_nodes_percentage.unwrap_or(10);
    let abs = w.min_candidate_nodes_absolute.unwrap_or(100);
    let (pct_path, abs_path) = (
        p.child("minCandidateNodesPercentage"),
        p.child("minCandidateNodesAbsolute"),
    );
    if !(0..=100).contains(&pct) {
        errs.invalid(&pct_path, &pct, "not in valid range [0, 100]");
    }
    if abs < 0 {
        errs.invalid(&abs_path, &abs, "not in valid range [0, inf)");
    }
    if pct == 0 && abs == 0 {
        errs.invalid(
            &pct_path,
            &pct,
            "cannot be zero at the same time as minCandidateNodesAbsolute",
        );
        errs.invalid(
            &abs_path,
            &abs,
            "cannot be zero at the same time as minCandidateNodesPercentage",
        );
    }
    DefaultPreemptionArgs {
        min_candidate_nodes_percentage: to_u32(pct),
        min_candidate_nodes_absolute: to_u32(abs),
    }
}

pub(crate) fn inter_pod_affinity(
    w: wire::InterPodAffinityArgs,
    p: &FieldPath,
    errs: &mut Errs,
) -> InterPodAffinityArgs {
    let weight = w.hard_pod_affinity_weight.unwrap_or(1);
    if !(0..=100).contains(&weight) {
        errs.invalid(
            &p.child("hardPodAffinityWeight"),
            &weight,
            "not in valid range [0, 100]",
        );
    }
    InterPodAffinityArgs {
        hard_pod_affinity_weight: to_u32(weight),
        ignore_preferred_terms_of_existing_pods: w.ignore_preferred_terms_of_existing_pods,
    }
}

fn check_shape(
    shape: &[wire::UtilizationShapePoint],
    p: &FieldPath,
    errs: &mut Errs,
) -> Vec<ShapePoint> {
    if shape.is_empty() {
        errs.required(p, "at least one point must be specified");
        return Vec::new();
    }
    if let Some(i) = (1..shape.len()).find(|&i| shape[i - 1].utilization >= shape[i].utilization) {
        let u = shape[i].utilization;
        errs.invalid(
            &p.index(i).child("utilization"),
            &u,
            "values must be sorted in increasing order",
        );
    }
    for (i, point) in shape.iter().enumerate() {
        if !(0..=100).contains(&point.utilization) {
            let path = p.index(i).child("utilization");
            errs.invalid(&path, &point.utilization, "not in valid range [0, 100]");
        }
        if !(0..=MAX_SHAPE_SCORE).contains(&point.score) {
            let detail = format!("not in valid range [0, {MAX_SHAPE_SCORE}]");
            errs.invalid(&p.index(i).child("score"), &point.score, &detail);
        }
    }
    shape
        .iter()
        .map(|s| ShapePoint {
            utilization: to_u32(s.utilization),
            score: to_u32(s.score),
        })
        .collect()
}

fn check_fit_resources(
    resources: &[wire::ResourceSpec],
    p: &FieldPath,
    errs: &mut Errs,
) -> Vec<ResourceWeight> {
    for (i, r) in resources.iter().enumerate() {
        if r.weight <= 0 || r.weight > 100 {
            let detail = format!("resource weight of {} not in valid range (0, 100]", r.name);
            errs.invalid(&p.index(i).child("weight"), &r.weight, &detail);
        }
    }
    resources
        .iter()
        .map(|r| ResourceWeight {
            name: r.name.clone(),
            weight: to_u32(r.weight),
        })
        .collect()
}

pub(crate) fn node_resources_fit(
    w: wire::NodeResourcesFitArgs,
    p: &FieldPath,
    errs: &mut Errs,
) -> NodeResourcesFitArgs {
    let mut strategy = w.scoring_strategy.unwrap_or_else(|| wire::ScoringStrategy {
        type_: "LeastAllocated".to_string(),
        resources: default_resources(),
        requested_to_capacity_ratio: None,
    });
    if strategy.resources.is_empty() {
        strategy.resources = default_resources();
    }
    for r in &mut strategy.resources {
        if r.weight == 0 {
            r.weight = 1;
        }
    }

    let res_path = p.child("ignoredResources");
    for (i, res) in w.ignored_resources.iter().enumerate() {
        check_label_name(res, &res_path.index(i), errs);
    }
    let group_path = p.child("ignoredResourceGroups");
    for (i, group) in w.ignored_resource_groups.iter().enumerate() {
        let path = group_path.index(i);
        if group.contains('/') {
            errs.invalid(&path, group, "resource group name can't contain '/'");
        }
        check_label_name(group, &path, errs);
    }

    let sp = p.child("scoringStrategy");
    let supported = [
        "LeastAllocated",
        "MostAllocated",
        "RequestedToCapacityRatio",
    ];
    if !supported.contains(&strategy.type_.as_str()) {
        errs.not_supported(&sp.child("type"), &strategy.type_, &supported);
    }
    let resources = check_fit_resources(&strategy.resources, &sp.child("resources"), errs);
    let rtcr_path = sp.child("requestedToCapacityRatio");
    let kind = match strategy.type_.as_str() {
        "RequestedToCapacityRatio" => {
            let shape = match &strategy.requested_to_capacity_ratio {
                None => {
                    errs.required(
                        &rtcr_path,
                        "must be specified when type is RequestedToCapacityRatio",
                    );
                    Vec::new()
                }
                Some(r) => check_shape(&r.shape, &rtcr_path.child("shape"), errs),
            };
            ScoringStrategyType::RequestedToCapacityRatio { shape }
        }
        other => {
            if strategy.requested_to_capacity_ratio.is_some() {
                errs.forbidden(
                    &rtcr_path,
                    "must be nil when type is not RequestedToCapacityRatio",
                );
            }
            if other == "MostAllocated" {
                ScoringStrategyType::MostAllocated
            } else {
                ScoringStrategyType::LeastAllocated
            }
        }
    };
    NodeResourcesFitArgs {
        ignored_resources: w.ignored_resources,
        ignored_resource_groups: w.ignored_resource_groups,
        scoring_strategy: ScoringStrategy {
            strategy: kind,
            resources,
        },
    }
}

pub(crate) fn balanced_allocation(
    w: wire::NodeResourcesBalancedAllocationArgs,
    p: &FieldPath,
    errs: &mut Errs,
) -> NodeResourcesBalancedAllocationArgs {
    let mut resources = w.resources;
    if resources.is_empty() {
        resources = default_resources();
    }
    let mut seen = BTreeSet::new();
    for (i, r) in resources.iter_mut().enumerate() {
        if r.weight == 0 {
            r.weight = 1;
        }
        let path = p.child("resources").index(i);
        if !seen.insert(r.name.clone()) {
            errs.duplicate(&path.child("name"), &r.name);
        }
        if r.weight != 1 {
            errs.invalid(&path.child("weight"), &r.weight, "must be 1");
        }
    }
    let resources = resources
        .into_iter()
        .map(|r| ResourceWeight {
            name: r.name,
            weight: 1,
        })
        .collect();
    NodeResourcesBalancedAllocationArgs { resources }
}

pub(crate) fn volume_binding(
    w: wire::VolumeBindingArgs,
    p: &FieldPath,
    errs: &mut Errs,
) -> VolumeBindingArgs {
    let timeout = w.bind_timeout_seconds.unwrap_or(600);
    if timeout < 0 {
        errs.invalid(
            &p.child("bindTimeoutSeconds"),
            &timeout,
            "invalid BindTimeoutSeconds, should not be a negative value",
        );
    }
    crate::config::duration::check_duration_seconds(&p.child("bindTimeoutSeconds"), timeout, errs);
    // StorageCapacityScoring is on by default at 1.37: the shape is defaulted and checked.
    let shape = if w.shape.is_empty() {
        vec![
            wire::UtilizationShapePoint {
                utilization: 0,
                score: MAX_SHAPE_SCORE,
            },
            wire::UtilizationShapePoint {
                utilization: 100,
                score: 0,
            },
        ]
    } else {
        w.shape
    };
    let shape = check_shape(&shape, &p.child("shape"), errs);
    VolumeBindingArgs {
        bind_timeout_seconds: u64::try_from(timeout).unwrap_or(0),
        shape,
    }
}

pub(crate) fn dynamic_resources(
    w: wire::DynamicResourcesArgs,
    p: &FieldPath,
    errs: &mut Errs,
) -> DynamicResourcesArgs {
    let filter = w.filter_timeout.unwrap_or(GoDuration::from_secs(10));
    if filter.as_nanos() < 0 {
        errs.invalid(
            &p.child("filterTimeout"),
            &filter,
            "must be zero or positive",
        );
    }
    let binding = w.binding_timeout.unwrap_or(GoDuration::from_secs(600));
    if binding < GoDuration::from_secs(1) {
        errs.invalid(
            &p.child("bindingTimeout"),
            &binding,
            "must be at least 1 second",
        );
    }
    DynamicResourcesArgs {
        filter_timeout: filter.to_std().unwrap_or(Duration::ZERO),
        binding_timeout: binding.to_std().unwrap_or(Duration::ZERO),
    }
}
