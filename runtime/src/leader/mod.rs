//! Leader election on a `coordination.k8s.io/v1` Lease with client-go semantics.
//!
//! One [`LeaderElector`] per process competes for one Lease. Every `retry_period` it reads
//! the Lease and decides (in the pure [`decide`] function) whether to stay a follower,
//! acquire, or renew; writes use `replace` with the read `resourceVersion`, so two
//! candidates can never both win the same round (the loser sees a conflict and retries).
//!
//! Semantics that matter (they mirror client-go's `tools/leaderelection`):
//! - Expiry of someone else's lease is judged on the **local monotonic clock**: a lease is
//!   considered expired `leaseDurationSeconds` after this elector last saw the record
//!   *change*. The remote `renewTime` is written for humans but never trusted, so clock
//!   skew between nodes cannot cause a premature takeover.
//! - `acquireTime` is kept while the same holder renews and set anew on takeover;
//!   `leaseTransitions` is incremented whenever the holder becomes us from anyone else
//!   (including from an empty holder), never on a renewal.
//! - A leader that has not renewed successfully within `renew_deadline` (or that sees
//!   another holder in the Lease) has lost leadership: [`LeaderElector::run`] returns
//!   [`LeaderError::Lost`] and the caller must stop acting and exit non-zero.
//! - On cancellation the Lease is released (empty holder, `leaseDurationSeconds: 1`,
//!   transitions kept) so a standby takes over at its next retry.
//! - A missing Lease is created, as client-go does, unless
//!   [`LeaderElectionConfig::create_if_missing`] is cleared. A create the API server
//!   forbids (a scheduler deployed by the operator has no `create` on leases; the operator
//!   creates its Lease) is not fatal: it is logged once and retried every period, and the
//!   Lease is acquired as soon as someone else creates it.
//!
//! Leadership is published on a [`tokio::sync::watch`] channel ([`LeaderElector::subscribe`]);
//! writers consult it before acting. The observed holder is published as well
//! ([`LeaderElector::subscribe_holder`]) for status and the `leader_election_master_status`
//! gauge.

mod attempt;
mod clock;
mod decide;
mod elector;
mod guard;
mod store;

#[cfg(test)]
mod elector_tests;
#[cfg(test)]
mod run_tests;

use std::time::Duration;

pub use clock::{Clock, ManualClock, SystemClock};
pub use decide::{Decision, Observation, decide, observe, released_spec};
pub use elector::LeaderElector;
pub use guard::LeaseGuard;
pub use store::{ApiLeaseStore, LeaseStore, MemoryLeaseStore, StoreCause, StoreError, api_store};

/// client-go's jitter factor: a follower waits `retry_period * (1 + rand * 1.2)` between
/// attempts, and `renew_deadline` must exceed `retry_period * 1.2`.
pub const JITTER_FACTOR: f64 = 1.2;

/// Settings of one leader election (upstream defaults: 15s / 10s / 2s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// Name of the Lease object.
    pub lease_name: String,
    /// Namespace of the Lease object (used for messages and for a created Lease; the
    /// store decides where requests go).
    pub lease_namespace: String,
    /// This candidate's identity, written to `holderIdentity`; see [`default_identity`].
    pub identity: String,
    /// How long followers wait, after last seeing the record change, before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a failing renewal before giving up leadership.
    pub renew_deadline: Duration,
    /// Interval between attempts to acquire or renew.
    pub retry_period: Duration,
    /// Create the Lease when it does not exist, as client-go does (default `true`; needs
    /// `create` on leases, and a forbidden create is only logged and retried).
    pub create_if_missing: bool,
}

impl LeaderElectionConfig {
    /// A config with upstream default timings, the [`default_identity`], creating the
    /// Lease when it is missing (client-go's behaviour).
    #[must_use]
    pub fn new(lease_namespace: impl Into<String>, lease_name: impl Into<String>) -> Self {
        Self {
            lease_name: lease_name.into(),
            lease_namespace: lease_namespace.into(),
            identity: default_identity(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            create_if_missing: true,
        }
    }

    /// Checks client-go's rules: `lease_duration > renew_deadline > retry_period * 1.2`,
    /// `lease_duration` at least one second, non-empty identity and Lease name.
    pub fn validate(&self) -> Result<(), LeaderError> {
        let invalid = |msg: &str| Err(LeaderError::InvalidConfig(msg.to_owned()));
        if self.identity.is_empty() {
            return invalid("identity must not be empty");
        }
        if self.lease_name.is_empty() {
            return invalid("lease name must not be empty");
        }
        if self.lease_duration < Duration::from_secs(1) {
            return invalid("leaseDuration must be at least 1s");
        }
        if self.retry_period.is_zero() {
            return invalid("retryPeriod must be greater than zero");
        }
        if self.lease_duration <= self.renew_deadline {
            return invalid("leaseDuration must be greater than renewDeadline");
        }
        if self.renew_deadline <= self.retry_period.mul_f64(JITTER_FACTOR) {
            return invalid("renewDeadline must be greater than retryPeriod*1.2");
        }
        Ok(())
    }

    /// `namespace/name` of the Lease, for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("{}/{}", self.lease_namespace, self.lease_name)
    }
}

/// Errors of leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The configuration breaks one of the timing or naming rules.
    #[error("invalid leader election config: {0}")]
    InvalidConfig(String),
    /// Leadership that was held has been lost; the caller must stop acting and exit.
    #[error("leader election lost on lease {lease}: {reason}")]
    Lost {
        /// `namespace/name` of the Lease.
        lease: String,
        /// Why leadership was lost.
        reason: String,
    },
}

/// The default identity, `<hostname>_<uuid>` like kube-scheduler's: unique per process
/// even when two replicas share a hostname.
#[must_use]
pub fn default_identity() -> String {
    let host = gethostname::gethostname();
    format!("{}_{}", host.to_string_lossy(), uuid::Uuid::new_v4())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rules_follow_client_go() {
        let ok = LeaderElectionConfig {
            identity: "a".into(),
            ..LeaderElectionConfig::new("ns", "lease")
        };
        assert!(ok.validate().is_ok());
        let bad = [
            LeaderElectionConfig {
                identity: String::new(),
                ..ok.clone()
            },
            LeaderElectionConfig {
                lease_duration: Duration::from_secs(10),
                ..ok.clone()
            },
            LeaderElectionConfig {
                renew_deadline: Duration::from_millis(2_400),
                ..ok.clone()
            },
            LeaderElectionConfig {
                retry_period: Duration::ZERO,
                ..ok.clone()
            },
            LeaderElectionConfig {
                lease_duration: Duration::from_millis(900),
                ..ok.clone()
            },
        ];
        for cfg in bad {
            assert!(
                matches!(cfg.validate(), Err(LeaderError::InvalidConfig(_))),
                "{cfg:?}"
            );
        }
        let id = default_identity();
        assert!(id.contains('_') && id.len() > 37, "hostname_uuid: {id}");
    }
}
