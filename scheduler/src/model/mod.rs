//! The scheduler's view of Kubernetes objects: quantities, resources, pods and nodes.

pub mod pod_info;
pub mod quantity;
pub mod resources;

pub use pod_info::{HostPort, PodInfo};
pub use resources::Resource;
