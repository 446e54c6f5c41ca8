//! Watchers on nodes and pods feeding the cache (placed pods) and the queue (pending pods
//! of our profiles), with the cluster events that requeue unschedulable pods.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::watch;

use crate::cache::Cache;
use crate::framework::events::{ClusterEvent, EventObjects, EventResource, action};
use crate::model::{PodInfo, SlimNode};
use crate::queue::SchedulingQueue;

/// What the informers feed.
#[derive(Clone)]
pub struct Sinks {
    /// Placed pods and nodes.
    pub cache: Arc<Mutex<Cache>>,
    /// Pending pods.
    pub queue: Arc<SchedulingQueue>,
    /// Scheduler names this process serves.
    pub scheduler_names: Arc<FxHashSet<String>>,
    /// Pods waiting at Permit (a deleted one stops waiting).
    pub waiting: Arc<crate::framework::WaitingPods>,
}

fn strip(mut meta: kube::api::ObjectMeta) -> kube::api::ObjectMeta {
    meta.managed_fields = None;
    meta
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// Node update → which kinds of change it carries (upstream's node event split).
fn node_change(old: &SlimNode, new: &SlimNode) -> u32 {
    let mut bits = 0;
    if old.labels != new.labels {
        bits |= action::UPDATE_NODE_LABEL;
    }
    if old.taints != new.taints || old.unschedulable != new.unschedulable {
        bits |= action::UPDATE_NODE_TAINT;
    }
    if old.allocatable != new.allocatable {
        bits |= action::UPDATE_NODE_ALLOCATABLE;
    }
    if old.conditions != new.conditions {
        bits |= action::UPDATE_NODE_CONDITION;
    }
    if old.annotations != new.annotations {
        bits |= action::UPDATE_NODE_ANNOTATION;
    }
    if old.declared_features != new.declared_features {
        bits |= action::UPDATE_OTHER;
    }
    bits
}

impl Sinks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A node appeared or changed.
    pub fn node_applied(&self, node: &Node) {
        if node.metadata.name.is_none() {
            return;
        }
        let mut node = SlimNode::new(node);
        let old = self.lock().node(&node.name).and_then(|n| n.node.clone());
        if let Some(o) = &old {
            node.share_unchanged(o);
        }
        let node = Arc::new(node);
        if old.as_deref() == Some(&*node) {
            return;
        }
        self.lock().upsert_node(node.clone());
        let bits = match &old {
            None => action::ADD,
            Some(o) => node_change(o, &node),
        };
        if bits != 0 {
            self.queue.on_event(
                ClusterEvent::new(EventResource::Node, bits),
                EventObjects::Node {
                    old: old.as_deref(),
                    new: Some(&node),
                },
            );
        }
    }

    /// A node went away.
    pub fn node_deleted(&self, name: &str) {
        self.lock().remove_node(name);
    }

    /// A pod appeared or changed.
    pub fn pod_applied(&self, mut pod: Pod) {
        crate::fault::inject("informers", pod.metadata.name.as_deref().unwrap_or(""));
        pod.metadata = strip(pod.metadata);
        let info = Arc::new(PodInfo::new(Arc::new(pod)));
        if is_terminal(info.pod()) {
            self.pod_deleted(&info);
            return;
        }
        if info.node_name().is_some() {
            let known = self.lock().contains_pod(&info.uid);
            self.queue.delete(&info.uid);
            // The cache keeps a slimmed copy; cluster-event hints below see the whole pod.
            self.lock().upsert_bound_pod(Arc::new(info.slimmed()));
            let act = if known {
                action::UPDATE_POD_LABEL | action::UPDATE_OTHER
            } else {
                action::ADD
            };
            self.queue.on_event(
                ClusterEvent::new(EventResource::AssignedPod, act),
                EventObjects::Pod {
                    old: None,
                    new: Some(info.pod()),
                },
            );
        } else if self.scheduler_names.contains(info.scheduler_name()) {
            if info.pod().metadata.deletion_timestamp.is_none() {
                self.queue.add(info);
            } else {
                // Being deleted: nothing to schedule (upstream skips such pods too).
                self.queue.delete(&info.uid);
            }
        }
    }

    /// A pod went away (or finished).
    pub fn pod_deleted(&self, info: &PodInfo) {
        self.queue.delete(&info.uid);
        // A pod waiting at Permit is rejected: its binding cycle forgets it, and the room
        // it held may help others (upstream's `RejectWaitingPod`).
        let was_waiting = self.waiting.reject(&info.uid, "", "removed");
        let was_placed = self.lock().remove_pod(&info.uid);
        if was_placed || was_waiting {
            self.queue.on_event(
                ClusterEvent::new(EventResource::AssignedPod, action::DELETE),
                EventObjects::Pod {
                    old: Some(info.pod()),
                    new: None,
                },
            );
        }
    }
}

/// Runs the node and pod watchers until the streams end; flips `synced` to true once both
/// have listed everything. Errors are retried with backoff by the watcher.
pub async fn run(client: Client, sinks: Sinks, synced: watch::Sender<bool>) {
    let (nodes_synced_tx, mut nodes_synced) = watch::channel(false);
    let (pods_synced_tx, mut pods_synced) = watch::channel(false);
    let nodes = {
        let sinks = sinks.clone();
        let api: Api<Node> = Api::all(client.clone());
        async move {
            let mut seen: Option<FxHashSet<String>> = None;
            let mut known: FxHashSet<String> = FxHashSet::default();
            let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
            futures::pin_mut!(stream);
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(Event::Init) => seen = Some(FxHashSet::default()),
                    Ok(Event::InitApply(n)) | Ok(Event::Apply(n)) => {
                        let name = n.metadata.name.clone().unwrap_or_default();
                        if let Some(s) = seen.as_mut() {
                            s.insert(name.clone());
                        }
                        known.insert(name);
                        sinks.node_applied(&n);
                    }
                    Ok(Event::InitDone) => {
                        if let Some(s) = seen.take() {
                            for gone in known.difference(&s).cloned().collect::<Vec<_>>() {
                                sinks.node_deleted(&gone);
                                known.remove(&gone);
                            }
                        }
                        let _ = nodes_synced_tx.send(true);
                    }
                    Ok(Event::Delete(n)) => {
                        let name = n.metadata.name.clone().unwrap_or_default();
                        known.remove(&name);
                        sinks.node_deleted(&name);
                    }
                    Err(e) => tracing::warn!(error = %e, "node watch failed; retrying"),
                }
            }
        }
    };
    let pods = {
        let sinks = sinks.clone();
        let api: Api<Pod> = Api::all(client.clone());
        async move {
            let cfg =
                watcher::Config::default().fields("status.phase!=Succeeded,status.phase!=Failed");
            let mut seen: Option<FxHashSet<String>> = None;
            // uid → (namespace, name): enough to report a pod that vanished while the
            // watch was down. (Keeping a PodInfo here cost a 2.4 KiB Pod per pod.)
            let mut known: FxHashMap<String, (String, String)> = FxHashMap::default();
            let stream = watcher::watcher(api, cfg).default_backoff();
            futures::pin_mut!(stream);
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(Event::Init) => seen = Some(FxHashSet::default()),
                    Ok(Event::InitApply(p)) | Ok(Event::Apply(p)) => {
                        let uid = p.metadata.uid.clone().unwrap_or_default();
                        if let Some(s) = seen.as_mut() {
                            s.insert(uid.clone());
                        }
                        let id = (
                            p.metadata.namespace.clone().unwrap_or_default(),
                            p.metadata.name.clone().unwrap_or_default(),
                        );
                        known.insert(uid, id);
                        sinks.pod_applied(p);
                    }
                    Ok(Event::InitDone) => {
                        if let Some(s) = seen.take() {
                            let gone: Vec<String> =
                                known.keys().filter(|k| !s.contains(*k)).cloned().collect();
                            for uid in gone {
                                if let Some((namespace, name)) = known.remove(&uid) {
                                    let pod = Pod {
                                        metadata: kube::api::ObjectMeta {
                                            uid: Some(uid),
                                            name: Some(name),
                                            namespace: Some(namespace),
                                            ..Default::default()
                                        },
                                        ..Default::default()
                                    };
                                    sinks.pod_deleted(&PodInfo::new(Arc::new(pod)));
                                }
                            }
                        }
                        let _ = pods_synced_tx.send(true);
                    }
                    Ok(Event::Delete(p)) => {
                        let uid = p.metadata.uid.clone().unwrap_or_default();
                        known.remove(&uid);
                        sinks.pod_deleted(&PodInfo::new(Arc::new(p)));
                    }
                    Err(e) => tracing::warn!(error = %e, "pod watch failed; retrying"),
                }
            }
        }
    };
    let sync = async move {
        let _ = nodes_synced.wait_for(|s| *s).await;
        let _ = pods_synced.wait_for(|s| *s).await;
        let _ = synced.send(true);
        futures::future::pending::<()>().await;
    };
    tokio::join!(nodes, pods, sync);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    #[test]
    fn heartbeats_leave_a_slimmed_node_unchanged() {
        let node = |beat: &str, ready: &str| -> SlimNode {
            let n: Node = serde_saphyr::from_str(&format!(
                "metadata: {{name: n, resourceVersion: '{beat}', labels: {{a: b}}}}\nstatus:\n  allocatable: {{cpu: '4'}}\n  capacity: {{cpu: '4'}}\n  nodeInfo: {{machineID: m, systemUUID: s, bootID: b, kernelVersion: k, osImage: o, containerRuntimeVersion: c, kubeletVersion: v, kubeProxyVersion: v, operatingSystem: linux, architecture: amd64}}\n  addresses: [{{type: InternalIP, address: 10.0.0.1}}]\n  conditions: [{{type: Ready, status: '{ready}', reason: KubeletReady, message: ok, lastHeartbeatTime: '2026-01-01T00:00:{beat}Z'}}]\n"
            ))
            .expect("node");
            SlimNode::new(&n)
        };
        let (a, b, c) = (node("10", "True"), node("20", "True"), node("30", "False"));
        assert_eq!(a, b, "a heartbeat changes nothing the scheduler keeps");
        assert_ne!(a, c, "a condition's status change is kept");
        assert_eq!(node_change(&a, &c), action::UPDATE_NODE_CONDITION);
        let mut d = a.clone();
        d.labels = Labels::from_map(&[("x".to_string(), "y".to_string())].into());
        d.unschedulable = true;
        assert_eq!(
            node_change(&a, &d),
            action::UPDATE_NODE_LABEL | action::UPDATE_NODE_TAINT
        );
    }
}
