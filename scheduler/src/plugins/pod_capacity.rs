//! PodCapacityOfNode (Ferrosched's own): fewer pods on a node scores higher,
//! `100 × (1 − pods / allocatable pods)`, rounded down.

use std::sync::Arc;

use crate::cache::NodeInfo;
use crate::config::PluginArgsSet;
use crate::framework::{CycleState, Handle, Plugin, ScorePlugin, Status};
use crate::model::PodInfo;
use crate::plugins::helpers::MAX_NODE_SCORE;

/// Registered name.
pub const NAME: &str = "PodCapacityOfNode";

/// Ferrosched's `PodCapacityOfNode`.
#[derive(Debug, Default)]
pub struct PodCapacityOfNode;

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(PodCapacityOfNode))
}

/// The score of a node holding `pods` out of `allocatable` pod slots.
pub fn capacity_score(pods: i64, allocatable: i64) -> i64 {
    if allocatable <= 0 {
        return 0;
    }
    let free = allocatable.saturating_sub(pods).clamp(0, allocatable);
    // In i128: a node may claim up to i64::MAX pod slots (issue #20).
    let score = i128::from(MAX_NODE_SCORE) * i128::from(free) / i128::from(allocatable);
    i64::try_from(score).unwrap_or(MAX_NODE_SCORE)
}

impl Plugin for PodCapacityOfNode {
    fn name(&self) -> &'static str {
        NAME
    }
    crate::serves!(score);
}

impl ScorePlugin for PodCapacityOfNode {
    fn score(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        Ok(capacity_score(
            node.pods.len() as i64,
            node.allocatable.allowed_pod_number,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{ninfo, pinfo, simple_pod};

    #[test]
    fn score_table() {
        for (pods, alloc, want) in [
            (17, 110, 84),
            (21, 110, 80),
            (25, 110, 77),
            (0, 110, 100),
            (110, 110, 0),
            (120, 110, 0),
            (3, 0, 0),
            (1, 3, 66),
            (0, i64::MAX, 100),
            (i64::MAX / 2, i64::MAX, 50),
            (-5, i64::MAX, 100),
            (i64::MIN, 1, 100),
        ] {
            assert_eq!(capacity_score(pods, alloc), want, "{pods}/{alloc}");
        }
        let pods: Vec<String> = (0..17)
            .map(|i| simple_pod(&format!("p{i}"), "", "n"))
            .collect();
        let refs: Vec<&str> = pods.iter().map(String::as_str).collect();
        let n = ninfo(
            "metadata: {name: n}\nstatus: {allocatable: {pods: '110'}}",
            &refs,
        );
        let p = pinfo(&simple_pod("x", "", ""));
        assert_eq!(
            PodCapacityOfNode
                .score(&CycleState::default(), &p, &n)
                .unwrap(),
            84
        );
    }
}
