//! The process's API clients, one rate limiter each, as kube-scheduler splits them: a
//! burst of binds, status writes or events cannot delay a Lease renewal, and a flood of
//! requests to the secure port cannot starve scheduling of its client's budget.

use std::time::Duration;

use anyhow::Context;

use super::cli::Args;
use crate::config::SchedulerConfig;

/// The limits of upstream's delegated authentication and authorization clients (set
/// high there too, since they gate every request to the secure port).
pub const DELEGATED_AUTH_QPS: f32 = 200.0;
/// Burst of the delegated auth clients.
pub const DELEGATED_AUTH_BURST: u32 = 400;

/// One client per concern.
#[derive(Clone)]
pub struct Clients {
    /// Informers, listers, binds, pod status and preemption (`clientConnection` limits).
    pub main: kube::Client,
    /// Events (same limits, its own bucket, as upstream's event client).
    pub events: kube::Client,
    /// Lease reads and renewals (same limits, its own bucket, as upstream's leader
    /// election client).
    pub leader: kube::Client,
    /// TokenReview, from `--authentication-kubeconfig` or the scheduler's connection.
    pub authn: kube::Client,
    /// SubjectAccessReview, from `--authorization-kubeconfig` or the scheduler's connection.
    pub authz: kube::Client,
}

impl Clients {
    /// Builds every client from the configuration and flags.
    pub async fn connect(cfg: &SchedulerConfig, args: &Args) -> anyhow::Result<Self> {
        let cc = &cfg.client_connection;
        let path = cc.kubeconfig.as_str();
        let auth_path = |flag: &Option<std::path::PathBuf>| {
            flag.as_ref()
                .map_or_else(|| path.to_string(), |p| p.display().to_string())
        };
        Ok(Clients {
            main: client_from(path, cc.qps, cc.burst).await?,
            events: client_from(path, cc.qps, cc.burst).await?,
            leader: client_from(path, cc.qps, cc.burst).await?,
            authn: client_from(
                &auth_path(&args.authentication_kubeconfig),
                DELEGATED_AUTH_QPS,
                DELEGATED_AUTH_BURST,
            )
            .await?,
            authz: client_from(
                &auth_path(&args.authorization_kubeconfig),
                DELEGATED_AUTH_QPS,
                DELEGATED_AUTH_BURST,
            )
            .await?,
        })
    }
}

/// A client from a kubeconfig path (in-cluster when empty) with its own rate limiter.
pub async fn client_from(path: &str, qps: f32, burst: u32) -> anyhow::Result<kube::Client> {
    let config = if path.is_empty() {
        kube::Config::infer()
            .await
            .context("no kubeconfig given and no in-cluster configuration found")?
    } else {
        let kc = kube::config::Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read kubeconfig {path}"))?;
        kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .with_context(|| format!("invalid kubeconfig {path}"))?
    };
    let builder =
        kube::client::ClientBuilder::try_from(config).context("cannot build API client")?;
    Ok(match rate_window(qps, burst) {
        // client-go's token bucket, approximated: at most `burst` requests per burst/qps window.
        Some((n, per)) => builder
            .with_layer(&tower::limit::RateLimitLayer::new(n, per))
            .build(),
        None => builder.build(),
    })
}

/// Longest request window: a qps so small that `burst` requests take longer than this
/// (e.g. `1e-30`) is held to `burst` requests per year, which is no different in practice
/// from the never-refilling bucket client-go would make of it.
pub const MAX_RATE_WINDOW: Duration = Duration::from_secs(365 * 24 * 3600);

/// `clientConnection.qps`/`burst` as a request window; None when unlimited (qps <= 0).
pub fn rate_window(qps: f32, burst: u32) -> Option<(u64, Duration)> {
    if qps <= 0.0 || !qps.is_finite() {
        return None;
    }
    let burst = u64::from(burst.max(1));
    // Saturating both ways: a window too long to represent (qps 1e-30) is capped, and one
    // that rounds to zero (qps near f32::MAX), which tower's `Rate` rejects, is 1ns.
    let window = Duration::try_from_secs_f64(burst as f64 / f64::from(qps))
        .unwrap_or(MAX_RATE_WINDOW)
        .clamp(Duration::from_nanos(1), MAX_RATE_WINDOW);
    Some((burst, window))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_limits_become_a_request_window() {
        assert_eq!(rate_window(50.0, 100), Some((100, Duration::from_secs(2))));
        assert_eq!(
            rate_window(5000.0, 5000),
            Some((5000, Duration::from_secs(1)))
        );
        assert_eq!(rate_window(0.0, 100), None, "qps 0 means unlimited");
        assert_eq!(rate_window(-1.0, 100), None);
    }

    #[test]
    fn extreme_qps_gives_a_window_tower_accepts() {
        // Issue #20: 1e-30 made `Duration::from_secs_f64` panic; f32::MAX made a zero
        // window, which tower's `Rate::new` rejects with a panic.
        for (qps, burst) in [(1e-30, 100), (f32::MIN_POSITIVE, u32::MAX), (f32::MAX, 1)] {
            let (n, per) = rate_window(qps, burst).expect("limited");
            assert!(
                per > Duration::ZERO && per <= MAX_RATE_WINDOW,
                "{qps}: {per:?}"
            );
            let _ = tower::limit::RateLimitLayer::new(n, per);
        }
        assert_eq!(rate_window(f32::NAN, 100), None);
        assert_eq!(rate_window(f32::INFINITY, 100), None);
    }
}
