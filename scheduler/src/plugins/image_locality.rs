//! ImageLocality: favour nodes that already have the pod's images, scaled by how widely
//! each image is spread (so one node holding a rare image does not attract everything).

use std::sync::Arc;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::{CycleState, Handle, Plugin, PreScorePlugin, ScorePlugin, Status};
use crate::model::PodInfo;
use crate::plugins::helpers::MAX_NODE_SCORE;

/// Registered name.
pub const NAME: &str = "ImageLocality";

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// Upstream's `ImageLocality`. Its PreScore (ours; upstream's Score does the same work per
/// node) resolves the pod's images against the snapshot's per-image node counts once, so
/// Score is a hash lookup per image, and the plugin skips pods whose images no node has.
#[derive(Debug, Default)]
pub struct ImageLocality;

/// The pod's images that some node has, each with its scaled score (upstream's
/// `scaledImageScore`: the cluster-wide size times the spread, nodes having it / all
/// nodes), and the pod's image count (the denominator of upstream's threshold).
#[derive(Debug, Clone)]
struct PodImages {
    present: Vec<(String, i64)>,
    count: usize,
}

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(ImageLocality))
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

/// The pod's image references in upstream's order: init containers, containers, then
/// image volumes.
fn pod_images(pod: &PodInfo) -> Vec<&str> {
    let Some(spec) = pod.pod().spec.as_ref() else {
        return Vec::new();
    };
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| c.image.as_deref().unwrap_or(""));
    let volumes = spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.image.as_ref())
        .map(|i| i.reference.as_deref().unwrap_or(""));
    containers.chain(volumes).collect()
}

/// The node's score for `images` (upstream's `sumImageScores` then `calculatePriority`).
fn score_node(images: &PodImages, node: &NodeInfo) -> i64 {
    // Every node holding an image counts the same size: the one upstream's cache saw first
    // for that name, not the node's own (mutable tags differ in size across nodes).
    let sum: i64 = images
        .present
        .iter()
        .filter(|(name, _)| node.images.contains_key(name))
        .map(|(_, scaled)| *scaled)
        // Saturating: a node may report sizes near i64::MAX (issue #20).
        .fold(0i64, i64::saturating_add);
    calculate_priority(sum, images.count)
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }
    crate::serves!(pre_score, score);
}

impl PreScorePlugin for ImageLocality {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        _: &[&NodeInfo],
    ) -> Status {
        let images = pod_images(pod);
        let total = snapshot.len().max(1) as f64;
        let present: Vec<(String, i64)> = images
            .iter()
            .map(|i| normalized_image_name(i))
            .filter_map(|name| {
                let state = snapshot.image_state(&name).filter(|s| s.nodes > 0)?;
                let spread = f64::from(state.nodes) / total;
                Some((name.into_owned(), (state.size as f64 * spread) as i64))
            })
            .collect();
        if present.is_empty() {
            // No node has any of the pod's images: every node scores 0.
            return Status::skip();
        }
        state.insert(PodImages {
            present,
            count: images.len(),
        });
        Status::success()
    }
}

impl ScorePlugin for ImageLocality {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        state
            .get::<PodImages>()
            .map(|images| score_node(images, node))
            .ok_or_else(|| Status::error("failed to read PreScore ImageLocality from cycleState"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{ninfo, pinfo};

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
        let pl = ImageLocality;
        if pl
            .pre_score(
                &mut st,
                pod,
                &snap,
                &crate::test_support::refs(snap.nodes()),
            )
            .is_skip()
        {
            return vec![0; snap.len()];
        }
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
        // Sizes whose sum overflows i64 (issue #20).
        let huge = || node("huge", &[(&["a:1"], i64::MAX), (&["b:1"], i64::MAX)]);
        assert_eq!(run(&pod(&["a:1", "b:1"]), vec![huge()]), [100]);
        assert_eq!(normalized_image_name("a/b:1"), "a/b:1");
        assert_eq!(normalized_image_name("host:5000/b"), "host:5000/b:latest");
    }

    #[test]
    fn mutable_tag_scores_with_the_size_seen_first() {
        // Three nodes report app:latest with different sizes (a mutable tag). Upstream's
        // cache keeps the size of the first node that reported the name (n1: 500MB) and
        // scores every holder with it: 500MB * 3/3 = 500MB -> 48 on all three, where each
        // node's own size would give 48, 0 and 100.
        let nodes = || {
            vec![
                node("n1", &[(&["app:latest"], 500 * MB)]),
                node("n2", &[(&["app:latest"], 10 * MB)]),
                node("n3", &[(&["app:latest"], 2000 * MB)]),
            ]
        };
        assert_eq!(run(&pod(&["app"]), nodes()), [48, 48, 48]);
        // Listed in another order, the first reporter (now n3, 2000MB) sets the size.
        let mut reversed = nodes();
        reversed.reverse();
        assert_eq!(run(&pod(&["app"]), reversed), [100, 100, 100]);
    }
}
