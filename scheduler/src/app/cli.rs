//! Command-line flags, compatible with kube-scheduler's where they overlap.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::config::GoDuration::parse(s)?
        .to_std()
        .ok_or_else(|| format!("invalid duration {s:?}: must not be negative"))
}

/// `ferrosched-scheduler`: a kube-scheduler compatible pod scheduler.
#[derive(Debug, Clone, Parser)]
#[command(name = "ferrosched-scheduler", version, about)]
pub struct Args {
    /// Path to a KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1).
    #[arg(long, env = "FERROSCHED_CONFIG")]
    pub config: Option<PathBuf>,
    /// Path to a kubeconfig; overrides clientConnection.kubeconfig (in-cluster when both are empty).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Run leader election before scheduling (overrides leaderElection.leaderElect).
    #[arg(long = "leader-elect", num_args = 0..=1, default_missing_value = "true")]
    pub leader_elect: Option<bool>,
    /// Lease duration (Go duration, e.g. 15s).
    #[arg(long = "leader-elect-lease-duration", value_parser = parse_duration)]
    pub lease_duration: Option<Duration>,
    /// Renew deadline of the leader.
    #[arg(long = "leader-elect-renew-deadline", value_parser = parse_duration)]
    pub renew_deadline: Option<Duration>,
    /// Wait between acquire or renew attempts.
    #[arg(long = "leader-elect-retry-period", value_parser = parse_duration)]
    pub retry_period: Option<Duration>,
    /// Lock type; only `leases` is supported.
    #[arg(long = "leader-elect-resource-lock")]
    pub resource_lock: Option<String>,
    /// Name of the Lease.
    #[arg(long = "leader-elect-resource-name")]
    pub resource_name: Option<String>,
    /// Namespace of the Lease.
    #[arg(long = "leader-elect-resource-namespace")]
    pub resource_namespace: Option<String>,
    /// Address the secure port listens on.
    #[arg(long = "bind-address", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// HTTPS port for health and metrics; 0 disables secure serving (as kube-scheduler).
    #[arg(long = "secure-port", default_value_t = crate::serving::DEFAULT_SECURE_PORT)]
    pub secure_port: u16,
    /// Directory for the self-signed certificate when no --tls-cert-file is given.
    #[arg(long = "cert-dir")]
    pub cert_dir: Option<PathBuf>,
    /// Serving certificate (PEM).
    #[arg(long = "tls-cert-file")]
    pub tls_cert_file: Option<PathBuf>,
    /// Serving key (PEM).
    #[arg(long = "tls-private-key-file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// PEM bundle of CAs whose client certificates authenticate requests to the secure
    /// port (user CN, groups O). Default: `client-ca-file` of the kube-system
    /// `extension-apiserver-authentication` ConfigMap, as kube-scheduler.
    #[arg(long = "client-ca-file")]
    pub client_ca_file: Option<PathBuf>,
    /// Kubeconfig for TokenReview (default: the scheduler's own connection).
    #[arg(long = "authentication-kubeconfig")]
    pub authentication_kubeconfig: Option<PathBuf>,
    /// Kubeconfig for SubjectAccessReview (default: the scheduler's own connection).
    #[arg(long = "authorization-kubeconfig")]
    pub authorization_kubeconfig: Option<PathBuf>,
    /// Paths served without authentication or authorization.
    #[arg(
        long = "authorization-always-allow-paths",
        value_delimiter = ',',
        default_value = "/healthz,/readyz,/livez"
    )]
    pub always_allow_paths: Vec<String>,
    /// Log verbosity (0–10), as klog's -v.
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
    /// Log format: text or json.
    #[arg(long = "logging-format", default_value = "text")]
    pub logging_format: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_scheduler_style_flags_parse() {
        let a = Args::try_parse_from([
            "ferrosched-scheduler",
            "--config=/etc/c.yaml",
            "--leader-elect=false",
            "--leader-elect-lease-duration=20s",
            "--secure-port=0",
            "-v=4",
            "--authorization-always-allow-paths=/healthz,/metrics",
        ])
        .expect("flags parse");
        assert_eq!(a.leader_elect, Some(false));
        assert_eq!(a.lease_duration, Some(Duration::from_secs(20)));
        assert_eq!(a.verbosity, 4);
        assert_eq!(a.always_allow_paths, ["/healthz", "/metrics"]);
    }

    #[test]
    fn unknown_flags_are_errors() {
        let err = Args::try_parse_from(["ferrosched-scheduler", "--no-such-flag"])
            .expect_err("unknown flag");
        assert!(err.to_string().contains("--no-such-flag"));
    }
}
