//! Command-line arguments, each with an environment variable fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

use crate::names::DEFAULT_NAMESPACE;

/// Scheduler image used when neither the profile nor `--scheduler-image` names one: the
/// image this operator ships in (both binaries are in one image).
pub const DEFAULT_SCHEDULER_IMAGE: &str = concat!("ferrosched:", env!("CARGO_PKG_VERSION"));

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `ferrosched-operator`: runs Ferrosched schedulers from SchedulerProfile objects.
#[derive(Clone, Debug, Parser)]
#[command(name = "ferrosched-operator", version, about)]
pub struct Args {
    /// Namespace the scheduler Deployments, ConfigMaps, Leases and Services live in.
    #[arg(long, env = "FERROSCHED_NAMESPACE", default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,

    /// Scheduler image for profiles that do not set `spec.image` (normally the operator's own image).
    #[arg(long, env = "FERROSCHED_SCHEDULER_IMAGE", default_value = DEFAULT_SCHEDULER_IMAGE)]
    pub scheduler_image: String,

    /// Log format.
    #[arg(long, env = "FERROSCHED_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Address of the plain-HTTP health and metrics endpoint (/healthz, /readyz, /metrics).
    #[arg(
        long,
        env = "FERROSCHED_METRICS_BIND_ADDRESS",
        default_value = "0.0.0.0:8080"
    )]
    pub metrics_bind_address: SocketAddr,

    /// Elect a leader among operator replicas on the Lease `ferrosched-operator` in `--namespace`.
    #[arg(
        long,
        env = "FERROSCHED_LEADER_ELECT",
        action = ArgAction::Set,
        num_args = 0..=1,
        default_value_t = true,
        default_missing_value = "true"
    )]
    pub leader_elect: bool,

    /// Path to a kubeconfig file; unset: `KUBECONFIG`, `~/.kube/config` or in-cluster.
    #[arg(long, env = "FERROSCHED_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Log verbosity: 0–1 info, 2–3 debug for Ferrosched, 4–5 debug, 6+ trace. `RUST_LOG` wins when set.
    #[arg(
        short = 'v',
        long = "v",
        env = "FERROSCHED_VERBOSITY",
        default_value_t = 0
    )]
    pub verbosity: u8,
}
