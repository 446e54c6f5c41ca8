//! A pod with what the scheduler derives from it once, instead of once per node.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use super::resources::{Resource, pod_non_zero_requests, pod_requests};
use crate::plugins::inter_pod_affinity::AffinityTerms;

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

/// A pod plus its derived scheduling facts.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// The pod as last seen.
    pub pod: Arc<Pod>,
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
        for c in spec.map(|s| s.containers.as_slice()).unwrap_or_default() {
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
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            pod,
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

    /// The same facts over a copy of the pod without what no plugin reads of a pod already
    /// on a node: its containers (requests and host ports are derived above) and the
    /// container statuses. A container is over 2 KiB in memory, so bound pods held by the
    /// cache shrink by half or more.
    pub fn slimmed(&self) -> Self {
        let mut pod = (*self.pod).clone();
        if let Some(spec) = pod.spec.as_mut() {
            spec.containers = Vec::new();
            spec.init_containers = None;
            spec.ephemeral_containers = None;
        }
        if let Some(status) = pod.status.as_mut() {
            status.container_statuses = None;
            status.init_container_statuses = None;
            status.ephemeral_container_statuses = None;
        }
        PodInfo {
            pod: Arc::new(pod),
            ..self.clone()
        }
    }

    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("")
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or("")
    }

    /// `spec.nodeName`, when set.
    pub fn node_name(&self) -> Option<&str> {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| !n.is_empty())
    }

    /// `spec.schedulerName` (upstream default `default-scheduler`).
    pub fn scheduler_name(&self) -> &str {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or("default-scheduler")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slimmed_pods_keep_every_derived_fact() {
        let pod: Pod = serde_saphyr::from_str(
            "metadata: {name: p, namespace: ns, uid: u, labels: {app: a}}\nspec:\n  nodeName: n1\n  priority: 7\n  affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: k, labelSelector: {matchLabels: {app: a}}}]}}\n  containers: [{name: c, image: x, ports: [{containerPort: 80, hostPort: 8080}], resources: {requests: {cpu: 250m, memory: 1Gi}}}]\nstatus: {startTime: '2026-01-01T00:00:00Z', containerStatuses: [{name: c, image: x, imageID: i, ready: true, restartCount: 0}]}\n",
        )
        .expect("pod");
        let full = PodInfo::new(Arc::new(pod));
        let slim = full.slimmed();
        assert!(
            slim.pod
                .spec
                .as_ref()
                .is_some_and(|s| s.containers.is_empty())
        );
        assert!(
            slim.pod
                .status
                .as_ref()
                .is_some_and(|s| s.container_statuses.is_none() && s.start_time.is_some())
        );
        assert_eq!(slim.requests, full.requests);
        assert_eq!(slim.host_ports, full.host_ports);
        assert_eq!((slim.priority, slim.has_required_anti_affinity), (7, true));
        assert_eq!(
            (slim.key.as_str(), slim.uid.as_str(), slim.node_name()),
            ("ns/p", "u", Some("n1"))
        );
        assert_eq!(slim.pod.metadata.labels, full.pod.metadata.labels);
    }
}
