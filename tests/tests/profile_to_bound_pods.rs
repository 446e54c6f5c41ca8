//! The main path on a real control plane: a SchedulerProfile applied → the operator
//! deploys everything → the scheduler processes (run with the operator's rendered config
//! and container arguments, as the operator's ServiceAccount) elect a leader and bind pods.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ferrosched_crds::SchedulerProfile;
use ferrosched_e2e::fixtures::{self, MANAGER, NodeSpec};
use ferrosched_e2e::{TestEnv, operands, procs};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};

const NS: &str = "ferrosched-system";

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn profile_deploys_a_scheduler_that_binds_pods() -> anyhow::Result<()> {
    let started = Instant::now();
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            fixtures::install_with_restricted_namespace(&c, NS).await?;
            let nodes: Vec<NodeSpec> = (0..4)
                .map(|i| NodeSpec::standard(&format!("node-{i}")))
                .collect();
            env.ready_nodes(&nodes).await?;

            let kubeconfig = env.kubeconfig.display().to_string();
            let _operator = env.spawn(
                "operator",
                &procs::binary("ferrosched-operator"),
                &[
                    format!("--kubeconfig={kubeconfig}"),
                    format!("--namespace={NS}"),
                    "--scheduler-image=ferrosched:e2e".into(),
                    "--bind-address=127.0.0.1".into(),
                    "--secure-port=0".into(),
                    "--leader-elect=false".into(),
                ],
            )?;

            // Apply the example as a user would.
            let example = std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../examples/second-scheduler.yaml"
            ))?;
            let profile: SchedulerProfile = serde_saphyr::from_str(&example)?;
            let profiles: Api<SchedulerProfile> = Api::all(c.clone());
            let applied = Instant::now();
            profiles
                .patch(
                    "ferrosched",
                    &PatchParams::apply(MANAGER),
                    &Patch::Apply(&profile),
                )
                .await?;

            env.wait_for("profile Available", Duration::from_secs(120), || async {
                let st = profiles.get("ferrosched").await.ok()?.status?;
                st.conditions
                    .iter()
                    .any(|c| c.type_ == "Available" && c.status == "True")
                    .then_some(())
            })
            .await?;
            println!(
                "figure: seconds from apply to Available: {:.1}",
                applied.elapsed().as_secs_f64()
            );
            let available = env
                .wait_for(
                    "both scheduler pods ready",
                    Duration::from_secs(120),
                    || async {
                        let st = profiles.get("ferrosched").await.ok()?.status?;
                        // Both ready and the rollout recorded (configMapName set once complete).
                        (st.ready_replicas == Some(2) && st.config_map_name.is_some()).then_some(st)
                    },
                )
                .await?;

            // Run the operands for real: the rendered config, the container args, the operator's SA.
            let cm_name = available
                .config_map_name
                .clone()
                .ok_or_else(|| anyhow::anyhow!("status has no configMapName"))?;
            let cm = Api::<ConfigMap>::namespaced(c.clone(), NS)
                .get(&cm_name)
                .await?;
            assert_eq!(cm.immutable, Some(true), "config ConfigMaps are immutable");
            let operand = operands::prepare(
                &c,
                &env.server,
                &env.ca_pem,
                NS,
                "ferrosched",
                &env.dir.join("operand"),
            )
            .await?;
            let mut schedulers = Vec::new();
            for i in 0..2 {
                let args = operand.args(&env.dir.join(format!("certs-{i}")))?;
                schedulers.push(env.spawn(
                    &format!("scheduler-{i}"),
                    &procs::binary("ferrosched-scheduler"),
                    &args,
                )?);
            }

            let leases: Api<Lease> = Api::namespaced(c.clone(), NS);
            let leader = env
                .wait_for("a scheduler leader", Duration::from_secs(60), || async {
                    let l = leases.get("ferrosched-ferrosched").await.ok()?;
                    l.spec?.holder_identity.filter(|h| !h.is_empty())
                })
                .await?;
            println!("leader: {leader}");

            let ns = "demo";
            fixtures::create_namespace(&c, ns, &[]).await?;
            let pods: Api<Pod> = Api::namespaced(c.clone(), ns);
            for i in 0..30 {
                pods.create(
                    &PostParams::default(),
                    &fixtures::pod(ns, &format!("p-{i}"), "ferrosched", "100m", "500Mi"),
                )
                .await?;
            }
            let placed = env
                .wait_for("30 pods bound", Duration::from_secs(60), || async {
                    let l = pods.list(&Default::default()).await.ok()?;
                    let bound = fixtures::placements(&l.items);
                    (bound.len() == 30).then_some(bound)
                })
                .await?;
            let used: BTreeSet<&str> = placed.values().map(String::as_str).collect();
            assert!(
                used.iter().all(|n| n.starts_with("node-")),
                "pods bound to real nodes: {used:?}"
            );
            // LeastAllocated + balanced allocation spread 30 small pods over all 4 nodes.
            assert_eq!(used.len(), 4, "pods spread over every node: {used:?}");

            // Scheduled events come from the profile's scheduler name, one per pod.
            let events: Api<Event> = Api::namespaced(c.clone(), ns);
            let scheduled = env
                .wait_for("30 Scheduled events", Duration::from_secs(30), || async {
                    let l = events.list(&Default::default()).await.ok()?;
                    let n = l
                        .items
                        .iter()
                        .filter(|e| {
                            e.reason.as_deref() == Some("Scheduled")
                                && e.reporting_controller.as_deref() == Some("ferrosched")
                        })
                        .count();
                    (n >= 30).then_some(n)
                })
                .await?;
            assert_eq!(scheduled, 30);
            // Written as protobuf (the config's default contentType): every field arrives.
            let ev = scheduled_event(&events, "p-0").await?;
            assert_eq!(
                (ev.action.as_deref(), ev.type_.as_deref()),
                (Some("Binding"), Some("Normal"))
            );
            let regarding = ev.regarding.clone().unwrap_or_default();
            assert_eq!(
                (regarding.kind.as_deref(), regarding.api_version.as_deref()),
                (Some("Pod"), Some("v1"))
            );
            assert!(regarding.uid.is_some_and(|u| !u.is_empty()), "{ev:?}");
            assert!(ev.event_time.is_some(), "{ev:?}");
            assert!(
                ev.reporting_instance
                    .as_deref()
                    .is_some_and(|i| i.starts_with("ferrosched-")),
                "{ev:?}"
            );
            let msg = ev.note.unwrap_or_default();
            assert!(
                msg.starts_with("Successfully assigned demo/p-0 to node-"),
                "{msg}"
            );

            // An impossible pod gets upstream's condition and event.
            pods.create(
                &PostParams::default(),
                &fixtures::pod(ns, "too-big", "ferrosched", "64", "1Gi"),
            )
            .await?;
            let cond = env
                .wait_for(
                    "PodScheduled=False on too-big",
                    Duration::from_secs(30),
                    || async {
                        let p = pods.get("too-big").await.ok()?;
                        p.status?
                            .conditions?
                            .into_iter()
                            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                    },
                )
                .await?;
            assert_eq!(cond.reason.as_deref(), Some("Unschedulable"));
            let message = cond.message.unwrap_or_default();
            assert!(
                message.starts_with("0/4 nodes are available: 4 Insufficient cpu."),
                "{message}"
            );
            let failed = env
                .wait_for(
                    "FailedScheduling event",
                    Duration::from_secs(30),
                    || async {
                        let l = events.list(&Default::default()).await.ok()?;
                        l.items.into_iter().find(|e| {
                            e.reason.as_deref() == Some("FailedScheduling")
                                && e.regarding.as_ref().and_then(|r| r.name.as_deref())
                                    == Some("too-big")
                        })
                    },
                )
                .await?;
            assert_eq!(failed.note.as_deref(), Some(message.as_str()));
            // The cluster's upstream kube-scheduler explains the same pod in the same words.
            pods.create(
                &PostParams::default(),
                &fixtures::pod(ns, "too-big-upstream", "default-scheduler", "64", "1Gi"),
            )
            .await?;
            let upstream = env
                .wait_for(
                    "kube-scheduler's verdict",
                    Duration::from_secs(30),
                    || async {
                        let p = pods.get("too-big-upstream").await.ok()?;
                        p.status?
                            .conditions?
                            .into_iter()
                            .find(|c| c.type_ == "PodScheduled" && c.status == "False")?
                            .message
                    },
                )
                .await?;
            assert_eq!(
                message, upstream,
                "same FailedScheduling message as kube-scheduler"
            );
            assert_eq!(failed.type_.as_deref(), Some("Warning"));
            drop(schedulers);
            Ok(())
        })
        .await?;
    println!(
        "figure: test wall time {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn scheduled_event(events: &Api<Event>, pod: &str) -> anyhow::Result<Event> {
    let l = events.list(&Default::default()).await?;
    l.items
        .into_iter()
        .find(|e| {
            e.reason.as_deref() == Some("Scheduled")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(pod)
        })
        .ok_or_else(|| anyhow::anyhow!("no Scheduled event for {pod}"))
}
