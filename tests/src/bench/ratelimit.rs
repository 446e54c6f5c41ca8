//! A token bucket, as client-go's `flowcontrol` limiter (qps refill, `burst` capacity),
//! for the minimal binder's client.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// Up to `burst` requests at once, refilled at `qps` per second.
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(qps: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            qps: qps.max(f64::MIN_POSITIVE),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// How long to wait before a token is free after taking one now (zero: take it).
    fn take(&self, tokens: &mut f64, last: &mut Instant, now: Instant) -> Duration {
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.qps).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - *tokens) / self.qps)
        }
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut guard = self.state.lock().await;
                let (tokens, last) = &mut *guard;
                self.take(tokens, last, Instant::now())
            };
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let b = TokenBucket::new(10.0, 3);
        let t0 = Instant::now();
        let (mut tokens, mut last) = (3.0, t0);
        for _ in 0..3 {
            assert!(b.take(&mut tokens, &mut last, t0).is_zero());
        }
        let wait = b.take(&mut tokens, &mut last, t0);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9);
        assert!(
            b.take(&mut tokens, &mut last, t0 + Duration::from_millis(100))
                .is_zero()
        );
    }
}
