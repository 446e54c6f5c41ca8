//! DefaultPreemption (PostFilter): when no node fits, find nodes where evicting
//! lower-priority pods makes the pod fit, choose the victims and the node as upstream
//! does, and return the nomination with its victims.
//!
//! The runtime actuates the result (upstream's executor): it deletes each victim after
//! setting its `DisruptionTarget` condition (reason `PreemptionByScheduler`), emits the
//! `Preempted` event (`Preempted by pod <uid> on node <node>`), clears the nominations of
//! lower-priority pods nominated to that node, and sets `status.nominatedNodeName`.
//! A rejection's message already starts with `preemption: `; the runtime appends it,
//! after a space, to the `0/N nodes are available: ...` message.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use rand::Rng;

use crate::cache::NodeInfo;
use crate::config::PluginArgsSet;
use crate::framework::events::{ClusterEventWithHint, EventResource, action};
use crate::framework::{
    ClusterLister, Code, CycleState, Framework, Handle, Plugin, PostFilterContext,
    PostFilterPlugin, PostFilterResult, PreEnqueuePlugin, Status,
};
use crate::model::PodInfo;
use crate::plugins::helpers::Selector;

/// Registered name.
pub const NAME: &str = "DefaultPreemption";
/// Status of nodes where preemption cannot help.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// Status of a node without lower-priority pods.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Upstream's `DefaultPreemption`.
pub struct DefaultPreemption {
    min_candidate_nodes_percentage: u32,
    min_candidate_nodes_absolute: u32,
    lister: Arc<dyn ClusterLister>,
}

/// Factory.
pub fn new(args: &PluginArgsSet, handle: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(DefaultPreemption::new(
        args,
        handle.lister.clone(),
    )))
}

/// A node where preemption works, with its victims (most important first).
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Node name.
    pub node: String,
    /// Pods to evict.
    pub victims: Vec<Arc<PodInfo>>,
    /// How many victims violate a PodDisruptionBudget.
    pub pdb_violations: usize,
}

/// Start time in nanoseconds; a pod that has not started counts as starting now (latest).
fn start_time(p: &PodInfo) -> i128 {
    p.start_time().map_or(i128::MAX, |t| t.0.as_nanosecond())
}

/// Upstream's `MoreImportantVictim` for single pods: higher priority, then started earlier.
pub fn more_important(a: &PodInfo, b: &PodInfo) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(start_time(a).cmp(&start_time(b)))
}

/// Splits `victims` (in order) into PDB-violating and non-violating ones.
pub fn split_by_pdb(
    victims: &[Arc<PodInfo>],
    pdbs: &[Arc<PodDisruptionBudget>],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i64> = pdbs
        .iter()
        .map(|p| {
            i64::from(
                p.status
                    .as_ref()
                    .and_then(|s| s.disruptions_allowed)
                    .unwrap_or(0),
            )
        })
        .collect();
    let selectors: Vec<Selector> = pdbs
        .iter()
        .map(|p| Selector::from_label_selector(p.spec.as_ref().and_then(|s| s.selector.as_ref())))
        .collect();
    let (mut violating, mut ok) = (Vec::new(), Vec::new());
    for v in victims {
        let labels = v.labels();
        let mut violates = false;
        if !labels.is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.metadata.namespace.as_deref().unwrap_or("") != v.namespace() {
                    continue;
                }
                if selectors[i].is_empty() || !selectors[i].matches(labels) {
                    continue;
                }
                let disrupted = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref());
                if disrupted.is_some_and(|d| d.contains_key(v.name())) {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violates = true;
                    break;
                }
            }
        }
        if violates {
            violating.push(v.clone())
        } else {
            ok.push(v.clone())
        }
    }
    (violating, ok)
}

/// Upstream's `SelectVictimsOnNode`: remove every lower-priority pod, check the pod fits,
/// then reprieve as many as possible (PDB-violating ones first).
pub fn select_victims_on_node(
    fw: &Framework,
    state: &mut CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
    pdbs: &[Arc<PodDisruptionBudget>],
) -> Result<Candidate, Status> {
    let mut node = node.clone();
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Status::unresolvable(NO_VICTIMS));
    }
    for v in &potential {
        node.remove_pod(&v.uid);
        let s = fw.run_pre_filter_remove_pod(state, pod, v, &node);
        if !s.is_success() {
            return Err(Status::error(s.message()));
        }
    }
    // As upstream, pods nominated to the node that the preemptor yields to count as there.
    let s = fw.run_filter_plugins_with_nominated_pods(state, pod, &node);
    if !s.is_success() {
        return Err(s);
    }
    potential.sort_by(|a, b| more_important(a, b));
    let (violating, non_violating) = split_by_pdb(&potential, pdbs);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    let mut reprieve =
        |v: &Arc<PodInfo>, node: &mut NodeInfo, state: &mut CycleState| -> Result<bool, Status> {
            node.add_pod(v.clone());
            let s = fw.run_pre_filter_add_pod(state, pod, v, node);
            if !s.is_success() {
                return Err(Status::error(s.message()));
            }
            if fw
                .run_filter_plugins_with_nominated_pods(state, pod, node)
                .is_success()
            {
                return Ok(true);
            }
            node.remove_pod(&v.uid);
            let s = fw.run_pre_filter_remove_pod(state, pod, v, node);
            if !s.is_success() {
                return Err(Status::error(s.message()));
            }
            victims.push(v.clone());
            Ok(false)
        };
    for v in &violating {
        if !reprieve(v, &mut node, state)? {
            pdb_violations += 1;
        }
    }
    for v in &non_violating {
        reprieve(v, &mut node, state)?;
    }
    if !violating.is_empty() && !non_violating.is_empty() {
        victims.sort_by(|a, b| more_important(a, b));
    }
    if victims.is_empty() {
        return Err(Status::error(format!(
            "expected at least one victim pod on node {:?}",
            node.name
        )));
    }
    Ok(Candidate {
        node: node.name.to_string(),
        victims,
        pdb_violations,
    })
}

/// Upstream's `GetEarliestPodStartTime`: the earliest start among the highest-priority victims.
fn earliest_start_of_top(victims: &[Arc<PodInfo>]) -> i128 {
    let top = victims.iter().map(|v| v.priority).max().unwrap_or(0);
    victims
        .iter()
        .filter(|v| v.priority == top)
        .map(|v| start_time(v))
        .min()
        .unwrap_or(i128::MIN)
}

/// How good a candidate is under upstream's `pickOneNodeForPreemption` criteria, compared
/// lexicographically (higher is better): fewest PDB violations, lowest highest-priority
/// victim, smallest priority sum, fewest victims, latest start of the top victims.
pub fn rank(c: &Candidate) -> [i128; 5] {
    [
        -(c.pdb_violations as i128),
        // A node needing no victim wins outright, as upstream returns it at once.
        c.victims
            .first()
            .map_or(i128::MAX, |v| -i128::from(v.priority)),
        -c.victims
            .iter()
            .map(|v| i128::from(v.priority) + i128::from(i32::MAX) + 1)
            .sum::<i128>(),
        -(c.victims.len() as i128),
        earliest_start_of_top(&c.victims),
    ]
}

/// Upstream's `pickOneNodeForPreemption`: the best-ranked candidate; among equals the
/// first (the search starts at a random node, as upstream's does).
pub fn pick_one(candidates: &[Candidate]) -> Option<&Candidate> {
    let best = candidates.iter().map(rank).max()?;
    candidates.iter().find(|c| rank(c) == best)
}

/// `0/N nodes are available: <sorted histogram>.` as upstream's FitError writes it.
pub fn fit_error_message(total: usize, reasons: &BTreeMap<String, usize>) -> String {
    let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    let mut msg = format!("0/{total} nodes are available:");
    if !parts.is_empty() {
        msg.push_str(&format!(" {}.", parts.join(", ")));
    }
    msg
}

impl DefaultPreemption {
    /// Built from the args and a lister for PDBs.
    pub fn new(args: &PluginArgsSet, lister: Arc<dyn ClusterLister>) -> Self {
        DefaultPreemption {
            min_candidate_nodes_percentage: args.default_preemption.min_candidate_nodes_percentage,
            min_candidate_nodes_absolute: args.default_preemption.min_candidate_nodes_absolute,
            lister,
        }
    }

    /// How many candidates the dry run looks for among `n` potential nodes.
    pub fn num_candidates(&self, n: usize) -> usize {
        let pct = n * self.min_candidate_nodes_percentage as usize / 100;
        pct.max(self.min_candidate_nodes_absolute as usize).min(n)
    }

    fn eligible(&self, pod: &PodInfo, ctx: &PostFilterContext<'_>) -> Result<(), &'static str> {
        let spec = pod.pod().spec.as_ref();
        if spec.and_then(|s| s.preemption_policy.as_deref()) == Some("Never") {
            return Err("not eligible due to preemptionPolicy=Never.");
        }
        // The status, or this scheduler's own nomination whose status patch is on its way:
        // a retry in that window must not choose a second round of victims.
        let nominated = ctx.framework.nominated_node_of(pod);
        if let Some(nom) = nominated.as_deref() {
            if ctx
                .statuses
                .get(nom)
                .is_some_and(|s| s.code() == Code::UnschedulableAndUnresolvable)
            {
                return Ok(());
            }
            if let Some(node) = ctx.snapshot.get(nom)
                && node
                    .pods
                    .iter()
                    .any(|p| p.priority < pod.priority && p.terminating_by_preemption())
            {
                return Err("not eligible due to a terminating pod on the nominated node.");
            }
        }
        Ok(())
    }

    /// Evaluates preemption for `pod`: the best candidate, or the status upstream's evaluator
    /// returns (PostFilter prefixes its message with `preemption: `). `Some(result)` without a
    /// node means "clear the pod's nomination"; `None` means "leave it as it is".
    pub fn evaluate(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        ctx: &PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status) {
        if let Err(msg) = self.eligible(pod, ctx) {
            return (None, Status::unschedulable(msg));
        }
        let all = ctx.snapshot.nodes();
        if all.is_empty() {
            return (None, Status::error("no nodes available"));
        }
        let potential: Vec<&Arc<NodeInfo>> = all
            .iter()
            .filter(|n| {
                ctx.statuses
                    .get(&n.name)
                    .is_some_and(|s| s.code() == Code::Unschedulable)
            })
            .collect();
        let mut failed: Vec<(String, Status)> = Vec::new();
        let mut candidates: Vec<Candidate> = Vec::new();
        if !potential.is_empty() {
            let pdbs = self.lister.pod_disruption_budgets();
            let want = self.num_candidates(potential.len());
            let offset = rand::rng().random_range(0..potential.len());
            let mut non_violating = 0;
            for i in 0..potential.len() {
                let node = potential[(offset + i) % potential.len()];
                let mut st = state.clone();
                match select_victims_on_node(ctx.framework, &mut st, pod, node, &pdbs) {
                    Ok(c) => {
                        non_violating += usize::from(c.pdb_violations == 0);
                        candidates.push(c);
                        if non_violating > 0 && candidates.len() >= want {
                            break;
                        }
                    }
                    Err(s) => failed.push((node.name.to_string(), s)),
                }
            }
        }
        if candidates.is_empty() {
            if let Some((_, s)) = failed.iter().find(|(_, s)| s.code() == Code::Error) {
                return (None, s.clone());
            }
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for (_, s) in &failed {
                for r in s.reasons() {
                    *reasons.entry(r.to_string()).or_insert(0) += 1;
                }
            }
            if failed.len() < all.len() {
                *reasons.entry(NOT_HELPFUL.to_string()).or_insert(0) += all.len() - failed.len();
            }
            return (
                Some(PostFilterResult::default()),
                Status::unschedulable(fit_error_message(all.len(), &reasons)),
            );
        }
        // Non-violating candidates come first, as upstream concatenates its two lists.
        candidates.sort_by_key(|c| c.pdb_violations > 0);
        let Some(best) = pick_one(&candidates) else {
            return (
                None,
                Status::unschedulable("no candidate node for preemption"),
            );
        };
        let msg = format!(
            "found a potential placement for pod on node {}, preempting {} victims",
            best.node,
            best.victims.len()
        );
        let result = PostFilterResult {
            nominated_node_name: Some(best.node.clone()),
            victims: best.victims.clone(),
        };
        (Some(result), Status::new(Code::Success, msg))
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        // With asynchronous preemption (on by default), a pod waits for its victims to go.
        vec![ClusterEventWithHint::new(
            EventResource::AssignedPod,
            action::DELETE,
        )]
    }
    crate::serves!(pre_enqueue, post_filter);
}

impl PreEnqueuePlugin for DefaultPreemption {
    /// Upstream gates a pod whose asynchronous preemption is still running; the runtime
    /// owns that state, so this admits every pod.
    fn pre_enqueue(&self, _: &PodInfo) -> Status {
        Status::success()
    }
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        ctx: &PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status) {
        let (result, status) = self.evaluate(state, pod, ctx);
        let msg = status.message();
        if msg.is_empty() {
            return (result, status);
        }
        (
            result,
            Status::new(status.code(), format!("preemption: {msg}")),
        )
    }
}

#[cfg(test)]
mod tests;
