//! Cluster events a plugin registers: the changes that can make a pod it rejected fit.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};

use crate::model::{PodInfo, SlimNode};

/// The kind of object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventResource {
    /// A pod bound (or assumed) to a node.
    AssignedPod,
    /// A pod not yet bound (e.g. its scheduling gates changed).
    UnscheduledPod,
    /// A Node.
    Node,
    /// A PersistentVolume.
    PersistentVolume,
    /// A PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// A StorageClass.
    StorageClass,
    /// A Namespace.
    Namespace,
    /// A CSINode.
    CsiNode,
    /// A CSIDriver.
    CsiDriver,
    /// A CSIStorageCapacity.
    CsiStorageCapacity,
    /// A VolumeAttachment.
    VolumeAttachment,
    /// Anything (used by the periodic flush and unknown changes).
    WildCard,
}

/// What happened, as bit flags (upstream's ActionType).
pub mod action {
    /// Object added.
    pub const ADD: u32 = 1;
    /// Object deleted.
    pub const DELETE: u32 = 1 << 1;
    /// Node allocatable changed.
    pub const UPDATE_NODE_ALLOCATABLE: u32 = 1 << 2;
    /// Node labels changed.
    pub const UPDATE_NODE_LABEL: u32 = 1 << 3;
    /// Node taints changed.
    pub const UPDATE_NODE_TAINT: u32 = 1 << 4;
    /// Node conditions changed.
    pub const UPDATE_NODE_CONDITION: u32 = 1 << 5;
    /// Node annotations changed.
    pub const UPDATE_NODE_ANNOTATION: u32 = 1 << 6;
    /// `spec.unschedulable` changed (upstream counts it as a taint change).
    pub const UPDATE_NODE_SPEC_UNSCHEDULABLE: u32 = UPDATE_NODE_TAINT;
    /// Pod labels changed.
    pub const UPDATE_POD_LABEL: u32 = 1 << 7;
    /// A pod's requests went down.
    pub const UPDATE_POD_SCALE_DOWN: u32 = 1 << 8;
    /// A pod's tolerations changed.
    pub const UPDATE_POD_TOLERATION: u32 = 1 << 9;
    /// A pod's scheduling gates were all removed.
    pub const UPDATE_POD_SCHEDULING_GATES_ELIMINATED: u32 = 1 << 10;
    /// Any other update.
    pub const UPDATE_OTHER: u32 = 1 << 11;
    /// Every update.
    pub const UPDATE: u32 = UPDATE_NODE_ALLOCATABLE
        | UPDATE_NODE_LABEL
        | UPDATE_NODE_TAINT
        | UPDATE_NODE_CONDITION
        | UPDATE_NODE_ANNOTATION
        | UPDATE_POD_LABEL
        | UPDATE_POD_SCALE_DOWN
        | UPDATE_POD_TOLERATION
        | UPDATE_POD_SCHEDULING_GATES_ELIMINATED
        | UPDATE_OTHER;
    /// Everything.
    pub const ALL: u32 = ADD | DELETE | UPDATE;
}

/// A class of cluster events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClusterEvent {
    /// Object kind.
    pub resource: EventResource,
    /// Action bits.
    pub action: u32,
}

impl ClusterEvent {
    /// Builds an event class.
    pub const fn new(resource: EventResource, action: u32) -> Self {
        ClusterEvent { resource, action }
    }

    /// Whether an event that happened (`self`) is covered by a registered class `registered`.
    pub fn matches(&self, registered: &ClusterEvent) -> bool {
        let resource_ok = registered.resource == EventResource::WildCard
            || self.resource == EventResource::WildCard
            || registered.resource == self.resource;
        resource_ok && (registered.action & self.action) != 0
    }

    /// Static label for `scheduler_queue_incoming_pods_total{event}`, upstream's names.
    pub fn metric_label(&self) -> &'static str {
        use EventResource as R;
        match (self.resource, self.action) {
            (R::Node, action::ADD) => "NodeAdd",
            (R::Node, action::DELETE) => "NodeDelete",
            (R::Node, a) if a & action::UPDATE_NODE_ALLOCATABLE != 0 => "NodeAllocatableChange",
            (R::Node, a) if a & action::UPDATE_NODE_LABEL != 0 => "NodeLabelChange",
            (R::Node, a) if a & action::UPDATE_NODE_TAINT != 0 => "NodeTaintChange",
            (R::Node, a) if a & action::UPDATE_NODE_CONDITION != 0 => "NodeConditionChange",
            (R::Node, _) => "NodeUpdate",
            (R::AssignedPod, action::ADD) => "AssignedPodAdd",
            (R::AssignedPod, action::DELETE) => "AssignedPodDelete",
            (R::AssignedPod, _) => "AssignedPodUpdate",
            (R::UnscheduledPod, _) => "UnscheduledPodUpdate",
            (R::PersistentVolume, action::ADD) => "PersistentVolumeAdd",
            (R::PersistentVolume, action::DELETE) => "PersistentVolumeDelete",
            (R::PersistentVolume, _) => "PersistentVolumeUpdate",
            (R::PersistentVolumeClaim, action::ADD) => "PersistentVolumeClaimAdd",
            (R::PersistentVolumeClaim, action::DELETE) => "PersistentVolumeClaimDelete",
            (R::PersistentVolumeClaim, _) => "PersistentVolumeClaimUpdate",
            (R::StorageClass, action::ADD) => "storage.k8s.io/StorageClassAdd",
            (R::StorageClass, action::DELETE) => "storage.k8s.io/StorageClassDelete",
            (R::StorageClass, _) => "storage.k8s.io/StorageClassUpdate",
            (R::CsiNode, action::ADD) => "storage.k8s.io/CSINodeAdd",
            (R::CsiNode, action::DELETE) => "storage.k8s.io/CSINodeDelete",
            (R::CsiNode, _) => "storage.k8s.io/CSINodeUpdate",
            (R::CsiDriver, action::ADD) => "storage.k8s.io/CSIDriverAdd",
            (R::CsiDriver, action::DELETE) => "storage.k8s.io/CSIDriverDelete",
            (R::CsiDriver, _) => "storage.k8s.io/CSIDriverUpdate",
            (R::CsiStorageCapacity, action::ADD) => "storage.k8s.io/CSIStorageCapacityAdd",
            (R::CsiStorageCapacity, action::DELETE) => "storage.k8s.io/CSIStorageCapacityDelete",
            (R::CsiStorageCapacity, _) => "storage.k8s.io/CSIStorageCapacityUpdate",
            (R::VolumeAttachment, action::ADD) => "storage.k8s.io/VolumeAttachmentAdd",
            (R::VolumeAttachment, action::DELETE) => "storage.k8s.io/VolumeAttachmentDelete",
            (R::VolumeAttachment, _) => "storage.k8s.io/VolumeAttachmentUpdate",
            (R::Namespace, _) => "NamespaceChange",
            (R::WildCard, _) => "WildCardEvent",
        }
    }

    /// Label for `scheduler_queue_incoming_pods_total{event}` (upstream style, e.g. `NodeAdd`).
    pub fn label(&self) -> String {
        let r = match self.resource {
            EventResource::AssignedPod => "AssignedPod",
            EventResource::UnscheduledPod => "UnscheduledPod",
            EventResource::Node => "Node",
            EventResource::PersistentVolume => "PersistentVolume",
            EventResource::PersistentVolumeClaim => "PersistentVolumeClaim",
            EventResource::StorageClass => "storage.k8s.io/StorageClass",
            EventResource::Namespace => "Namespace",
            EventResource::CsiNode => "storage.k8s.io/CSINode",
            EventResource::CsiDriver => "storage.k8s.io/CSIDriver",
            EventResource::CsiStorageCapacity => "storage.k8s.io/CSIStorageCapacity",
            EventResource::VolumeAttachment => "storage.k8s.io/VolumeAttachment",
            EventResource::WildCard => "WildCard",
        };
        let a = match self.action {
            action::ADD => "Add",
            action::DELETE => "Delete",
            action::ALL => "All",
            _ => "Update",
        };
        format!("{r}{a}")
    }
}

/// The objects involved in an event, for queueing hints.
#[derive(Debug, Clone, Copy)]
pub enum EventObjects<'a> {
    /// A node changed (old is None on add, new is None on delete).
    Node {
        old: Option<&'a SlimNode>,
        new: Option<&'a SlimNode>,
    },
    /// A pod changed.
    Pod {
        old: Option<&'a Pod>,
        new: Option<&'a Pod>,
    },
    /// A PersistentVolumeClaim changed.
    Claim {
        old: Option<&'a PersistentVolumeClaim>,
        new: Option<&'a PersistentVolumeClaim>,
    },
    /// No objects (periodic flush, other kinds).
    None,
}

/// Whether an event may make a rejected pod schedulable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueingHint {
    /// Retry the pod.
    Queue,
    /// The event cannot help this pod.
    Skip,
}

/// A plugin's decision for one pod and one event.
pub type QueueingHintFn = fn(pod: &PodInfo, objects: EventObjects<'_>) -> QueueingHint;

/// An event class with an optional hint that refines it per pod.
#[derive(Debug, Clone, Copy)]
pub struct ClusterEventWithHint {
    /// The event class.
    pub event: ClusterEvent,
    /// None: every matching event requeues.
    pub hint: Option<QueueingHintFn>,
}

impl ClusterEventWithHint {
    /// An event class without a hint.
    pub const fn new(resource: EventResource, action: u32) -> Self {
        ClusterEventWithHint {
            event: ClusterEvent::new(resource, action),
            hint: None,
        }
    }

    /// An event class with a hint.
    pub const fn with_hint(resource: EventResource, action: u32, hint: QueueingHintFn) -> Self {
        ClusterEventWithHint {
            event: ClusterEvent::new(resource, action),
            hint: Some(hint),
        }
    }
}
