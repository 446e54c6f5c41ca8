//! Builders for plugin tests: nodes and pods from YAML.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::cache::NodeInfo;
use crate::model::{PodInfo, SlimNode};

/// A Pod from YAML.
pub fn pod(yaml: &str) -> Pod {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("test pod parses: {e}\n{yaml}"))
}

/// A PodInfo from YAML.
pub fn pinfo(yaml: &str) -> PodInfo {
    PodInfo::new(Arc::new(pod(yaml)))
}

/// A Node from YAML, as the scheduler keeps it.
pub fn node(yaml: &str) -> SlimNode {
    let n: Node =
        serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("test node parses: {e}\n{yaml}"));
    SlimNode::new(&n)
}

/// A NodeInfo from node YAML and pod YAMLs.
pub fn ninfo(node_yaml: &str, pods: &[&str]) -> NodeInfo {
    let n = node(node_yaml);
    let mut ni = NodeInfo::new(&n.name);
    ni.set_node(Arc::new(n));
    // Placed pods in the form the cache keeps them: a plugin that reads more of them than
    // the slim form holds fails its tests (see `PodInfo::pod`).
    for p in pods {
        ni.add_pod(Arc::new(pinfo(p).slimmed()));
    }
    ni
}

/// A pod named `name` with labels, in namespace `default`, on `node` (if any).
pub fn simple_pod(name: &str, labels: &str, node: &str) -> String {
    let node = if node.is_empty() {
        String::new()
    } else {
        format!("\n  nodeName: {node}")
    };
    format!(
        "metadata: {{name: {name}, namespace: default, uid: {name}, labels: {{{labels}}}}}\nspec:\n  containers: [{{name: c, image: i}}]{node}\n"
    )
}

/// Borrowed views of `nodes`, as the framework passes feasible nodes to PreScore and
/// NormalizeScore.
pub fn refs(nodes: &[Arc<NodeInfo>]) -> Vec<&NodeInfo> {
    nodes.iter().map(|n| &**n).collect()
}
