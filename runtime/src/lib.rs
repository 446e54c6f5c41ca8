//! Process concerns shared by `ferrosched-scheduler` and `ferrosched-operator`.
//!
//! - [`serving`]: the HTTPS endpoint (certificate, reload, start-up, graceful stop) and
//!   its guard, delegated authentication and authorization as kube-scheduler's.
//! - [`leader`]: leader election on a Lease, with client-go's semantics.
//! - [`shutdown`]: SIGTERM and SIGINT.
//! - [`deadline`]: `Instant + Duration` that never overflows.
//! - [`report`]: a fatal error and its causes as one line.
//!
//! What each process serves, and when it stops, stays in its own crate.

pub mod deadline;
pub mod leader;
mod report;
pub mod serving;
pub mod shutdown;

pub use report::report;
