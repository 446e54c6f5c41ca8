//! The resource arithmetic behind NodeResourcesFit's scoring strategies and
//! NodeResourcesBalancedAllocation.

use crate::cache::NodeInfo;
use crate::config::{ScoringStrategyType, ShapePoint};
use crate::model::PodInfo;
use crate::plugins::helpers::MAX_NODE_SCORE;

/// Whether `name` is an extended resource (`example.com/gpu`), the only kind
/// `ignoredResources` / `ignoredResourceGroups` apply to.
pub fn is_extended_resource(name: &str) -> bool {
    name.contains('/') && !name.contains("kubernetes.io/") && !name.starts_with("requests.")
}

/// A resource named in scoring args, resolved once so the per-node loop compares no strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceName {
    /// `cpu` (millicores).
    Cpu,
    /// `memory` (bytes).
    Memory,
    /// `ephemeral-storage` (bytes).
    EphemeralStorage,
    /// `pods` (never scored).
    Pods,
    /// Any other (extended, hugepages, prefixed native) resource.
    Scalar(String),
}

impl ResourceName {
    /// Resolves a resource name from the config.
    pub fn parse(name: &str) -> Self {
        match name {
            "cpu" => ResourceName::Cpu,
            "memory" => ResourceName::Memory,
            "ephemeral-storage" => ResourceName::EphemeralStorage,
            "pods" => ResourceName::Pods,
            other => ResourceName::Scalar(other.to_string()),
        }
    }

    /// Whether upstream treats it as a scalar resource.
    pub fn is_scalar(&self) -> bool {
        matches!(self, ResourceName::Scalar(_))
    }
}

/// The pod's request of `name` for scoring; `non_zero` uses upstream's defaults for
/// containers without cpu/memory requests.
pub fn pod_request(pod: &PodInfo, name: &ResourceName, non_zero: bool) -> i64 {
    match name {
        ResourceName::Cpu if non_zero => pod.non_zero_cpu,
        ResourceName::Memory if non_zero => pod.non_zero_memory,
        ResourceName::Cpu => pod.requests.milli_cpu,
        ResourceName::Memory => pod.requests.memory,
        ResourceName::EphemeralStorage => pod.requests.ephemeral_storage,
        ResourceName::Pods => 0,
        ResourceName::Scalar(other) => pod.requests.scalar.get(other).copied().unwrap_or(0),
    }
}

/// (allocatable, already allocated) of `name` on the node; (0, 0) when the node does not
/// offer it (the resource is then left out of the score).
pub fn node_alloc(node: &NodeInfo, name: &ResourceName, non_zero: bool) -> (i64, i64) {
    match name {
        ResourceName::Cpu => (
            node.allocatable.milli_cpu,
            if non_zero {
                node.non_zero_cpu
            } else {
                node.requested.milli_cpu
            },
        ),
        ResourceName::Memory => (
            node.allocatable.memory,
            if non_zero {
                node.non_zero_memory
            } else {
                node.requested.memory
            },
        ),
        ResourceName::EphemeralStorage => (
            node.allocatable.ephemeral_storage,
            node.requested.ephemeral_storage,
        ),
        ResourceName::Pods => (0, 0),
        ResourceName::Scalar(other) => match node.allocatable.scalar.get(other) {
            Some(&a) => (a, node.requested.scalar.get(other).copied().unwrap_or(0)),
            None => (0, 0),
        },
    }
}

/// One resource's (requested with the pod, allocated without it, allocatable), or None when
/// the resource does not count for this node.
pub fn resource_triplet(
    pod_req: i64,
    node: &NodeInfo,
    name: &ResourceName,
    non_zero: bool,
) -> Option<(i64, i64, i64)> {
    if pod_req == 0 && name.is_scalar() {
        return None;
    }
    let (allocatable, allocated) = node_alloc(node, name, non_zero);
    if allocatable == 0 {
        return None;
    }
    Some((allocated.saturating_add(pod_req), allocated, allocatable))
}

/// `part * 100 / whole` without overflow (upstream's int64 product wraps for a whole above
/// about 92Pi; see docs/decisions.md), clamped to i64. In i64 when that is exact (every
/// real node), in i128 otherwise.
fn percent_of(part: i128, whole: i64) -> i64 {
    if let Ok(p) = i64::try_from(part)
        && let Some(v) = p
            .checked_mul(MAX_NODE_SCORE)
            .and_then(|p| p.checked_div(whole))
    {
        return v;
    }
    let v = part * i128::from(MAX_NODE_SCORE) / i128::from(whole);
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    percent_of(i128::from(capacity) - i128::from(requested), capacity)
}

fn most_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    percent_of(i128::from(requested.min(capacity)), capacity)
}

/// Upstream's broken-linear function over shape points (scores already scaled to 0..=100).
pub fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for (i, &(u, s)) in shape.iter().enumerate() {
        if p <= u {
            if i == 0 {
                return s;
            }
            let (pu, ps) = shape[i - 1];
            return ps + (s - ps) * (p - pu) / (u - pu);
        }
    }
    shape.last().map(|&(_, s)| s).unwrap_or(0)
}

/// Scaled shape: utilization as is, score × 10 (0..=10 → 0..=100).
pub fn scaled_shape(shape: &[ShapePoint]) -> Vec<(i64, i64)> {
    shape
        .iter()
        .map(|p| {
            (
                i64::from(p.utilization),
                i64::from(p.score) * (MAX_NODE_SCORE / 10),
            )
        })
        .collect()
}

/// A NodeResourcesFit scorer.
#[derive(Debug, Clone)]
pub enum Strategy {
    /// Prefer emptier nodes.
    Least,
    /// Prefer fuller nodes.
    Most,
    /// Piecewise-linear function of utilization.
    Ratio(Vec<(i64, i64)>),
}

impl Strategy {
    /// From the config.
    pub fn from_config(t: &ScoringStrategyType) -> Self {
        match t {
            ScoringStrategyType::LeastAllocated => Strategy::Least,
            ScoringStrategyType::MostAllocated => Strategy::Most,
            ScoringStrategyType::RequestedToCapacityRatio { shape } => {
                Strategy::Ratio(scaled_shape(shape))
            }
        }
    }

    /// The node's score over `resources` (name, weight) for `pod`.
    pub fn score(&self, pod: &PodInfo, node: &NodeInfo, resources: &[(ResourceName, i64)]) -> i64 {
        let (mut total, mut weights) = (0i64, 0i64);
        for (name, weight) in resources {
            let req = pod_request(pod, name, true);
            let Some((requested, _, allocatable)) = resource_triplet(req, node, name, true) else {
                continue;
            };
            let s = match self {
                Strategy::Least => least_requested(requested, allocatable),
                Strategy::Most => most_requested(requested, allocatable),
                Strategy::Ratio(shape) => {
                    let util = if requested > allocatable {
                        100
                    } else {
                        // Only a negative (invalid) request leaves 0..=100.
                        percent_of(i128::from(requested), allocatable).clamp(0, 100)
                    };
                    let s = broken_linear(shape, util);
                    if s <= 0 {
                        continue;
                    }
                    s
                }
            };
            total = total.saturating_add(s.saturating_mul(*weight));
            weights = weights.saturating_add(*weight);
        }
        if weights == 0 {
            return 0;
        }
        match self {
            Strategy::Ratio(_) => (total as f64 / weights as f64).round() as i64,
            _ => total / weights,
        }
    }
}

/// Upstream's balanced-resource score of one set of fractions.
pub fn balanced_score(fractions: &[f64]) -> i64 {
    let std = match fractions.len() {
        0 | 1 => 0.0,
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n => {
            let mean = fractions.iter().sum::<f64>() / n as f64;
            let sum: f64 = fractions.iter().map(|f| (f - mean) * (f - mean)).sum();
            (sum / n as f64).sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_linear_matches_upstream() {
        // From upstream's TestBrokenLinearFunction.
        let shape = [(10, 1), (90, 9)];
        for (p, want) in [
            (0, 1),
            (10, 1),
            (15, 1),
            (20, 2),
            (50, 5),
            (90, 9),
            (95, 9),
            (100, 9),
        ] {
            assert_eq!(broken_linear(&shape, p), want, "{p}");
        }
        let shape = [(0, 2), (40, 10), (100, 0)];
        for (p, want) in [(0, 2), (10, 4), (40, 10), (50, 9), (90, 2), (100, 0)] {
            assert_eq!(broken_linear(&shape, p), want, "{p}");
        }
    }

    #[test]
    fn balanced() {
        assert_eq!(balanced_score(&[0.5, 0.5]), 100);
        assert_eq!(balanced_score(&[0.25, 0.75]), 75);
        assert_eq!(balanced_score(&[0.6]), 100);
    }
}
