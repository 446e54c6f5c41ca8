//! The scheduler's secure endpoint and its metrics; TLS, delegated auth and start-up are
//! `ferrosched_runtime::serving`'s.
//!
//! - [`metrics`]: [`SchedulerMetrics`], kube-scheduler's metric names, labels and buckets,
//!   encoded as OpenMetrics text.
//! - [`serve`]: HTTPS on the secure port (self-signed certificate unless one is given)
//!   with `/healthz`, `/livez`, `/readyz` and `/metrics`, everything but the health paths
//!   behind delegated authentication and authorization.
//! - [`profiling`]: `/debug/pprof/` when `enableProfiling` is on (an honest index; Go
//!   profiles answer 501).

pub mod cpu_profile;
mod health;
pub mod metrics;
pub mod profiling;
mod server;
#[cfg(test)]
mod tests;

pub use ferrosched_runtime::serving::{DEFAULT_SECURE_PORT, ServingError, ServingOptions};
pub use health::Health;
pub use metrics::{AttemptResult, ProfileMetrics, Queue, SchedulerMetrics};
pub use server::{Serving, ServingState, router, serve, serve_on};
