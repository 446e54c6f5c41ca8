//! Overflow-free `Instant + Duration` (issue #20): a deadline too far away to represent
//! becomes the farthest instant the platform holds, never a panic.

use std::time::{Duration, Instant};

/// `t + d`, or the farthest instant after `t` that the platform represents when `t + d`
/// overflows (about 292 billion years on Linux; a deadline that never comes either way).
#[must_use]
pub fn after(t: Instant, d: Duration) -> Instant {
    if let Some(v) = t.checked_add(d) {
        return v;
    }
    let (mut fits, mut overflows) = (Duration::ZERO, d);
    while overflows - fits > Duration::from_millis(1) {
        let mid = fits + (overflows - fits) / 2;
        if t.checked_add(mid).is_some() {
            fits = mid;
        } else {
            overflows = mid;
        }
    }
    t.checked_add(fits).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_when_it_can_and_saturates_when_it_cannot() {
        let now = Instant::now();
        assert_eq!(
            after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let far = after(now, Duration::MAX);
        assert!(far > now + Duration::from_secs(3600 * 24 * 365 * 1000));
        assert_eq!(after(now, Duration::MAX), far, "the same farthest instant");
        assert!(after(far, Duration::from_secs(1)) >= far);
    }
}
