//! The election loop: acquire, renew until cancelled or lost, release.

use k8s_openapi::api::coordination::v1::Lease;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::attempt::Attempt;
use super::guard::LeaseGuard;

use super::decide::{Observation, released_spec};
use super::{Clock, JITTER_FACTOR, LeaderElectionConfig, LeaderError, LeaseStore, StoreError};

/// A candidate for leadership of one Lease; see the [module docs](super).
pub struct LeaderElector<S: LeaseStore, C: Clock> {
    pub(super) store: S,
    pub(super) clock: C,
    pub(super) cfg: LeaderElectionConfig,
    /// The record last seen or written, and when (client-go's observedRecord/Time).
    pub(super) observed: Option<Observation>,
    /// The object last read or written, whose resourceVersion the next write uses.
    pub(super) cached: Option<Lease>,
    pub(super) missing_reported: bool,
    pub(super) leader_tx: watch::Sender<bool>,
    pub(super) holder_tx: watch::Sender<Option<String>>,
    /// Until when writers may act as leader; see [`LeaseGuard`].
    guard: LeaseGuard,
}

impl<S: LeaseStore, C: Clock> LeaderElector<S, C> {
    /// A candidate using `store` and `clock`; fails when `cfg` breaks the timing rules.
    pub fn new(store: S, clock: C, cfg: LeaderElectionConfig) -> Result<Self, LeaderError> {
        cfg.validate()?;
        Ok(Self {
            store,
            clock,
            cfg,
            observed: None,
            cached: None,
            missing_reported: false,
            leader_tx: watch::Sender::new(false),
            holder_tx: watch::Sender::new(None),
            guard: LeaseGuard::new(),
        })
    }

    /// `true` while this process is the leader; writers check it before acting.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leader_tx.subscribe()
    }

    /// The deadline writers check right before acting as leader: each renewal extends it
    /// to the renewal's start plus `renew_deadline`; loss and release revoke it.
    #[must_use]
    pub fn guard(&self) -> LeaseGuard {
        self.guard.clone()
    }

    /// The last observed holder identity (`None`: no holder or Lease not seen yet).
    #[must_use]
    pub fn subscribe_holder(&self) -> watch::Receiver<Option<String>> {
        self.holder_tx.subscribe()
    }

    /// This candidate's identity.
    #[must_use]
    pub fn identity(&self) -> &str {
        &self.cfg.identity
    }

    /// Runs until `cancel` fires (then releases the Lease if held and returns `Ok`) or
    /// until leadership that was held is lost ([`LeaderError::Lost`]): renewal did not
    /// succeed within `renew_deadline`, or another holder was seen. Cancel only after the
    /// work guarded by leadership has stopped, since a standby takes over at once.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), LeaderError> {
        info!(lease = %self.cfg.describe(), identity = %self.cfg.identity, "attempting to acquire leader lease");
        let mut last_renewal = None;
        loop {
            let budget = match last_renewal {
                Some(at) => {
                    let elapsed = self.clock.now().saturating_duration_since(at);
                    if elapsed >= self.cfg.renew_deadline {
                        return Err(self.lose(format!(
                            "failed to renew lease within {:?}",
                            self.cfg.renew_deadline
                        )));
                    }
                    self.cfg.renew_deadline - elapsed
                }
                None => self.cfg.renew_deadline,
            };
            let clock = self.clock.clone();
            // A renewal counts from when it was attempted: others see it no earlier.
            let started = clock.now();
            let attempt = tokio::select! {
                biased;
                () = cancel.cancelled() => None,
                attempt = self.try_acquire_or_renew() => Some(attempt),
                () = clock.sleep(budget) => Some(Attempt::Failed(format!("attempt timed out after {budget:?}"))),
            };
            let Some(attempt) = attempt else {
                self.shutdown(last_renewal.is_some()).await;
                return Ok(());
            };
            match attempt {
                Attempt::Held => {
                    self.guard.extend_until(started + self.cfg.renew_deadline);
                    if last_renewal.is_none() {
                        info!(lease = %self.cfg.describe(), identity = %self.cfg.identity, "became leader");
                        self.leader_tx.send_replace(true);
                    }
                    last_renewal = Some(started);
                }
                Attempt::Follower(holder) if last_renewal.is_some() => {
                    return Err(self.lose(format!("lease is now held by {holder}")));
                }
                Attempt::Follower(_) => {}
                Attempt::Failed(reason) if last_renewal.is_some() => {
                    warn!(%reason, "failed to renew lease")
                }
                Attempt::Failed(reason) => debug!(%reason, "failed to acquire lease"),
            }
            let wait = match last_renewal {
                // Wake up no later than the deadline so loss is reported on time.
                Some(at) => {
                    let left = self
                        .cfg
                        .renew_deadline
                        .saturating_sub(self.clock.now().saturating_duration_since(at));
                    self.cfg.retry_period.min(left)
                }
                None => self
                    .cfg
                    .retry_period
                    .mul_f64(1.0 + rand::random::<f64>() * JITTER_FACTOR),
            };
            let cancelled = tokio::select! {
                () = cancel.cancelled() => true,
                () = clock.sleep(wait) => false,
            };
            if cancelled {
                self.shutdown(last_renewal.is_some()).await;
                return Ok(());
            }
        }
    }

    fn lose(&mut self, reason: String) -> LeaderError {
        self.guard.revoke();
        self.leader_tx.send_replace(false);
        error!(lease = %self.cfg.describe(), %reason, "lost leadership");
        LeaderError::Lost {
            lease: self.cfg.describe(),
            reason,
        }
    }

    /// Stops leading and releases the Lease if the stored record names us.
    async fn shutdown(&mut self, leading: bool) {
        self.guard.revoke();
        if leading {
            self.leader_tx.send_replace(false);
            info!(lease = %self.cfg.describe(), "stopped leading: shutting down");
        }
        let (clock, deadline) = (self.clock.clone(), self.cfg.renew_deadline);
        tokio::select! {
            () = self.release() => {}
            () = clock.sleep(deadline) => warn!(lease = %self.cfg.describe(), "timed out releasing lease"),
        }
    }

    /// client-go's `release`: retried on conflict, as a racing renewal may have bumped
    /// the resourceVersion.
    async fn release(&mut self) {
        for _ in 0..5 {
            let lease = match self.store.get(&self.cfg.lease_name).await {
                Ok(Some(lease)) => lease,
                Ok(None) => return,
                Err(err) => {
                    warn!(%err, "failed to read lease for release");
                    return;
                }
            };
            let current = lease.spec.clone().unwrap_or_default();
            if current.holder_identity.as_deref() != Some(self.cfg.identity.as_str()) {
                return;
            }
            let now = self.clock.now();
            match self
                .write(lease, released_spec(&current, self.clock.wall_now()), now)
                .await
            {
                Ok(()) => {
                    info!(lease = %self.cfg.describe(), "released lease");
                    return;
                }
                Err(StoreError::Conflict(_)) => {}
                Err(err) => {
                    warn!(%err, "failed to release lease");
                    return;
                }
            }
        }
    }
}
