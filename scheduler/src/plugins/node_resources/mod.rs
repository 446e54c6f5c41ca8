//! The node-resources plugins (upstream's `noderesources`): NodeResourcesFit, its scoring
//! strategies, and NodeResourcesBalancedAllocation.

pub mod balanced_allocation;
pub mod fit;
pub mod resource_allocation;
