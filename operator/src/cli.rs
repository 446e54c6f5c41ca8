//! Command-line arguments, each with an environment variable fallback.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};
use ferrosched_runtime::serving::ServingOptions;

use crate::identity::{DEFAULT_GRANT_ROLE_PREFIX, DEFAULT_NAMESPACE};

/// Default `--secure-port` of the operator.
pub const DEFAULT_SECURE_PORT: u16 = 8443;

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

    /// Where a profile's `spec.image` may come from: image repositories
    /// (`registry.example.com/team/ferrosched`, any tag or digest) or prefixes ending in `/`
    /// (every repository under them). Empty: only `--scheduler-image`'s repository. A
    /// profile asking for another image gets `Degraded` / `ImageNotAllowed` and nothing is
    /// deployed.
    #[arg(long, env = "FERROSCHED_ALLOWED_IMAGES", value_delimiter = ',')]
    pub allowed_images: Vec<String>,

    /// Names in `--namespace` that belong to the operator's own objects (its Deployment,
    /// ServiceAccount, Service, …; the Lease `ferrosched-operator` always is): a profile
    /// whose children would take one gets `Degraded` / `NameConflict`.
    #[arg(long, env = "FERROSCHED_RESERVED_NAMES", value_delimiter = ',')]
    pub reserved_names: Vec<String>,

    /// Prefix of the fixed ClusterRoles the chart ships, one per grant group
    /// (`<prefix>base`, `<prefix>volume-binding`, …). The operator binds schedulers to
    /// them and writes no ClusterRole itself.
    #[arg(long, env = "FERROSCHED_GRANT_ROLE_PREFIX", default_value = DEFAULT_GRANT_ROLE_PREFIX)]
    pub grant_role_prefix: String,

    /// Secret (in `--namespace`) holding the CA the operator issues serving certificates
    /// from; created when missing, never rewritten. Its public half is published as the
    /// ConfigMap of the same name (`ca.crt`) for ServiceMonitors. The schedulers serve the
    /// certificate in Secret `ferrosched-scheduler-tls`, for
    /// `ferrosched-scheduler.<namespace>.svc`. Empty: schedulers sign their own.
    #[arg(
        long,
        env = "FERROSCHED_SERVING_CA_SECRET",
        default_value = "ferrosched-serving-ca"
    )]
    pub serving_ca_secret: String,

    /// The operator's own DNS names (its Service, `<name>.<namespace>.svc`): without
    /// `--tls-cert-file`, it serves a certificate for them from the serving CA.
    #[arg(long, env = "FERROSCHED_SERVING_DNS_NAMES", value_delimiter = ',')]
    pub serving_dns_names: Vec<String>,

    /// Log format.
    #[arg(long, env = "FERROSCHED_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Address the secure (HTTPS) health and metrics endpoint listens on.
    #[arg(long, env = "FERROSCHED_BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,

    /// HTTPS port of `/healthz`, `/livez`, `/readyz` (open) and `/metrics` (delegated
    /// authentication and authorization).
    #[arg(long, env = "FERROSCHED_SECURE_PORT", default_value_t = DEFAULT_SECURE_PORT)]
    pub secure_port: u16,

    /// Serving certificate (PEM); unset: a self-signed certificate generated in memory.
    #[arg(
        long,
        env = "FERROSCHED_TLS_CERT_FILE",
        requires = "tls_private_key_file"
    )]
    pub tls_cert_file: Option<PathBuf>,

    /// Private key (PEM) of `--tls-cert-file`.
    #[arg(
        long,
        env = "FERROSCHED_TLS_PRIVATE_KEY_FILE",
        requires = "tls_cert_file"
    )]
    pub tls_private_key_file: Option<PathBuf>,

    /// Paths served without authentication or authorization.
    #[arg(
        long,
        env = "FERROSCHED_AUTHORIZATION_ALWAYS_ALLOW_PATHS",
        value_delimiter = ',',
        default_value = "/healthz,/readyz,/livez"
    )]
    pub authorization_always_allow_paths: Vec<String>,

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

impl Args {
    /// The secure endpoint's options.
    pub fn serving(&self) -> ServingOptions {
        ServingOptions {
            bind_address: self.bind_address,
            secure_port: self.secure_port,
            cert_dir: None,
            tls_cert_file: self.tls_cert_file.clone(),
            tls_private_key_file: self.tls_private_key_file.clone(),
            always_allow_paths: self.authorization_always_allow_paths.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_flags_parse_and_tls_files_come_in_pairs() {
        let a = Args::try_parse_from([
            "ferrosched-operator",
            "--bind-address=127.0.0.1",
            "--secure-port=9443",
            "--tls-cert-file=/c.crt",
            "--tls-private-key-file=/c.key",
        ])
        .expect("flags parse");
        let s = a.serving();
        assert_eq!(
            (s.bind_address.to_string(), s.secure_port),
            ("127.0.0.1".into(), 9443)
        );
        assert_eq!(s.always_allow_paths, ["/healthz", "/readyz", "/livez"]);
        let half = Args::try_parse_from(["ferrosched-operator", "--tls-cert-file=/c.crt"]);
        assert!(half.is_err(), "a certificate without its key is rejected");
        let d = Args::try_parse_from(["ferrosched-operator"]).expect("defaults");
        assert_eq!(d.secure_port, 8443);
    }
}
