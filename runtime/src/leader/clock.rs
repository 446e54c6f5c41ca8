//! Time sources: a monotonic clock for expiry decisions and a wall clock for the
//! timestamps written to the Lease.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// Source of time for the elector: reading it and waiting on it. Clones share one time.
pub trait Clock: Clone + Send + Sync + 'static {
    /// Monotonic now, used for every expiry and deadline decision.
    fn now(&self) -> Instant;
    /// Wall-clock now, written to `acquireTime` / `renewTime` (informational only).
    fn wall_now(&self) -> jiff::Timestamp;
    /// Completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// The real clock: tokio's monotonic time and the system's wall time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn wall_now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// A clock that moves only when [`advance`](Self::advance)d; sleeps on it complete when
/// the clock has been advanced far enough. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    start: Instant,
    wall_start: jiff::Timestamp,
    inner: Arc<Mutex<ManualInner>>,
}

#[derive(Debug, Default)]
struct ManualInner {
    elapsed: Duration,
    sleepers: Vec<Waker>,
}

impl ManualClock {
    /// A clock starting at the current instant and at the given wall time.
    #[must_use]
    pub fn new(wall_start: jiff::Timestamp) -> Self {
        Self {
            start: Instant::now(),
            wall_start,
            inner: Arc::default(),
        }
    }

    /// Moves time forward by `by` and wakes the sleepers.
    pub fn advance(&self, by: Duration) {
        let sleepers = {
            let mut inner = self.lock();
            inner.elapsed = inner.elapsed.saturating_add(by);
            std::mem::take(&mut inner.sleepers)
        };
        sleepers.into_iter().for_each(Waker::wake);
    }

    /// Time advanced since the clock was made.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.lock().elapsed
    }

    fn lock(&self) -> MutexGuard<'_, ManualInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new(jiff::Timestamp::UNIX_EPOCH)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        crate::deadline::after(self.start, self.elapsed())
    }

    fn wall_now(&self) -> jiff::Timestamp {
        let elapsed =
            jiff::SignedDuration::try_from(self.elapsed()).unwrap_or(jiff::SignedDuration::MAX);
        self.wall_start
            .saturating_add(elapsed)
            .unwrap_or(self.wall_start)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        let clock = self.clone();
        let until = self.elapsed().saturating_add(duration);
        std::future::poll_fn(move |cx| {
            let mut inner = clock.lock();
            if inner.elapsed >= until {
                return Poll::Ready(());
            }
            inner.sleepers.push(cx.waker().clone());
            Poll::Pending
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_sleep_on_the_manual_clock_does_not_panic() {
        let clock = ManualClock::default();
        clock.advance(Duration::from_secs(1));
        drop(clock.sleep(Duration::MAX));
        clock.advance(Duration::MAX);
        assert_eq!(clock.elapsed(), Duration::MAX);
        assert!(clock.now() >= clock.start);
    }
}
