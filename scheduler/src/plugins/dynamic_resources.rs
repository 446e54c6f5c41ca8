//! DynamicResources: not built yet. A pod with `spec.resourceClaims` stays pending with a
//! clear message instead of being placed as if it had none; other pods are untouched.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::{
    BindContext, Code, CycleState, FilterPlugin, Handle, Plugin, PostFilterContext,
    PostFilterPlugin, PostFilterResult, PreBindPlugin, PreEnqueuePlugin, PreFilterPlugin,
    PreFilterResult, ReservePlugin, ScorePlugin, Status,
};
use crate::model::PodInfo;

/// Registered name.
pub const NAME: &str = "DynamicResources";
/// The PreFilter rejection for pods with resource claims.
pub const ERR_UNSUPPORTED: &str =
    "pod uses resourceClaims, which this scheduler does not support yet";

/// Upstream's `DynamicResources`, as a guard.
#[derive(Debug, Default)]
pub struct DynamicResources {
    /// `filterTimeout` from the args (kept for when the plugin is built).
    pub filter_timeout: Duration,
}

/// Factory.
pub fn new(args: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(DynamicResources {
        filter_timeout: args.dynamic_resources.filter_timeout,
    }))
}

fn uses_claims(pod: &PodInfo) -> bool {
    pod.pod()
        .spec
        .as_ref()
        .and_then(|s| s.resource_claims.as_ref())
        .is_some_and(|c| !c.is_empty())
}

impl Plugin for DynamicResources {
    fn name(&self) -> &'static str {
        NAME
    }
    crate::serves!(
        pre_enqueue,
        pre_filter,
        filter,
        post_filter,
        score,
        reserve,
        pre_bind
    );
}

impl PreEnqueuePlugin for DynamicResources {
    fn pre_enqueue(&self, _: &PodInfo) -> Status {
        Status::success()
    }
}

/// Written by PreFilter, as upstream writes its (empty) state before anything else.
#[derive(Debug, Clone, Copy)]
struct PreFilterRan;

impl PreFilterPlugin for DynamicResources {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        state.insert(PreFilterRan);
        if uses_claims(pod) {
            (None, Status::unresolvable(ERR_UNSUPPORTED))
        } else {
            (None, Status::skip())
        }
    }
}

impl FilterPlugin for DynamicResources {
    fn filter(&self, _: &CycleState, _: &PodInfo, _: &NodeInfo) -> Status {
        Status::success()
    }
}

impl PostFilterPlugin for DynamicResources {
    /// Nothing to deallocate: Unschedulable without a reason, as upstream answers for a pod
    /// without claims (so it adds nothing to the FailedScheduling message).
    ///
    /// When an earlier PreFilter plugin rejected the pod, PreFilter never ran and upstream
    /// fails reading its state with `not found`, which ends the PostFilter phase (so the
    /// FailedScheduling message ends with ` not found` and preemption is not tried).
    fn post_filter(
        &self,
        state: &CycleState,
        _: &PodInfo,
        _: &PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status) {
        if state.get::<PreFilterRan>().is_none() {
            return (None, Status::error("not found"));
        }
        (
            None,
            Status::with_reasons(Code::Unschedulable, Vec::<&'static str>::new()),
        )
    }
}

impl ScorePlugin for DynamicResources {
    fn score(&self, _: &CycleState, _: &PodInfo, _: &NodeInfo) -> Result<i64, Status> {
        Ok(0)
    }
}

impl ReservePlugin for DynamicResources {
    fn reserve(&self, _: &mut CycleState, _: &PodInfo, _: &str) -> Status {
        Status::success()
    }
    fn unreserve(&self, _: &mut CycleState, _: &PodInfo, _: &str) {}
}

impl PreBindPlugin for DynamicResources {
    fn pre_bind<'a>(
        &'a self,
        _: &'a BindContext,
        _: &'a CycleState,
        _: &'a PodInfo,
        _: &'a str,
    ) -> BoxFuture<'a, Status> {
        Box::pin(async { Status::success() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::pinfo;

    #[test]
    fn guard() {
        let with = pinfo(
            "metadata: {name: p}\nspec: {containers: [], resourceClaims: [{name: gpu, resourceClaimName: c}]}",
        );
        let without = pinfo("metadata: {name: p}\nspec: {containers: []}");
        let pl = DynamicResources::default();
        let (_, s) = pl.pre_filter(&mut CycleState::default(), &with, &Snapshot::default());
        assert_eq!(
            (s.code(), s.message().as_str()),
            (Code::UnschedulableAndUnresolvable, ERR_UNSUPPORTED)
        );
        let (_, s) = pl.pre_filter(&mut CycleState::default(), &without, &Snapshot::default());
        assert!(s.is_skip());
        assert!(pl.pre_enqueue(&with).is_success());
    }
}
