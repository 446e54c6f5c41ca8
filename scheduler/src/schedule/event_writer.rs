//! Events leave the scheduling and binding paths through a bounded queue, as upstream's
//! event broadcaster does (1,000 queued events, newer ones dropped when full): binding
//! never waits for an event. One task drains the queue and writes each event concurrently,
//! as upstream's sink starts one goroutine per event, up to [`MAX_EVENT_WRITES`] at once:
//! one write at a time could not keep up with a scheduler binding hundreds of pods a
//! second against a loaded API server, and dropped most `Scheduled` events. The queue
//! holds only what varies from one event to the next ([`QueuedEvent`], about a fifth of an
//! `Event`); the writer adds the reporting controller and instance, builds the object and
//! sends it in the configured encoding ([`crate::wire`]), retrying while the API server
//! cannot be reached, as upstream's sink does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use tokio::sync::{Semaphore, mpsc};

use super::event_names::event_name;
use crate::wire::Writer;

/// Upstream's `maxQueuedEvents`.
pub const MAX_QUEUED_EVENTS: usize = 1000;

/// Upstream's `maxTriesPerEvent`.
pub const MAX_TRIES_PER_EVENT: u32 = 12;

/// Upstream's sleep between two tries of one event (`defaultSleepDuration`).
pub const RETRY_SLEEP: Duration = Duration::from_secs(10);

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
    /// The events.k8s.io/v1 object, named as upstream names it: `<pod>.<unix ns in hex>`
    /// (the pod part cut when the name would be longer than the API allows).
    pub fn to_event(&self, controller: &str, instance: &str) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(event_name(&self.regarding.name, self.time.as_nanosecond())),
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
        Self::start_with(writer, controller, instance, RETRY_SLEEP)
    }

    /// [`EventWriter::start`] with another sleep between tries (tests).
    pub fn start_with(writer: Writer, controller: &str, instance: &str, sleep: Duration) -> Self {
        let (tx, rx) = mpsc::channel(MAX_QUEUED_EVENTS);
        let reporter = Reporter {
            controller: controller.into(),
            instance: instance.into(),
            sleep,
        };
        tokio::spawn(write_all(writer, rx, reporter));
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

/// Who writes the events, and how long to wait between tries.
struct Reporter {
    controller: String,
    instance: String,
    sleep: Duration,
}

async fn write_all(writer: Writer, mut rx: mpsc::Receiver<QueuedEvent>, reporter: Reporter) {
    let slots = Arc::new(Semaphore::new(MAX_EVENT_WRITES));
    let reporter = Arc::new(reporter);
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
            write_one(&writer, &queued, &reporter).await;
            drop(slot);
        });
    }
}

/// Writes one event, retrying as upstream's sink does (`attemptRecording`): up to
/// [`MAX_TRIES_PER_EVENT`] tries while the API server cannot be reached, sleeping
/// [`RETRY_SLEEP`] plus up to a quarter more between them. An answer from the API
/// server ends it (a rejected event would be rejected again), except 429, which
/// client-go retries by itself.
async fn write_one(writer: &Writer, queued: &QueuedEvent, reporter: &Reporter) -> u32 {
    let ev = queued.to_event(&reporter.controller, &reporter.instance);
    let path = format!(
        "/apis/events.k8s.io/v1/namespaces/{}/events",
        queued.regarding.namespace
    );
    let name = ev.metadata.name.as_deref().unwrap_or("");
    let namespace = &queued.regarding.namespace;
    for tries in 1..=MAX_TRIES_PER_EVENT {
        let e = match writer.create(&path, &ev).await {
            Ok(()) => return tries,
            Err(e) => e,
        };
        match &e {
            kube::Error::Api(s) if s.code == 409 => {
                tracing::debug!(event = %name, %namespace, "event already exists");
                return tries;
            }
            kube::Error::Api(s) if s.code != 429 => {
                tracing::warn!(event = %name, %namespace, error = %e, "server rejected event (not retried)");
                return tries;
            }
            kube::Error::SerdeError(_) | kube::Error::HttpError(_) => {
                tracing::warn!(event = %name, %namespace, error = %e, "could not build the event request");
                return tries;
            }
            _ if tries == MAX_TRIES_PER_EVENT => {
                tracing::warn!(event = %name, %namespace, error = %e, tries, "could not write event; giving up");
                return tries;
            }
            _ => {
                tracing::debug!(event = %name, %namespace, error = %e, tries, "could not write event; will retry");
                let jitter = reporter.sleep.mul_f64(rand::random::<f64>() * 0.25);
                tokio::time::sleep(reporter.sleep + jitter).await;
            }
        }
    }
    MAX_TRIES_PER_EVENT
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

    enum Answer {
        Unreachable,
        Code(u16),
    }

    /// Writes one event against a fake API server that gives `answers` in order;
    /// returns the tries `write_one` reports and the requests the server saw.
    async fn tries_against(answers: Vec<Answer>) -> (u32, usize) {
        use http::{Request, Response};
        use kube::client::Body;

        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut seen = 0;
            for answer in answers {
                let Some((req, send)) = handle.next_request().await else {
                    break;
                };
                seen += 1;
                assert_eq!(
                    req.uri().path(),
                    "/apis/events.k8s.io/v1/namespaces/ns/events"
                );
                assert_eq!(
                    req.headers()
                        .get(http::header::CONTENT_TYPE)
                        .map(|v| v.as_bytes()),
                    Some(crate::wire::PROTOBUF.as_bytes())
                );
                match answer {
                    Answer::Unreachable => {
                        send.send_error(std::io::Error::other("connection refused"))
                    }
                    Answer::Code(code) => send.send_response(
                        Response::builder()
                            .status(code)
                            .body(Body::from(Vec::new()))
                            .expect("response"),
                    ),
                }
            }
            seen
        });
        let writer = Writer::new(
            kube::Client::new(service, "default"),
            crate::wire::ContentType::Protobuf,
        );
        let reporter = Reporter {
            controller: "s".into(),
            instance: "s-1".into(),
            sleep: Duration::ZERO,
        };
        let queued = QueuedEvent {
            time: jiff::Timestamp::from_second(1).expect("time"),
            regarding: PodRef {
                namespace: "ns".into(),
                name: "p".into(),
                uid: "u".into(),
                resource_version: None,
            },
            related: None,
            type_: "Normal",
            reason: "Scheduled",
            action: "Binding",
            note: "n".into(),
        };
        let tries = write_one(&writer, &queued, &reporter).await;
        drop(writer);
        (tries, server.await.expect("server"))
    }

    #[tokio::test]
    async fn an_unreachable_api_server_is_retried_as_upstream_retries() {
        use Answer::*;
        assert_eq!(
            tries_against(vec![Unreachable, Unreachable, Code(201)]).await,
            (3, 3)
        );
        assert_eq!(tries_against(vec![Code(429), Code(201)]).await, (2, 2));
        let always_down = (0..MAX_TRIES_PER_EVENT).map(|_| Unreachable).collect();
        assert_eq!(tries_against(always_down).await, (12, 12));
    }

    #[tokio::test]
    async fn an_answer_from_the_api_server_ends_the_tries() {
        use Answer::*;
        assert_eq!(tries_against(vec![Code(201)]).await, (1, 1));
        assert_eq!(tries_against(vec![Code(422), Code(201)]).await, (1, 1));
        assert_eq!(tries_against(vec![Code(409), Code(201)]).await, (1, 1));
    }
}
