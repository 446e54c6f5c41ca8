//! Preemption on the real control plane: a high-priority pod that fits only after an
//! eviction is nominated to the node, the victim upstream would choose (one, not both,
//! of the lower-priority pods) gets `DisruptionTarget`, is deleted and gets a `Preempted`
//! event, and the preemptor is bound.
//!
//! Preemption reserves what it freed (issue #20, scenario 5): while the victims terminate,
//! lower-priority pods do not take the room held for the nominated preemptor, the
//! preemptor binds to its nominated node when they are gone, and no second round of
//! victims is chosen; kube-scheduler runs the same scenario as the reference.

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

/// Finalizer that keeps a victim Terminating (kwok's pod-delete stage waits for an empty
/// finalizer list) until the test lets it go.
const HOLD: &str = "ferrosched.dev/e2e-hold";

/// What one scheduler did in the reservation scenario.
#[derive(Debug, PartialEq, Eq)]
struct Reservation {
    /// Node the preemptor was nominated to, then bound to.
    nominated: Option<String>,
    bound: Option<String>,
    /// Pods that ever got a deletionTimestamp (the victims, over the whole run).
    victims: usize,
    /// Pods with a `Preempted` event.
    preempted_events: usize,
    /// Late low-priority pods placed on the preemptor's node.
    late_on_node: usize,
}

/// A low-priority pod pinned to `node`; held ones keep a finalizer and a 30 s grace period.
fn pinned(
    ns: &str,
    name: &str,
    scheduler: &str,
    cpu: &str,
    class: &str,
    node: &str,
    hold: bool,
) -> anyhow::Result<Pod> {
    let mut p = fixtures::pod(ns, name, scheduler, cpu, "100Mi");
    let spec = p.spec.as_mut().ok_or_else(|| anyhow::anyhow!("pod spec"))?;
    spec.priority_class_name = Some(class.into());
    spec.termination_grace_period_seconds = Some(30);
    spec.node_selector = Some([("kubernetes.io/hostname".to_string(), node.to_string())].into());
    if hold {
        p.metadata.finalizers = Some(vec![HOLD.into()]);
    }
    Ok(p)
}

/// Lets a held victim go: kwok then finishes its deletion.
async fn release(pods: &Api<Pod>, name: &str) -> anyhow::Result<()> {
    let patch = serde_json::json!({"metadata": {"finalizers": null}});
    pods.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Issue #20, scenario 5, for the scheduler named `scheduler` in its own namespace and on
/// its own 3-CPU node: three 1-CPU low-priority pods (held Terminating once deleted) fill
/// the node; a 2-CPU high-priority pod preempts two of them and is nominated; two late
/// 1-CPU low-priority pods come while the victims terminate. When the first victim goes,
/// its CPU is free, but reserved for the preemptor: the late pods must not take it. When
/// the second goes, the preemptor binds there, and nobody else is ever evicted.
async fn reservation_scenario(
    env: &TestEnv,
    ns: &str,
    scheduler: &str,
    node: &str,
) -> anyhow::Result<Reservation> {
    let c = env.client.clone();
    fixtures::create_namespace(&c, ns, &[]).await?;
    let mut spec = NodeSpec::standard(node);
    spec.cpu = "3".into();
    env.ready_nodes(&[spec]).await?;
    let pods: Api<Pod> = Api::namespaced(c.clone(), ns);
    let seen: Arc<Mutex<Vec<Pod>>> = Arc::default();
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
    let pp = PostParams::default();
    let lows = ["low-0", "low-1", "low-2"];
    for name in lows {
        pods.create(&pp, &pinned(ns, name, scheduler, "1", "low", node, true)?)
            .await?;
    }
    env.wait_for(
        "the low-priority pods bound",
        Duration::from_secs(60),
        || async {
            let l = pods.list(&Default::default()).await.ok()?;
            (l.items.iter().filter(|p| node_of(p) == Some(node)).count() == 3).then_some(())
        },
    )
    .await?;

    pods.create(
        &pp,
        &pinned(ns, "high", scheduler, "2", "high", node, false)?,
    )
    .await?;
    let victims: Vec<String> = env
        .wait_for(
            "two victims terminating",
            Duration::from_secs(60),
            || async {
                let l = pods.list(&Default::default()).await.ok()?;
                let v: Vec<String> = l
                    .items
                    .iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_some())
                    .filter_map(|p| p.metadata.name.clone())
                    .collect();
                (v.len() >= 2).then_some(v)
            },
        )
        .await?;
    let nominated = env
        .wait_for(
            "the preemptor nominated",
            Duration::from_secs(30),
            || async {
                let p = pods.get("high").await.ok()?;
                p.status
                    .and_then(|s| s.nominated_node_name)
                    .filter(|n| !n.is_empty())
            },
        )
        .await?;

    // Late pods that would fit the freed room, while the victims still terminate.
    for name in ["late-0", "late-1"] {
        pods.create(&pp, &pinned(ns, name, scheduler, "1", "low", node, false)?)
            .await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    release(&pods, &victims[0]).await?;
    env.wait_for("the first victim gone", Duration::from_secs(30), || async {
        pods.get_opt(&victims[0])
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await?;
    // One CPU is free now: long enough for the late pods to be retried (1-2 s backoff).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let on_node = |l: &[Pod], prefix: &str| {
        l.iter()
            .filter(|p| {
                p.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .filter(|p| node_of(p) == Some(node))
            .count()
    };
    let early = on_node(&pods.list(&Default::default()).await?.items, "late-");

    release(&pods, &victims[1]).await?;
    let bound = env
        .wait_for("the preemptor bound", Duration::from_secs(60), || async {
            let p = pods.get("high").await.ok()?;
            node_of(&p).map(str::to_string)
        })
        .await?;
    // Time for a second round, were there one.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let now = pods.list(&Default::default()).await?.items;
    for p in now
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
    {
        if let Some(name) = p.metadata.name.as_deref() {
            release(&pods, name).await?;
        }
    }
    watch.abort();
    let history = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut deleted: Vec<&str> = history
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    deleted.sort();
    deleted.dedup();
    let events: Api<Event> = Api::namespaced(c.clone(), ns);
    let mut preempted: Vec<String> = events
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("Preempted"))
        .filter_map(|e| e.involved_object.name)
        .collect();
    preempted.sort();
    preempted.dedup();
    tracing::info!(
        scheduler,
        ?deleted,
        ?preempted,
        early,
        "reservation scenario done"
    );
    Ok(Reservation {
        nominated: Some(nominated),
        bound: Some(bound),
        victims: deleted.len(),
        preempted_events: preempted.len(),
        late_on_node: early.max(on_node(&now, "late-")),
    })
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh)"]
async fn preemption_reserves_what_it_freed_as_kube_scheduler_does() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            let classes: Api<PriorityClass> = Api::all(c.clone());
            for (name, value) in [("low", 100), ("high", 1000)] {
                let pc: PriorityClass = serde_json::from_value(
                    serde_json::json!({"metadata": {"name": name}, "value": value}),
                )?;
                classes.create(&PostParams::default(), &pc).await?;
            }
            let cfg = env.dir.join("reservation.yaml");
            std::fs::write(
                &cfg,
                fixtures::single_profile_config(&env.kubeconfig, SCHEDULER),
            )?;
            let _scheduler = env.spawn_scheduler("scheduler", &cfg, free_port(), &[])?;

            let kube = reservation_scenario(&env, "kube", "default-scheduler", "kube-node").await?;
            let ferro = reservation_scenario(&env, "ferro", SCHEDULER, "ferro-node").await?;
            let expect = |node: &str| Reservation {
                nominated: Some(node.into()),
                bound: Some(node.into()),
                victims: 2,
                preempted_events: 2,
                late_on_node: 0,
            };
            println!(
                "figure: preemption with terminating victims: victims kube-scheduler {} / Ferrosched {}, late lower-priority pods on the nominated node {} / {}",
                kube.victims, ferro.victims, kube.late_on_node, ferro.late_on_node
            );
            assert_eq!(kube, expect("kube-node"), "kube-scheduler (the reference)");
            assert_eq!(ferro, expect("ferro-node"), "Ferrosched");
            Ok(())
        })
        .await
}
