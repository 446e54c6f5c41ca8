//! Liveness: the workers without which the process only pretends to schedule.
//!
//! When the scheduling thread or an informer dies, the process must not answer `ok` on
//! `/livez` and `/healthz` (the kubelet restarts a pod on failed liveness). A failed check
//! stays failed: nothing restarts a worker in place.

use std::sync::{Arc, Mutex};

/// Failed checks, shared by the workers' watchdogs and the endpoint.
#[derive(Clone, Debug, Default)]
pub struct Health {
    failed: Arc<Mutex<Vec<(String, String)>>>,
}

impl Health {
    /// Marks `check` failed for `reason` (logged; the endpoint withholds it, as upstream's
    /// health endpoints do).
    pub fn fail(&self, check: &str, reason: &str) {
        tracing::error!(check, reason, "health check failed");
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if !failed.iter().any(|(c, _)| c == check) {
            failed.push((check.to_string(), reason.to_string()));
        }
    }

    /// Whether every check passes.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// The endpoint's body for `endpoint` (`livez`, `healthz`): `None` when healthy,
    /// otherwise upstream's verbose listing (`[-]<check> failed: reason withheld`).
    #[must_use]
    pub fn report(&self, endpoint: &str) -> Option<String> {
        let failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if failed.is_empty() {
            return None;
        }
        let mut body = String::from("[+]ping ok\n");
        for (check, _) in failed.iter() {
            body.push_str(&format!("[-]{check} failed: reason withheld\n"));
        }
        body.push_str(&format!("{endpoint} check failed\n"));
        Some(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_stays_failed_and_is_listed_once() {
        let h = Health::default();
        assert!(h.is_ok());
        assert_eq!(h.report("livez"), None);
        h.fail("scheduling-loop", "panicked: boom");
        h.fail("scheduling-loop", "again");
        h.fail("informers", "stopped");
        assert!(!h.is_ok());
        assert_eq!(
            h.report("livez").as_deref(),
            Some(
                "[+]ping ok\n[-]scheduling-loop failed: reason withheld\n[-]informers failed: reason withheld\nlivez check failed\n"
            )
        );
    }
}
