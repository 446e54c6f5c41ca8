//! How outcomes reach users: `Scheduled` / `FailedScheduling` events and the pod's
//! `PodScheduled` condition, as upstream writes them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use rustc_hash::FxHashMap;

use crate::model::PodInfo;
use crate::schedule::event_names;
use crate::schedule::event_writer::{EventWriter, PodRef, QueuedEvent};
use crate::schedule::status_patcher::{SendPatch, StatusPatch, StatusPatcher};
use crate::wire::Writer;

/// Where scheduling outcomes are reported.
pub trait OutcomeSink: Send + Sync {
    /// The pod was bound to `node`.
    fn scheduled<'a>(&'a self, pod: &'a PodInfo, node: &'a str) -> BoxFuture<'a, ()>;
    /// The attempt failed: `reason` is `Unschedulable` or `SchedulerError`.
    fn failed<'a>(
        &'a self,
        pod: &'a PodInfo,
        reason: &'a str,
        message: &'a str,
        nominated_node: Option<&'a str>,
    ) -> BoxFuture<'a, ()>;
    /// Preempts `victim` so `preemptor` fits on `node`, as upstream does: the victim gets the
    /// `DisruptionTarget` condition, is deleted, and gets a `Preempted` event.
    fn preempt<'a>(
        &'a self,
        victim: &'a PodInfo,
        preemptor: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, ()>;
    /// Clears `pod`'s `status.nominatedNodeName`: a higher-priority preemptor took the node
    /// it was nominated to (upstream's `clearNominatedNodeName`).
    fn clear_nomination<'a>(&'a self, _pod: &'a PodInfo) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Reports nothing (benchmarks).
#[derive(Debug, Default)]
pub struct NoOutcomes;

impl OutcomeSink for NoOutcomes {
    fn scheduled<'a>(&'a self, _: &'a PodInfo, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    fn failed<'a>(
        &'a self,
        _: &'a PodInfo,
        _: &'a str,
        _: &'a str,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    fn preempt<'a>(&'a self, _: &'a PodInfo, _: &'a PodInfo, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Same pod, same reason, same message within this window: one event.
const EVENT_DEDUP_WINDOW: Duration = Duration::from_secs(60);

/// Writes events (events.k8s.io/v1, through [`EventWriter`]) and pod status through the API.
pub struct ApiOutcomes {
    client: kube::Client,
    events: EventWriter,
    status: StatusPatcher,
    recent: Mutex<FxHashMap<(String, String), (String, Instant)>>,
}

impl ApiOutcomes {
    /// Reports as `scheduler_name` (the event's reportingController) from
    /// `<scheduler_name>-<host>`, as upstream does (both cut to the API's limits, see
    /// [`event_names`]); events through `events`, pod status and preemption through
    /// `client`.
    pub fn new(client: kube::Client, events: Writer, scheduler_name: &str, host: &str) -> Self {
        let controller = event_names::reporting_controller(scheduler_name);
        let instance = event_names::reporting_instance(&controller, host);
        let send: SendPatch = {
            let client = client.clone();
            Arc::new(move |p: StatusPatch| {
                let client = client.clone();
                Box::pin(async move { patch_status(client, p).await })
            })
        };
        ApiOutcomes {
            events: EventWriter::start(events, &controller, &instance),
            status: StatusPatcher::start(send),
            client,
            recent: Mutex::new(FxHashMap::default()),
        }
    }

    fn should_emit(&self, pod: &PodInfo, reason: &str, message: &str) -> bool {
        let now = Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() > 50_000 {
            recent.retain(|_, (_, t)| now.duration_since(*t) < EVENT_DEDUP_WINDOW);
        }
        let key = (pod.uid.clone(), reason.to_string());
        match recent.get(&key) {
            Some((m, t)) if m == message && now.duration_since(*t) < EVENT_DEDUP_WINDOW => false,
            _ => {
                recent.insert(key, (message.to_string(), now));
                true
            }
        }
    }

    fn event(
        &self,
        pod: &PodInfo,
        type_: &'static str,
        reason: &'static str,
        action: &'static str,
        note: String,
    ) {
        self.event_related(pod, None, type_, reason, action, note);
    }

    fn event_related(
        &self,
        pod: &PodInfo,
        related: Option<&PodInfo>,
        type_: &'static str,
        reason: &'static str,
        action: &'static str,
        note: String,
    ) {
        self.events.send(QueuedEvent {
            time: jiff::Timestamp::now(),
            regarding: pod_ref(pod),
            related: related.map(|r| Box::new(pod_ref(r))),
            type_,
            reason,
            action,
            note,
        });
    }
}

impl OutcomeSink for ApiOutcomes {
    fn scheduled<'a>(&'a self, pod: &'a PodInfo, node: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let msg = format!("Successfully assigned {} to {}", pod.key, node);
            self.event(pod, "Normal", "Scheduled", "Binding", msg);
        })
    }

    fn failed<'a>(
        &'a self,
        pod: &'a PodInfo,
        reason: &'a str,
        message: &'a str,
        nominated_node: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if self.should_emit(pod, reason, message) {
                self.event(
                    pod,
                    "Warning",
                    "FailedScheduling",
                    "Scheduling",
                    message.to_string(),
                );
            }
            if condition_is_current(pod.pod(), reason, message) && nominated_node.is_none() {
                return;
            }
            let mut status = serde_json::json!({
                "conditions": [{
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": reason,
                    "message": message,
                    "lastProbeTime": null,
                    "lastTransitionTime": jiff::Timestamp::now().to_string(),
                }]
            });
            if let Some(n) = nominated_node {
                status["nominatedNodeName"] = serde_json::Value::String(n.to_string());
            }
            self.status.queue(
                &pod.uid,
                StatusPatch {
                    namespace: pod.namespace().to_string(),
                    name: pod.name().to_string(),
                    body: serde_json::json!({ "status": status }),
                },
            );
        })
    }
    fn clear_nomination<'a>(&'a self, pod: &'a PodInfo) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.namespace());
            let patch = serde_json::json!({ "status": { "nominatedNodeName": null } });
            if let Err(e) = api
                .patch_status(pod.name(), &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::debug!(pod = %pod.key, error = %e, "could not clear the nomination");
            }
        })
    }

    fn preempt<'a>(
        &'a self,
        victim: &'a PodInfo,
        preemptor: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let api: Api<Pod> = Api::namespaced(self.client.clone(), victim.namespace());
            let patch = serde_json::json!({ "status": { "conditions": [{
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "PreemptionByScheduler",
                "message": format!("{}: preempting to accommodate a higher priority pod", preemptor.scheduler_name()),
                "lastTransitionTime": jiff::Timestamp::now().to_string(),
            }]}});
            let gone = |e: &kube::Error| matches!(e, kube::Error::Api(s) if s.code == 404);
            match api
                .patch_status(
                    victim.name(),
                    &PatchParams::default(),
                    &Patch::Strategic(&patch),
                )
                .await
            {
                Err(e) if gone(&e) => return,
                Err(e) => {
                    tracing::warn!(victim = %victim.key, error = %e, "could not add the DisruptionTarget condition");
                    return;
                }
                Ok(_) => {}
            }
            tracing::info!(victim = %victim.key, preemptor = %preemptor.key, %node, "preempting");
            match api.delete(victim.name(), &Default::default()).await {
                Err(e) if gone(&e) => return,
                Err(e) => {
                    tracing::warn!(victim = %victim.key, error = %e, "could not delete preemption victim");
                    return;
                }
                Ok(_) => {}
            }
            let note = format!("Preempted by pod {} on node {node}", preemptor.uid);
            self.event_related(
                victim,
                Some(preemptor),
                "Normal",
                "Preempted",
                "Preempting",
                note,
            );
        })
    }
}

async fn patch_status(client: kube::Client, p: StatusPatch) {
    let api: Api<Pod> = Api::namespaced(client, &p.namespace);
    if let Err(e) = api
        .patch_status(&p.name, &PatchParams::default(), &Patch::Strategic(&p.body))
        .await
    {
        tracing::debug!(pod = %format!("{}/{}", p.namespace, p.name), error = %e, "could not update pod condition");
    }
}

/// What an event keeps of `pod`.
fn pod_ref(pod: &PodInfo) -> PodRef {
    PodRef {
        namespace: pod.namespace().into(),
        name: pod.name().into(),
        uid: pod.uid.clone(),
        resource_version: pod.resource_version().map(str::to_string),
    }
}

/// Whether the pod already carries `PodScheduled=False` with this reason and message.
fn condition_is_current(pod: &Pod, reason: &str, message: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some(reason)
                    && c.message.as_deref() == Some(message)
            })
        })
}
