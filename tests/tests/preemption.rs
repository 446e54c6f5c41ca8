//! Preemption on the real control plane: a high-priority pod that fits only after an
//! eviction is nominated to the node, the victim upstream would choose (one, not both,
//! of the lower-priority pods) gets `DisruptionTarget`, is deleted and gets a `Preempted`
//! event, and the preemptor is bound.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrosched_e2e::TestEnv;
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::operands::free_port;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, PostParams};
use kube::runtime::watcher;

const NS: &str = "work";
const SCHEDULER: &str = "ferro";
const NODE: &str = "only-node";

fn pod_with_priority(name: &str, cpu: &str, class: &str) -> anyhow::Result<Pod> {
    let mut p = fixtures::pod(NS, name, SCHEDULER, cpu, "100Mi");
    let spec = p.spec.as_mut().ok_or_else(|| anyhow::anyhow!("pod spec"))?;
    spec.priority_class_name = Some(class.into());
    Ok(p)
}

fn node_of(p: &Pod) -> Option<&str> {
    p.spec.as_ref()?.node_name.as_deref()
}

fn has_disruption_target(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.type_ == "DisruptionTarget"
                    && c.status == "True"
                    && c.reason.as_deref() == Some("PreemptionByScheduler")
                    && c.message.as_deref()
                        == Some("ferro: preempting to accommodate a higher priority pod")
            })
        })
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh)"]
async fn high_priority_pod_preempts_the_fewest_lower_priority_pods() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            fixtures::create_namespace(&c, NS, &[]).await?;
            let classes: Api<PriorityClass> = Api::all(c.clone());
            for (name, value) in [("low", 100), ("high", 1000)] {
                let pc: PriorityClass = serde_json::from_value(
                    serde_json::json!({"metadata": {"name": name}, "value": value}),
                )?;
                classes.create(&PostParams::default(), &pc).await?;
            }
            let mut spec = NodeSpec::standard(NODE);
            spec.cpu = "2".into();
            env.ready_nodes(&[spec]).await?;

            // Every version of every pod in the namespace, so transient states are seen.
            let seen: Arc<Mutex<Vec<Pod>>> = Arc::default();
            let pods: Api<Pod> = Api::namespaced(c.clone(), NS);
            let watch = {
                let (pods, seen) = (pods.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut s = watcher::watcher(pods, watcher::Config::default()).boxed();
                    while let Some(ev) = s.next().await {
                        if let Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) = ev {
                            seen.lock().unwrap_or_else(|e| e.into_inner()).push(p);
                        }
                    }
                })
            };

            let cfg = env.dir.join("preemption.yaml");
            std::fs::write(&cfg, fixtures::single_profile_config(&env.kubeconfig, SCHEDULER))?;
            let _scheduler = env.spawn_scheduler("scheduler", &cfg, free_port(), &[])?;

            // Two low-priority pods fill the node's 2 CPUs.
            for name in ["low-a", "low-b"] {
                pods.create(&PostParams::default(), &pod_with_priority(name, "1", "low")?)
                    .await?;
            }
            env.wait_for("both low-priority pods bound", Duration::from_secs(60), || async {
                let l = pods.list(&Default::default()).await.ok()?;
                (l.items.iter().filter(|p| node_of(p) == Some(NODE)).count() == 2).then_some(())
            })
            .await?;

            // One CPU more is needed: evicting one low pod is enough, so only one goes.
            let high = pods
                .create(&PostParams::default(), &pod_with_priority("high", "1", "high")?)
                .await?;
            let high_uid = high.metadata.uid.clone().unwrap_or_default();
            env.wait_for("the high-priority pod bound", Duration::from_secs(60), || async {
                let p = pods.get("high").await.ok()?;
                (node_of(&p) == Some(NODE)).then_some(())
            })
            .await?;

            let remaining = pods.list(&Default::default()).await?.items;
            let names: Vec<&str> = remaining
                .iter()
                .filter_map(|p| p.metadata.name.as_deref())
                .collect();
            assert_eq!(names.len(), 2, "one victim only: {names:?}");
            let victim = ["low-a", "low-b"]
                .into_iter()
                .find(|n| !names.contains(n))
                .ok_or_else(|| anyhow::anyhow!("no low pod was preempted: {names:?}"))?;

            let history = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
            assert!(
                history.iter().any(|p| p.metadata.name.as_deref() == Some("high")
                    && p.status.as_ref().and_then(|s| s.nominated_node_name.as_deref())
                        == Some(NODE)),
                "the preemptor was nominated to {NODE}"
            );
            assert!(
                history
                    .iter()
                    .any(|p| p.metadata.name.as_deref() == Some(victim) && has_disruption_target(p)),
                "the victim {victim} got the DisruptionTarget condition before deletion"
            );
            let survivor = if victim == "low-a" { "low-b" } else { "low-a" };
            assert!(
                !history
                    .iter()
                    .any(|p| p.metadata.name.as_deref() == Some(survivor) && has_disruption_target(p)),
                "{survivor} was not touched"
            );

            let events: Api<Event> = Api::namespaced(c.clone(), NS);
            let want = format!("Preempted by pod {high_uid} on node {NODE}");
            env.wait_for("the victim's Preempted event", Duration::from_secs(30), || async {
                let l = events.list(&Default::default()).await.ok()?;
                l.items
                    .iter()
                    .any(|e| {
                        e.reason.as_deref() == Some("Preempted")
                            && e.involved_object.name.as_deref() == Some(victim)
                            && e.message.as_deref() == Some(want.as_str())
                    })
                    .then_some(())
            })
            .await?;
            watch.abort();
            Ok(())
        })
        .await
}
