//! Pods a Permit plugin asked to wait (upstream's `waitingPodsMap` and `waitingPod`).
//!
//! A pod waits in its binding cycle, assumed on its node, until every plugin that asked it
//! to wait allows it, one of them rejects it, or the first plugin's timeout passes, which
//! rejects it in that plugin's name. Plugins reach waiting pods through the [`Handle`]
//! (gang scheduling allows a whole group at once).
//!
//! [`Handle`]: super::Handle

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use tokio::sync::Notify;

use super::status::{Code, Status};
use crate::config::GoDuration;
use crate::model::PodInfo;

/// The longest a Permit plugin may make a pod wait (upstream's `maxTimeout`).
pub const MAX_PERMIT_WAIT: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
struct State {
    /// Plugin → (when it stops waiting, how long it asked for).
    pending: FxHashMap<&'static str, (Instant, Duration)>,
    /// The verdict, once there is one.
    verdict: Option<Status>,
}

/// One pod waiting at Permit.
pub struct WaitingPod {
    pod: Arc<PodInfo>,
    state: Mutex<State>,
    changed: Notify,
}

impl std::fmt::Debug for WaitingPod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitingPod")
            .field("pod", &self.pod.key)
            .field("pending", &self.pending_plugins())
            .finish()
    }
}

impl WaitingPod {
    fn new(pod: Arc<PodInfo>, waits: &[(&'static str, Duration)]) -> Self {
        let now = Instant::now();
        let pending = waits
            .iter()
            .map(|&(p, d)| (p, (now.checked_add(d).unwrap_or(now), d)))
            .collect();
        WaitingPod {
            pod,
            state: Mutex::new(State {
                pending,
                verdict: None,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pod.
    pub fn pod(&self) -> &Arc<PodInfo> {
        &self.pod
    }

    /// The plugins it still waits for, sorted.
    pub fn pending_plugins(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.lock().pending.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// `plugin` lets the pod go; when no plugin is left waiting, it binds.
    pub fn allow(&self, plugin: &str) {
        let mut st = self.lock();
        st.pending.remove(plugin);
        if st.pending.is_empty() && st.verdict.is_none() {
            st.verdict = Some(Status::success());
            drop(st);
            self.changed.notify_one();
        }
    }

    /// `plugin` rejects the pod: it goes back to the queue as unschedulable. False when
    /// the pod already had a verdict.
    pub fn reject(&self, plugin: &'static str, message: &str) -> bool {
        self.stop(Code::Unschedulable, plugin, message)
    }

    /// The pod is stopped with an error (upstream's `Preempt`). False when it already had
    /// a verdict.
    pub fn preempt(&self, plugin: &'static str, message: &str) -> bool {
        self.stop(Code::Error, plugin, message)
    }

    fn stop(&self, code: Code, plugin: &'static str, message: &str) -> bool {
        let mut st = self.lock();
        if st.verdict.is_some() {
            return false;
        }
        st.pending.clear();
        st.verdict = Some(Status::new(code, message.to_string()).with_plugin(plugin));
        drop(st);
        self.changed.notify_one();
        true
    }

    /// Waits for the verdict; the first plugin whose time runs out rejects the pod.
    async fn verdict(&self) -> Status {
        loop {
            let changed = self.changed.notified();
            let next = {
                let st = self.lock();
                if let Some(v) = &st.verdict {
                    return v.clone();
                }
                st.pending
                    .iter()
                    .min_by_key(|(name, (at, _))| (*at, **name))
                    .map(|(name, (at, asked))| (*name, *at, *asked))
            };
            let Some((plugin, at, asked)) = next else {
                // Nothing pending and no verdict cannot last: `allow` sets one.
                changed.await;
                continue;
            };
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(at.into()) => {
                    let message = format!(
                        "rejected due to timeout after waiting {} at plugin {plugin}",
                        GoDuration::from_std(asked)
                    );
                    self.reject(plugin, &message);
                }
            }
        }
    }
}

/// Every waiting pod of the process, by uid (shared by all profiles, as upstream's).
#[derive(Default)]
pub struct WaitingPods {
    pods: Mutex<FxHashMap<String, Arc<WaitingPod>>>,
}

impl std::fmt::Debug for WaitingPods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitingPods")
            .field("pods", &self.lock().len())
            .finish()
    }
}

impl WaitingPods {
    fn lock(&self) -> MutexGuard<'_, FxHashMap<String, Arc<WaitingPod>>> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn add(&self, pod: Arc<PodInfo>, waits: &[(&'static str, Duration)]) {
        let uid = pod.uid.to_string();
        self.lock()
            .insert(uid, Arc::new(WaitingPod::new(pod, waits)));
    }

    /// The waiting pod with `uid`.
    pub fn get(&self, uid: &str) -> Option<Arc<WaitingPod>> {
        self.lock().get(uid).cloned()
    }

    /// Every waiting pod (a copy of the list: callbacks may allow or reject).
    pub fn all(&self) -> Vec<Arc<WaitingPod>> {
        self.lock().values().cloned().collect()
    }

    /// How many pods wait.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no pod waits.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Rejects the waiting pod `uid` (it was deleted, for one); false when none waits.
    pub fn reject(&self, uid: &str, plugin: &'static str, message: &str) -> bool {
        self.get(uid).is_some_and(|wp| wp.reject(plugin, message))
    }

    /// Waits for `uid`'s verdict and forgets it; success when it was not waiting.
    pub(super) async fn wait(&self, uid: &str) -> Status {
        let Some(wp) = self.get(uid) else {
            return Status::success();
        };
        let verdict = wp.verdict().await;
        self.lock().remove(uid);
        verdict
    }
}
