//! Fault injection for end-to-end tests, compiled into debug builds only: the release
//! build (the image) has no hook at all.
//!
//! `FERROSCHED_TEST_FAULT=<point>:<pod name>` panics at `<point>` when it handles the pod
//! of that name, so a test can kill one worker of a real process and watch what the
//! process does next. Points: `scheduling-loop` (the scheduling thread, when it schedules
//! the pod) and `informers` (the pod informer, when it sees the pod).

/// The environment variable tests set.
pub const ENV: &str = "FERROSCHED_TEST_FAULT";

/// Panics when the fault configured for `point` names `pod` (debug builds only).
#[cfg(debug_assertions)]
pub fn inject(point: &str, pod: &str) {
    static FAULT: std::sync::OnceLock<Option<(String, String)>> = std::sync::OnceLock::new();
    let fault = FAULT.get_or_init(|| {
        let v = std::env::var(ENV).ok()?;
        let (p, name) = v.split_once(':')?;
        Some((p.to_string(), name.to_string()))
    });
    if let Some((p, name)) = fault
        && p == point
        && name == pod
    {
        panic!("{ENV}: injected fault at {point} for pod {pod}");
    }
}

/// Release builds: no hook.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn inject(_: &str, _: &str) {}
