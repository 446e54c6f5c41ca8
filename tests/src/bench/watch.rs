//! Recording when each measured pod becomes bound, from a watch on the measured pods.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::watch;

use super::workload::{NAMESPACE, PHASE_LABEL};

#[derive(Debug, Default)]
struct Recorded {
    bound: HashMap<String, Instant>,
    times: Vec<Instant>,
}

/// Watches `<PHASE_LABEL>=measured` pods and notes the first time each has `spec.nodeName`.
#[derive(Debug)]
pub struct BindRecorder {
    state: Arc<Mutex<Recorded>>,
    task: tokio::task::JoinHandle<()>,
}

impl BindRecorder {
    /// Starts watching; returns once the initial list is done (or after 30 s).
    pub async fn start(client: &Client) -> anyhow::Result<Self> {
        let api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
        let cfg = watcher::Config::default().labels(&format!("{PHASE_LABEL}=measured"));
        let state = Arc::new(Mutex::new(Recorded::default()));
        let (synced_tx, mut synced) = watch::channel(false);
        let st = state.clone();
        let task = tokio::spawn(async move {
            let mut events = watcher(api, cfg).default_backoff().boxed();
            while let Some(ev) = events.next().await {
                let pod = match ev {
                    Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => p,
                    Ok(watcher::Event::InitDone) => {
                        let _ = synced_tx.send(true);
                        continue;
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "watching measured pods");
                        continue;
                    }
                };
                if pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_ref())
                    .is_none()
                {
                    continue;
                }
                let now = Instant::now();
                let name = pod.metadata.name.unwrap_or_default();
                let mut r = st.lock().unwrap_or_else(|e| e.into_inner());
                if let std::collections::hash_map::Entry::Vacant(e) = r.bound.entry(name) {
                    e.insert(now);
                    r.times.push(now);
                }
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(30), synced.wait_for(|s| *s)).await;
        Ok(BindRecorder { state, task })
    }

    /// Measured pods seen bound so far.
    pub fn bound(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .times
            .len()
    }

    /// Seconds from `start` to each bind, in the order seen.
    pub fn bind_secs(&self, start: Instant) -> Vec<f64> {
        let r = self.state.lock().unwrap_or_else(|e| e.into_inner());
        r.times
            .iter()
            .map(|t| t.saturating_duration_since(start).as_secs_f64())
            .collect()
    }
}

impl BindRecorder {
    /// Milliseconds from each pod's creation (`created`, when its create request was
    /// sent) to the bind the watch saw, sorted; pods not bound are left out.
    pub fn latencies_ms(&self, created: &HashMap<String, Instant>) -> Vec<f64> {
        let r = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<f64> = r
            .bound
            .iter()
            .filter_map(|(name, bound)| {
                let sent = created.get(name)?;
                Some(bound.saturating_duration_since(*sent).as_secs_f64() * 1000.0)
            })
            .collect();
        out.sort_by(f64::total_cmp);
        out
    }
}

impl Drop for BindRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
