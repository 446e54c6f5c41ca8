//! Watches of the kinds some plugins read besides nodes and pods: namespaces
//! (InterPodAffinity's namespaceSelector), PodDisruptionBudgets (DefaultPreemption),
//! Services, ReplicationControllers, ReplicaSets and StatefulSets (PodTopologySpread's
//! system default constraints), and the storage kinds of the volume plugins. Only the kinds
//! the enabled plugins need are watched, which is exactly what the operator's RBAC grants a
//! profile. Changes to the storage kinds are cluster events that requeue the pods the volume
//! plugins rejected.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolume, PersistentVolumeClaim, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::{
    CSIDriver, CSINode, CSIStorageCapacity, StorageClass, VolumeAttachment,
};
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as watch_fn};
use kube::{Client, Resource};
use rustc_hash::FxHashSet;

use crate::framework::ClusterLister;
use crate::framework::events::{ClusterEvent, EventObjects, EventResource, action};

/// Which kinds to watch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Namespaces (InterPodAffinity).
    pub namespaces: bool,
    /// PodDisruptionBudgets (DefaultPreemption).
    pub pdbs: bool,
    /// Services, ReplicationControllers, ReplicaSets, StatefulSets (PodTopologySpread).
    pub workloads: bool,
    /// PersistentVolumeClaims (every volume plugin).
    pub claims: bool,
    /// PersistentVolumes and StorageClasses (VolumeBinding, VolumeZone, NodeVolumeLimits).
    pub volumes: bool,
    /// CSINodes and CSIDrivers (VolumeBinding, NodeVolumeLimits).
    pub csi: bool,
    /// CSIStorageCapacities (VolumeBinding).
    pub capacities: bool,
    /// VolumeAttachments (NodeVolumeLimits).
    pub attachments: bool,
}

impl Needs {
    /// What the plugins named in `enabled` read.
    pub fn of<'a>(enabled: impl IntoIterator<Item = &'a str>) -> Self {
        let names: FxHashSet<&str> = enabled.into_iter().collect();
        let any = |ns: &[&str]| ns.iter().any(|n| names.contains(n));
        Needs {
            namespaces: any(&["InterPodAffinity"]),
            pdbs: any(&["DefaultPreemption"]),
            workloads: any(&["PodTopologySpread"]),
            claims: any(&[
                "VolumeBinding",
                "VolumeRestrictions",
                "VolumeZone",
                "NodeVolumeLimits",
            ]),
            volumes: any(&["VolumeBinding", "VolumeZone", "NodeVolumeLimits"]),
            csi: any(&["VolumeBinding", "NodeVolumeLimits"]),
            capacities: any(&["VolumeBinding"]),
            attachments: any(&["NodeVolumeLimits"]),
        }
    }
}

/// Where watched changes go as cluster events (the scheduling queue).
pub type EventSink = Arc<dyn Fn(ClusterEvent, EventObjects<'_>) + Send + Sync>;

/// Stores kept current by watches.
#[derive(Default)]
pub struct ApiLister {
    namespaces: Option<Store<Namespace>>,
    pdbs: Option<Store<PodDisruptionBudget>>,
    services: Option<Store<Service>>,
    controllers: Option<Store<ReplicationController>>,
    replica_sets: Option<Store<ReplicaSet>>,
    stateful_sets: Option<Store<StatefulSet>>,
    claims: Option<Store<PersistentVolumeClaim>>,
    volumes: Option<Store<PersistentVolume>>,
    classes: Option<Store<StorageClass>>,
    csi_nodes: Option<Store<CSINode>>,
    csi_drivers: Option<Store<CSIDriver>>,
    capacities: Option<Store<CSIStorageCapacity>>,
    attachments: Option<Store<VolumeAttachment>>,
    sink: Arc<OnceLock<EventSink>>,
}

trait Watched:
    Resource<DynamicType = ()>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The cluster event resource of this kind, if its changes requeue pods.
    const EVENT: Option<EventResource> = None;
    /// Hands the objects of a change to the hints (only claims have a hint).
    fn emit(sink: &EventSink, event: ClusterEvent, _old: Option<&Self>, _new: Option<&Self>) {
        sink(event, EventObjects::None);
    }
}

macro_rules! watched {
    ($($ty:ty => $ev:expr),* $(,)?) => {$(
        impl Watched for $ty {
            const EVENT: Option<EventResource> = $ev;
        }
    )*};
}
watched!(
    Namespace => None,
    PodDisruptionBudget => None,
    Service => None,
    ReplicationController => None,
    ReplicaSet => None,
    StatefulSet => None,
    PersistentVolume => Some(EventResource::PersistentVolume),
    StorageClass => Some(EventResource::StorageClass),
    CSINode => Some(EventResource::CsiNode),
    CSIDriver => Some(EventResource::CsiDriver),
    CSIStorageCapacity => Some(EventResource::CsiStorageCapacity),
    VolumeAttachment => Some(EventResource::VolumeAttachment),
);

impl Watched for PersistentVolumeClaim {
    const EVENT: Option<EventResource> = Some(EventResource::PersistentVolumeClaim);
    fn emit(sink: &EventSink, event: ClusterEvent, old: Option<&Self>, new: Option<&Self>) {
        sink(event, EventObjects::Claim { old, new });
    }
}

fn watch<K: Watched>(client: &Client, sink: &Arc<OnceLock<EventSink>>) -> Store<K> {
    let (reader, mut writer) = reflector::store();
    let api: Api<K> = Api::all(client.clone());
    let stream = watch_fn(api, watcher::Config::default())
        .default_backoff()
        .modify(|o: &mut K| o.meta_mut().managed_fields = None);
    let (store, sink) = (reader.clone(), sink.clone());
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(ev) = stream.next().await {
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    tracing::warn!(kind = %K::kind(&()), error = %e, "watch failed; retrying");
                    continue;
                }
            };
            let old = match &ev {
                Event::Apply(o) | Event::Delete(o) => store.get(&ObjectRef::from_obj(o)),
                _ => None,
            };
            // The store changes first, so a pod requeued by the event sees the new object.
            writer.apply_watcher_event(&ev);
            let (Some(resource), Some(sink)) = (K::EVENT, sink.get()) else {
                continue;
            };
            match &ev {
                Event::Apply(o) => {
                    let act = if old.is_some() {
                        action::UPDATE
                    } else {
                        action::ADD
                    };
                    K::emit(
                        sink,
                        ClusterEvent::new(resource, act),
                        old.as_deref(),
                        Some(o),
                    );
                }
                Event::Delete(o) => {
                    K::emit(
                        sink,
                        ClusterEvent::new(resource, action::DELETE),
                        Some(o),
                        None,
                    );
                }
                _ => {}
            }
        }
    });
    reader
}

impl ApiLister {
    /// Starts the watches `needs` asks for.
    pub fn start(client: &Client, needs: Needs) -> Self {
        let sink = Arc::new(OnceLock::new());
        let on = |b: bool| b.then_some(());
        ApiLister {
            namespaces: on(needs.namespaces).map(|()| watch(client, &sink)),
            pdbs: on(needs.pdbs).map(|()| watch(client, &sink)),
            services: on(needs.workloads).map(|()| watch(client, &sink)),
            controllers: on(needs.workloads).map(|()| watch(client, &sink)),
            replica_sets: on(needs.workloads).map(|()| watch(client, &sink)),
            stateful_sets: on(needs.workloads).map(|()| watch(client, &sink)),
            claims: on(needs.claims).map(|()| watch(client, &sink)),
            volumes: on(needs.volumes).map(|()| watch(client, &sink)),
            classes: on(needs.volumes).map(|()| watch(client, &sink)),
            csi_nodes: on(needs.csi).map(|()| watch(client, &sink)),
            csi_drivers: on(needs.csi).map(|()| watch(client, &sink)),
            capacities: on(needs.capacities).map(|()| watch(client, &sink)),
            attachments: on(needs.attachments).map(|()| watch(client, &sink)),
            sink,
        }
    }

    /// Sends later changes of the storage kinds to `sink` as cluster events.
    pub fn set_event_sink(&self, sink: EventSink) {
        let _ = self.sink.set(sink);
    }

    /// Resolves once every started watch has listed its kind.
    pub async fn wait_ready(&self) {
        async fn ready<K: Resource + Clone>(s: &Option<Store<K>>)
        where
            K::DynamicType: Eq + std::hash::Hash + Clone,
        {
            if let Some(s) = s {
                let _ = s.wait_until_ready().await;
            }
        }
        ready(&self.namespaces).await;
        ready(&self.pdbs).await;
        ready(&self.services).await;
        ready(&self.controllers).await;
        ready(&self.replica_sets).await;
        ready(&self.stateful_sets).await;
        ready(&self.claims).await;
        ready(&self.volumes).await;
        ready(&self.classes).await;
        ready(&self.csi_nodes).await;
        ready(&self.csi_drivers).await;
        ready(&self.capacities).await;
        ready(&self.attachments).await;
    }
}

fn in_namespace<K: Resource<DynamicType = ()> + Clone>(
    store: &Option<Store<K>>,
    namespace: &str,
) -> Vec<Arc<K>> {
    store.as_ref().map_or_else(Vec::new, |s| {
        s.state_filter(|o| o.meta().namespace.as_deref() == Some(namespace))
    })
}

fn named<K: Resource<DynamicType = ()> + Clone>(
    store: &Option<Store<K>>,
    namespace: &str,
    name: &str,
) -> Option<Arc<K>> {
    store.as_ref()?.get(&ObjectRef::new(name).within(namespace))
}

impl ClusterLister for ApiLister {
    fn namespace_labels(&self, name: &str) -> Option<BTreeMap<String, String>> {
        let ns = self.namespaces.as_ref()?.get(&ObjectRef::new(name))?;
        Some(ns.metadata.labels.clone().unwrap_or_default())
    }
    fn namespaces(&self) -> Vec<(String, BTreeMap<String, String>)> {
        self.namespaces.as_ref().map_or_else(Vec::new, |s| {
            s.state()
                .iter()
                .map(|n| {
                    (
                        n.metadata.name.clone().unwrap_or_default(),
                        n.metadata.labels.clone().unwrap_or_default(),
                    )
                })
                .collect()
        })
    }
    fn pod_disruption_budgets(&self) -> Vec<Arc<PodDisruptionBudget>> {
        self.pdbs.as_ref().map_or_else(Vec::new, Store::state)
    }
    fn services(&self, namespace: &str) -> Vec<Arc<Service>> {
        in_namespace(&self.services, namespace)
    }
    fn replication_controller(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<ReplicationController>> {
        named(&self.controllers, namespace, name)
    }
    fn replica_set(&self, namespace: &str, name: &str) -> Option<Arc<ReplicaSet>> {
        named(&self.replica_sets, namespace, name)
    }
    fn stateful_set(&self, namespace: &str, name: &str) -> Option<Arc<StatefulSet>> {
        named(&self.stateful_sets, namespace, name)
    }
    fn persistent_volume_claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<PersistentVolumeClaim>> {
        named(&self.claims, namespace, name)
    }
    fn persistent_volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.volumes.as_ref()?.get(&ObjectRef::new(name))
    }
    fn persistent_volumes(&self) -> Vec<Arc<PersistentVolume>> {
        self.volumes.as_ref().map_or_else(Vec::new, Store::state)
    }
    fn storage_class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.classes.as_ref()?.get(&ObjectRef::new(name))
    }
    fn csi_node(&self, name: &str) -> Option<Arc<CSINode>> {
        self.csi_nodes.as_ref()?.get(&ObjectRef::new(name))
    }
    fn csi_driver(&self, name: &str) -> Option<Arc<CSIDriver>> {
        self.csi_drivers.as_ref()?.get(&ObjectRef::new(name))
    }
    fn csi_storage_capacities(&self) -> Vec<Arc<CSIStorageCapacity>> {
        self.capacities.as_ref().map_or_else(Vec::new, Store::state)
    }
    fn volume_attachments(&self, node: &str) -> Vec<Arc<VolumeAttachment>> {
        self.attachments
            .as_ref()
            .map_or_else(Vec::new, |s| s.state_filter(|va| va.spec.node_name == node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_follow_the_enabled_plugins() {
        assert_eq!(
            Needs::of(["NodeResourcesFit", "InterPodAffinity"]),
            Needs {
                namespaces: true,
                ..Default::default()
            }
        );
        assert_eq!(
            Needs::of(["PodTopologySpread", "DefaultPreemption"]),
            Needs {
                pdbs: true,
                workloads: true,
                ..Default::default()
            }
        );
        assert_eq!(
            Needs::of(["VolumeRestrictions"]),
            Needs {
                claims: true,
                ..Default::default()
            }
        );
        let all = Needs::of(["VolumeBinding", "NodeVolumeLimits"]);
        assert!(all.claims && all.volumes && all.csi && all.capacities && all.attachments);
        let zone = Needs::of(["VolumeZone"]);
        assert!(zone.claims && zone.volumes && !zone.csi && !zone.capacities);
    }
}
