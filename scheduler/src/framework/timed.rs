//! [`Timed`]: a plugin wrapper reporting how long each call took, for upstream's
//! `scheduler_plugin_execution_duration_seconds{plugin, extension_point, status}`.
//!
//! As upstream's framework runtime, durations are taken only in sampled cycles
//! ([`CycleState::record_plugin_metrics`], 10% of cycles) — PreEnqueue, which runs without
//! a cycle, samples each call on its own — so the unsampled cycles pay one branch per
//! call. Extension point labels are upstream's (`ScoreExtensionNormalize`,
//! `PreFilterExtensionAddPod`, ...); PostBind and Unreserve report `Success`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::cycle_state::{CycleState, PLUGIN_METRICS_SAMPLE_PERCENT};
use super::events::ClusterEventWithHint;
use super::handle::BindContext;
use super::status::Status;
use super::traits::{
    BindPlugin, FilterPlugin, PermitPlugin, Plugin, PostBindPlugin, PostFilterContext,
    PostFilterPlugin, PostFilterResult, PreBindPlugin, PreEnqueuePlugin, PreFilterPlugin,
    PreFilterResult, PreScorePlugin, QueueSortPlugin, QueuedPodView, ReservePlugin, ScorePlugin,
};
use crate::cache::{NodeInfo, Snapshot};
use crate::model::PodInfo;

/// Receives one plugin call's duration: (plugin, extension point, status code, seconds).
pub type PluginObserver = Arc<dyn Fn(&'static str, &'static str, &'static str, f64) + Send + Sync>;

/// A plugin whose calls are timed in sampled cycles; behaves exactly as the inner plugin.
pub struct Timed {
    inner: Arc<dyn Plugin>,
    observer: PluginObserver,
}

impl Timed {
    /// Wraps `inner`, reporting to `observer`.
    pub fn wrap(inner: Arc<dyn Plugin>, observer: PluginObserver) -> Arc<dyn Plugin> {
        Arc::new(Self { inner, observer })
    }

    /// Runs `call`, timing it when `record`; `status` reads the status code label.
    fn run<T>(
        &self,
        record: bool,
        point: &'static str,
        call: impl FnOnce() -> T,
        status: impl FnOnce(&T) -> &'static str,
    ) -> T {
        if !record {
            return call();
        }
        let started = Instant::now();
        let out = call();
        let secs = started.elapsed().as_secs_f64();
        (self.observer)(self.inner.name(), point, status(&out), secs);
        out
    }
}

fn code(s: &Status) -> &'static str {
    s.code_label()
}

fn success<T>(_: &T) -> &'static str {
    "Success"
}

/// The inner plugin's implementation of a point; only reached through `as_*`, which
/// return `Some` exactly when the inner plugin has it.
macro_rules! inner {
    ($self:ident . $as:ident) => {
        $self
            .inner
            .$as()
            .expect("Timed exposes only the inner plugin's points")
    };
}

impl Plugin for Timed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        self.inner.events_to_register()
    }
    fn as_pre_enqueue(&self) -> Option<&dyn PreEnqueuePlugin> {
        self.inner.as_pre_enqueue().map(|_| self as _)
    }
    fn as_queue_sort(&self) -> Option<&dyn QueueSortPlugin> {
        self.inner.as_queue_sort().map(|_| self as _)
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        self.inner.as_pre_filter().map(|_| self as _)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        self.inner.as_filter().map(|_| self as _)
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilterPlugin> {
        self.inner.as_post_filter().map(|_| self as _)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        self.inner.as_pre_score().map(|_| self as _)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        self.inner.as_score().map(|_| self as _)
    }
    fn as_reserve(&self) -> Option<&dyn ReservePlugin> {
        self.inner.as_reserve().map(|_| self as _)
    }
    fn as_permit(&self) -> Option<&dyn PermitPlugin> {
        self.inner.as_permit().map(|_| self as _)
    }
    fn as_pre_bind(&self) -> Option<&dyn PreBindPlugin> {
        self.inner.as_pre_bind().map(|_| self as _)
    }
    fn as_bind(&self) -> Option<&dyn BindPlugin> {
        self.inner.as_bind().map(|_| self as _)
    }
    fn as_post_bind(&self) -> Option<&dyn PostBindPlugin> {
        self.inner.as_post_bind().map(|_| self as _)
    }
}

impl PreEnqueuePlugin for Timed {
    fn pre_enqueue(&self, pod: &PodInfo) -> Status {
        let record = rand::random_range(0..100) < PLUGIN_METRICS_SAMPLE_PERCENT;
        let p = inner!(self.as_pre_enqueue);
        self.run(record, "PreEnqueue", || p.pre_enqueue(pod), code)
    }
}

impl QueueSortPlugin for Timed {
    fn less(&self, a: &QueuedPodView<'_>, b: &QueuedPodView<'_>) -> bool {
        inner!(self.as_queue_sort).less(a, b)
    }
}

impl PreFilterPlugin for Timed {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let p = inner!(self.as_pre_filter);
        let record = state.record_plugin_metrics;
        self.run(
            record,
            "PreFilter",
            || p.pre_filter(state, pod, snapshot),
            |r| code(&r.1),
        )
    }
    fn has_extensions(&self) -> bool {
        inner!(self.as_pre_filter).has_extensions()
    }
    fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        to_add: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        let p = inner!(self.as_pre_filter);
        let record = state.record_plugin_metrics;
        self.run(
            record,
            "PreFilterExtensionAddPod",
            || p.add_pod(state, pod, to_add, node),
            code,
        )
    }
    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        to_remove: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        let p = inner!(self.as_pre_filter);
        let record = state.record_plugin_metrics;
        self.run(
            record,
            "PreFilterExtensionRemovePod",
            || p.remove_pod(state, pod, to_remove, node),
            code,
        )
    }
}

impl FilterPlugin for Timed {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let p = inner!(self.as_filter);
        let record = state.record_plugin_metrics;
        self.run(record, "Filter", || p.filter(state, pod, node), code)
    }
}

impl PostFilterPlugin for Timed {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        ctx: &PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status) {
        let p = inner!(self.as_post_filter);
        let record = state.record_plugin_metrics;
        self.run(
            record,
            "PostFilter",
            || p.post_filter(state, pod, ctx),
            |r| code(&r.1),
        )
    }
}

impl PreScorePlugin for Timed {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nodes: &[&NodeInfo],
    ) -> Status {
        let p = inner!(self.as_pre_score);
        let record = state.record_plugin_metrics;
        self.run(
            record,
            "PreScore",
            || p.pre_score(state, pod, snapshot, nodes),
            code,
        )
    }
}

impl ScorePlugin for Timed {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let p = inner!(self.as_score);
        let record = state.record_plugin_metrics;
        self.run(
            record,
            "Score",
            || p.score(state, pod, node),
            |r| r.as_ref().map_or_else(code, |_| "Success"),
        )
    }
    fn normalize_scores(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        let p = inner!(self.as_score);
        self.run(
            state.record_plugin_metrics,
            "ScoreExtensionNormalize",
            || p.normalize_scores(state, pod, nodes, scores),
            code,
        )
    }
    fn has_normalize(&self) -> bool {
        inner!(self.as_score).has_normalize()
    }
}

impl ReservePlugin for Timed {
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status {
        let p = inner!(self.as_reserve);
        let record = state.record_plugin_metrics;
        self.run(record, "Reserve", || p.reserve(state, pod, node), code)
    }
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) {
        let p = inner!(self.as_reserve);
        let record = state.record_plugin_metrics;
        self.run(
            record,
            "Unreserve",
            || p.unreserve(state, pod, node),
            success,
        );
    }
}

impl PermitPlugin for Timed {
    fn permit(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> (Status, Duration) {
        let p = inner!(self.as_permit);
        let record = state.record_plugin_metrics;
        self.run(
            record,
            "Permit",
            || p.permit(state, pod, node),
            |r| code(&r.0),
        )
    }
}

impl PreBindPlugin for Timed {
    fn pre_bind<'a>(
        &'a self,
        ctx: &'a BindContext,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status> {
        let p = inner!(self.as_pre_bind);
        self.timed_async("PreBind", state, p.pre_bind(ctx, state, pod, node))
    }
}

impl BindPlugin for Timed {
    fn bind<'a>(
        &'a self,
        ctx: &'a BindContext,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status> {
        let p = inner!(self.as_bind);
        self.timed_async("Bind", state, p.bind(ctx, state, pod, node))
    }
}

impl PostBindPlugin for Timed {
    fn post_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) {
        let p = inner!(self.as_post_bind);
        let record = state.record_plugin_metrics;
        self.run(
            record,
            "PostBind",
            || p.post_bind(state, pod, node),
            success,
        );
    }
}

impl Timed {
    /// Times an asynchronous call (PreBind, Bind) from its start to its completion.
    fn timed_async<'a>(
        &'a self,
        point: &'static str,
        state: &CycleState,
        call: BoxFuture<'a, Status>,
    ) -> BoxFuture<'a, Status> {
        if !state.record_plugin_metrics {
            return call;
        }
        Box::pin(async move {
            let started = Instant::now();
            let status = call.await;
            let secs = started.elapsed().as_secs_f64();
            (self.observer)(self.inner.name(), point, status.code_label(), secs);
            status
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::plugins::node_unschedulable::NodeUnschedulable;
    use crate::test_support::{ninfo, pinfo};

    type Seen = Arc<Mutex<Vec<(&'static str, &'static str, &'static str)>>>;

    fn timed() -> (Arc<dyn Plugin>, Seen) {
        let seen: Seen = Arc::default();
        let sink = seen.clone();
        let observer: PluginObserver = Arc::new(move |plugin, point, status, secs| {
            assert!(secs >= 0.0);
            sink.lock().expect("lock").push((plugin, point, status));
        });
        (Timed::wrap(Arc::new(NodeUnschedulable), observer), seen)
    }

    #[test]
    fn sampled_cycles_report_each_call_with_upstream_labels() {
        let (plugin, seen) = timed();
        assert_eq!(plugin.name(), "NodeUnschedulable");
        assert!(plugin.as_filter().is_some() && plugin.as_score().is_none());
        let pod = pinfo("metadata: {name: p}\nspec: {containers: [{name: c, image: i}]}");
        let cordoned = ninfo("metadata: {name: n}\nspec: {unschedulable: true}", &[]);
        let filter = plugin.as_filter().expect("filter");

        let mut state = CycleState::default();
        state.record_plugin_metrics = false;
        let status = filter.filter(&state, &pod, &cordoned);
        assert_eq!(status.code_label(), "UnschedulableAndUnresolvable");
        assert!(seen.lock().expect("lock").is_empty(), "unsampled cycle");

        state.record_plugin_metrics = true;
        filter.filter(&state, &pod, &cordoned);
        assert_eq!(
            *seen.lock().expect("lock"),
            [(
                "NodeUnschedulable",
                "Filter",
                "UnschedulableAndUnresolvable"
            )]
        );
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
}
