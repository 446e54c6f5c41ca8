//! Watches of the kinds some plugins read besides nodes and pods: namespaces
//! (InterPodAffinity's namespaceSelector), PodDisruptionBudgets (DefaultPreemption), and
//! Services, ReplicationControllers, ReplicaSets and StatefulSets (PodTopologySpread's
//! system default constraints). Only the kinds the enabled plugins need are watched,
//! which is exactly what the operator's RBAC grants a profile.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, ReplicationController, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use rustc_hash::FxHashSet;

use crate::framework::ClusterLister;

/// Which kinds to watch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Namespaces (InterPodAffinity).
    pub namespaces: bool,
    /// PodDisruptionBudgets (DefaultPreemption).
    pub pdbs: bool,
    /// Services, ReplicationControllers, ReplicaSets, StatefulSets (PodTopologySpread).
    pub workloads: bool,
}

impl Needs {
    /// What the plugins named in `enabled` read.
    pub fn of<'a>(enabled: impl IntoIterator<Item = &'a str>) -> Self {
        let names: FxHashSet<&str> = enabled.into_iter().collect();
        Needs {
            namespaces: names.contains("InterPodAffinity"),
            pdbs: names.contains("DefaultPreemption"),
            workloads: names.contains("PodTopologySpread"),
        }
    }
}

/// Stores kept current by watches.
#[derive(Default)]
pub struct ApiLister {
    namespaces: Option<Store<Namespace>>,
    pdbs: Option<Store<PodDisruptionBudget>>,
    services: Option<Store<Service>>,
    controllers: Option<Store<ReplicationController>>,
    replica_sets: Option<Store<ReplicaSet>>,
    stateful_sets: Option<Store<StatefulSet>>,
}

fn watch<K>(client: &Client) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let api: Api<K> = Api::all(client.clone());
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|o: &mut K| o.meta_mut().managed_fields = None);
    tokio::spawn(
        reflector::reflector(writer, stream).for_each(|ev| async move {
            if let Err(e) = ev {
                tracing::warn!(kind = %K::kind(&()), error = %e, "watch failed; retrying");
            }
        }),
    );
    reader
}

impl ApiLister {
    /// Starts the watches `needs` asks for.
    pub fn start(client: &Client, needs: Needs) -> Self {
        ApiLister {
            namespaces: needs.namespaces.then(|| watch(client)),
            pdbs: needs.pdbs.then(|| watch(client)),
            services: needs.workloads.then(|| watch(client)),
            controllers: needs.workloads.then(|| watch(client)),
            replica_sets: needs.workloads.then(|| watch(client)),
            stateful_sets: needs.workloads.then(|| watch(client)),
        }
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
                namespaces: false,
                pdbs: true,
                workloads: true
            }
        );
    }
}
