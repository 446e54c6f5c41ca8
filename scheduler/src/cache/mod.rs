//! The scheduler cache: nodes and the pods placed on them, assumed pods, and snapshots.

mod images;
mod node_info;
mod snapshot;
mod store;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_extreme;

pub use images::{ImageState, ImageStates};
pub use node_info::NodeInfo;
pub use snapshot::Snapshot;
pub use store::{Cache, CacheError};
