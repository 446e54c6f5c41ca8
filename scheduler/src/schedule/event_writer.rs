//! Events leave the scheduling and binding paths through a bounded queue that one task
//! drains, as upstream's event broadcaster does (1,000 queued events, newer ones dropped
//! when full, one writer): binding never waits for an event, and under load events do not
//! compete with bindings for the API server.

use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, PostParams};
use tokio::sync::mpsc;

/// Upstream's `maxQueuedEvents`.
pub const MAX_QUEUED_EVENTS: usize = 1000;

/// The sending side; the writer task stops when every sender is gone.
pub struct EventWriter {
    tx: mpsc::Sender<Event>,
    dropped: AtomicU64,
}

impl EventWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(client: kube::Client) -> Self {
        let (tx, rx) = mpsc::channel(MAX_QUEUED_EVENTS);
        tokio::spawn(write_all(client, rx));
        EventWriter {
            tx,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues an event; drops it (and counts it) when the queue is full.
    pub fn send(&self, ev: Event) {
        if self.tx.try_send(ev).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "event queue full; dropping events");
            }
        }
    }
}

async fn write_all(client: kube::Client, mut rx: mpsc::Receiver<Event>) {
    while let Some(ev) = rx.recv().await {
        let ns = ev.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(client.clone(), &ns);
        if let Err(e) = api.create(&PostParams::default(), &ev).await {
            let name = ev.metadata.name.as_deref().unwrap_or("");
            tracing::warn!(event = %name, namespace = %ns, error = %e, "could not record event");
        }
    }
}
