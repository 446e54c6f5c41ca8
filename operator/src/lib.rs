//! Ferrosched's operator: turns `SchedulerProfile` objects into running, highly available
//! schedulers and keeps them that way.
//!
//! Reconcile pipeline: [`read`] (I/O) → [`validate`] and [`children`] (pure, one module per
//! child kind, assembled by [`plan`] with [`rollout`], [`status`] and [`diff`]) →
//! [`apply`] ([`ssa`]: server-side apply, field manager `ferrosched-operator`) → status.
//! [`controller`] wires the watches, [`mod@run`] the process.
//!
//! The modules form layers; each imports only from the layers below it:
//! 1. data and identities: [`identity`], [`settings`], [`images`], [`scheduler_pod`],
//!    [`quantity`], [`render`], [`config_ref`]; shared helpers: [`events`], [`metrics`],
//!    [`diff`], [`error`];
//! 2. checks of the profile alone: [`validate`];
//! 3. the children: [`children`] (the kinds table and the builders), and what exists of
//!    them, [`snapshot`];
//! 4. checks against what exists: [`guard`]; the rollout: [`rollout`], then [`status`];
//! 5. the decision: [`plan`] (pure);
//! 6. I/O: [`read`], [`ssa`], [`apply`], [`reconcile`], [`controller`], [`mod@run`].

pub mod apply;
pub mod certs;
pub mod children;
pub mod cli;
pub mod config_ref;
pub mod controller;
pub mod diff;
pub mod error;
pub mod events;
pub mod fault;
pub mod guard;
pub mod http;
pub mod identity;
pub mod images;
pub mod metrics;
pub mod plan;
pub mod quantity;
pub mod read;
pub mod reconcile;
pub mod render;
pub mod rollout;
pub mod run;
pub mod scheduler_pod;
pub mod serving;
pub mod settings;
pub mod snapshot;
pub mod ssa;
pub mod status;
pub mod telemetry;
pub mod validate;

#[cfg(test)]
mod test_support;

pub use cli::Args;
pub use error::{Error, StartError};
pub use run::run;
