//! One trait per extension point. A plugin implements [`Plugin`] plus the points it serves,
//! and says which through the `as_*` accessors (the registry checks them against the config).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rustc_hash::{FxHashMap, FxHashSet};

use super::Framework;
use super::cycle_state::CycleState;
use super::events::ClusterEventWithHint;
use super::handle::BindContext;
use super::status::Status;
use crate::cache::{NodeInfo, Snapshot};
use crate::model::PodInfo;

/// Every plugin: a name, the events that can make its rejected pods fit, and its points.
pub trait Plugin: Send + Sync {
    /// Registered name (upstream's, e.g. `NodeResourcesFit`).
    fn name(&self) -> &'static str;
    /// Cluster events that may make a pod this plugin rejected schedulable.
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        Vec::new()
    }
    /// PreEnqueue, when implemented.
    fn as_pre_enqueue(&self) -> Option<&dyn PreEnqueuePlugin> {
        None
    }
    /// QueueSort, when implemented.
    fn as_queue_sort(&self) -> Option<&dyn QueueSortPlugin> {
        None
    }
    /// PreFilter, when implemented.
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        None
    }
    /// Filter, when implemented.
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        None
    }
    /// PostFilter, when implemented.
    fn as_post_filter(&self) -> Option<&dyn PostFilterPlugin> {
        None
    }
    /// PreScore, when implemented.
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        None
    }
    /// Score, when implemented.
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        None
    }
    /// Reserve, when implemented.
    fn as_reserve(&self) -> Option<&dyn ReservePlugin> {
        None
    }
    /// Permit, when implemented.
    fn as_permit(&self) -> Option<&dyn PermitPlugin> {
        None
    }
    /// PreBind, when implemented.
    fn as_pre_bind(&self) -> Option<&dyn PreBindPlugin> {
        None
    }
    /// Bind, when implemented.
    fn as_bind(&self) -> Option<&dyn BindPlugin> {
        None
    }
    /// PostBind, when implemented.
    fn as_post_bind(&self) -> Option<&dyn PostBindPlugin> {
        None
    }
}

/// Decides whether a pod may enter the active queue at all (e.g. scheduling gates).
pub trait PreEnqueuePlugin: Plugin {
    /// Success lets the pod in; anything else keeps it gated with that status.
    fn pre_enqueue(&self, pod: &PodInfo) -> Status;
}

/// A queued pod as QueueSort sees it.
#[derive(Debug, Clone)]
pub struct QueuedPodView<'a> {
    /// The pod.
    pub pod: &'a PodInfo,
    /// When it was first added to the queue (upstream's `InitialAttemptTimestamp`/timestamp).
    pub timestamp: std::time::Instant,
}

/// Orders the active queue.
pub trait QueueSortPlugin: Plugin {
    /// Whether `a` should be scheduled before `b`.
    fn less(&self, a: &QueuedPodView<'_>, b: &QueuedPodView<'_>) -> bool;
}

/// What a PreFilter may say about the candidate nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreFilterResult {
    /// Only these nodes can fit (None: all nodes).
    pub node_names: Option<FxHashSet<String>>,
}

/// Runs once per pod before the filters.
pub trait PreFilterPlugin: Plugin {
    /// Computes per-pod state; may restrict the candidate nodes or reject the pod outright.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status);
    /// Whether [`Self::add_pod`] / [`Self::remove_pod`] matter (used by preemption).
    fn has_extensions(&self) -> bool {
        false
    }
    /// Updates the state as if `to_add` were placed on `node` (preemption dry runs).
    fn add_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _to_add: &Arc<PodInfo>,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }
    /// Updates the state as if `to_remove` were gone from `node`.
    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _to_remove: &Arc<PodInfo>,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }
}

/// Says whether the pod can run on one node.
pub trait FilterPlugin: Plugin {
    /// Success when the pod fits `node`; a rejection with upstream's reason otherwise.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// Per-node statuses of a failed filter pass.
pub type NodeStatusMap = FxHashMap<Arc<str>, Status>;

/// What a PostFilter (preemption) decided.
#[derive(Debug, Clone, Default)]
pub struct PostFilterResult {
    /// Node the pod is nominated to once the victims are gone.
    pub nominated_node_name: Option<String>,
    /// Pods to evict so the pod fits there.
    pub victims: Vec<Arc<PodInfo>>,
}

/// Everything a PostFilter can look at.
pub struct PostFilterContext<'a> {
    /// The profile's framework, to re-run filters on hypothetical nodes.
    pub framework: &'a Framework,
    /// The cycle's snapshot.
    pub snapshot: &'a Snapshot,
    /// Why each node was rejected.
    pub statuses: &'a NodeStatusMap,
}

/// Runs when no node fits: typically preemption.
pub trait PostFilterPlugin: Plugin {
    /// A nomination (and victims), or a status saying why not.
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        ctx: &PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status);
}

/// Runs once per pod before scoring, over the feasible nodes.
pub trait PreScorePlugin: Plugin {
    /// Computes per-pod scoring state from the cycle's snapshot and the feasible `nodes`;
    /// Skip disables this plugin's Score for the pod.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nodes: &[&NodeInfo],
    ) -> Status;
}

/// Ranks feasible nodes.
pub trait ScorePlugin: Plugin {
    /// Raw score of `node` for `pod`.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status>;
    /// Rescales raw scores (aligned with `nodes`) into 0..=100; default: none needed.
    fn normalize_scores(
        &self,
        _state: &CycleState,
        _pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _scores: &mut [i64],
    ) -> Status {
        Status::success()
    }
    /// Whether [`Self::normalize_scores`] does anything.
    fn has_normalize(&self) -> bool {
        false
    }
}

/// Reserves node-local resources for the pod before binding.
pub trait ReservePlugin: Plugin {
    /// Reserve; a failure unreserves every Reserve plugin.
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status;
    /// Undo [`Self::reserve`].
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str);
}

/// May delay or deny binding.
pub trait PermitPlugin: Plugin {
    /// Success, a rejection, or Wait with a timeout.
    fn permit(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> (Status, Duration);
}

/// Work before the bind call (e.g. provisioning volumes).
pub trait PreBindPlugin: Plugin {
    /// Runs in the binding cycle.
    fn pre_bind<'a>(
        &'a self,
        ctx: &'a BindContext,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status>;
}

/// Binds the pod to the node.
pub trait BindPlugin: Plugin {
    /// Success, Skip (let the next binder try), or an error.
    fn bind<'a>(
        &'a self,
        ctx: &'a BindContext,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status>;
}

/// Informational, after a successful bind.
pub trait PostBindPlugin: Plugin {
    /// Runs after the bind succeeded.
    fn post_bind(&self, state: &CycleState, pod: &PodInfo, node: &str);
}

/// Declares, inside `impl Plugin for …`, the extension points the plugin serves: each
/// named point's `as_*` accessor returns the plugin itself.
#[macro_export]
macro_rules! serves {
    ($($point:ident),+ $(,)?) => { $( $crate::serves!(@one $point); )+ };
    (@one pre_enqueue) => {
        fn as_pre_enqueue(&self) -> Option<&dyn $crate::framework::PreEnqueuePlugin> {
            Some(self)
        }
    };
    (@one queue_sort) => {
        fn as_queue_sort(&self) -> Option<&dyn $crate::framework::QueueSortPlugin> {
            Some(self)
        }
    };
    (@one pre_filter) => {
        fn as_pre_filter(&self) -> Option<&dyn $crate::framework::PreFilterPlugin> {
            Some(self)
        }
    };
    (@one filter) => {
        fn as_filter(&self) -> Option<&dyn $crate::framework::FilterPlugin> {
            Some(self)
        }
    };
    (@one post_filter) => {
        fn as_post_filter(&self) -> Option<&dyn $crate::framework::PostFilterPlugin> {
            Some(self)
        }
    };
    (@one pre_score) => {
        fn as_pre_score(&self) -> Option<&dyn $crate::framework::PreScorePlugin> {
            Some(self)
        }
    };
    (@one score) => {
        fn as_score(&self) -> Option<&dyn $crate::framework::ScorePlugin> {
            Some(self)
        }
    };
    (@one reserve) => {
        fn as_reserve(&self) -> Option<&dyn $crate::framework::ReservePlugin> {
            Some(self)
        }
    };
    (@one permit) => {
        fn as_permit(&self) -> Option<&dyn $crate::framework::PermitPlugin> {
            Some(self)
        }
    };
    (@one pre_bind) => {
        fn as_pre_bind(&self) -> Option<&dyn $crate::framework::PreBindPlugin> {
            Some(self)
        }
    };
    (@one bind) => {
        fn as_bind(&self) -> Option<&dyn $crate::framework::BindPlugin> {
            Some(self)
        }
    };
    (@one post_bind) => {
        fn as_post_bind(&self) -> Option<&dyn $crate::framework::PostBindPlugin> {
            Some(self)
        }
    };
}
