//! What the unit tests share: the operator's settings and profiles from YAML
//! (`profiles`), children as the API server stores them and snapshots of a cluster
//! (`cluster`), and planning at a given time (`plans`).

mod cluster;
mod plans;
mod profiles;

pub use cluster::*;
pub use plans::*;
pub use profiles::*;
