//! The limit: a binder with no logic. It binds every pending pod of its scheduler name
//! to the next node round-robin through `pods/binding`, a bounded number in flight, so
//! its throughput is the rate at which this control plane accepts bindings. Bindings go
//! as protobuf, the cheapest encoding for the API server, as the schedulers send them.
//! With `events`, it also writes what every upstream-faithful scheduler writes: one
//! `Scheduled` event per bound pod, queued and written asynchronously by the scheduler's
//! own event writer (upstream's broadcaster semantics), so the binds never wait for it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrosched_scheduler::schedule::event_writer::{EventWriter, PodRef, QueuedEvent};
use ferrosched_scheduler::wire::{ContentType, Writer};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{Mutex, mpsc};

use super::ratelimit::TokenBucket;

/// How the binder runs.
#[derive(Debug, Clone)]
pub struct BinderOptions {
    /// Kubeconfig of its client.
    pub kubeconfig: PathBuf,
    /// Pods with this `spec.schedulerName` are bound.
    pub scheduler_name: String,
    /// Client qps (token bucket refill).
    pub qps: f64,
    /// Client burst.
    pub burst: u32,
    /// Binds in flight.
    pub concurrency: usize,
    /// Written once nodes and pending pods are listed.
    pub ready_file: Option<PathBuf>,
    /// Write a `Scheduled` event per bound pod.
    pub events: bool,
}

async fn client(path: &PathBuf) -> anyhow::Result<Client> {
    let kc = kube::config::Kubeconfig::read_from(path)?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    Ok(Client::try_from(cfg)?)
}

/// Runs until killed.
pub async fn run(opts: BinderOptions) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = client(&opts.kubeconfig).await?;
    let limiter = Arc::new(TokenBucket::new(opts.qps, opts.burst));
    limiter.acquire().await;
    let mut nodes: Vec<String> = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    nodes.sort();
    if nodes.is_empty() {
        anyhow::bail!("no nodes to bind to");
    }
    let nodes = Arc::new(nodes);
    let next = Arc::new(AtomicUsize::new(0));
    let writer = Writer::new(client.clone(), ContentType::Protobuf);
    let events = opts.events.then(|| {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let instance = format!("{}-{host}", opts.scheduler_name);
        Arc::new(EventWriter::start(
            writer.clone(),
            &opts.scheduler_name,
            &instance,
        ))
    });
    let (tx, rx) = mpsc::unbounded_channel::<PodRef>();
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..opts.concurrency.max(1) {
        let (writer, rx, nodes, next, limiter, events) = (
            writer.clone(),
            rx.clone(),
            nodes.clone(),
            next.clone(),
            limiter.clone(),
            events.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Some(pod) = rx.lock().await.recv().await else {
                    return;
                };
                let node = &nodes[next.fetch_add(1, Ordering::Relaxed) % nodes.len()];
                let bound = bind(&writer, &limiter, &pod.namespace, &pod.name, node).await;
                if let (true, Some(events)) = (bound, &events) {
                    events.send(scheduled(pod, node));
                }
            }
        });
    }
    let fields = format!("spec.schedulerName={},spec.nodeName=", opts.scheduler_name);
    let api: Api<Pod> = Api::all(client.clone());
    let mut events = watcher(api, watcher::Config::default().fields(&fields))
        .default_backoff()
        .boxed();
    let mut dispatched: HashSet<(String, String)> = HashSet::new();
    while let Some(ev) = events.next().await {
        let pod = match ev {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => p,
            Ok(watcher::Event::InitDone) => {
                if let Some(f) = &opts.ready_file {
                    std::fs::write(f, "ready\n")?;
                }
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "watching pending pods");
                continue;
            }
        };
        let bound = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some();
        let key = (
            pod.metadata.namespace.unwrap_or_default(),
            pod.metadata.name.unwrap_or_default(),
        );
        if !bound && dispatched.insert(key.clone()) {
            tx.send(PodRef {
                namespace: key.0,
                name: key.1,
                uid: pod.metadata.uid.unwrap_or_default(),
                resource_version: None,
            })?;
        }
    }
    Ok(())
}

/// The `Scheduled` event upstream writes for a pod bound to `node`.
fn scheduled(pod: PodRef, node: &str) -> QueuedEvent {
    QueuedEvent {
        time: jiff::Timestamp::now(),
        note: format!(
            "Successfully assigned {}/{} to {node}",
            pod.namespace, pod.name
        ),
        regarding: pod,
        related: None,
        type_: "Normal",
        reason: "Scheduled",
        action: "Binding",
    }
}

/// `POST pods/<name>/binding` in protobuf (as the schedulers send it), retried a few
/// times on transient errors. Whether the pod is bound (by this call or an earlier one).
async fn bind(writer: &Writer, limiter: &TokenBucket, ns: &str, name: &str, node: &str) -> bool {
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.into()),
            ..Default::default()
        },
    };
    let path = format!("/api/v1/namespaces/{ns}/pods/{name}/binding");
    for attempt in 0..5u32 {
        limiter.acquire().await;
        match writer.create(&path, &binding).await {
            Ok(_) => return true,
            // Already bound (e.g. a retry after a lost reply): nothing left to do.
            Err(kube::Error::Api(s)) if s.code == 409 => return attempt > 0,
            Err(e) => {
                tracing::warn!(pod = name, attempt, error = %e, "bind failed");
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
        }
    }
    false
}
