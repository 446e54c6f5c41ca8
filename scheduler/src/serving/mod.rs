//! The scheduler's secure endpoint and its metrics.
//!
//! - [`metrics`]: [`SchedulerMetrics`], kube-scheduler's metric names, labels and buckets,
//!   encoded as OpenMetrics text.
//! - [`serve`]: HTTPS on the secure port (self-signed certificate unless one is given)
//!   with `/healthz`, `/livez`, `/readyz` and `/metrics`.
//! - [`profiling`]: `/debug/pprof/` when `enableProfiling` is on (an honest index; Go
//!   profiles answer 501).
//! - [`auth`]: delegated authentication (TokenReview) and authorization
//!   (SubjectAccessReview) for everything but the always-allowed health paths.

pub mod auth;
#[cfg(test)]
mod cluster_tests;
pub mod cpu_profile;
mod health;
pub mod metrics;
pub mod profiling;
pub mod reload;
mod server;
#[cfg(test)]
mod tests;
pub mod tls;

pub use auth::{AlwaysAllow, DelegatedAuth};
pub use health::Health;
pub use metrics::{AttemptResult, ProfileMetrics, Queue, SchedulerMetrics};
pub use server::{
    DEFAULT_SECURE_PORT, Serving, ServingError, ServingOptions, ServingState, router, serve,
    serve_on,
};
