//! What a failed attempt writes to the pod's `status.nominatedNodeName`.

use crate::model::PodInfo;
use crate::queue::{Nominating, status_nominated_node};

/// The `status.nominatedNodeName` to write after a failed attempt, as upstream's `updatePod`
/// decides: only an override that differs from the pod's status (an empty name clears it).
pub fn status_patch(pod: &PodInfo, how: &Nominating) -> Option<String> {
    match how {
        Nominating::Override(node) if status_nominated_node(pod).unwrap_or("") != node => {
            Some(node.clone())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Pod;

    use super::*;

    fn pod(nominated: &str) -> PodInfo {
        let yaml = format!(
            "metadata: {{name: p, namespace: ns, uid: p}}\nspec: {{containers: [{{name: c, image: x}}]}}\nstatus: {{nominatedNodeName: '{nominated}'}}\n"
        );
        let p: Pod = serde_saphyr::from_str(&yaml).expect("pod yaml");
        PodInfo::new(Arc::new(p))
    }

    #[test]
    fn only_a_changed_override_is_written() {
        let set = |n: &str| Nominating::Override(n.into());
        assert_eq!(status_patch(&pod(""), &set("n1")).as_deref(), Some("n1"));
        assert_eq!(status_patch(&pod("n1"), &set("n1")), None, "unchanged");
        assert_eq!(
            status_patch(&pod("n1"), &set("")).as_deref(),
            Some(""),
            "cleared"
        );
        assert_eq!(status_patch(&pod(""), &set("")), None, "nothing to clear");
        assert_eq!(status_patch(&pod("n1"), &Nominating::FromStatus), None);
    }
}
