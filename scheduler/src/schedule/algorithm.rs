//! The scheduling algorithm over a snapshot: PreFilter → Filter (fanned out, adaptive
//! share of nodes, rotating start) → PreScore → Score → NormalizeScore → weighted sum →
//! best node, random among ties. Pure: no I/O, so it is unit-tested and benchmarked as is.

use std::sync::atomic::{AtomicUsize, Ordering};

use rand::Rng;
use rayon::prelude::*;

use super::fit_error::{Diagnosis, FitError};
use crate::cache::{NodeInfo, Snapshot};
use crate::config::ExtensionPoint;
use crate::framework::{Code, CycleState, Framework, Status};
use crate::model::PodInfo;

/// Upstream's floor: below this many nodes every node is checked.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Upstream's floor of the adaptive percentage.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How many feasible nodes to look for among `num_all_nodes` (upstream's adaptive rule).
pub fn num_feasible_nodes_to_find(percentage: Option<u32>, num_all_nodes: usize) -> usize {
    let pct = percentage.unwrap_or(0) as usize;
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND || pct >= 100 {
        return num_all_nodes;
    }
    let pct = if pct == 0 {
        (50usize.saturating_sub(num_all_nodes / 125)).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    } else {
        pct
    };
    (num_all_nodes * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Where the pod goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub suggested_host: String,
    /// Nodes the filters looked at.
    pub evaluated_nodes: usize,
    /// Nodes that passed.
    pub feasible_nodes: usize,
}

/// Why scheduling did not produce a node.
#[derive(Debug, Clone)]
pub enum ScheduleError {
    /// No node fits (the pod is unschedulable for now).
    Fit(FitError),
    /// A plugin failed with an error.
    Internal(Status),
}

/// Algorithm state kept across cycles.
#[derive(Debug, Default)]
pub struct Algorithm {
    next_start_node_index: usize,
    /// (extension point, status code label, seconds) of the last cycle, for
    /// `scheduler_framework_extension_point_duration_seconds`.
    pub timings: Vec<(&'static str, &'static str, f64)>,
    /// Global percentageOfNodesToScore (a profile's own value wins).
    pub percentage_of_nodes_to_score: Option<u32>,
}

/// Nodes to evaluate below which a pass runs on the calling thread: a node costs well under
/// a microsecond, less than waking other threads (which, on a machine shared with the API
/// server, may not even be scheduled promptly).
const PARALLEL_THRESHOLD: usize = 1024;

/// Whether to fan `n` items out over the current rayon pool: only when it has more than one
/// thread and the work is large enough to pay for the hand-off.
fn fan_out(n: usize) -> bool {
    n >= PARALLEL_THRESHOLD && rayon::current_num_threads() > 1
}

impl Algorithm {
    /// An algorithm with a global percentage.
    pub fn new(percentage_of_nodes_to_score: Option<u32>) -> Self {
        Algorithm {
            next_start_node_index: 0,
            timings: Vec::with_capacity(4),
            percentage_of_nodes_to_score,
        }
    }

    /// Chooses a node for `pod`, or says why none fits. `state` is left for Reserve/Bind.
    pub fn schedule(
        &mut self,
        fw: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<ScheduleResult, ScheduleError> {
        let (feasible, scores, evaluated) = self.filter_and_score(fw, state, pod, snapshot)?;
        Ok(ScheduleResult {
            suggested_host: select_host(&feasible, &scores),
            evaluated_nodes: evaluated,
            feasible_nodes: feasible.len(),
        })
    }

    /// Every feasible node with its weighted total score, in evaluation order (what
    /// [`Algorithm::schedule`] chooses among; for diagnostics and differential tests).
    pub fn evaluate(
        &mut self,
        fw: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<Vec<(String, i64)>, ScheduleError> {
        let (feasible, scores, _) = self.filter_and_score(fw, state, pod, snapshot)?;
        Ok(feasible
            .iter()
            .map(|n| n.name.to_string())
            .zip(scores)
            .collect())
    }

    /// Feasible nodes and their totals (all zero when only one node fits: nothing to rank).
    fn filter_and_score<'s>(
        &mut self,
        fw: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &'s Snapshot,
    ) -> Result<(Vec<&'s NodeInfo>, Vec<i64>, usize), ScheduleError> {
        self.timings.clear();
        let n = snapshot.len();
        if n == 0 {
            return Err(ScheduleError::Fit(FitError {
                num_all_nodes: 0,
                diagnosis: Diagnosis {
                    pre_filter_msg: Some("no nodes available to schedule pods".into()),
                    ..Default::default()
                },
            }));
        }
        let (feasible, diagnosis, evaluated) = self.find_feasible(fw, state, pod, snapshot)?;
        if feasible.is_empty() {
            return Err(ScheduleError::Fit(FitError {
                num_all_nodes: n,
                diagnosis,
            }));
        }
        if feasible.len() == 1 {
            return Ok((feasible, vec![0], evaluated));
        }
        let scores = prioritize(fw, state, pod, snapshot, &feasible, &mut self.timings)?;
        Ok((feasible, scores, evaluated))
    }

    fn find_feasible<'s>(
        &mut self,
        fw: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &'s Snapshot,
    ) -> Result<(Vec<&'s NodeInfo>, Diagnosis, usize), ScheduleError> {
        let mut diagnosis = Diagnosis::default();
        let mut allowed: Option<rustc_hash::FxHashSet<String>> = None;
        let started = std::time::Instant::now();
        for p in fw.plugins(ExtensionPoint::PreFilter) {
            let Some(pf) = p.as_pre_filter() else {
                continue;
            };
            let (result, status) = pf.pre_filter(state, pod, snapshot);
            match status.code() {
                Code::Success => {}
                Code::Skip => {
                    state.skip_filter_plugins.push(p.name());
                    continue;
                }
                Code::Unschedulable | Code::UnschedulableAndUnresolvable => {
                    let status = status.with_plugin(p.name());
                    FitError::note_plugin(&mut diagnosis, &status);
                    diagnosis.pre_filter_msg = Some(status.message());
                    for node in snapshot.nodes() {
                        diagnosis
                            .node_statuses
                            .insert(node.name.clone(), status.clone());
                    }
                    self.timings.push((
                        "PreFilter",
                        status.code_label(),
                        started.elapsed().as_secs_f64(),
                    ));
                    return Ok((Vec::new(), diagnosis, 0));
                }
                _ => return Err(ScheduleError::Internal(status.with_plugin(p.name()))),
            }
            if let Some(names) = result.and_then(|r| r.node_names) {
                allowed = Some(match allowed {
                    None => names,
                    Some(prev) => prev.intersection(&names).cloned().collect(),
                });
            }
        }
        self.timings
            .push(("PreFilter", "Success", started.elapsed().as_secs_f64()));
        let started = std::time::Instant::now();
        // The candidates: every node, or the PreFilter's intersection in name order.
        let restricted: Option<Vec<&'s NodeInfo>> = allowed.as_ref().map(|names| {
            let mut v: Vec<&'s NodeInfo> = names
                .iter()
                .filter_map(|n| snapshot.get(n))
                .map(|n| &**n)
                .collect();
            v.sort_by(|a, b| a.name.cmp(&b.name));
            v
        });
        let all = snapshot.nodes();
        let node_at = |i: usize| -> &'s NodeInfo {
            match &restricted {
                None => &all[i],
                Some(v) => v[i],
            }
        };
        let total = restricted.as_ref().map_or(all.len(), Vec::len);
        if total == 0 {
            let status = Status::unresolvable("node(s) didn't satisfy plugin(s) [PreFilter]");
            diagnosis.pre_filter_msg = Some(status.message());
            return Ok((Vec::new(), diagnosis, 0));
        }
        let percentage = fw
            .percentage_of_nodes_to_score
            .or(self.percentage_of_nodes_to_score);
        let want = num_feasible_nodes_to_find(percentage, total);
        let start = self.next_start_node_index % total;
        let state_ref: &CycleState = state;
        let filters = fw.active_filters(state_ref);
        // Pods nominated to a node with a priority at least this pod's hold their room.
        let nominated = fw.nominated_pods_for(pod);
        let run = |node: &NodeInfo| -> Status {
            if nominated.is_empty() {
                return Framework::run_active_filters(&filters, state_ref, pod, node);
            }
            fw.filter_with_nominated(state_ref, pod, node, nominated.on(&node.name), |st, n| {
                Framework::run_active_filters(&filters, st, pod, n)
            })
        };
        // Upstream's evaluateNominatedNode: a pod nominated by an earlier preemption tries
        // that node first; when it fits there, no other node is looked at.
        if let Some(nnn) = fw.nominated_node_of(pod)
            && let Some(node) = snapshot.get(&nnn)
        {
            let status = run(node);
            if status.is_success() {
                self.timings
                    .push(("Filter", "Success", started.elapsed().as_secs_f64()));
                return Ok((vec![&**node], diagnosis, 1));
            }
            if status.code() != Code::Error {
                FitError::note_plugin(&mut diagnosis, &status);
                diagnosis.node_statuses.insert(node.name.clone(), status);
            }
        }
        let check = |i: usize| {
            let node = node_at((start + i) % total);
            (node, run(node))
        };
        let mut feasible = Vec::with_capacity(want);
        let mut note = |node: &NodeInfo, status: Status| -> Result<(), ScheduleError> {
            if status.code() == Code::Error {
                return Err(ScheduleError::Internal(status));
            }
            FitError::note_plugin(&mut diagnosis, &status);
            diagnosis.node_statuses.insert(node.name.clone(), status);
            Ok(())
        };
        let mut processed = 0;
        // The sequential pass stops after `want` feasible nodes: that, not the node count,
        // is the work to split.
        if !fan_out(want.min(total)) {
            for i in 0..total {
                let (node, status) = check(i);
                processed = i + 1;
                if status.is_success() {
                    feasible.push(node);
                    if feasible.len() >= want {
                        break;
                    }
                } else {
                    note(node, status)?;
                }
            }
        } else {
            // Upstream's parallel search: stop handing out nodes once enough fit; then keep
            // the first `want` feasible nodes in rotation order.
            let found = AtomicUsize::new(0);
            let mut results: Vec<(usize, Option<Status>)> = (0..total)
                .into_par_iter()
                .with_min_len(32)
                .filter_map(|i| {
                    if found.load(Ordering::Relaxed) >= want {
                        return None;
                    }
                    let (_, status) = check(i);
                    if status.is_success() {
                        found.fetch_add(1, Ordering::Relaxed);
                        Some((i, None))
                    } else {
                        Some((i, Some(status)))
                    }
                })
                .collect();
            results.sort_unstable_by_key(|(i, _)| *i);
            for (i, status) in results {
                if feasible.len() >= want {
                    break;
                }
                processed = i + 1;
                let node = node_at((start + i) % total);
                match status {
                    None => feasible.push(node),
                    Some(status) => note(node, status)?,
                }
            }
        }
        self.next_start_node_index = (start + processed) % total;
        let outcome = if feasible.is_empty() {
            "Unschedulable"
        } else {
            "Success"
        };
        self.timings
            .push(("Filter", outcome, started.elapsed().as_secs_f64()));
        Ok((feasible, diagnosis, processed))
    }
}

fn prioritize(
    fw: &Framework,
    state: &mut CycleState,
    pod: &PodInfo,
    snapshot: &Snapshot,
    nodes: &[&NodeInfo],
    timings: &mut Vec<(&'static str, &'static str, f64)>,
) -> Result<Vec<i64>, ScheduleError> {
    let started = std::time::Instant::now();
    for p in fw.plugins(ExtensionPoint::PreScore) {
        let Some(ps) = p.as_pre_score() else { continue };
        let status = ps.pre_score(state, pod, snapshot, nodes);
        match status.code() {
            Code::Success => {}
            Code::Skip => state.skip_score_plugins.push(p.name()),
            _ => return Err(ScheduleError::Internal(status.with_plugin(p.name()))),
        }
    }
    timings.push(("PreScore", "Success", started.elapsed().as_secs_f64()));
    let started = std::time::Instant::now();
    let mut total = vec![0i64; nodes.len()];
    let state_ref: &CycleState = state;
    for sp in fw.score_plugins() {
        if state_ref.skip_score_plugins.contains(&sp.plugin.name()) {
            continue;
        }
        let Some(scorer) = sp.plugin.as_score() else {
            continue;
        };
        let raw: Result<Vec<i64>, Status> = if !fan_out(nodes.len()) {
            nodes
                .iter()
                .map(|n| scorer.score(state_ref, pod, n))
                .collect()
        } else {
            nodes
                .par_iter()
                .with_min_len(32)
                .map(|n| scorer.score(state_ref, pod, n))
                .collect()
        };
        let mut scores =
            raw.map_err(|s| ScheduleError::Internal(s.with_plugin(sp.plugin.name())))?;
        if scorer.has_normalize() {
            let st = scorer.normalize_scores(state_ref, pod, nodes, &mut scores);
            if !st.is_success() {
                return Err(ScheduleError::Internal(st.with_plugin(sp.plugin.name())));
            }
        }
        for (t, s) in total.iter_mut().zip(scores) {
            *t = t.saturating_add(s.saturating_mul(sp.weight));
        }
    }
    timings.push(("Score", "Success", started.elapsed().as_secs_f64()));
    Ok(total)
}

/// The highest-scoring node; ties broken uniformly at random (reservoir sampling, as upstream).
fn select_host(nodes: &[&NodeInfo], scores: &[i64]) -> String {
    let mut rng = rand::rng();
    let mut best = 0;
    let mut ties = 1u32;
    for i in 1..nodes.len() {
        if scores[i] > scores[best] {
            best = i;
            ties = 1;
        } else if scores[i] == scores[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    nodes[best].name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_share_matches_upstream() {
        assert_eq!(num_feasible_nodes_to_find(None, 50), 50);
        assert_eq!(num_feasible_nodes_to_find(None, 100), 100);
        assert_eq!(num_feasible_nodes_to_find(None, 1000), 420);
        assert_eq!(num_feasible_nodes_to_find(None, 5000), 500);
        assert_eq!(num_feasible_nodes_to_find(None, 6000), 300);
        assert_eq!(num_feasible_nodes_to_find(Some(100), 5000), 5000);
        assert_eq!(num_feasible_nodes_to_find(Some(1), 5000), 100);
        assert_eq!(num_feasible_nodes_to_find(Some(30), 1000), 300);
    }
}
