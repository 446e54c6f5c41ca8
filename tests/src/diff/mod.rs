//! Differential testing against the upstream kube-scheduler: apply a generated state to
//! the real control plane, let kube-scheduler decide, and compare with what Ferrosched's
//! scheduling code decides for the same objects.

pub mod generate;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrosched_scheduler::cache::{Cache, Snapshot};
use ferrosched_scheduler::framework::{CycleState, Framework, Handle};
use ferrosched_scheduler::model::PodInfo;
use ferrosched_scheduler::schedule::{Algorithm, ScheduleError, run_post_filter};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};

use generate::{HOSTNAME, NODE_LABEL, State};

/// Namespace the generated pods live in (its `default` ServiceAccount exists).
pub const NAMESPACE: &str = "default";

/// What a scheduler made of the incoming pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Bound to this node.
    Bound(String),
    /// `FailedScheduling` with this message.
    Failed(String),
}

/// Ferrosched's verdict: the feasible nodes with their total scores, or the message.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Feasible nodes and scores.
    Scores(Vec<(String, i64)>),
    /// The `FailedScheduling` message (preemption's part included).
    Failed(String),
}

impl Verdict {
    /// The nodes sharing the highest score.
    pub fn best(&self) -> Vec<&str> {
        let Verdict::Scores(s) = self else {
            return Vec::new();
        };
        let max = s.iter().map(|(_, v)| *v).max().unwrap_or(0);
        s.iter()
            .filter(|(_, v)| *v == max)
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

/// Why the two disagree, or None.
pub fn disagreement(kube: &Outcome, ferro: &Verdict) -> Option<String> {
    match (kube, ferro) {
        (Outcome::Bound(node), v @ Verdict::Scores(scores)) => {
            let best = v.best();
            (!best.contains(&node.as_str())).then(|| {
                format!("kube-scheduler chose {node}; Ferrosched's best are {best:?} (scores {scores:?})")
            })
        }
        (Outcome::Failed(a), Verdict::Failed(b)) => (a != b)
            .then(|| format!("messages differ:\n  kube-scheduler: {a}\n  ferrosched:     {b}")),
        (Outcome::Bound(node), Verdict::Failed(m)) => Some(format!(
            "kube-scheduler bound to {node}; Ferrosched finds it unschedulable: {m}"
        )),
        (Outcome::Failed(m), Verdict::Scores(s)) => Some(format!(
            "kube-scheduler finds it unschedulable ({m}); Ferrosched finds feasible {s:?}"
        )),
    }
}

/// Creates the priority classes the generator refers to.
pub async fn install_priority_classes(client: &kube::Client) -> anyhow::Result<()> {
    let api: Api<PriorityClass> = Api::all(client.clone());
    for (name, value) in [("diff-low", 100), ("diff-high", 1000)] {
        let pc: PriorityClass = serde_json::from_value(
            serde_json::json!({"metadata": {"name": name}, "value": value}),
        )?;
        api.create(&PostParams::default(), &pc).await?;
    }
    Ok(())
}

async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn node_name(p: &Pod) -> Option<&str> {
    p.spec.as_ref()?.node_name.as_deref()
}

/// Applies states to a cluster whose default scheduler is kube-scheduler.
pub struct Runner {
    client: kube::Client,
    scheduler: String,
    framework: Framework,
}

impl Runner {
    /// A runner comparing against the scheduler named `scheduler`, with Ferrosched's default
    /// profile at percentageOfNodesToScore 100.
    pub fn new(client: kube::Client, scheduler: &str) -> anyhow::Result<Self> {
        let cfg = ferrosched_scheduler::config::parse(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\npercentageOfNodesToScore: 100\n",
        )?;
        let framework = Framework::new(
            &cfg.profiles[0],
            &ferrosched_scheduler::plugins::registry(),
            &Handle::offline(),
        )?;
        Ok(Runner {
            client,
            scheduler: scheduler.into(),
            framework,
        })
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    /// Removes the previous state's pods and nodes.
    pub async fn clear(&self) -> anyhow::Result<()> {
        let now = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        self.pods()
            .delete_collection(&now, &ListParams::default())
            .await?;
        let nodes: Api<Node> = Api::all(self.client.clone());
        nodes
            .delete_collection(&now, &ListParams::default().labels(NODE_LABEL))
            .await?;
        let (pods, nodes) = (self.pods(), nodes.clone());
        poll(
            "the previous state to be gone",
            Duration::from_secs(30),
            || async {
                let p = pods.list(&ListParams::default()).await.ok()?;
                let n = nodes
                    .list(&ListParams::default().labels(NODE_LABEL))
                    .await
                    .ok()?;
                (p.items.is_empty() && n.items.is_empty()).then_some(())
            },
        )
        .await
    }

    /// Creates the state's nodes and bound pods, then proves kube-scheduler's caches hold
    /// exactly them: a probe pod created after everything else must land on the newest node
    /// (its informers deliver each kind in order), and is deleted again.
    pub async fn apply(&self, index: usize, state: &State) -> anyhow::Result<()> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        for n in &state.nodes {
            nodes
                .create(&PostParams::default(), &serde_json::from_value(n.clone())?)
                .await?;
            // Admission (TaintNodesByCondition) adds the not-ready taint on create and no
            // node controller runs here to lift it: set exactly the generated taints.
            let taints = n["spec"]
                .get("taints")
                .cloned()
                .unwrap_or_else(|| serde_json::json!([]));
            let name = n["metadata"]["name"].as_str().unwrap_or_default();
            nodes
                .patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"spec": {"taints": taints}})),
                )
                .await?;
        }
        for p in &state.existing {
            self.pods()
                .create(&PostParams::default(), &serde_json::from_value(p.clone())?)
                .await?;
        }
        let last = state.node_names().pop().unwrap_or_default();
        let probe_name = format!("d{index}-probe");
        let probe: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": probe_name},
            "spec": {
                "schedulerName": self.scheduler,
                "nodeSelector": {HOSTNAME: last},
                "tolerations": [{"operator": "Exists"}],
                "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}],
            },
        }))?;
        let pods = self.pods();
        pods.create(&PostParams::default(), &probe).await?;
        poll(
            "the probe pod to be bound",
            Duration::from_secs(30),
            || async {
                let p = pods.get(&probe_name).await.ok()?;
                (node_name(&p) == Some(last.as_str())).then_some(())
            },
        )
        .await?;
        let now = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        pods.delete(&probe_name, &now).await?;
        poll(
            "the probe pod to be gone",
            Duration::from_secs(30),
            || async {
                pods.get_opt(&probe_name)
                    .await
                    .ok()?
                    .is_none()
                    .then_some(())
            },
        )
        .await
    }

    /// The cluster as a scheduler cache sees it now.
    pub async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let mut cache = Cache::new(Duration::ZERO);
        let nodes: Api<Node> = Api::all(self.client.clone());
        for n in nodes.list(&ListParams::default()).await?.items {
            cache.upsert_node(Arc::new(n));
        }
        let pods: Api<Pod> = Api::all(self.client.clone());
        for p in pods.list(&ListParams::default()).await?.items {
            if node_name(&p).is_some() {
                cache.upsert_bound_pod(Arc::new(PodInfo::new(Arc::new(p))));
            }
        }
        let mut snapshot = Snapshot::default();
        cache.update_snapshot(&mut snapshot);
        Ok(snapshot)
    }

    /// Creates the incoming pod and waits for kube-scheduler's first outcome.
    pub async fn kube_outcome(&self, state: &State) -> anyhow::Result<(Pod, Outcome)> {
        let pods = self.pods();
        let created = pods
            .create(
                &PostParams::default(),
                &serde_json::from_value(state.incoming.clone())?,
            )
            .await?;
        let name = created.metadata.name.clone().unwrap_or_default();
        let events: Api<Event> = Api::namespaced(self.client.clone(), NAMESPACE);
        let selector = format!("involvedObject.name={name},reason=FailedScheduling");
        let outcome = poll(
            "kube-scheduler's decision",
            Duration::from_secs(30),
            || async {
                let p = pods.get(&name).await.ok()?;
                if let Some(n) = node_name(&p) {
                    return Some(Outcome::Bound(n.to_string()));
                }
                let l = events
                    .list(&ListParams::default().fields(&selector))
                    .await
                    .ok()?;
                l.items
                    .iter()
                    .min_by_key(|e| e.metadata.creation_timestamp.clone())
                    .and_then(|e| e.message.clone())
                    .map(Outcome::Failed)
            },
        )
        .await?;
        Ok((created, outcome))
    }

    /// Ferrosched's verdict for `pod` on `snapshot`, PostFilter (preemption) included.
    pub fn ferrosched_verdict(&self, pod: Pod, snapshot: &Snapshot) -> anyhow::Result<Verdict> {
        let info = PodInfo::new(Arc::new(pod));
        let mut state = CycleState::default();
        let mut algorithm = Algorithm::new(Some(100));
        match algorithm.evaluate(&self.framework, &mut state, &info, snapshot) {
            Ok(scores) => Ok(Verdict::Scores(scores)),
            Err(ScheduleError::Fit(mut fit)) => {
                run_post_filter(&self.framework, &state, &info, snapshot, &mut fit);
                Ok(Verdict::Failed(fit.message()))
            }
            Err(ScheduleError::Internal(s)) => {
                anyhow::bail!("plugin {} failed: {}", s.plugin(), s.message())
            }
        }
    }
}
