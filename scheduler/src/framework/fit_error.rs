//! Why a pod fits nowhere, worded exactly as upstream's `FitError`.

use std::collections::BTreeMap;

use super::{NodeStatusMap, Status};

/// The outcome of a failed filter pass.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    /// Status per rejected node.
    pub node_statuses: NodeStatusMap,
    /// Set when a PreFilter rejected the pod for every node.
    pub pre_filter_msg: Option<String>,
    /// Plugins that rejected the pod (drives precise requeueing).
    pub unschedulable_plugins: Vec<&'static str>,
    /// Appended after the node reasons (preemption's explanation).
    pub post_filter_msg: Option<String>,
    /// The status of every node without one in `node_statuses`: those a PreFilter's node
    /// set left out (upstream's absent-nodes status).
    pub absent_status: Option<Status>,
}

/// No node can run the pod.
#[derive(Debug, Clone)]
pub struct FitError {
    /// Nodes in the snapshot.
    pub num_all_nodes: usize,
    /// Why.
    pub diagnosis: Diagnosis,
}

impl FitError {
    /// Records a rejecting status (for requeue hints).
    pub fn note_plugin(diagnosis: &mut Diagnosis, status: &Status) {
        let p = status.plugin();
        if !p.is_empty() && !diagnosis.unschedulable_plugins.contains(&p) {
            diagnosis.unschedulable_plugins.push(p);
        }
    }

    /// `0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {k: v}.`
    /// plus the PostFilter message when preemption ran.
    pub fn message(&self) -> String {
        let mut msg = if let Some(pre) = &self.diagnosis.pre_filter_msg {
            format!("0/{} nodes are available: {}.", self.num_all_nodes, pre)
        } else {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for status in self.diagnosis.node_statuses.values() {
                for reason in status.reasons() {
                    *counts.entry(reason.as_ref()).or_default() += 1;
                }
            }
            let absent = self
                .num_all_nodes
                .saturating_sub(self.diagnosis.node_statuses.len());
            if let Some(status) = self.diagnosis.absent_status.as_ref().filter(|_| absent > 0) {
                for reason in status.reasons() {
                    *counts.entry(reason.as_ref()).or_default() += absent;
                }
            }
            let mut parts: Vec<String> = counts
                .into_iter()
                .map(|(r, n)| format!("{n} {r}"))
                .collect();
            parts.sort();
            format!(
                "0/{} nodes are available: {}.",
                self.num_all_nodes,
                parts.join(", ")
            )
        };
        if let Some(post) = self
            .diagnosis
            .post_filter_msg
            .as_deref()
            .filter(|m| !m.is_empty())
        {
            msg.push(' ');
            msg.push_str(post);
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_counted_and_sorted_as_upstream() {
        let mut d = Diagnosis::default();
        for (node, reason) in [
            ("a", "Insufficient cpu"),
            ("b", "Insufficient cpu"),
            ("c", "node(s) had untolerated taint {k: v}"),
        ] {
            d.node_statuses
                .insert(node.into(), Status::unschedulable(reason));
        }
        d.node_statuses.insert(
            "d".into(),
            Status::with_reasons(
                crate::framework::Code::Unschedulable,
                vec!["Insufficient cpu", "Insufficient memory"],
            ),
        );
        d.post_filter_msg = Some(
            "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
                .into(),
        );
        let e = FitError {
            num_all_nodes: 4,
            diagnosis: d,
        };
        assert_eq!(
            e.message(),
            "0/4 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {k: v}, 3 Insufficient cpu. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
        );
    }
}
