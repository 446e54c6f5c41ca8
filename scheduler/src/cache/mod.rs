//! The scheduler cache: nodes and the pods placed on them, assumed pods, and snapshots.

mod node_info;
mod snapshot;
mod store;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_extreme;

pub use node_info::NodeInfo;
pub use snapshot::Snapshot;
pub use store::{Cache, CacheError};
