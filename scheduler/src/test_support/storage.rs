//! A lister of storage objects from YAML, for the volume plugins' tests.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::{
    CSIDriver, CSINode, CSIStorageCapacity, StorageClass, VolumeAttachment,
};
use serde::de::DeserializeOwned;

use crate::framework::ClusterLister;

fn parse<T: DeserializeOwned>(yaml: &str) -> Arc<T> {
    Arc::new(
        serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("test object parses: {e}\n{yaml}")),
    )
}

/// Claims, volumes, classes and CSI objects.
#[derive(Default, Clone)]
pub struct Storage {
    pub claims: Vec<Arc<PersistentVolumeClaim>>,
    pub volumes: Vec<Arc<PersistentVolume>>,
    pub classes: Vec<Arc<StorageClass>>,
    pub csi_nodes: Vec<Arc<CSINode>>,
    pub drivers: Vec<Arc<CSIDriver>>,
    pub capacities: Vec<Arc<CSIStorageCapacity>>,
    pub attachments: Vec<Arc<VolumeAttachment>>,
}

impl Storage {
    /// Adds a claim.
    pub fn claim(mut self, yaml: &str) -> Self {
        self.claims.push(parse(yaml));
        self
    }
    /// Adds a PV.
    pub fn volume(mut self, yaml: &str) -> Self {
        self.volumes.push(parse(yaml));
        self
    }
    /// Adds a StorageClass.
    pub fn class(mut self, yaml: &str) -> Self {
        self.classes.push(parse(yaml));
        self
    }
    /// Adds a CSINode.
    pub fn csi_node(mut self, yaml: &str) -> Self {
        self.csi_nodes.push(parse(yaml));
        self
    }
    /// Adds a CSIDriver.
    pub fn driver(mut self, yaml: &str) -> Self {
        self.drivers.push(parse(yaml));
        self
    }
    /// Adds a CSIStorageCapacity.
    pub fn capacity(mut self, yaml: &str) -> Self {
        self.capacities.push(parse(yaml));
        self
    }
    /// Adds a VolumeAttachment.
    pub fn attachment(mut self, yaml: &str) -> Self {
        self.attachments.push(parse(yaml));
        self
    }
}

fn named<K: kube::Resource>(items: &[Arc<K>], ns: Option<&str>, name: &str) -> Option<Arc<K>> {
    items
        .iter()
        .find(|o| {
            o.meta().name.as_deref() == Some(name)
                && ns.is_none_or(|ns| o.meta().namespace.as_deref() == Some(ns))
        })
        .cloned()
}

impl ClusterLister for Storage {
    fn persistent_volume_claim(&self, ns: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        named(&self.claims, Some(ns), name)
    }
    fn persistent_volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        named(&self.volumes, None, name)
    }
    fn persistent_volumes(&self) -> Vec<Arc<PersistentVolume>> {
        self.volumes.clone()
    }
    fn storage_class(&self, name: &str) -> Option<Arc<StorageClass>> {
        named(&self.classes, None, name)
    }
    fn csi_node(&self, name: &str) -> Option<Arc<CSINode>> {
        named(&self.csi_nodes, None, name)
    }
    fn csi_driver(&self, name: &str) -> Option<Arc<CSIDriver>> {
        named(&self.drivers, None, name)
    }
    fn csi_storage_capacities(&self) -> Vec<Arc<CSIStorageCapacity>> {
        self.capacities.clone()
    }
    fn volume_attachments(&self, node: &str) -> Vec<Arc<VolumeAttachment>> {
        self.attachments
            .iter()
            .filter(|v| v.spec.node_name == node)
            .cloned()
            .collect()
    }
}
