//! What the plugins share, a file per topic: label and node selectors (in `model`),
//! required node affinity, taints and tolerations, score normalization, and labels.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::cache::NodeInfo;
use crate::model::Labels;

mod node_affinity;
mod scores;
mod taints;

pub use crate::model::selector::{
    NodeTerm, Op, Requirement, Selector, parse_node_selector, terms_match,
};
pub use node_affinity::RequiredNodeAffinity;
pub use scores::{MAX_NODE_SCORE, default_normalize};
pub use taints::{pod_tolerations, tolerated, tolerates, untolerated_taint};

/// `kubernetes.io/hostname`.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";

/// Labels of a node (empty when absent).
pub fn node_labels(node: &NodeInfo) -> &Labels {
    &node.labels
}

/// Labels of a pod (empty when absent).
pub fn pod_labels(pod: &Pod) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    pod.metadata.labels.as_ref().unwrap_or(&EMPTY)
}

#[cfg(test)]
mod tests;
