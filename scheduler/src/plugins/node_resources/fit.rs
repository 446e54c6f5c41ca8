//! NodeResourcesFit: the node must have room for the pod's requests; scores by the
//! configured strategy (LeastAllocated, MostAllocated, RequestedToCapacityRatio).

use std::sync::Arc;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{
    ClusterEventWithHint, EventObjects, EventResource, QueueingHint, action,
};
use crate::framework::{
    Code, CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult,
    PreScorePlugin, ScorePlugin, Status,
};
use crate::model::{PodInfo, SlimNode};
use crate::plugins::node_resources::resource_allocation::{
    ResourceName, Strategy, is_extended_resource,
};

/// Registered name.
pub const NAME: &str = "NodeResourcesFit";

/// Upstream's `NodeResourcesFit`.
#[derive(Debug)]
pub struct Fit {
    ignored_resources: Vec<String>,
    ignored_groups: Vec<String>,
    strategy: Strategy,
    resources: Vec<(ResourceName, i64)>,
}

/// Factory.
pub fn new(args: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(Fit::from_args(args)))
}

impl Fit {
    /// Built from the profile's args.
    pub fn from_args(args: &PluginArgsSet) -> Self {
        let a = &args.node_resources_fit;
        Fit {
            ignored_resources: a.ignored_resources.clone(),
            ignored_groups: a.ignored_resource_groups.clone(),
            strategy: Strategy::from_config(&a.scoring_strategy.strategy),
            resources: a
                .scoring_strategy
                .resources
                .iter()
                .map(|r| (ResourceName::parse(&r.name), i64::from(r.weight)))
                .collect(),
        }
    }

    fn ignored(&self, name: &str) -> bool {
        if !is_extended_resource(name) {
            return false;
        }
        let group = name.split('/').next().unwrap_or("");
        self.ignored_resources.iter().any(|r| r == name)
            || self.ignored_groups.iter().any(|g| g == group)
    }
}

/// One resource the node lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insufficient {
    /// The reason, as upstream writes it.
    pub reason: String,
    /// Whether the request exceeds the node's allocatable (preemption cannot help).
    pub unresolvable: bool,
}

/// Upstream's `fitsRequest`: every resource the node lacks for `pod`, in upstream's order.
pub fn insufficient(
    pod: &PodInfo,
    node: &NodeInfo,
    ignored: impl Fn(&str) -> bool,
) -> Vec<Insufficient> {
    let mut out = Vec::new();
    let alloc = &node.allocatable;
    let used = &node.requested;
    if node.pods.len() as i64 + 1 > alloc.allowed_pod_number {
        out.push(Insufficient {
            reason: "Too many pods".into(),
            unresolvable: false,
        });
    }
    let req = &pod.requests;
    if req.milli_cpu == 0 && req.memory == 0 && req.ephemeral_storage == 0 && req.scalar.is_empty()
    {
        return out;
    }
    let mut check = |want: i64, alloc: i64, used: i64, reason: &str| {
        if want > 0 && want > alloc.saturating_sub(used) {
            out.push(Insufficient {
                reason: reason.to_string(),
                unresolvable: want > alloc,
            });
        }
    };
    check(
        req.milli_cpu,
        alloc.milli_cpu,
        used.milli_cpu,
        "Insufficient cpu",
    );
    check(req.memory, alloc.memory, used.memory, "Insufficient memory");
    check(
        req.ephemeral_storage,
        alloc.ephemeral_storage,
        used.ephemeral_storage,
        "Insufficient ephemeral-storage",
    );
    for (name, &want) in &req.scalar {
        if want == 0 || ignored(name) {
            continue;
        }
        let a = alloc.scalar.get(name).copied().unwrap_or(0);
        let u = used.scalar.get(name).copied().unwrap_or(0);
        if want > a.saturating_sub(u) {
            out.push(Insufficient {
                reason: format!("Insufficient {name}"),
                unresolvable: want > a,
            });
        }
    }
    out
}

fn fits_quick(pod: &PodInfo, node: &NodeInfo, ignored: impl Fn(&str) -> bool) -> bool {
    let (alloc, used, req) = (&node.allocatable, &node.requested, &pod.requests);
    if node.pods.len() as i64 + 1 > alloc.allowed_pod_number {
        return false;
    }
    let ok = |want: i64, a: i64, u: i64| want <= 0 || want <= a.saturating_sub(u);
    ok(req.milli_cpu, alloc.milli_cpu, used.milli_cpu)
        && ok(req.memory, alloc.memory, used.memory)
        && ok(
            req.ephemeral_storage,
            alloc.ephemeral_storage,
            used.ephemeral_storage,
        )
        && req.scalar.iter().all(|(name, &want)| {
            want == 0
                || ignored(name)
                || want
                    <= alloc
                        .scalar
                        .get(name)
                        .copied()
                        .unwrap_or(0)
                        .saturating_sub(used.scalar.get(name).copied().unwrap_or(0))
        })
}

fn hint_node(pod: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    let EventObjects::Node {
        old,
        new: Some(new),
    } = objs
    else {
        return QueueingHint::Queue;
    };
    let fits_empty = |n: &SlimNode| {
        let mut ni = NodeInfo::new("");
        ni.allocatable = n.allocatable.clone();
        fits_quick(pod, &ni, |_| false)
    };
    match old {
        // A new node helps only if the pod fits it when empty.
        None => {
            if fits_empty(new) {
                QueueingHint::Queue
            } else {
                QueueingHint::Skip
            }
        }
        Some(old) => {
            let (a, b) = (&old.allocatable, &new.allocatable);
            let req = &pod.requests;
            let grew = b.allowed_pod_number > a.allowed_pod_number
                || (req.milli_cpu > 0 && b.milli_cpu > a.milli_cpu)
                || (req.memory > 0 && b.memory > a.memory)
                || (req.ephemeral_storage > 0 && b.ephemeral_storage > a.ephemeral_storage)
                || req
                    .scalar
                    .iter()
                    .any(|(k, &v)| v != 0 && b.scalar.get(k) > a.scalar.get(k));
            if grew && fits_empty(new) {
                QueueingHint::Queue
            } else {
                QueueingHint::Skip
            }
        }
    }
}

fn hint_pod_deleted(pod: &PodInfo, objs: EventObjects<'_>) -> QueueingHint {
    match objs {
        EventObjects::Pod {
            old: Some(deleted), ..
        } => {
            // Deleting a pod that was neither bound nor nominated frees nothing.
            let bound = deleted
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| !n.is_empty());
            let nominated = deleted
                .status
                .as_ref()
                .and_then(|s| s.nominated_node_name.as_deref())
                .is_some_and(|n| !n.is_empty());
            let _ = pod;
            if bound || nominated {
                QueueingHint::Queue
            } else {
                QueueingHint::Skip
            }
        }
        _ => QueueingHint::Queue,
    }
}

impl Plugin for Fit {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![
            ClusterEventWithHint::with_hint(
                EventResource::AssignedPod,
                action::DELETE,
                hint_pod_deleted,
            ),
            ClusterEventWithHint::with_hint(
                EventResource::Node,
                action::ADD | action::UPDATE_NODE_ALLOCATABLE,
                hint_node,
            ),
            ClusterEventWithHint::new(EventResource::AssignedPod, action::UPDATE_POD_SCALE_DOWN),
            ClusterEventWithHint::new(EventResource::UnscheduledPod, action::UPDATE_POD_SCALE_DOWN),
        ]
    }
    crate::serves!(pre_filter, filter, pre_score, score);
}

impl PreFilterPlugin for Fit {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        _: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        // The pod's requests are already on its PodInfo.
        (None, Status::success())
    }
}

impl FilterPlugin for Fit {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if fits_quick(pod, node, |n| self.ignored(n)) {
            return Status::success();
        }
        let lacking = insufficient(pod, node, |n| self.ignored(n));
        let code = if lacking.iter().any(|i| i.unresolvable) {
            Code::UnschedulableAndUnresolvable
        } else {
            Code::Unschedulable
        };
        Status::with_reasons(code, lacking.into_iter().map(|i| i.reason))
    }
}

impl PreScorePlugin for Fit {
    fn pre_score(&self, _: &mut CycleState, _: &PodInfo, _: &Snapshot, _: &[&NodeInfo]) -> Status {
        Status::success()
    }
}

impl ScorePlugin for Fit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        if self.resources.is_empty() {
            return Err(Status::error("resources not found"));
        }
        Ok(self.strategy.score(pod, node, &self.resources))
    }
}

#[cfg(test)]
#[path = "fit_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "fit_extreme_tests.rs"]
mod extreme_tests;
