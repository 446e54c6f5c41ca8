//! How long this process may still act as leader, judged on the monotonic clock at the
//! moment of acting.
//!
//! The `leading` watch channel says what the elector last decided; it cannot say that the
//! process was frozen (SIGSTOP, a paused VM, a long GC-like stall) for longer than the
//! Lease lasts. After such a pause every task resumes at once and a bind could go out
//! before the elector notices that another replica took over. So each successful renewal
//! extends a deadline (the renewal's start plus `renew_deadline`, shorter than the
//! `lease_duration` a standby waits before taking over), and writers that must only come
//! from the leader check [`LeaseGuard::holds`] right before they write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared deadline of this process's leadership; clones share it.
#[derive(Clone, Debug)]
pub struct LeaseGuard {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Instants are kept as nanoseconds since `base`.
    base: Instant,
    /// Exclusive deadline; 0: not held.
    until: AtomicU64,
    /// Without leader election the process always may act.
    always: bool,
}

impl LeaseGuard {
    /// Not held until [`extend_until`](Self::extend_until) is called.
    #[must_use]
    pub fn new() -> Self {
        Self::with(false)
    }

    /// Always held (no leader election).
    #[must_use]
    pub fn always() -> Self {
        Self::with(true)
    }

    fn with(always: bool) -> Self {
        LeaseGuard {
            inner: Arc::new(Inner {
                // A base in the past keeps every later instant's offset above zero.
                base: Instant::now()
                    .checked_sub(Duration::from_secs(1))
                    .unwrap_or_else(Instant::now),
                until: AtomicU64::new(0),
                always,
            }),
        }
    }

    fn offset(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.inner.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Held until `deadline` (never shortened by a late, older renewal).
    pub fn extend_until(&self, deadline: Instant) {
        self.inner
            .until
            .fetch_max(self.offset(deadline), Ordering::SeqCst);
    }

    /// Not held any more (leadership lost or released).
    pub fn revoke(&self) {
        self.inner.until.store(0, Ordering::SeqCst);
    }

    /// Whether the process may act as leader at `now`.
    #[must_use]
    pub fn holds_at(&self, now: Instant) -> bool {
        self.inner.always || self.offset(now) < self.inner.until.load(Ordering::SeqCst)
    }

    /// Whether the process may act as leader now.
    #[must_use]
    pub fn holds(&self) -> bool {
        self.holds_at(Instant::now())
    }
}

impl Default for LeaseGuard {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_only_until_the_deadline_of_the_last_renewal() {
        let g = LeaseGuard::new();
        let t0 = Instant::now();
        assert!(!g.holds_at(t0), "not held before the first renewal");
        g.extend_until(t0 + Duration::from_secs(10));
        assert!(g.holds_at(t0 + Duration::from_secs(9)));
        assert!(
            !g.holds_at(t0 + Duration::from_secs(10)),
            "a process frozen past the deadline does not hold on waking"
        );
        // An older renewal finishing late does not shorten a newer deadline.
        g.extend_until(t0 + Duration::from_secs(20));
        g.extend_until(t0 + Duration::from_secs(12));
        assert!(g.holds_at(t0 + Duration::from_secs(19)));
        g.revoke();
        assert!(!g.holds_at(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn without_leader_election_the_guard_always_holds() {
        let g = LeaseGuard::always();
        assert!(g.holds_at(Instant::now() + Duration::from_secs(1_000_000)));
        g.revoke();
        assert!(g.holds());
    }
}
