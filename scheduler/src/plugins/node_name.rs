//! NodeName: a pod with `spec.nodeName` fits only that node.

use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{ClusterEventWithHint, EventResource, action};
use crate::framework::{
    CycleState, FilterPlugin, Handle, Plugin, PreFilterPlugin, PreFilterResult, Status,
};
use crate::model::PodInfo;

/// Upstream's `NodeName`.
#[derive(Debug, Default)]
pub struct NodeName;

/// Registered name.
pub const NAME: &str = "NodeName";
/// Filter reason.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(NodeName))
}

fn wanted(pod: &PodInfo) -> Option<&str> {
    pod.pod()
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![ClusterEventWithHint::new(EventResource::Node, action::ADD)]
    }
    crate::serves!(pre_filter, filter);
}

impl PreFilterPlugin for NodeName {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        match wanted(pod) {
            Some(n) => {
                let mut set = FxHashSet::default();
                set.insert(n.to_string());
                (
                    Some(PreFilterResult {
                        node_names: Some(set),
                    }),
                    Status::success(),
                )
            }
            None => (None, Status::success()),
        }
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match wanted(pod) {
            Some(n) if n != &*node.name => Status::unresolvable(ERR_REASON),
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::test_support::{ninfo, pinfo};

    #[test]
    fn filter_table() {
        let node = ninfo("metadata: {name: foo}", &[]);
        let cases = [("", true), ("foo", true), ("bar", false)];
        for (want, ok) in cases {
            let p = pinfo(&format!(
                "metadata: {{name: p}}\nspec: {{containers: [], nodeName: '{want}'}}"
            ));
            let s = NodeName.filter(&CycleState::default(), &p, &node);
            assert_eq!(s.is_success(), ok, "{want}");
            if !ok {
                assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
                assert_eq!(s.message(), ERR_REASON);
            }
        }
        let p = pinfo("metadata: {name: p}\nspec: {containers: [], nodeName: foo}");
        let (r, _) = NodeName.pre_filter(&mut CycleState::default(), &p, &Snapshot::default());
        assert_eq!(
            r.unwrap()
                .node_names
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["foo".to_string()]
        );
    }
}
