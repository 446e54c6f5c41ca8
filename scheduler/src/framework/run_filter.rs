//! Running the points before and at filtering: PreEnqueue, QueueSort, PreFilter (and its
//! AddPod/RemovePod extensions), Filter.

use std::sync::Arc;
use std::time::Instant;

use rustc_hash::FxHashSet;

use super::cycle_state::CycleState;
use super::runtime::{Framework, PluginObserver, time_call};
use super::status::{Code, Status};
use super::traits::{FilterPlugin, PreFilterResult, QueuedPodView};
use crate::cache::{NodeInfo, Snapshot};
use crate::model::PodInfo;

/// The Filter plugins that run for one pod (those whose PreFilter did not say Skip),
/// resolved once per cycle so the per-node loop compares nothing.
pub struct ActiveFilters<'f> {
    filters: Vec<(&'static str, &'f dyn FilterPlugin)>,
    observer: Option<&'f PluginObserver>,
}

impl ActiveFilters<'_> {
    /// Runs the filters on `node`, stopping at the first rejection. The hot loop of a
    /// cycle: an unsampled cycle runs the plain loop, with no timing branch per call.
    #[inline]
    pub fn run(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if let Some(observer) = self.observer.filter(|_| state.record_plugin_metrics) {
            return self.run_timed(observer, state, pod, node);
        }
        for &(name, f) in &self.filters {
            let status = f.filter(state, pod, node);
            if !status.is_success() {
                return status.with_plugin(name);
            }
        }
        Status::success()
    }

    fn run_timed(
        &self,
        observer: &PluginObserver,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        for &(name, f) in &self.filters {
            let call = || f.filter(state, pod, node);
            let status = time_call(Some(observer), true, name, "Filter", call, code);
            if !status.is_success() {
                return status.with_plugin(name);
            }
        }
        Status::success()
    }
}

/// A status's code label, for timing.
pub(super) fn code(s: &Status) -> &'static str {
    s.code_label()
}

impl Framework {
    /// Runs the PreEnqueue plugins (upstream's `RunPreEnqueuePlugins`): success lets the pod
    /// into the active queue; the first other status keeps it gated, naming its plugin.
    pub fn run_pre_enqueue_plugins(&self, pod: &PodInfo) -> Status {
        // No cycle here: each call is sampled on its own.
        let record = rand::random_range(0..100) < super::PLUGIN_METRICS_SAMPLE_PERCENT;
        for slot in &self.lists.pre_enqueue {
            if let Some(p) = slot.get() {
                let call = || p.pre_enqueue(pod);
                let s = self.timed(record, slot.name(), "PreEnqueue", call, code);
                if !s.is_success() {
                    return s.with_plugin(slot.name());
                }
            }
        }
        Status::success()
    }

    /// Whether the profile has a QueueSort plugin.
    pub fn has_queue_sort(&self) -> bool {
        !self.lists.queue_sort.is_empty()
    }

    /// Whether `a` leaves the queue before `b` (upstream's `QueueSortFunc`).
    pub fn queue_sort_less(&self, a: &QueuedPodView<'_>, b: &QueuedPodView<'_>) -> bool {
        self.lists
            .queue_sort
            .first()
            .and_then(|s| s.get())
            .is_some_and(|q| q.less(a, b))
    }

    /// Runs the PreFilter plugins (upstream's `RunPreFilterPlugins`), returning the merged
    /// node set, the status, and the plugins that narrowed the nodes.
    ///
    /// A plugin saying Skip has its Filter skipped for this pod. Unresolvable ends the run;
    /// Unschedulable is kept while the other plugins still run (preemption needs their
    /// state); an error ends the run. An empty intersection of node sets is unresolvable,
    /// naming the plugins that narrowed it.
    pub fn run_pre_filter_plugins(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status, Vec<&'static str>) {
        let started = Instant::now();
        let out = self.pre_filter(state, pod, snapshot);
        self.observe_point("PreFilter", out.1.code_label(), started);
        out
    }

    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status, Vec<&'static str>) {
        let mut allowed: Option<FxHashSet<String>> = None;
        let mut narrowed_by: Vec<&'static str> = Vec::new();
        let mut rejected: Option<Status> = None;
        for slot in &self.lists.pre_filter {
            let Some(pf) = slot.get() else { continue };
            let record = state.record_plugin_metrics;
            let (result, status) = self.timed(
                record,
                slot.name(),
                "PreFilter",
                || pf.pre_filter(state, pod, snapshot),
                |r| r.1.code_label(),
            );
            match status.code() {
                Code::Success => {}
                Code::Skip => {
                    state.skip_filter_plugins.push(slot.name());
                    continue;
                }
                Code::Unschedulable => {
                    rejected = Some(status.with_plugin(slot.name()));
                    continue;
                }
                _ => return (None, status.with_plugin(slot.name()), Vec::new()),
            }
            if let Some(names) = result.and_then(|r| r.node_names) {
                if !narrowed_by.contains(&slot.name()) {
                    narrowed_by.push(slot.name());
                }
                let merged = match allowed {
                    None => names,
                    Some(prev) => prev.intersection(&names).cloned().collect(),
                };
                if merged.is_empty() {
                    narrowed_by.sort_unstable();
                    let message = match narrowed_by.as_slice() {
                        [only] => format!("node(s) didn't satisfy plugin {only}"),
                        all => format!(
                            "node(s) didn't satisfy plugin(s) [{}] simultaneously",
                            all.join(" ")
                        ),
                    };
                    let result = PreFilterResult {
                        node_names: Some(merged),
                    };
                    return (Some(result), Status::unresolvable(message), narrowed_by);
                }
                allowed = Some(merged);
            }
        }
        narrowed_by.sort_unstable();
        let result = allowed.map(|names| PreFilterResult {
            node_names: Some(names),
        });
        (
            result,
            rejected.unwrap_or_else(Status::success),
            narrowed_by,
        )
    }

    /// The Filter plugins that run for this pod (those whose PreFilter did not say Skip).
    pub fn active_filters(&self, state: &CycleState) -> ActiveFilters<'_> {
        ActiveFilters {
            filters: self
                .lists
                .filter
                .iter()
                .filter(|s| !state.skip_filter_plugins.contains(&s.name()))
                .filter_map(|s| s.get().map(|f| (s.name(), f)))
                .collect(),
            observer: self.plugin_observer.as_ref(),
        }
    }

    /// Runs every Filter plugin on `node`, stopping at the first rejection (upstream's
    /// `RunFilterPlugins`); skipped plugins (PreFilter said Skip) do not run.
    pub fn run_filter_plugins(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        self.active_filters(state).run(state, pod, node)
    }

    /// Tells every PreFilter extension that `to_add` is (hypothetically) placed on `node`.
    pub fn run_pre_filter_add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        to_add: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        self.run_pre_filter_extension(state, "PreFilterExtensionAddPod", |pf, st| {
            pf.add_pod(st, pod, to_add, node)
        })
    }

    /// Tells every PreFilter extension that `to_remove` is (hypothetically) gone from `node`.
    pub fn run_pre_filter_remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        to_remove: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        self.run_pre_filter_extension(state, "PreFilterExtensionRemovePod", |pf, st| {
            pf.remove_pod(st, pod, to_remove, node)
        })
    }

    fn run_pre_filter_extension(
        &self,
        state: &mut CycleState,
        point: &'static str,
        call: impl Fn(&dyn super::PreFilterPlugin, &mut CycleState) -> Status,
    ) -> Status {
        for slot in &self.lists.pre_filter {
            let Some(pf) = slot.get().filter(|pf| pf.has_extensions()) else {
                continue;
            };
            if state.skip_filter_plugins.contains(&slot.name()) {
                continue;
            }
            let record = state.record_plugin_metrics;
            let s = self.timed(record, slot.name(), point, || call(pf, state), code);
            if !s.is_success() {
                return s.with_plugin(slot.name());
            }
        }
        Status::success()
    }
}
