//! Pod status writes (the `PodScheduled` condition, `nominatedNodeName`) leave the
//! scheduling path through a bounded, per-pod queue drained by a few workers.
//!
//! A patch per failed attempt, each in its own task, lets a burst of unschedulable pods
//! open thousands of requests at once and hold them in memory while the client's rate
//! limiter lets them through. Here at most one patch per pod waits (a newer one replaces
//! it: only the last condition matters), and at most [`MAX_STATUS_WRITES`] are in flight,
//! as upstream's API dispatcher merges and bounds its pod status calls.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use rustc_hash::FxHashMap;
use tokio::sync::Notify;

/// Status writes in flight at once.
pub const MAX_STATUS_WRITES: usize = 8;

/// Pods whose patch may wait at once; past it the oldest waiting patch is dropped (the
/// pod's next attempt writes its condition again).
pub const MAX_WAITING_PATCHES: usize = 50_000;

/// One pod's status patch.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPatch {
    /// Namespace of the pod.
    pub namespace: String,
    /// Name of the pod.
    pub name: String,
    /// The strategic-merge patch body.
    pub body: serde_json::Value,
}

/// Sends one patch (the API in production, a recorder in tests).
pub type SendPatch = Arc<dyn Fn(StatusPatch) -> BoxFuture<'static, ()> + Send + Sync>;

#[derive(Default)]
struct Waiting {
    order: VecDeque<String>,
    by_uid: FxHashMap<String, StatusPatch>,
    closed: bool,
}

/// The queue and its workers; dropping the last handle stops the workers once the
/// queue is empty.
pub struct StatusPatcher {
    inner: Arc<Shared>,
}

struct Shared {
    waiting: Mutex<Waiting>,
    ready: Notify,
}

impl StatusPatcher {
    /// Starts [`MAX_STATUS_WRITES`] workers on the current runtime.
    pub fn start(send: SendPatch) -> Self {
        let inner = Arc::new(Shared {
            waiting: Mutex::new(Waiting::default()),
            ready: Notify::new(),
        });
        for _ in 0..MAX_STATUS_WRITES {
            tokio::spawn(work(inner.clone(), send.clone()));
        }
        StatusPatcher { inner }
    }

    /// Queues `patch` for the pod `uid`, replacing a patch of that pod still waiting.
    pub fn queue(&self, uid: &str, patch: StatusPatch) {
        let mut w = self.inner.lock();
        if w.by_uid.insert(uid.to_string(), patch).is_none() {
            w.order.push_back(uid.to_string());
            if w.order.len() > MAX_WAITING_PATCHES
                && let Some(oldest) = w.order.pop_front()
            {
                w.by_uid.remove(&oldest);
            }
        }
        drop(w);
        self.inner.ready.notify_one();
    }

    /// Patches waiting (not counting those in flight).
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.inner.lock().by_uid.len()
    }
}

impl Drop for StatusPatcher {
    fn drop(&mut self) {
        self.inner.lock().closed = true;
        self.inner.ready.notify_waiters();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next(&self) -> Option<Option<StatusPatch>> {
        let mut w = self.lock();
        while let Some(uid) = w.order.pop_front() {
            if let Some(p) = w.by_uid.remove(&uid) {
                return Some(Some(p));
            }
        }
        if w.closed { None } else { Some(None) }
    }
}

async fn work(shared: Arc<Shared>, send: SendPatch) {
    loop {
        let notified = shared.ready.notified();
        match shared.next() {
            None => return,
            Some(Some(patch)) => send(patch).await,
            Some(None) => notified.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn patch(name: &str, n: u32) -> StatusPatch {
        StatusPatch {
            namespace: "ns".into(),
            name: name.into(),
            body: serde_json::json!({ "n": n }),
        }
    }

    #[tokio::test]
    async fn writes_are_bounded_and_a_pods_newest_patch_wins() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let send: SendPatch = {
            let (in_flight, peak, sent, gate) =
                (in_flight.clone(), peak.clone(), sent.clone(), gate.clone());
            Arc::new(move |p: StatusPatch| {
                let (in_flight, peak, sent, gate) =
                    (in_flight.clone(), peak.clone(), sent.clone(), gate.clone());
                Box::pin(async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    gate.acquire().await.expect("gate").forget();
                    sent.lock().expect("sent").push(p);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                })
            })
        };
        let patcher = StatusPatcher::start(send);
        for i in 0..1000 {
            patcher.queue(&format!("uid-{i}"), patch(&format!("p{i}"), 1));
        }
        // A newer patch for a waiting pod replaces its older one.
        patcher.queue("uid-999", patch("p999", 2));
        while in_flight.load(Ordering::SeqCst) < MAX_STATUS_WRITES {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(patcher.waiting(), 1000 - MAX_STATUS_WRITES);
        gate.add_permits(10_000);
        while sent.lock().expect("sent").len() < 1000 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(peak.load(Ordering::SeqCst), MAX_STATUS_WRITES);
        let sent = sent.lock().expect("sent");
        assert_eq!(sent.len(), 1000, "one write per pod");
        let last = sent.iter().find(|p| p.name == "p999").expect("p999");
        assert_eq!(last.body, serde_json::json!({ "n": 2 }));
    }
}
