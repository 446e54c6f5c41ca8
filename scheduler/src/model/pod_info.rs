//! A pod with what the scheduler derives from it once, instead of once per node.

use std::sync::{Arc, LazyLock};

use k8s_openapi::api::core::v1::{Pod, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::affinity::AffinityTerms;
use super::labels::Labels;
use super::resources::{Resource, pod_non_zero_requests, pod_requests};

/// A host port a container asks for: (ip, protocol, port). An empty ip means every address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host IP (`0.0.0.0` when unset).
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port number.
    pub port: i32,
}

/// What a [`PodInfo`] keeps of the pod object.
#[derive(Debug, Clone)]
enum Object {
    /// The whole pod: pods waiting to be scheduled, whose every field a plugin may read.
    Full(Arc<Pod>),
    /// Only what plugins read of a pod already on a node (see [`PodInfo::slimmed`]).
    Placed(Arc<Placed>),
}

/// The fields plugins read of a pod already on a node. A k8s-openapi `Pod` is 2.4 KiB
/// before any heap data, most of it for fields no plugin reads of a placed pod.
#[derive(Debug, Default)]
struct Placed {
    namespace: String,
    name: String,
    resource_version: Option<String>,
    deletion_timestamp: Option<Time>,
    node_name: Option<String>,
    scheduler_name: Option<String>,
    volumes: Vec<Volume>,
    start_time: Option<Time>,
    disrupted_by_preemption: bool,
}

/// A pod plus its derived scheduling facts.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// The pod object, whole or only the fields read of a placed pod.
    object: Object,
    /// `metadata.labels`, shared by the whole and the slimmed form.
    labels: Labels,
    /// `metadata.uid` (falls back to namespace/name for objects without one, e.g. in tests).
    pub uid: String,
    /// `namespace/name`.
    pub key: String,
    /// Effective requests ([`pod_requests`]).
    pub requests: Resource,
    /// CPU and memory with upstream's non-zero defaults, for scoring.
    pub non_zero_cpu: i64,
    /// Memory with upstream's non-zero default, for scoring.
    pub non_zero_memory: i64,
    /// Host ports of all containers.
    pub host_ports: Vec<HostPort>,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    /// The pod has pod affinity or anti-affinity terms.
    pub has_affinity: bool,
    /// The pod has required pod anti-affinity terms.
    pub has_required_anti_affinity: bool,
    /// The pod has terms that score other pods: required affinity (scored with
    /// hardPodAffinityWeight), preferred affinity or preferred anti-affinity.
    pub has_scoring_affinity: bool,
    /// Its pod (anti-)affinity terms, parsed once (None: it has none).
    affinity_terms: Option<Arc<AffinityTerms>>,
}

impl PodInfo {
    /// Derives the scheduling facts of `pod`.
    pub fn new(pod: Arc<Pod>) -> Self {
        let meta = &pod.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        let key = format!("{namespace}/{name}");
        let uid = meta.uid.clone().unwrap_or_else(|| key.clone());
        let requests = pod_requests(&pod);
        let (non_zero_cpu, non_zero_memory) = pod_non_zero_requests(&pod);
        let spec = pod.spec.as_ref();
        let mut host_ports = Vec::new();
        // As upstream's GetHostPorts: sidecars (init containers with restartPolicy Always,
        // running for the pod's whole life), then the containers.
        let sidecars = spec
            .and_then(|s| s.init_containers.as_deref())
            .unwrap_or_default()
            .iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
        for c in sidecars.chain(containers) {
            for p in c.ports.iter().flatten() {
                if let Some(port) = p.host_port.filter(|p| *p > 0) {
                    host_ports.push(HostPort {
                        ip: p
                            .host_ip
                            .clone()
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        port,
                    });
                }
            }
        }
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let has_affinity =
            affinity.is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some());
        let has_required_anti_affinity = affinity
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .is_some_and(|t| !t.is_empty());
        let affinity_terms = has_affinity.then(|| Arc::new(AffinityTerms::of(&pod)));
        let has_scoring_affinity = affinity_terms.as_ref().is_some_and(|t| {
            !t.required_affinity.is_empty()
                || !t.preferred_affinity.is_empty()
                || !t.preferred_anti_affinity.is_empty()
        });
        PodInfo {
            labels: pod
                .metadata
                .labels
                .as_ref()
                .map(Labels::from_map)
                .unwrap_or_default(),
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            object: Object::Full(pod),
            uid,
            key,
            requests,
            non_zero_cpu,
            non_zero_memory,
            host_ports,
            has_affinity,
            has_required_anti_affinity,
            has_scoring_affinity,
            affinity_terms,
        }
    }

    /// Its pod (anti-)affinity terms, parsed when the PodInfo was built.
    pub fn affinity_terms(&self) -> &AffinityTerms {
        static NONE: std::sync::LazyLock<AffinityTerms> =
            std::sync::LazyLock::new(AffinityTerms::default);
        self.affinity_terms.as_deref().unwrap_or(&NONE)
    }

    /// The same facts, keeping of the object only what plugins read of a pod already on a
    /// node: namespace, name, labels, deletion and start time, node and scheduler name,
    /// volumes, and whether preemption is evicting it. Requests, host ports and affinity
    /// terms are derived already. The cache holds bound pods in this form.
    pub fn slimmed(&self) -> Self {
        let Object::Full(pod) = &self.object else {
            return self.clone();
        };
        let meta = &pod.metadata;
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let placed = Placed {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone(),
            deletion_timestamp: meta.deletion_timestamp.clone(),
            node_name: spec.and_then(|s| s.node_name.clone()),
            scheduler_name: spec.and_then(|s| s.scheduler_name.clone()),
            volumes: spec.and_then(|s| s.volumes.clone()).unwrap_or_default(),
            start_time: status.and_then(|s| s.start_time.clone()),
            disrupted_by_preemption: disrupted_by_preemption(pod),
        };
        PodInfo {
            object: Object::Placed(Arc::new(placed)),
            ..self.clone()
        }
    }

    /// The whole pod object. Only pods waiting to be scheduled have it; a slimmed pod (one
    /// already on a node) answers with an empty pod, and debug builds panic, so a plugin
    /// reading more than the accessors below of a placed pod fails its tests.
    pub fn pod(&self) -> &Pod {
        static EMPTY: LazyLock<Pod> = LazyLock::new(Pod::default);
        match &self.object {
            Object::Full(p) => p,
            Object::Placed(_) => {
                debug_assert!(
                    false,
                    "the whole object of placed pod {} was read",
                    self.key
                );
                &EMPTY
            }
        }
    }

    /// The whole pod object, shared; `None` for a slimmed pod.
    pub fn pod_arc(&self) -> Option<&Arc<Pod>> {
        match &self.object {
            Object::Full(p) => Some(p),
            Object::Placed(_) => None,
        }
    }

    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        match &self.object {
            Object::Full(p) => p.metadata.namespace.as_deref().unwrap_or(""),
            Object::Placed(p) => &p.namespace,
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        match &self.object {
            Object::Full(p) => p.metadata.name.as_deref().unwrap_or(""),
            Object::Placed(p) => &p.name,
        }
    }

    /// `metadata.resourceVersion`.
    pub fn resource_version(&self) -> Option<&str> {
        match &self.object {
            Object::Full(p) => p.metadata.resource_version.as_deref(),
            Object::Placed(p) => p.resource_version.as_deref(),
        }
    }

    /// `metadata.labels` (empty when absent).
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// `metadata.deletionTimestamp`.
    pub fn deletion_timestamp(&self) -> Option<&Time> {
        match &self.object {
            Object::Full(p) => p.metadata.deletion_timestamp.as_ref(),
            Object::Placed(p) => p.deletion_timestamp.as_ref(),
        }
    }

    /// `spec.volumes` (empty when absent).
    pub fn volumes(&self) -> &[Volume] {
        match &self.object {
            Object::Full(p) => p
                .spec
                .as_ref()
                .and_then(|s| s.volumes.as_deref())
                .unwrap_or_default(),
            Object::Placed(p) => &p.volumes,
        }
    }

    /// `status.startTime`.
    pub fn start_time(&self) -> Option<&Time> {
        match &self.object {
            Object::Full(p) => p.status.as_ref().and_then(|s| s.start_time.as_ref()),
            Object::Placed(p) => p.start_time.as_ref(),
        }
    }

    /// Being deleted, with the `DisruptionTarget` condition a scheduler's preemption adds.
    pub fn terminating_by_preemption(&self) -> bool {
        if self.deletion_timestamp().is_none() {
            return false;
        }
        match &self.object {
            Object::Full(p) => disrupted_by_preemption(p),
            Object::Placed(p) => p.disrupted_by_preemption,
        }
    }

    /// `spec.nodeName`, when set.
    pub fn node_name(&self) -> Option<&str> {
        match &self.object {
            Object::Full(p) => p.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Object::Placed(p) => p.node_name.as_deref(),
        }
        .filter(|n| !n.is_empty())
    }

    /// `spec.schedulerName` (upstream default `default-scheduler`).
    pub fn scheduler_name(&self) -> &str {
        match &self.object {
            Object::Full(p) => p.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()),
            Object::Placed(p) => p.scheduler_name.as_deref(),
        }
        .unwrap_or("default-scheduler")
    }
}

/// Whether the pod carries the `DisruptionTarget` condition a scheduler's preemption adds.
fn disrupted_by_preemption(pod: &Pod) -> bool {
    pod.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| {
            c.type_ == "DisruptionTarget"
                && c.status == "True"
                && c.reason.as_deref() == Some("PreemptionByScheduler")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slimmed_pods_keep_every_derived_fact() {
        let pod: Pod = serde_saphyr::from_str(
            "metadata: {name: p, namespace: ns, uid: u, labels: {app: a}}\nspec:\n  nodeName: n1\n  priority: 7\n  affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: k, labelSelector: {matchLabels: {app: a}}}]}}\n  containers: [{name: c, image: x, ports: [{containerPort: 80, hostPort: 8080}], resources: {requests: {cpu: 250m, memory: 1Gi}}}]\n  volumes: [{name: v, emptyDir: {}}]\nstatus: {startTime: '2026-01-01T00:00:00Z', containerStatuses: [{name: c, image: x, imageID: i, ready: true, restartCount: 0}]}\n",
        )
        .expect("pod");
        let full = PodInfo::new(Arc::new(pod));
        let slim = full.slimmed();
        assert!(slim.pod_arc().is_none() && full.pod_arc().is_some());
        assert_eq!(slim.requests, full.requests);
        assert_eq!(slim.host_ports, full.host_ports);
        assert_eq!((slim.priority, slim.has_required_anti_affinity), (7, true));
        assert_eq!(
            (slim.key.as_str(), slim.uid.as_str(), slim.node_name()),
            ("ns/p", "u", Some("n1"))
        );
        for p in [&full, &slim] {
            assert_eq!((p.namespace(), p.name()), ("ns", "p"));
            assert_eq!(p.labels().get("app"), Some("a"));
            assert_eq!(p.scheduler_name(), "default-scheduler");
            assert!(p.start_time().is_some() && p.deletion_timestamp().is_none());
            assert_eq!(p.volumes().len(), 1);
            assert_eq!(p.affinity_terms().required_anti_affinity.len(), 1);
            assert!(!p.terminating_by_preemption());
        }
    }

    #[test]
    fn host_ports_are_upstreams_sidecars_and_containers() {
        let pod: Pod = serde_saphyr::from_str(
            "metadata: {name: p, namespace: ns}\nspec:\n  initContainers:\n  - {name: init, image: x, ports: [{containerPort: 1, hostPort: 7001}]}\n  - {name: sidecar, image: x, restartPolicy: Always, ports: [{containerPort: 2, hostPort: 7002, protocol: UDP}]}\n  containers: [{name: c, image: x, ports: [{containerPort: 80, hostPort: 8080, hostIP: 10.0.0.1}, {containerPort: 81}]}]\n",
        )
        .expect("pod");
        let ports: Vec<(String, String, i32)> = PodInfo::new(Arc::new(pod))
            .host_ports
            .iter()
            .map(|h| (h.ip.clone(), h.protocol.clone(), h.port))
            .collect();
        assert_eq!(
            ports,
            [
                ("0.0.0.0".to_string(), "UDP".to_string(), 7002),
                ("10.0.0.1".to_string(), "TCP".to_string(), 8080),
            ]
        );
    }
}
