//! What the scheduler keeps of a Node: the fields its plugins and queueing hints read,
//! already parsed. A k8s-openapi `Node` is over a kilobyte inline before any of its
//! strings and maps; 5,000 of them were the largest item in a benchmark's heap.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};
use rustc_hash::FxHashMap;

use crate::model::resources::node_allocatable;
use crate::model::{Labels, Resource};

/// A Node as the cache and the queueing hints see it. Two `SlimNode`s are equal when
/// nothing the scheduler reads differs, so kubelet heartbeats compare equal and are skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlimNode {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: Labels,
    /// `metadata.annotations` (compared for upstream's `UpdateNodeAnnotation`).
    pub annotations: BTreeMap<String, String>,
    /// `spec.taints`.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// `status.allocatable` (or `status.capacity` when allocatable is unset), parsed.
    pub allocatable: Resource,
    /// `status.conditions`: type and status of each (what a condition change compares).
    pub conditions: Vec<(String, String)>,
    /// `status.declaredFeatures`.
    pub declared_features: Vec<String>,
    /// Every name of every image in `status.images`, with the image's size.
    pub images: Arc<FxHashMap<String, i64>>,
}

impl SlimNode {
    /// Reads what the scheduler keeps of `node`.
    pub fn new(node: &Node) -> Self {
        let meta = &node.metadata;
        let spec = node.spec.as_ref();
        let status = node.status.as_ref();
        SlimNode {
            name: meta.name.clone().unwrap_or_default(),
            labels: meta
                .labels
                .as_ref()
                .map(Labels::from_map)
                .unwrap_or_default(),
            annotations: meta.annotations.clone().unwrap_or_default(),
            taints: spec.and_then(|s| s.taints.clone()).unwrap_or_default(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            allocatable: node_allocatable(node),
            conditions: status
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .map(|c| (c.type_.clone(), c.status.clone()))
                .collect(),
            declared_features: status
                .and_then(|s| s.declared_features.clone())
                .unwrap_or_default(),
            images: Arc::new(image_sizes(node)),
        }
    }

    /// The value of label `key`, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key)
    }

    /// Takes `old`'s label set and image map where they are equal to this node's, so an
    /// update that leaves them alone keeps sharing them (and the cache keeps one copy).
    pub fn share_unchanged(&mut self, old: &SlimNode) {
        if self.labels == old.labels {
            self.labels = old.labels.clone();
        }
        if self.images == old.images {
            self.images = old.images.clone();
        }
    }
}

impl From<&Node> for SlimNode {
    fn from(node: &Node) -> Self {
        SlimNode::new(node)
    }
}

/// Name → size of every image the node reports (each of an image's names maps to its size).
fn image_sizes(node: &Node) -> FxHashMap<String, i64> {
    let mut out = FxHashMap::default();
    for image in node.status.iter().flat_map(|s| s.images.iter().flatten()) {
        for name in image.names.iter().flatten() {
            out.entry(name.clone())
                .or_insert(image.size_bytes.unwrap_or(0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(yaml: &str) -> Node {
        serde_saphyr::from_str(yaml).expect("test node parses")
    }

    #[test]
    fn keeps_what_plugins_read_and_parses_it() {
        let n = SlimNode::new(&node(
            "metadata: {name: n, labels: {zone: z}, annotations: {a: b}}\nspec: {unschedulable: true, taints: [{key: k, effect: NoSchedule}]}\nstatus:\n  capacity: {cpu: '8'}\n  allocatable: {cpu: 3500m, memory: 1Gi, pods: '10'}\n  conditions: [{type: Ready, status: 'True', reason: KubeletReady}]\n  declaredFeatures: [F1]\n  images: [{names: ['a:1', 'a@sha'], sizeBytes: 7}]\n",
        ));
        assert_eq!(n.name, "n");
        assert_eq!(n.label("zone"), Some("z"));
        assert_eq!(n.annotations.get("a").map(String::as_str), Some("b"));
        assert!(n.unschedulable);
        assert_eq!(n.taints.len(), 1);
        assert_eq!(
            n.allocatable.milli_cpu, 3500,
            "allocatable wins over capacity"
        );
        assert_eq!(n.allocatable.memory, 1 << 30);
        assert_eq!(n.allocatable.allowed_pod_number, 10);
        assert_eq!(n.conditions, vec![("Ready".into(), "True".into())]);
        assert_eq!(n.declared_features, vec!["F1".to_string()]);
        assert_eq!(n.images.get("a@sha"), Some(&7));
    }

    #[test]
    fn capacity_stands_in_for_missing_allocatable() {
        let n = SlimNode::new(&node(
            "metadata: {name: n}\nstatus: {capacity: {cpu: '2'}}\n",
        ));
        assert_eq!(n.allocatable.milli_cpu, 2000);
    }
}
