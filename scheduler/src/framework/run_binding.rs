//! Running the points after filtering: PostFilter when no node fits; Reserve, Permit,
//! PreBind, Bind and PostBind once one does (and Unreserve when a later point fails).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cycle_state::CycleState;
use super::handle::BindContext;
use super::run_filter::code;
use super::runtime::Framework;
use super::status::{Code, Status};
use super::traits::{NodeStatusMap, PostFilterContext, PostFilterResult};
use super::waiting::MAX_PERMIT_WAIT;
use crate::cache::Snapshot;
use crate::model::PodInfo;

impl Framework {
    /// Runs the PostFilter plugins (preemption) after a failed filter pass, as upstream's
    /// `RunPostFilterPlugins`: the first success, unresolvable or error ends the phase;
    /// otherwise the Unschedulable reasons are joined, naming the first plugin that
    /// rejected, and the last result that changes the nomination is kept. Pure: victims
    /// are returned, not deleted.
    pub fn run_post_filter_plugins(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &NodeStatusMap,
    ) -> (Option<PostFilterResult>, Status) {
        let started = Instant::now();
        let ctx = PostFilterContext {
            framework: self,
            snapshot,
            statuses,
        };
        let mut kept = None;
        let mut reasons: Vec<String> = Vec::new();
        let mut rejector = "";
        let mut out = None;
        for slot in &self.lists.post_filter {
            let Some(pf) = slot.get() else { continue };
            let record = state.record_plugin_metrics;
            let (result, status) = self.timed(
                record,
                slot.name(),
                "PostFilter",
                || pf.post_filter(state, pod, &ctx),
                |r| r.1.code_label(),
            );
            match status.code() {
                Code::Skip => continue,
                Code::Success | Code::UnschedulableAndUnresolvable => {
                    out = Some((result, status.with_plugin(slot.name())));
                    break;
                }
                Code::Unschedulable => {
                    if result.is_some() {
                        kept = result;
                    }
                    reasons.extend(status.reasons().iter().map(|r| r.to_string()));
                    if rejector.is_empty() {
                        rejector = slot.name();
                    }
                }
                _ => {
                    out = Some((None, status.with_plugin(slot.name())));
                    break;
                }
            }
        }
        let out = out.unwrap_or_else(|| {
            let status = Status::with_reasons(Code::Unschedulable, reasons).with_plugin(rejector);
            (kept, status)
        });
        self.observe_point("PostFilter", out.1.code_label(), started);
        out
    }

    /// Runs every Reserve plugin's Reserve (upstream's `RunReservePluginsReserve`),
    /// stopping at the first failure. The caller then runs
    /// [`Framework::run_reserve_plugins_unreserve`].
    pub fn run_reserve_plugins_reserve(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        node: &str,
    ) -> Status {
        let started = Instant::now();
        let mut out = Status::success();
        for slot in &self.lists.reserve {
            let Some(r) = slot.get() else { continue };
            let record = state.record_plugin_metrics;
            let call = || r.reserve(state, pod, node);
            let s = self.timed(record, slot.name(), "Reserve", call, code);
            if !s.is_success() {
                out = s.with_plugin(slot.name());
                break;
            }
        }
        self.observe_point("Reserve", out.code_label(), started);
        out
    }

    /// Runs every Reserve plugin's Unreserve, in reverse order (upstream's
    /// `RunReservePluginsUnreserve`); plugins must tolerate an Unreserve without Reserve.
    pub fn run_reserve_plugins_unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) {
        let started = Instant::now();
        for slot in self.lists.reserve.iter().rev() {
            if let Some(r) = slot.get() {
                let record = state.record_plugin_metrics;
                let call = || r.unreserve(state, pod, node);
                self.timed(record, slot.name(), "Unreserve", call, |()| "Success");
            }
        }
        self.observe_point("Unreserve", "Success", started);
    }

    /// Runs the Permit plugins (upstream's `RunPermitPlugins`). A rejection or an error
    /// ends the run, naming its plugin. When plugins ask to wait (each for at most
    /// [`MAX_PERMIT_WAIT`]) and none rejects, the pod is registered as waiting and the
    /// status is Wait: the binding cycle then calls [`Framework::wait_on_permit`].
    pub fn run_permit_plugins(
        &self,
        state: &mut CycleState,
        pod: &Arc<PodInfo>,
        node: &str,
    ) -> Status {
        let started = Instant::now();
        let mut waits: Vec<(&'static str, Duration)> = Vec::new();
        let mut out = Status::success();
        for slot in &self.lists.permit {
            let Some(p) = slot.get() else { continue };
            let record = state.record_plugin_metrics;
            let call = || p.permit(state, pod, node);
            let (s, timeout) =
                self.timed(record, slot.name(), "Permit", call, |r| r.0.code_label());
            match s.code() {
                Code::Success => {}
                Code::Wait => {
                    waits.push((slot.name(), timeout.min(MAX_PERMIT_WAIT)));
                    out = s.with_plugin(slot.name());
                }
                _ => {
                    out = s.with_plugin(slot.name());
                    waits.clear();
                    break;
                }
            }
        }
        if !waits.is_empty() {
            self.waiting.add(pod.clone(), &waits);
            out = out.with_reason("one or more plugins asked to wait and no plugin rejected pod");
        }
        self.observe_point("Permit", out.code_label(), started);
        out
    }

    /// Waits until the pod's Permit wait ends (upstream's `WaitOnPermit`): success when
    /// every waiting plugin allowed it or it was not waiting; otherwise the rejection.
    pub async fn wait_on_permit(&self, pod: &PodInfo) -> Status {
        self.waiting.wait(&pod.uid).await
    }

    /// Runs the PreBind plugins (upstream's `RunPreBindPlugins`), stopping at the first
    /// failure; Skip counts as success.
    pub async fn run_pre_bind_plugins(
        &self,
        ctx: &BindContext,
        state: &CycleState,
        pod: &PodInfo,
        node: &str,
    ) -> Status {
        let started = Instant::now();
        let mut out = Status::success();
        for slot in &self.lists.pre_bind {
            let Some(pb) = slot.get() else { continue };
            let s = self
                .timed_async(
                    state,
                    slot.name(),
                    "PreBind",
                    pb.pre_bind(ctx, state, pod, node),
                )
                .await;
            if !s.is_success() && !s.is_skip() {
                out = s.with_plugin(slot.name());
                break;
            }
        }
        self.observe_point("PreBind", out.code_label(), started);
        out
    }

    /// Runs the Bind plugins (upstream's `RunBindPlugins`): the first that does not Skip
    /// decides; when all skip, the status is an error.
    pub async fn run_bind_plugins(
        &self,
        ctx: &BindContext,
        state: &CycleState,
        pod: &PodInfo,
        node: &str,
    ) -> Status {
        let started = Instant::now();
        let mut out = Status::error("no bind plugin bound the pod");
        for slot in &self.lists.bind {
            let Some(b) = slot.get() else { continue };
            let s = self
                .timed_async(state, slot.name(), "Bind", b.bind(ctx, state, pod, node))
                .await;
            if !s.is_skip() {
                out = s.with_plugin(slot.name());
                break;
            }
        }
        self.observe_point("Bind", out.code_label(), started);
        out
    }

    /// Runs the PostBind plugins (informational).
    pub fn run_post_bind_plugins(&self, state: &CycleState, pod: &PodInfo, node: &str) {
        let started = Instant::now();
        for slot in &self.lists.post_bind {
            if let Some(pb) = slot.get() {
                let record = state.record_plugin_metrics;
                let call = || pb.post_bind(state, pod, node);
                self.timed(record, slot.name(), "PostBind", call, |()| "Success");
            }
        }
        self.observe_point("PostBind", "Success", started);
    }

    /// Awaits an asynchronous plugin call (PreBind, Bind), timing it from its start to its
    /// completion in sampled cycles.
    async fn timed_async(
        &self,
        state: &CycleState,
        plugin: &'static str,
        point: &'static str,
        call: impl std::future::Future<Output = Status>,
    ) -> Status {
        let observer = self.plugin_observer.as_ref();
        let Some(observer) = observer.filter(|_| state.record_plugin_metrics) else {
            return call.await;
        };
        let started = Instant::now();
        let status = call.await;
        let secs = started.elapsed().as_secs_f64();
        observer(plugin, point, status.code_label(), secs);
        status
    }
}
