//! What the unit tests share: pods, nodes and snapshots from YAML (`objects`), and a
//! storage lister with PVs, PVCs, classes and CSI objects (`storage`).

mod objects;
pub mod storage;

pub use objects::*;
