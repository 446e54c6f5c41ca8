//! Node selection over a snapshot (upstream's `schedulePod`): the framework's PreFilter,
//! then the Filter pass this module drives (the adaptive share of nodes, the rotating
//! start, the fan-out over the thread pool, the nominated node first), the framework's
//! PreScore and Score, and the best node, random among ties. Pure: no I/O, so it is
//! unit-tested and benchmarked as is.

use std::sync::atomic::{AtomicUsize, Ordering};

use rand::Rng;
use rayon::prelude::*;

use crate::cache::{NodeInfo, Snapshot};
use crate::framework::parallel::fan_out;
use crate::framework::{Code, CycleState, Diagnosis, FitError, Framework, NodeScores, Status};
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
    Fit(Box<FitError>),
    /// A plugin failed with an error.
    Internal(Status),
}

/// Algorithm state kept across cycles.
#[derive(Debug, Default)]
pub struct Algorithm {
    next_start_node_index: usize,
    /// Global percentageOfNodesToScore (a profile's own value wins).
    pub percentage_of_nodes_to_score: Option<u32>,
}

/// Feasible nodes, their scores (empty when one node fits: nothing to rank), and how many
/// nodes the filters looked at.
type Ranked<'s> = (Vec<&'s NodeInfo>, NodeScores, usize);

impl Algorithm {
    /// An algorithm with a global percentage.
    pub fn new(percentage_of_nodes_to_score: Option<u32>) -> Self {
        Algorithm {
            next_start_node_index: 0,
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
            suggested_host: select_host(&feasible, &scores.totals),
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
            .zip(scores.totals)
            .collect())
    }

    /// Every feasible node with each Score plugin's weighted score and the total (for
    /// explaining a decision).
    pub fn evaluate_by_plugin<'s>(
        &mut self,
        fw: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &'s Snapshot,
    ) -> Result<(Vec<&'s NodeInfo>, NodeScores), ScheduleError> {
        let (feasible, scores, _) = self.filter_and_score(fw, state, pod, snapshot)?;
        Ok((feasible, scores))
    }

    /// Feasible nodes and their scores (all zero when only one node fits: nothing to rank).
    fn filter_and_score<'s>(
        &mut self,
        fw: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &'s Snapshot,
    ) -> Result<Ranked<'s>, ScheduleError> {
        let n = snapshot.len();
        if n == 0 {
            return Err(ScheduleError::Fit(Box::new(FitError {
                num_all_nodes: 0,
                diagnosis: Diagnosis {
                    pre_filter_msg: Some("no nodes available to schedule pods".into()),
                    ..Default::default()
                },
            })));
        }
        let (feasible, diagnosis, evaluated) = self.find_feasible(fw, state, pod, snapshot)?;
        if feasible.is_empty() {
            return Err(ScheduleError::Fit(Box::new(FitError {
                num_all_nodes: n,
                diagnosis,
            })));
        }
        if feasible.len() == 1 || !fw.has_score_plugins() {
            let totals = vec![0; feasible.len()];
            let scores = NodeScores {
                by_plugin: Vec::new(),
                totals,
            };
            return Ok((feasible, scores, evaluated));
        }
        let status = fw.run_pre_score_plugins(state, pod, snapshot, &feasible);
        if !status.is_success() {
            return Err(ScheduleError::Internal(status));
        }
        let scores = fw
            .run_score_plugins(state, pod, &feasible)
            .map_err(ScheduleError::Internal)?;
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
        let (pre, status, narrowed_by) = fw.run_pre_filter_plugins(state, pod, snapshot);
        diagnosis.unschedulable_plugins = narrowed_by.clone();
        if !status.is_success() {
            if !status.is_rejected() {
                return Err(ScheduleError::Internal(status));
            }
            // Every node gets the status, so preemption sees them all.
            FitError::note_plugin(&mut diagnosis, &status);
            diagnosis.pre_filter_msg = Some(status.message());
            for node in snapshot.nodes() {
                diagnosis
                    .node_statuses
                    .insert(node.name.clone(), status.clone());
            }
            return Ok((Vec::new(), diagnosis, 0));
        }
        let allowed = pre.and_then(|r| r.node_names);
        if allowed.is_some() {
            diagnosis.absent_status = Some(Status::unresolvable(format!(
                "node(s) didn't satisfy plugin(s) [{}]",
                narrowed_by.join(" ")
            )));
        }
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
            // Every node the PreFilters named is gone: all are absent.
            fw.observe_point("Filter", "Unschedulable", started);
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
                return filters.run(state_ref, pod, node);
            }
            fw.filter_with_nominated(state_ref, pod, node, nominated.on(&node.name), |st, n| {
                filters.run(st, pod, n)
            })
        };
        // Upstream's evaluateNominatedNode: a pod nominated by an earlier preemption tries
        // that node first; when it fits there, no other node is looked at.
        if let Some(nnn) = fw.nominated_node_of(pod)
            && let Some(node) = snapshot.get(&nnn)
        {
            let status = run(node);
            if status.is_success() {
                fw.observe_point("Filter", "Success", started);
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
        fw.observe_point("Filter", outcome, started);
        Ok((feasible, diagnosis, processed))
    }
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
