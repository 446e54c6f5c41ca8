//! The scheduler's view of Kubernetes objects: quantities, resources, pods and nodes.

pub mod affinity;
pub mod labels;
pub mod pod_info;
pub mod quantity;
pub mod resources;
pub mod selector;
pub mod slim_node;

pub use labels::{LabelSet, Labels};
pub use pod_info::{HostPort, PodInfo};
pub use resources::Resource;
pub use slim_node::SlimNode;
