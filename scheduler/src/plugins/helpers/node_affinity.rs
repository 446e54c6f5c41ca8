//! A pod's `nodeSelector` and required node affinity together, as every plugin that
//! places a pod by node labels reads them.

use k8s_openapi::api::core::v1::Pod;

use crate::cache::NodeInfo;
use crate::model::selector::{NodeTerm, Selector, parse_node_selector, terms_match};
use crate::model::{LabelSet, SlimNode};

use super::node_labels;

/// A pod's `nodeSelector` plus required node affinity (upstream's `RequiredNodeAffinity`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequiredNodeAffinity {
    selector: Option<Selector>,
    terms: Option<Vec<NodeTerm>>,
}

impl RequiredNodeAffinity {
    /// Built from the pod's spec.
    pub fn of(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        let selector = spec
            .and_then(|s| s.node_selector.as_ref())
            .map(Selector::from_set);
        let terms = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(parse_node_selector);
        RequiredNodeAffinity { selector, terms }
    }

    /// Whether the pod has neither a nodeSelector nor required node affinity.
    pub fn is_empty(&self) -> bool {
        self.selector.is_none() && self.terms.is_none()
    }

    /// Whether the node matches.
    pub fn matches_labels<L: LabelSet + ?Sized>(&self, name: &str, labels: &L) -> bool {
        if let Some(s) = &self.selector
            && !s.matches(labels)
        {
            return false;
        }
        self.terms
            .as_ref()
            .is_none_or(|t| terms_match(t, name, labels))
    }

    /// Whether `node` matches.
    pub fn matches(&self, node: &NodeInfo) -> bool {
        self.matches_labels(&node.name, node_labels(node))
    }

    /// Whether the Node (as the scheduler keeps it) matches.
    pub fn matches_node(&self, node: &SlimNode) -> bool {
        self.matches_labels(&node.name, &node.labels)
    }
}
