//! Events leave the scheduling and binding paths through a bounded queue, as upstream's
//! event broadcaster does (1,000 queued events, newer ones dropped when full): binding
//! never waits for an event. One task drains the queue and writes each event concurrently,
//! as upstream's sink starts one goroutine per event, up to [`MAX_EVENT_WRITES`] at once:
//! one write at a time could not keep up with a scheduler binding hundreds of pods a
//! second against a loaded API server, and dropped most `Scheduled` events. The queue
//! holds only what varies from one event to the next ([`QueuedEvent`], about a fifth of an
//! `Event`); the writer adds the reporting controller and instance, builds the object and
//! sends it in the configured encoding ([`crate::wire`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use tokio::sync::{Semaphore, mpsc};

use crate::wire::Writer;

/// Upstream's `maxQueuedEvents`.
pub const MAX_QUEUED_EVENTS: usize = 1000;

/// Event writes in flight at once. Upstream does not bound them; a bound keeps a burst of
/// failures from opening thousands of requests, and 64 keeps up with binding at this
/// machine's API-server round trips (tens of milliseconds under load).
pub const MAX_EVENT_WRITES: usize = 64;

/// The pod an event is about (or related to).
#[derive(Debug, Clone, PartialEq)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// resourceVersion, when known.
    pub resource_version: Option<String>,
}

impl PodRef {
    fn reference(&self) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(self.name.clone()),
            namespace: Some(self.namespace.clone()),
            uid: Some(self.uid.clone()),
            resource_version: self.resource_version.clone(),
            ..Default::default()
        }
    }
}

/// An event waiting to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEvent {
    /// When it happened.
    pub time: jiff::Timestamp,
    /// The pod it is about.
    pub regarding: PodRef,
    /// A second pod it involves (the preemptor of a `Preempted` event).
    pub related: Option<Box<PodRef>>,
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// `Scheduled`, `FailedScheduling`, `Preempted`.
    pub reason: &'static str,
    /// `Binding`, `Scheduling`, `Preempting`.
    pub action: &'static str,
    /// The message (cut to the API's 1,024 characters by the writer).
    pub note: String,
}

impl QueuedEvent {
    /// The events.k8s.io/v1 object, named as upstream names it: `<pod>.<unix ns in hex>`.
    pub fn to_event(&self, controller: &str, instance: &str) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    self.regarding.name,
                    self.time.as_nanosecond()
                )),
                namespace: Some(self.regarding.namespace.clone()),
                ..Default::default()
            },
            event_time: Some(MicroTime(self.time)),
            reporting_controller: Some(controller.into()),
            reporting_instance: Some(instance.into()),
            action: Some(self.action.into()),
            reason: Some(self.reason.into()),
            note: Some(self.note.chars().take(1024).collect()),
            type_: Some(self.type_.into()),
            regarding: Some(self.regarding.reference()),
            related: self.related.as_deref().map(PodRef::reference),
            ..Default::default()
        }
    }
}

/// The sending side; the writer task stops when every sender is gone.
pub struct EventWriter {
    tx: mpsc::Sender<QueuedEvent>,
    dropped: AtomicU64,
}

impl EventWriter {
    /// Starts the writer task on the current runtime, reporting as `controller` from
    /// `instance`.
    pub fn start(writer: Writer, controller: &str, instance: &str) -> Self {
        let (tx, rx) = mpsc::channel(MAX_QUEUED_EVENTS);
        tokio::spawn(write_all(writer, rx, controller.into(), instance.into()));
        EventWriter {
            tx,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues an event; drops it (and counts it) when the queue is full.
    pub fn send(&self, ev: QueuedEvent) {
        if self.tx.try_send(ev).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "event queue full; dropping events");
            }
        }
    }
}

async fn write_all(
    writer: Writer,
    mut rx: mpsc::Receiver<QueuedEvent>,
    controller: String,
    instance: String,
) {
    let slots = Arc::new(Semaphore::new(MAX_EVENT_WRITES));
    let reporter: Arc<(String, String)> = Arc::new((controller, instance));
    loop {
        // A slot first, then the next event: while every slot is busy, events wait in
        // the bounded queue (and the newest are dropped once it is full).
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(queued) = rx.recv().await else {
            return;
        };
        let (writer, reporter) = (writer.clone(), reporter.clone());
        tokio::spawn(async move {
            write_one(&writer, &queued, &reporter.0, &reporter.1).await;
            drop(slot);
        });
    }
}

async fn write_one(writer: &Writer, queued: &QueuedEvent, controller: &str, instance: &str) {
    let ev = queued.to_event(controller, instance);
    let path = format!(
        "/apis/events.k8s.io/v1/namespaces/{}/events",
        queued.regarding.namespace
    );
    if let Err(e) = writer.create(&path, &ev).await {
        let name = ev.metadata.name.as_deref().unwrap_or("");
        tracing::warn!(event = %name, namespace = %queued.regarding.namespace, error = %e, "could not record event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_object_is_built_as_upstream_names_and_fills_it() {
        let pod = |name: &str| PodRef {
            namespace: "ns".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            resource_version: Some("7".into()),
        };
        let q = QueuedEvent {
            time: jiff::Timestamp::from_nanosecond(255).expect("time"),
            regarding: pod("victim"),
            related: Some(Box::new(pod("preemptor"))),
            type_: "Normal",
            reason: "Preempted",
            action: "Preempting",
            note: "x".repeat(2000),
        };
        let ev = q.to_event("my-scheduler", "host_1");
        assert_eq!(ev.metadata.name.as_deref(), Some("victim.ff"));
        assert_eq!(ev.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(ev.reporting_controller.as_deref(), Some("my-scheduler"));
        assert_eq!(ev.reporting_instance.as_deref(), Some("host_1"));
        assert_eq!(
            (
                ev.type_.as_deref(),
                ev.reason.as_deref(),
                ev.action.as_deref()
            ),
            (Some("Normal"), Some("Preempted"), Some("Preempting"))
        );
        assert_eq!(ev.note.map(|n| n.len()), Some(1024));
        let regarding = ev.regarding.expect("regarding");
        assert_eq!(
            (regarding.kind.as_deref(), regarding.api_version.as_deref()),
            (Some("Pod"), Some("v1"))
        );
        assert_eq!(regarding.uid.as_deref(), Some("uid-victim"));
        assert_eq!(regarding.resource_version.as_deref(), Some("7"));
        assert_eq!(
            ev.related.and_then(|r| r.name).as_deref(),
            Some("preemptor")
        );
        assert_eq!(ev.event_time.map(|t| t.0), Some(q.time));
    }
}
