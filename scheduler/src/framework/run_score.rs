//! Running PreScore and Score (with NormalizeScore and the weights).

use std::time::Instant;

use rayon::prelude::*;

use super::cycle_state::CycleState;
use super::parallel::fan_out;
use super::run_filter::code;
use super::runtime::Framework;
use super::status::{Code, Status};
use crate::cache::{NodeInfo, Snapshot};
use crate::model::PodInfo;

/// Every Score plugin's weighted, normalized scores of the feasible nodes, and the totals
/// (upstream's `[]NodePluginScores`, kept by plugin rather than by node).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeScores {
    /// (plugin, weight, its scores after normalizing, times the weight), aligned with the
    /// nodes scored.
    pub by_plugin: Vec<(&'static str, i64, Vec<i64>)>,
    /// The weighted sum per node.
    pub totals: Vec<i64>,
}

impl Framework {
    /// Runs the PreScore plugins (upstream's `RunPreScorePlugins`): Skip disables that
    /// plugin's Score for this pod; anything but success or Skip is returned, naming its
    /// plugin.
    pub fn run_pre_score_plugins(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nodes: &[&NodeInfo],
    ) -> Status {
        let started = Instant::now();
        let mut out = Status::success();
        for slot in &self.lists.pre_score {
            let Some(ps) = slot.get() else { continue };
            let record = state.record_plugin_metrics;
            let call = || ps.pre_score(state, pod, snapshot, nodes);
            let status = self.timed(record, slot.name(), "PreScore", call, code);
            match status.code() {
                Code::Success => {}
                Code::Skip => state.skip_score_plugins.push(slot.name()),
                _ => {
                    out = status.with_plugin(slot.name());
                    break;
                }
            }
        }
        self.observe_point("PreScore", out.code_label(), started);
        out
    }

    /// Whether the profile has Score plugins.
    pub fn has_score_plugins(&self) -> bool {
        !self.lists.score.is_empty()
    }

    /// Runs Score, NormalizeScore and the weights (upstream's `RunScorePlugins`); the
    /// per-node pass fans out over the current thread pool on large node lists.
    pub fn run_score_plugins(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
    ) -> Result<NodeScores, Status> {
        let started = Instant::now();
        let out = self.score(state, pod, nodes);
        let label = match &out {
            Ok(_) => "Success",
            Err(s) => s.code_label(),
        };
        self.observe_point("Score", label, started);
        out
    }

    fn score(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
    ) -> Result<NodeScores, Status> {
        let mut out = NodeScores {
            by_plugin: Vec::with_capacity(self.lists.score.len()),
            totals: vec![0; nodes.len()],
        };
        for w in &self.lists.score {
            let name = w.slot.name();
            if state.skip_score_plugins.contains(&name) {
                continue;
            }
            let Some(scorer) = w.slot.get() else { continue };
            let record = state.record_plugin_metrics && self.plugin_observer.is_some();
            let one = |n: &&NodeInfo| {
                if !record {
                    return scorer.score(state, pod, n);
                }
                let call = || scorer.score(state, pod, n);
                self.timed(record, name, "Score", call, |r| {
                    r.as_ref().map_or_else(code, |_| "Success")
                })
            };
            let raw: Result<Vec<i64>, Status> = if fan_out(nodes.len()) {
                nodes.par_iter().with_min_len(32).map(one).collect()
            } else {
                nodes.iter().map(one).collect()
            };
            let mut scores = raw.map_err(|s| s.with_plugin(name))?;
            if scorer.has_normalize() {
                let call = || scorer.normalize_scores(state, pod, nodes, &mut scores);
                let st = self.timed(record, name, "ScoreExtensionNormalize", call, code);
                if !st.is_success() {
                    return Err(st.with_plugin(name));
                }
            }
            for (t, s) in out.totals.iter_mut().zip(scores.iter_mut()) {
                *s = s.saturating_mul(w.weight);
                *t = t.saturating_add(*s);
            }
            out.by_plugin.push((name, w.weight, scores));
        }
        Ok(out)
    }
}
