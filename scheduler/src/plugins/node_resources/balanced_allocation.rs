//! NodeResourcesBalancedAllocation: favour nodes whose resource fractions stay even
//! once the pod is placed (upstream's standard-deviation formula, comparing the node
//! with and without the pod).

use std::sync::Arc;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::{CycleState, Handle, Plugin, PreScorePlugin, ScorePlugin, Status};
use crate::model::PodInfo;
use crate::plugins::helpers::MAX_NODE_SCORE;
use crate::plugins::node_resources::resource_allocation::{
    ResourceName, balanced_score, pod_request, resource_triplet,
};

/// Registered name.
pub const NAME: &str = "NodeResourcesBalancedAllocation";

/// Upstream's `NodeResourcesBalancedAllocation`.
#[derive(Debug)]
pub struct BalancedAllocation {
    resources: Vec<ResourceName>,
}

/// Factory.
pub fn new(args: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(BalancedAllocation::from_args(args)))
}

impl BalancedAllocation {
    /// Built from the profile's args.
    pub fn from_args(args: &PluginArgsSet) -> Self {
        BalancedAllocation {
            resources: args
                .node_resources_balanced_allocation
                .resources
                .iter()
                .map(|r| ResourceName::parse(&r.name))
                .collect(),
        }
    }

    fn best_effort(&self, pod: &PodInfo) -> bool {
        self.resources
            .iter()
            .all(|r| pod_request(pod, r, false) == 0)
    }

    fn score_node(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        const INLINE: usize = 8;
        let (mut with, mut without) = ([0f64; INLINE], [0f64; INLINE]);
        let (mut with_v, mut without_v) = (Vec::new(), Vec::new());
        let mut n = 0;
        for name in &self.resources {
            let req = pod_request(pod, name, false);
            let Some((requested, allocated, allocatable)) =
                resource_triplet(req, node, name, false)
            else {
                continue;
            };
            // Upstream caps at 1; the floor only matters for invalid negative amounts.
            let f = |v: i64| (v as f64 / allocatable as f64).clamp(0.0, 1.0);
            if n < INLINE {
                with[n] = f(requested);
                without[n] = f(allocated);
            } else {
                if n == INLINE {
                    with_v.extend_from_slice(&with);
                    without_v.extend_from_slice(&without);
                }
                with_v.push(f(requested));
                without_v.push(f(allocated));
            }
            n += 1;
        }
        let (w, wo) = if n <= INLINE {
            (&with[..n], &without[..n])
        } else {
            (&with_v[..], &without_v[..])
        };
        let with_pod = balanced_score(w);
        let without_pod = balanced_score(wo);
        MAX_NODE_SCORE / 2 + (MAX_NODE_SCORE / 2 + with_pod - without_pod) / 2
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }
    crate::serves!(pre_score, score);
}

impl PreScorePlugin for BalancedAllocation {
    fn pre_score(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
        _: &[&NodeInfo],
    ) -> Status {
        if self.best_effort(pod) {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        if self.best_effort(pod) {
            return Ok(0);
        }
        Ok(self.score_node(pod, node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ResourceWeight;
    use crate::plugins::node_resources::fit::tests::{cap_node, req_pod};
    use crate::test_support::pinfo;

    fn plugin(resources: &[&str]) -> BalancedAllocation {
        let mut args = PluginArgsSet::default();
        args.node_resources_balanced_allocation.resources = resources
            .iter()
            .map(|r| ResourceWeight {
                name: r.to_string(),
                weight: 1,
            })
            .collect();
        BalancedAllocation::from_args(&args)
    }

    #[test]
    fn score_table() {
        // From upstream's TestNodeResourcesBalancedAllocation.
        let pl = plugin(&["cpu", "memory"]);
        let n = |name: &str, cpu: &str, mem: &str, pods: Vec<String>| {
            cap_node(name, &[("cpu", cpu), ("memory", mem)], &pods)
        };
        let cm = |c: &str, m: &str| vec![("cpu", c.to_string()), ("memory", m.to_string())];
        let mk = |name: &str, node: &str, cs: Vec<Vec<(&str, String)>>| {
            let cs: Vec<Vec<(&str, &str)>> = cs
                .iter()
                .map(|c| c.iter().map(|(k, v)| (*k, v.as_str())).collect())
                .collect();
            let refs: Vec<&[(&str, &str)]> = cs.iter().map(|c| c.as_slice()).collect();
            req_pod(name, node, &refs)
        };
        let pod = mk("p", "", vec![cm("1000m", "2000"), cm("2000m", "3000")]);
        let cpu_only = mk(
            "e1",
            "n1",
            vec![vec![("cpu", "1000m".into())], vec![("cpu", "2000m".into())]],
        );
        let both = mk("e2", "n2", vec![cm("1000m", "2000"), cm("2000m", "3000")]);
        let run = |pl: &BalancedAllocation, pod: &str, nodes: &[NodeInfo]| -> Vec<i64> {
            let p = pinfo(pod);
            nodes
                .iter()
                .map(|n| pl.score(&CycleState::default(), &p, n).unwrap())
                .collect()
        };
        assert!(
            pl.pre_score(
                &mut CycleState::default(),
                &pinfo(&req_pod("p", "", &[])),
                &Snapshot::default(),
                &[]
            )
            .is_skip()
        );
        assert_eq!(
            run(
                &pl,
                &pod,
                &[n("n1", "4", "10000", vec![]), n("n2", "6", "10000", vec![])]
            ),
            [68, 75]
        );
        assert_eq!(
            run(
                &pl,
                &pod,
                &[
                    n("n1", "10", "20000", vec![cpu_only.clone()]),
                    n("n2", "10", "20000", vec![both.clone()])
                ]
            ),
            [73, 74]
        );
        assert_eq!(
            run(
                &pl,
                &pod,
                &[
                    n("n1", "10", "20000", vec![cpu_only.clone()]),
                    n("n2", "10", "50000", vec![both.clone()])
                ]
            ),
            [73, 70]
        );
        let mem_pod = mk(
            "p",
            "",
            vec![
                vec![("memory", "2000".into())],
                vec![("memory", "3000".into())],
            ],
        );
        assert_eq!(
            run(
                &pl,
                &mem_pod,
                &[
                    n("n1", "3", "5000", vec![cpu_only.clone()]),
                    n("n2", "3", "5000", vec![])
                ]
            ),
            [100, 50]
        );
        let cpu_pod = mk(
            "p",
            "",
            vec![vec![("cpu", "1000m".into())], vec![("cpu", "2000m".into())]],
        );
        assert_eq!(
            run(
                &pl,
                &cpu_pod,
                &[
                    n("n1", "6", "10000", vec![cpu_only.clone()]),
                    n("n2", "6", "10000", vec![both.clone()])
                ]
            ),
            [62, 62]
        );

        let gpl = plugin(&["cpu", "memory", "nvidia.com/gpu"]);
        let g = |name: &str, gpu: bool, pods: Vec<String>| {
            let mut a = vec![("cpu", "3500m"), ("memory", "40000")];
            if gpu {
                a.push(("nvidia.com/gpu", "8"));
            }
            cap_node(name, &a, &pods)
        };
        let gpu_pod = mk(
            "p",
            "",
            vec![vec![
                ("cpu", "0".into()),
                ("memory", "0".into()),
                ("nvidia.com/gpu", "1".into()),
            ]],
        );
        let e1 = mk(
            "e1",
            "n1",
            vec![
                cm("1000m", "2000"),
                vec![
                    ("cpu", "2000m".into()),
                    ("memory", "3000".into()),
                    ("nvidia.com/gpu", "3".into()),
                ],
            ],
        );
        assert_eq!(
            run(
                &gpl,
                &gpu_pod,
                &[g("n1", true, vec![e1]), g("n2", true, vec![both.clone()])]
            ),
            [75, 76]
        );
        assert_eq!(
            run(&gpl, &pod, &[g("n1", true, vec![]), g("n2", false, vec![])]),
            [56, 56]
        );
    }
}
