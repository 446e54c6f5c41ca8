//! The secure (HTTPS-only) endpoint both processes serve.
//!
//! - [`tls`]: the serving certificate (given files, or a generated self-signed pair).
//! - [`reload`]: given certificate files re-read while serving.
//! - [`auth`]: delegated authentication (client certificates, TokenReview) and
//!   authorization (SubjectAccessReview).
//! - [`serve_on`] and [`guard`]: start-up, graceful stop, and the middleware that applies
//!   [`auth`] to every path but the always-allowed ones. The routes are the caller's.

pub mod auth;
#[cfg(test)]
mod cluster_tests;
pub mod reload;
mod server;
#[cfg(test)]
mod tests;
pub mod tls;

pub use auth::{AlwaysAllow, DelegatedAuth};
pub use server::{
    ClientCerts, DEFAULT_SECURE_PORT, Server, ServingError, ServingOptions, bind, guard, serve_on,
    text,
};
