//! Ferrosched's scheduler: a kube-scheduler compatible pod scheduler.
//!
//! The architecture follows upstream: informers feed a [`cache`]; a [`queue`] orders
//! pending pods; each scheduling cycle runs a profile's [`framework`] plugins over a
//! snapshot; binding runs concurrently. See `docs/` for design decisions. Serving,
//! leader election and signals come from `ferrosched-runtime`, shared with the operator.

pub mod app;
pub mod cache;
pub mod config;
pub mod fault;
pub mod framework;
#[cfg(test)]
mod fuzz;
pub mod informers;
pub mod listers;
pub mod logging;
pub mod model;
pub mod plugins;
pub mod queue;
pub mod schedule;
pub mod serving;
#[cfg(test)]
pub mod test_support;
pub mod wire;
