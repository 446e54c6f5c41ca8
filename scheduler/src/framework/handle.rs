//! What plugins get from the scheduler: listers at construction, a binder when binding.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::{
    CSIDriver, CSINode, CSIStorageCapacity, StorageClass, VolumeAttachment,
};

/// Why a bind call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BindError {
    /// The API server answered 409: the pod is already bound (or gone and recreated).
    #[error("pod is already bound or was replaced: {0}")]
    Conflict(String),
    /// The pod no longer exists.
    #[error("pod not found: {0}")]
    NotFound(String),
    /// Any other failure.
    #[error("binding failed: {0}")]
    Other(String),
}

impl BindError {
    /// Whether a bind failure, as carried in a Status message, means retrying cannot help:
    /// the pod is bound already (409) or gone (404). The informer brings the truth.
    pub fn is_final_message(message: &str) -> bool {
        message.starts_with("pod is already bound or was replaced")
            || message.starts_with("pod not found")
    }
}

/// Makes the `pods/binding` call (the API in production, a recorder in tests and benchmarks).
pub trait PodBinder: Send + Sync {
    /// Binds `namespace/name` (with `uid`) to `node`.
    fn bind<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        uid: &'a str,
        node: &'a str,
    ) -> BoxFuture<'a, Result<(), BindError>>;
}

/// Passed to PreBind/Bind plugins.
#[derive(Clone)]
pub struct BindContext {
    /// The binder the DefaultBinder uses.
    pub binder: Arc<dyn PodBinder>,
    /// API client, when running against a cluster.
    pub client: Option<kube::Client>,
}

/// Read access to cluster objects beyond nodes and pods (namespaces, PDBs, ...).
/// Every method has an empty default so tests implement only what they use.
pub trait ClusterLister: Send + Sync {
    /// Labels of a namespace, if it exists.
    fn namespace_labels(&self, _name: &str) -> Option<BTreeMap<String, String>> {
        None
    }
    /// Every namespace name with its labels.
    fn namespaces(&self) -> Vec<(String, BTreeMap<String, String>)> {
        Vec::new()
    }
    /// All PodDisruptionBudgets.
    fn pod_disruption_budgets(&self) -> Vec<Arc<PodDisruptionBudget>> {
        Vec::new()
    }
    /// Services of a namespace.
    fn services(&self, _namespace: &str) -> Vec<Arc<Service>> {
        Vec::new()
    }
    /// A ReplicationController.
    fn replication_controller(
        &self,
        _namespace: &str,
        _name: &str,
    ) -> Option<Arc<ReplicationController>> {
        None
    }
    /// A ReplicaSet.
    fn replica_set(&self, _namespace: &str, _name: &str) -> Option<Arc<ReplicaSet>> {
        None
    }
    /// A StatefulSet.
    fn stateful_set(&self, _namespace: &str, _name: &str) -> Option<Arc<StatefulSet>> {
        None
    }
    /// A PersistentVolumeClaim.
    fn persistent_volume_claim(
        &self,
        _namespace: &str,
        _name: &str,
    ) -> Option<Arc<PersistentVolumeClaim>> {
        None
    }
    /// A PersistentVolume.
    fn persistent_volume(&self, _name: &str) -> Option<Arc<PersistentVolume>> {
        None
    }
    /// Every PersistentVolume.
    fn persistent_volumes(&self) -> Vec<Arc<PersistentVolume>> {
        Vec::new()
    }
    /// A StorageClass.
    fn storage_class(&self, _name: &str) -> Option<Arc<StorageClass>> {
        None
    }
    /// The CSINode of a node.
    fn csi_node(&self, _name: &str) -> Option<Arc<CSINode>> {
        None
    }
    /// A CSIDriver.
    fn csi_driver(&self, _name: &str) -> Option<Arc<CSIDriver>> {
        None
    }
    /// Every CSIStorageCapacity.
    fn csi_storage_capacities(&self) -> Vec<Arc<CSIStorageCapacity>> {
        Vec::new()
    }
    /// The VolumeAttachments of a node.
    fn volume_attachments(&self, _node: &str) -> Vec<Arc<VolumeAttachment>> {
        Vec::new()
    }
}

/// A lister with nothing in it.
#[derive(Debug, Default)]
pub struct EmptyLister;

impl ClusterLister for EmptyLister {}

/// Given to plugin factories.
#[derive(Clone)]
pub struct Handle {
    /// API client, when running against a cluster.
    pub client: Option<kube::Client>,
    /// Listers of other kinds.
    pub lister: Arc<dyn ClusterLister>,
    /// Pods nominated to nodes (kept current by the scheduling queue).
    pub nominator: Arc<super::Nominator>,
    /// Pods waiting at Permit, which plugins may allow or reject.
    pub waiting: Arc<super::WaitingPods>,
}

impl Handle {
    /// A handle without a cluster (unit tests, in-process benchmarks).
    pub fn offline() -> Self {
        Handle {
            client: None,
            lister: Arc::new(EmptyLister),
            nominator: Arc::default(),
            waiting: Arc::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BindError;

    #[test]
    fn conflicts_and_missing_pods_are_final() {
        assert!(BindError::is_final_message(
            &BindError::Conflict("x".into()).to_string()
        ));
        assert!(BindError::is_final_message(
            &BindError::NotFound("x".into()).to_string()
        ));
        assert!(!BindError::is_final_message(
            &BindError::Other("timeout".into()).to_string()
        ));
    }
}
