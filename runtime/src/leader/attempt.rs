//! One acquire-or-renew round (client-go's `tryAcquireOrRenew`): read, [`decide`], write.

use std::time::Instant;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::ObjectMeta;
use tracing::{debug, info, warn};

use super::decide::{Decision, Observation, decide, observe};
use super::{Clock, LeaderElector, LeaseStore, StoreError};

/// Outcome of one acquire-or-renew attempt.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Attempt {
    /// We hold the Lease now.
    Held,
    /// Someone else validly holds it.
    Follower(String),
    /// Nothing changed (request failed, conflict, Lease missing); retry next period.
    Failed(String),
}

impl<S: LeaseStore, C: Clock> LeaderElector<S, C> {
    /// One round of client-go's `tryAcquireOrRenew`.
    pub(crate) async fn try_acquire_or_renew(&mut self) -> Attempt {
        let now = self.clock.now();
        // Fast path: a valid leader renews from its cached object without a read.
        if let (Some(obs), Some(cached)) = (&self.observed, &self.cached)
            && obs.holder() == Some(self.cfg.identity.as_str())
            && obs.is_valid(now)
        {
            let cached = cached.clone();
            let decision = decide(
                &self.cfg.identity,
                Some(obs),
                now,
                self.clock.wall_now(),
                self.cfg.lease_duration,
                false,
            );
            if let Decision::Renew(spec) = decision {
                match self.write(cached, spec, now).await {
                    Ok(()) => return Attempt::Held,
                    Err(err) => debug!(%err, "optimistic renewal failed, falling back to a read"),
                }
            }
        }

        let lease = match self.store.get(&self.cfg.lease_name).await {
            Ok(lease) => lease,
            Err(err) => return Attempt::Failed(err.to_string()),
        };
        let Some(lease) = lease else {
            return self.on_missing(now).await;
        };
        self.missing_reported = false;
        let observed = observe(
            self.observed.take(),
            &lease.spec.clone().unwrap_or_default(),
            now,
        );
        self.cached = Some(lease.clone());
        let decision = decide(
            &self.cfg.identity,
            Some(&observed),
            now,
            self.clock.wall_now(),
            self.cfg.lease_duration,
            false,
        );
        self.set_observed(observed);
        match decision {
            Decision::Follow { holder } => Attempt::Follower(holder),
            Decision::Renew(spec) | Decision::Acquire(spec) => {
                match self.write(lease, spec, now).await {
                    Ok(()) => Attempt::Held,
                    Err(err) => Attempt::Failed(err.to_string()),
                }
            }
            Decision::Create(_) | Decision::WaitForLease => {
                Attempt::Failed("unexpected decision".into())
            }
        }
    }

    async fn on_missing(&mut self, now: Instant) -> Attempt {
        self.cached = None;
        match decide(
            &self.cfg.identity,
            None,
            now,
            self.clock.wall_now(),
            self.cfg.lease_duration,
            self.cfg.create_if_missing,
        ) {
            Decision::Create(spec) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.cfg.lease_name.clone()),
                        namespace: Some(self.cfg.lease_namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                match self.store.create(&lease).await {
                    Ok(stored) => {
                        self.stored(stored, now);
                        Attempt::Held
                    }
                    Err(err @ StoreError::Forbidden(_)) => {
                        if !self.missing_reported {
                            warn!(lease = %self.cfg.describe(), %err, "lease not found and not allowed to create it; waiting for it to be created (by the operator), retrying");
                            self.missing_reported = true;
                        }
                        Attempt::Failed(err.to_string())
                    }
                    Err(err) => Attempt::Failed(err.to_string()),
                }
            }
            _ => {
                if !self.missing_reported {
                    warn!(lease = %self.cfg.describe(), "lease not found; it must be created beforehand (by the operator), retrying");
                    self.missing_reported = true;
                }
                Attempt::Failed("lease not found".into())
            }
        }
    }

    /// Replaces `lease` with `spec`, guarded by the `resourceVersion` of `lease`.
    pub(super) async fn write(
        &mut self,
        mut lease: Lease,
        spec: LeaseSpec,
        now: Instant,
    ) -> Result<(), StoreError> {
        lease.spec = Some(spec);
        match self.store.replace(&lease).await {
            Ok(stored) => {
                self.stored(stored, now);
                Ok(())
            }
            Err(err) => {
                if matches!(err, StoreError::Conflict(_)) {
                    debug!(lease = %self.cfg.describe(), %err, "conflict writing lease");
                    self.cached = None;
                }
                Err(err)
            }
        }
    }

    fn stored(&mut self, stored: Lease, now: Instant) {
        let spec = stored.spec.clone().unwrap_or_default();
        self.cached = Some(stored);
        self.set_observed(Observation { spec, at: now });
    }

    /// Records the observation and logs a change of holder (client-go's OnNewLeader).
    fn set_observed(&mut self, observed: Observation) {
        let holder = observed.holder().map(str::to_owned);
        self.observed = Some(observed);
        if *self.holder_tx.borrow() != holder {
            match &holder {
                Some(h) => info!(lease = %self.cfg.describe(), "new leader observed: {h}"),
                None => info!(lease = %self.cfg.describe(), "lease has no holder"),
            }
            self.holder_tx.send_replace(holder);
        }
    }
}
