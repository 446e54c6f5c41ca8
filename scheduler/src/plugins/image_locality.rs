//! ImageLocality: favour nodes that already have the pod's images, scaled by how widely
//! each image is spread (so one node holding a rare image does not attract everything).

use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Node;
use rustc_hash::FxHashMap;

use crate::cache::NodeInfo;
use crate::config::PluginArgsSet;
use crate::framework::{CycleState, Handle, Plugin, ScorePlugin, Status};
use crate::model::PodInfo;
use crate::plugins::helpers::{AllNodes, MAX_NODE_SCORE};

/// Registered name.
pub const NAME: &str = "ImageLocality";

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// How many nodes list each image name, maintained incrementally across cycles by
/// comparing the Node objects (until the cache keeps image states itself).
#[derive(Default)]
struct ImageIndex {
    nodes: FxHashMap<String, Arc<Node>>,
    counts: Arc<FxHashMap<String, u32>>,
}

fn names_of(node: &Node) -> impl Iterator<Item = &str> {
    node.status
        .iter()
        .flat_map(|s| s.images.iter().flatten())
        .flat_map(|i| i.names.iter().flatten())
        .map(String::as_str)
}

impl ImageIndex {
    fn refresh(&mut self, all: &[Arc<NodeInfo>]) -> Arc<FxHashMap<String, u32>> {
        let changed = all.len() != self.nodes.len()
            || all
                .iter()
                .any(|ni| match (&ni.node, self.nodes.get(&ni.name)) {
                    (Some(n), Some(old)) => !Arc::ptr_eq(n, old),
                    (None, None) => false,
                    _ => true,
                });
        if !changed {
            return self.counts.clone();
        }
        let mut counts = FxHashMap::default();
        let mut nodes = FxHashMap::default();
        for ni in all {
            if let Some(n) = &ni.node {
                let mut seen: Vec<&str> = Vec::new();
                for name in names_of(n) {
                    if !seen.contains(&name) {
                        seen.push(name);
                        *counts.entry(name.to_string()).or_insert(0) += 1;
                    }
                }
                nodes.insert(ni.name.clone(), n.clone());
            }
        }
        self.nodes = nodes;
        self.counts = Arc::new(counts);
        self.counts.clone()
    }
}

/// Upstream's `ImageLocality`.
#[derive(Default)]
pub struct ImageLocality {
    index: Mutex<ImageIndex>,
}

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(ImageLocality::default()))
}

/// Appends `:latest` when the image has no tag (upstream's normalization; no registry prefix).
pub fn normalized_image_name(name: &str) -> std::borrow::Cow<'_, str> {
    if untagged(name) {
        format!("{name}:latest").into()
    } else {
        name.into()
    }
}

/// Whether `image` needs `:latest` appended to be normalized.
fn untagged(image: &str) -> bool {
    let colon = image.rfind(':').map(|i| i as isize).unwrap_or(-1);
    let slash = image.rfind('/').map(|i| i as isize).unwrap_or(-1);
    colon <= slash
}

/// The size of `image` on the node and the node's name for it (the normalized image name),
/// without building the normalized string.
fn image_on<'a>(node: &'a Node, image: &str) -> Option<(i64, &'a str)> {
    let add_latest = untagged(image);
    let same = |n: &str| {
        if add_latest {
            n.strip_suffix(":latest") == Some(image)
        } else {
            n == image
        }
    };
    node.status
        .iter()
        .flat_map(|s| s.images.iter().flatten())
        .find_map(|i| {
            i.names
                .iter()
                .flatten()
                .find(|n| same(n))
                .map(|n| (i.size_bytes.unwrap_or(0), n.as_str()))
        })
}

/// Upstream's `calculatePriority`.
pub fn calculate_priority(sum: i64, image_count: usize) -> i64 {
    let max_threshold = MAX_CONTAINER_THRESHOLD * image_count as i64;
    let sum = if sum < MIN_THRESHOLD {
        MIN_THRESHOLD
    } else {
        sum.min(max_threshold)
    };
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

/// The node's score given the cluster's per-image node counts and node total.
pub fn score_with(
    pod: &PodInfo,
    node: &NodeInfo,
    counts: &FxHashMap<String, u32>,
    total: usize,
) -> i64 {
    let Some(n) = &node.node else { return 0 };
    let Some(spec) = pod.pod.spec.as_ref() else {
        return 0;
    };
    let mut sum = 0i64;
    let mut count = 0usize;
    let mut add = |image: &str| {
        if let Some((size, name)) = image_on(n, image) {
            let spread = f64::from(counts.get(name).copied().unwrap_or(1)) / total.max(1) as f64;
            sum += (size as f64 * spread) as i64;
        }
    };
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
    {
        add(c.image.as_deref().unwrap_or(""));
        count += 1;
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(img) = &v.image {
            add(img.reference.as_deref().unwrap_or(""));
            count += 1;
        }
    }
    if count == 0 {
        return 0;
    }
    calculate_priority(sum, count)
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
}

impl ScorePlugin for ImageLocality {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(all) = state.get::<AllNodes>() else {
            // No PreFilter of ours ran (NodeResourcesFit disabled): spread unknown, count the
            // image as present on this node only.
            return Ok(score_with(pod, node, &FxHashMap::default(), 1));
        };
        let counts = all.images.get_or_init(|| {
            let mut idx = self.index.lock().unwrap_or_else(|e| e.into_inner());
            idx.refresh(&all.nodes)
        });
        Ok(score_with(pod, node, counts, all.nodes.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Snapshot;
    use crate::plugins::helpers::ensure_all_nodes;
    use crate::plugins::helpers::testutil::{ninfo, pinfo};

    fn node(name: &str, images: &[(&[&str], i64)]) -> NodeInfo {
        let imgs: Vec<String> = images
            .iter()
            .map(|(names, size)| format!("{{names: [{}], sizeBytes: {size}}}", names.join(", ")))
            .collect();
        ninfo(
            &format!(
                "metadata: {{name: {name}}}\nstatus: {{images: [{}]}}",
                imgs.join(", ")
            ),
            &[],
        )
    }

    fn pod(images: &[&str]) -> PodInfo {
        let cs: Vec<String> = images
            .iter()
            .enumerate()
            .map(|(i, img)| format!("{{name: c{i}, image: '{img}'}}"))
            .collect();
        pinfo(&format!(
            "metadata: {{name: p}}\nspec: {{containers: [{}]}}",
            cs.join(", ")
        ))
    }

    fn run(pod: &PodInfo, nodes: Vec<NodeInfo>) -> Vec<i64> {
        let snap = Snapshot::from_nodes(nodes);
        let mut st = CycleState::default();
        ensure_all_nodes(&mut st, &snap);
        let pl = ImageLocality::default();
        snap.nodes()
            .iter()
            .map(|n| pl.score(&st, pod, n).unwrap())
            .collect()
    }

    #[test]
    fn score_table() {
        // From upstream's TestImageLocalityPriority: node1 has gcr.io/40:latest (40MB) and
        // gcr.io/300:latest (300MB); node2 has gcr.io/250:latest (250MB) and gcr.io/10:latest (10MB).
        let n1 = || {
            node(
                "node1",
                &[
                    (&["gcr.io/40:latest", "gcr.io/40:v1"], 40 * MB),
                    (&["gcr.io/300:latest", "gcr.io/300:v1"], 300 * MB),
                ],
            )
        };
        let n2 = || {
            node(
                "node2",
                &[
                    (&["gcr.io/250:latest"], 250 * MB),
                    (&["gcr.io/10:latest", "gcr.io/10:v1"], 10 * MB),
                ],
            )
        };
        // Pod with gcr.io/40 and gcr.io/250: node1 (40*1/2=20MB → 0), node2 (250/2=125 → 5).
        assert_eq!(
            run(&pod(&["gcr.io/40", "gcr.io/250"]), vec![n1(), n2()]),
            [0, 5]
        );
        // gcr.io/40 and gcr.io/300: node1 (40/2 + 300/2 = 170MB → 7), node2 0.
        assert_eq!(
            run(&pod(&["gcr.io/40", "gcr.io/300"]), vec![n1(), n2()]),
            [7, 0]
        );
        // gcr.io/300 and gcr.io/10: node1 150MB → 6, node2 5MB → 0.
        assert_eq!(
            run(&pod(&["gcr.io/300", "gcr.io/10"]), vec![n1(), n2()]),
            [6, 0]
        );
        // Image present on every node: spread 1.
        let n3 = || node("node3", &[(&["gcr.io/2000:latest"], 2000 * MB)]);
        assert_eq!(run(&pod(&["gcr.io/2000"]), vec![n3()]), [100]);
        assert_eq!(normalized_image_name("a/b:1"), "a/b:1");
        assert_eq!(normalized_image_name("host:5000/b"), "host:5000/b:latest");
    }
}
