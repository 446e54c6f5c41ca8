//! Differential testing against the upstream kube-scheduler: apply a generated state to
//! the real control plane, let kube-scheduler decide, and compare with what Ferrosched's
//! scheduling code decides for the same objects.

pub mod generate;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrosched_scheduler::cache::{Cache, Snapshot};
use ferrosched_scheduler::framework::Code;
use ferrosched_scheduler::framework::{ClusterLister, CycleState, Framework, Handle};
use ferrosched_scheduler::model::{PodInfo, SlimNode};
use ferrosched_scheduler::plugins::default_preemption::{Candidate, rank, select_victims_on_node};
use ferrosched_scheduler::schedule::{Algorithm, FitError, ScheduleError, run_post_filter};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Node, Pod, Service};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};

use generate::{HOSTNAME, NODE_LABEL, State, Workload};

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
    /// The `FailedScheduling` message (preemption's part included), and when preemption
    /// found a placement, every node tied best under upstream's criteria (upstream picks
    /// among them by a random search offset).
    Failed(String, Vec<String>),
}

const PLACEMENT: &str = "preemption: found a potential placement for pod on node ";

/// The message with the nominated node masked, and that node.
fn split_placement(message: &str) -> Option<(String, &str)> {
    let i = message.find(PLACEMENT)? + PLACEMENT.len();
    let end = message[i..].find(',')? + i;
    Some((
        format!("{}<node>{}", &message[..i], &message[end..]),
        &message[i..end],
    ))
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

/// kube-scheduler's final score per node for `pod_key` (`namespace/name`), from its log at
/// `--vmodule=schedule_one=10` ("Calculated node's final score for pod"); empty when it did
/// not score (a single feasible node). The first scoring of the pod is taken.
pub fn kube_scores(log: &str, pod_key: &str) -> Vec<(String, i64)> {
    let pod = format!("pod=\"{pod_key}\"");
    let mut out: Vec<(String, i64)> = Vec::new();
    for line in log.lines() {
        if !line.contains("Calculated node's final score for pod") || !line.contains(&pod) {
            continue;
        }
        let field = |key: &str| {
            let i = line.find(key)? + key.len();
            let rest = &line[i..];
            let end = rest.find(' ').unwrap_or(rest.len());
            Some(rest[..end].trim_matches('"').to_string())
        };
        let (Some(node), Some(score)) = (field(" node="), field(" score=")) else {
            continue;
        };
        if out.iter().any(|(n, _)| *n == node) {
            break; // a later attempt
        }
        out.push((node, score.parse().unwrap_or(i64::MIN)));
    }
    out
}

/// Whether kube-scheduler's totals (when it logged them) equal Ferrosched's for every node.
pub fn score_disagreement(kube: &[(String, i64)], ferro: &Verdict) -> Option<String> {
    let Verdict::Scores(scores) = ferro else {
        return None;
    };
    if kube.is_empty() || scores.len() < 2 {
        return None;
    }
    let mut a: Vec<(String, i64)> = kube.to_vec();
    let mut b: Vec<(String, i64)> = scores.clone();
    a.sort();
    b.sort();
    (a != b)
        .then(|| format!("total scores differ:\n  kube-scheduler: {a:?}\n  ferrosched:     {b:?}"))
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
        (Outcome::Failed(a), Verdict::Failed(b, ties)) => {
            // Preemption nominating another node tied on every criterion is the same decision.
            let tied = match (split_placement(a), split_placement(b)) {
                (Some((ma, node)), Some((mb, _))) => ma == mb && ties.iter().any(|t| t == node),
                _ => false,
            };
            (a != b && !tied).then(|| {
                format!("messages differ:\n  kube-scheduler: {a}\n  ferrosched:     {b} (tied: {ties:?})")
            })
        }
        (Outcome::Bound(node), Verdict::Failed(m, _)) => Some(format!(
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
    lister: Arc<Listed>,
    /// The current state's ReplicaSet: (app, name, uid).
    owner: std::sync::Mutex<Option<(String, String, String)>>,
}

/// Services and ReplicaSets as listed at snapshot time, for Ferrosched's plugins.
#[derive(Default)]
struct Listed {
    services: std::sync::Mutex<Vec<Arc<Service>>>,
    replica_sets: std::sync::Mutex<Vec<Arc<ReplicaSet>>>,
}

impl ClusterLister for Listed {
    fn services(&self, namespace: &str) -> Vec<Arc<Service>> {
        let all = self.services.lock().unwrap_or_else(|e| e.into_inner());
        all.iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(namespace))
            .cloned()
            .collect()
    }
    fn replica_set(&self, namespace: &str, name: &str) -> Option<Arc<ReplicaSet>> {
        let all = self.replica_sets.lock().unwrap_or_else(|e| e.into_inner());
        all.iter()
            .find(|r| {
                r.metadata.namespace.as_deref() == Some(namespace)
                    && r.metadata.name.as_deref() == Some(name)
            })
            .cloned()
    }
}

impl Runner {
    /// A runner comparing against the scheduler named `scheduler`, with Ferrosched's default
    /// profile at percentageOfNodesToScore 100.
    pub fn new(client: kube::Client, scheduler: &str) -> anyhow::Result<Self> {
        let cfg = ferrosched_scheduler::config::parse(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\npercentageOfNodesToScore: 100\n",
        )?;
        let lister = Arc::new(Listed::default());
        let handle = Handle {
            client: None,
            lister: lister.clone(),
            nominator: Arc::default(),
            waiting: Arc::default(),
        };
        let framework = Framework::new(
            &cfg.profiles[0],
            &ferrosched_scheduler::plugins::registry(),
            &handle,
        )?;
        Ok(Runner {
            client,
            scheduler: scheduler.into(),
            framework,
            lister,
            owner: std::sync::Mutex::new(None),
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
        let generated = ListParams::default().labels(NODE_LABEL);
        Api::<Service>::namespaced(self.client.clone(), NAMESPACE)
            .delete_collection(&now, &generated)
            .await?;
        Api::<ReplicaSet>::namespaced(self.client.clone(), NAMESPACE)
            .delete_collection(&now, &generated)
            .await?;
        *self.owner.lock().unwrap_or_else(|e| e.into_inner()) = None;
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
        // Services and ReplicaSets first: their informers are not ordered with the pods'
        // watch, so they get the whole node and pod set-up time to arrive.
        if let Some(w) = &state.workload {
            self.create_workload(index, w).await?;
        }
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
                .create(&PostParams::default(), &self.owned(p.clone())?)
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

    async fn create_workload(&self, index: usize, w: &Workload) -> anyhow::Result<()> {
        let labels = serde_json::json!({NODE_LABEL: "true"});
        if w.service {
            let svc: Service = serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("d{index}-svc"), "labels": labels},
                "spec": {"selector": {"app": w.app}, "ports": [{"port": 80}]},
            }))?;
            Api::<Service>::namespaced(self.client.clone(), NAMESPACE)
                .create(&PostParams::default(), &svc)
                .await?;
        }
        if w.replica_set {
            let name = format!("d{index}-rs");
            let rs: ReplicaSet = serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": w.app}},
                    "template": {"metadata": {"labels": {"app": w.app}},
                        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}},
                },
            }))?;
            let created = Api::<ReplicaSet>::namespaced(self.client.clone(), NAMESPACE)
                .create(&PostParams::default(), &rs)
                .await?;
            let uid = created.metadata.uid.unwrap_or_default();
            *self.owner.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((w.app.clone(), name, uid));
        }
        Ok(())
    }

    /// `pod` as a Pod, controlled by the state's ReplicaSet when it has the selected app.
    fn owned(&self, mut pod: serde_json::Value) -> anyhow::Result<Pod> {
        let owner = self.owner.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((app, name, uid)) = owner
            && pod["metadata"]["labels"]["app"] == app.as_str()
        {
            pod["metadata"]["ownerReferences"] = serde_json::json!([{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": uid, "controller": true,
            }]);
        }
        Ok(serde_json::from_value(pod)?)
    }

    /// The cluster as a scheduler cache sees it now.
    pub async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let services = Api::<Service>::namespaced(self.client.clone(), NAMESPACE)
            .list(&ListParams::default())
            .await?;
        *self
            .lister
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner()) =
            services.items.into_iter().map(Arc::new).collect();
        let sets = Api::<ReplicaSet>::namespaced(self.client.clone(), NAMESPACE)
            .list(&ListParams::default())
            .await?;
        *self
            .lister
            .replica_sets
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = sets.items.into_iter().map(Arc::new).collect();
        let mut cache = Cache::new(Duration::ZERO);
        let nodes: Api<Node> = Api::all(self.client.clone());
        for n in nodes.list(&ListParams::default()).await?.items {
            cache.upsert_node(Arc::new(SlimNode::new(&n)));
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
            .create(&PostParams::default(), &self.owned(state.incoming.clone())?)
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

    /// Every node whose preemption candidate ranks best (no PDBs in these states).
    fn preemption_ties(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        fit: &FitError,
    ) -> Vec<String> {
        let candidates: Vec<Candidate> = snapshot
            .nodes()
            .iter()
            .filter(|n| {
                fit.diagnosis
                    .node_statuses
                    .get(&n.name)
                    .is_some_and(|s| s.code() == Code::Unschedulable)
            })
            .filter_map(|n| {
                select_victims_on_node(&self.framework, &mut state.clone(), pod, n, &[]).ok()
            })
            .collect();
        let Some(best) = candidates.iter().map(rank).max() else {
            return Vec::new();
        };
        candidates
            .iter()
            .filter(|c| rank(c) == best)
            .map(|c| c.node.clone())
            .collect()
    }

    /// Ferrosched's verdict for `pod` on `snapshot`, PostFilter (preemption) included.
    pub fn ferrosched_verdict(&self, pod: Pod, snapshot: &Snapshot) -> anyhow::Result<Verdict> {
        let info = PodInfo::new(Arc::new(pod));
        let mut state = CycleState::default();
        let mut algorithm = Algorithm::new(Some(100));
        match algorithm.evaluate(&self.framework, &mut state, &info, snapshot) {
            Ok(scores) => Ok(Verdict::Scores(scores)),
            Err(ScheduleError::Fit(mut fit)) => {
                let nominated = run_post_filter(&self.framework, &state, &info, snapshot, &mut fit)
                    .and_then(|r| r.nominated_node_name);
                let ties = match nominated {
                    Some(_) => self.preemption_ties(&state, &info, snapshot, &fit),
                    None => Vec::new(),
                };
                Ok(Verdict::Failed(fit.message(), ties))
            }
            Err(ScheduleError::Internal(s)) => {
                anyhow::bail!("plugin {} failed: {}", s.plugin(), s.message())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preemption_to_a_tied_node_is_the_same_decision() {
        let kube = Outcome::Failed("0/2 nodes are available: 2 Insufficient cpu. preemption: found a potential placement for pod on node a, preempting 1 victims".into());
        let ferro = |ties: &[&str]| {
            Verdict::Failed(
                "0/2 nodes are available: 2 Insufficient cpu. preemption: found a potential placement for pod on node b, preempting 1 victims".into(),
                ties.iter().map(|t| t.to_string()).collect(),
            )
        };
        assert!(disagreement(&kube, &ferro(&["a", "b"])).is_none());
        assert!(
            disagreement(&kube, &ferro(&["b"])).is_some(),
            "a is not tied"
        );
        let more = Verdict::Failed(
            "0/2 nodes are available: 2 Insufficient cpu. preemption: found a potential placement for pod on node b, preempting 2 victims".into(),
            vec!["a".into(), "b".into()],
        );
        assert!(disagreement(&kube, &more).is_some(), "victim counts differ");
    }

    #[test]
    fn final_scores_are_read_from_the_log() {
        let log = r#"I1123 18:30:01.1 1 schedule_one.go:1052] "Calculated node's final score for pod" pod="default/d3-incoming" node="d3-n0" score=312
I1123 18:30:01.1 1 schedule_one.go:1052] "Calculated node's final score for pod" pod="default/d2-incoming" node="d2-n0" score=1
I1123 18:30:01.1 1 schedule_one.go:1052] "Calculated node's final score for pod" pod="default/d3-incoming" node="d3-n1" score=290
I1123 18:30:02.1 1 schedule_one.go:1052] "Calculated node's final score for pod" pod="default/d3-incoming" node="d3-n0" score=7
"#;
        assert_eq!(
            kube_scores(log, "default/d3-incoming"),
            [("d3-n0".to_string(), 312), ("d3-n1".to_string(), 290)]
        );
        let same = Verdict::Scores(vec![("d3-n1".into(), 290), ("d3-n0".into(), 312)]);
        assert!(score_disagreement(&kube_scores(log, "default/d3-incoming"), &same).is_none());
        let other = Verdict::Scores(vec![("d3-n1".into(), 291), ("d3-n0".into(), 312)]);
        assert!(score_disagreement(&kube_scores(log, "default/d3-incoming"), &other).is_some());
    }
}
