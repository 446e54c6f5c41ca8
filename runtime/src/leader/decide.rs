//! The pure part of leader election: what was observed, and what to do about it.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

/// The Lease record as this elector last saw it, and when it first saw it in this form
/// (local monotonic time; client-go's `observedRecord` / `observedTime`).
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The last seen `spec`.
    pub spec: LeaseSpec,
    /// When `spec` was first seen (or written by us), on the local clock.
    pub at: Instant,
}

impl Observation {
    /// The holder, `None` when the record has no or an empty `holderIdentity`.
    #[must_use]
    pub fn holder(&self) -> Option<&str> {
        self.spec
            .holder_identity
            .as_deref()
            .filter(|h| !h.is_empty())
    }

    /// Whether the record is still valid at `now`: it changed less than its own
    /// `leaseDurationSeconds` ago on the local clock. The remote `renewTime` plays no part.
    #[must_use]
    pub fn is_valid(&self, now: Instant) -> bool {
        let secs = self.spec.lease_duration_seconds.unwrap_or(0).max(0);
        let lease = Duration::from_secs(u64::from(secs.unsigned_abs()));
        let expires = crate::deadline::after(self.at, lease);
        expires > now
    }
}

/// Updates the observation with the record just read: the observation time restarts
/// only when the record changed (any field, as client-go compares the raw record).
#[must_use]
pub fn observe(previous: Option<Observation>, current: &LeaseSpec, now: Instant) -> Observation {
    match previous {
        Some(prev) if prev.spec == *current => prev,
        _ => Observation {
            spec: current.clone(),
            at: now,
        },
    }
}

/// What to do after reading the Lease.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// The Lease does not exist: create it with this spec.
    Create(LeaseSpec),
    /// The Lease does not exist and we may not create it: wait for it.
    WaitForLease,
    /// Someone else validly holds the Lease: stay a follower.
    Follow {
        /// The current holder.
        holder: String,
    },
    /// We hold the Lease: write this renewed spec.
    Renew(LeaseSpec),
    /// The Lease is free or expired: write this spec to take it over.
    Acquire(LeaseSpec),
}

/// client-go's `tryAcquireOrRenew` decision. `observed` is the Lease as just read (after
/// [`observe`]), `None` when it does not exist; `now` is the local monotonic time,
/// `wall_now` the time written to the record, `lease_duration` our configured duration.
#[must_use]
pub fn decide(
    identity: &str,
    observed: Option<&Observation>,
    now: Instant,
    wall_now: jiff::Timestamp,
    lease_duration: Duration,
    create_if_missing: bool,
) -> Decision {
    let Some(observed) = observed else {
        return if create_if_missing {
            Decision::Create(held_spec(
                &LeaseSpec::default(),
                identity,
                wall_now,
                lease_duration,
            ))
        } else {
            Decision::WaitForLease
        };
    };
    match observed.holder() {
        Some(holder) if holder == identity => {
            let mut spec = held_spec(&observed.spec, identity, wall_now, lease_duration);
            if observed.spec.acquire_time.is_some() {
                spec.acquire_time.clone_from(&observed.spec.acquire_time);
            }
            spec.lease_transitions = Some(observed.spec.lease_transitions.unwrap_or(0));
            Decision::Renew(spec)
        }
        Some(holder) if observed.is_valid(now) => Decision::Follow {
            holder: holder.to_owned(),
        },
        _ => {
            let mut spec = held_spec(&observed.spec, identity, wall_now, lease_duration);
            let transitions = observed.spec.lease_transitions.unwrap_or(0);
            spec.lease_transitions = Some(transitions.saturating_add(1));
            Decision::Acquire(spec)
        }
    }
}

/// The spec a holder releases with: empty holder, `leaseDurationSeconds: 1`, transitions
/// kept, acquire and renew times `wall_now` (as client-go's `release`).
#[must_use]
pub fn released_spec(current: &LeaseSpec, wall_now: jiff::Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(String::new()),
        lease_duration_seconds: Some(1),
        acquire_time: Some(MicroTime(wall_now)),
        renew_time: Some(MicroTime(wall_now)),
        lease_transitions: Some(current.lease_transitions.unwrap_or(0)),
        ..current.clone()
    }
}

/// `base` with us as holder, fresh times and our duration; transitions left as in `base`
/// (0 for a new record). Other fields (strategy, preferredHolder) are preserved.
fn held_spec(
    base: &LeaseSpec,
    identity: &str,
    wall_now: jiff::Timestamp,
    lease_duration: Duration,
) -> LeaseSpec {
    let secs = i32::try_from(lease_duration.as_secs()).unwrap_or(i32::MAX);
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(secs),
        acquire_time: Some(MicroTime(wall_now)),
        renew_time: Some(MicroTime(wall_now)),
        lease_transitions: Some(base.lease_transitions.unwrap_or(0)),
        ..base.clone()
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
