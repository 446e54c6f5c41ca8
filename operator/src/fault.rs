//! Crash injection for end-to-end tests, compiled into debug builds only: the release
//! build (the image) has no hook at all.
//!
//! `FERROSCHED_TEST_CRASH_AFTER_WRITES=<n>` ends the process (exit code 86, no clean-up,
//! as a killed pod would) right after its `n`-th API write, so a test can stop the
//! operator at every write point of a reconcile in turn and check that a restarted one
//! converges as if nothing happened.

/// The environment variable tests set.
pub const ENV: &str = "FERROSCHED_TEST_CRASH_AFTER_WRITES";
/// The exit code of an injected crash.
pub const EXIT_CODE: i32 = 86;

/// Called after every API write; exits at the configured one (debug builds only).
#[cfg(debug_assertions)]
pub fn after_write(what: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static AT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let Some(at) = *AT.get_or_init(|| std::env::var(ENV).ok()?.parse().ok()) else {
        return;
    };
    let n = WRITES.fetch_add(1, Ordering::SeqCst) + 1;
    if n == at {
        eprintln!("{ENV}: crashing after write {n} ({what})");
        std::process::exit(EXIT_CODE);
    }
}

/// Release builds: no hook.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn after_write(_: &str) {}
