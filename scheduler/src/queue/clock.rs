//! Time for the queue, replaceable in tests.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A source of `Instant`s.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Instant>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            now: Mutex::new(Instant::now()),
        }
    }
}

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        if let Ok(mut n) = self.now.lock() {
            *n = ferrosched_runtime::deadline::after(*n, d);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.now
            .lock()
            .map(|n| *n)
            .unwrap_or_else(|e| *e.into_inner())
    }
}
