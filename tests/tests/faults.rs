//! The scheduler under load, faults and a freeze, each against a real control plane:
//! the leader keeps its Lease while its secure port is flooded and thousands of pods fail;
//! a new leader schedules only after its caches have listed; a dead scheduling loop or
//! informer makes the process unhealthy and hands the Lease over; a leader frozen past its
//! Lease binds nothing when it wakes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrosched_e2e::TestEnv;
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::operands::free_port;
use ferrosched_e2e::procs::Spawned;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, PostParams};

const NS: &str = "faults-system";
const WORK: &str = "work";
const SCHEDULER: &str = "faulty";

/// A config for `SCHEDULER` with leader election on the Lease `NS/SCHEDULER`, and the
/// client limits left at upstream's defaults (qps 50, burst 100) unless `limits` says.
fn config(
    env: &TestEnv,
    lease: (u64, u64, u64),
    limits: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let (duration, deadline, retry) = lease;
    let text = format!(
        "apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: {}
{limits}leaderElection:
  leaderElect: true
  leaseDuration: {duration}s
  renewDeadline: {deadline}s
  retryPeriod: {retry}s
  resourceName: {SCHEDULER}
  resourceNamespace: {NS}
profiles:
- schedulerName: {SCHEDULER}
",
        env.kubeconfig.display()
    );
    let path = env
        .dir
        .join(format!("faults-{duration}-{deadline}-{retry}.yaml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The namespaces, the empty Lease (as the operator creates it) and `nodes` ready nodes.
async fn cluster(env: &TestEnv, nodes: &[NodeSpec]) -> anyhow::Result<Api<Lease>> {
    let c = env.client.clone();
    fixtures::create_namespace(&c, NS, &[]).await?;
    fixtures::create_namespace(&c, WORK, &[]).await?;
    let lease: Lease = serde_json::from_value(
        serde_json::json!({"metadata": {"name": SCHEDULER, "namespace": NS}, "spec": {}}),
    )?;
    let leases: Api<Lease> = Api::namespaced(c, NS);
    leases.create(&PostParams::default(), &lease).await?;
    env.ready_nodes(nodes).await?;
    Ok(leases)
}

fn nodes(n: usize, cpu: &str) -> Vec<NodeSpec> {
    (0..n)
        .map(|i| NodeSpec {
            cpu: cpu.into(),
            ..NodeSpec::standard(&format!("n-{i:02}"))
        })
        .collect()
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get(SCHEDULER)
        .await
        .ok()?
        .spec?
        .holder_identity
        .filter(|h| !h.is_empty())
}

/// Starts a replica and waits until it logged its identity.
async fn replica(
    env: &TestEnv,
    name: &str,
    cfg: &std::path::Path,
    extra: &[&str],
    vars: &[(&str, &str)],
) -> anyhow::Result<(Spawned, u16, String)> {
    let port = free_port();
    let p = env.spawn_scheduler_with_env(name, cfg, port, extra, vars)?;
    let id = env
        .wait_for(
            &format!("{name}'s identity"),
            Duration::from_secs(60),
            || async { p.logged_identity() },
        )
        .await?;
    Ok((p, port, id))
}

async fn create_pods(
    pods: &Api<Pod>,
    names: impl Iterator<Item = String>,
    cpu: &str,
) -> anyhow::Result<()> {
    for name in names {
        pods.create(
            &PostParams::default(),
            &fixtures::pod(WORK, &name, SCHEDULER, cpu, "10Mi"),
        )
        .await?;
    }
    Ok(())
}

fn node_of(p: &Pod) -> Option<&str> {
    p.spec.as_ref().and_then(|s| s.node_name.as_deref())
}

async fn bound(pods: &Api<Pod>) -> Option<usize> {
    let l = pods.list(&Default::default()).await.ok()?;
    Some(l.items.iter().filter(|p| node_of(p).is_some()).count())
}

fn milli_cpu(p: &Pod) -> i64 {
    let q = p
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("cpu"))
        .map(|q| q.0.clone())
        .unwrap_or_default();
    match q.strip_suffix('m') {
        Some(m) => m.parse().unwrap_or(0),
        None => q.parse::<i64>().map(|c| c * 1000).unwrap_or(0),
    }
}

/// Requested milli-CPU per node over every pod in `WORK`.
async fn cpu_per_node(env: &TestEnv) -> anyhow::Result<BTreeMap<String, i64>> {
    let all: Api<Pod> = Api::namespaced(env.client.clone(), WORK);
    let mut per_node = BTreeMap::new();
    for p in all.list(&Default::default()).await?.items {
        if let Some(n) = node_of(&p) {
            *per_node.entry(n.to_string()).or_default() += milli_cpu(&p);
        }
    }
    Ok(per_node)
}

/// Scenario 1: the secure port flooded with unauthenticated requests on unique paths
/// (each one a SubjectAccessReview) while 2,000 unschedulable pods each cost an event and
/// a status write, all at the default client limits: the leader renews on time and the
/// standby never takes over, as with kube-scheduler's separate leader-election client.
#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn a_flood_and_failing_pods_do_not_cost_the_leader_its_lease() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let leases = cluster(&env, &nodes(5, "4")).await?;
            let cfg = config(&env, (15, 10, 2), "")?;
            let (_a, port_a, id_a) = replica(&env, "flood-a", &cfg, &[], &[]).await?;
            let leader = env
                .wait_for("a leader", Duration::from_secs(30), || holder(&leases))
                .await?;
            assert_eq!(leader, id_a);
            let (_b, _, id_b) = replica(&env, "flood-b", &cfg, &[], &[]).await?;

            let pods: Api<Pod> = Api::namespaced(env.client.clone(), WORK);
            let creating = {
                let pods = pods.clone();
                tokio::spawn(async move {
                    // 1,000 CPUs: no node fits.
                    create_pods(&pods, (0..2000).map(|i| format!("huge-{i}")), "1000").await
                })
            };
            let flooding = tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .danger_accept_invalid_certs(true)
                    .timeout(Duration::from_secs(60))
                    .build()?;
                let answered = futures::stream::iter(0..5000)
                    .map(|i| {
                        let http = http.clone();
                        async move {
                            http.get(format!("https://127.0.0.1:{port_a}/flood/{i}"))
                                .send()
                                .await
                                .map(|r| r.status().as_u16())
                                .ok()
                        }
                    })
                    .buffer_unordered(64)
                    .filter_map(|s| async move { s })
                    .count()
                    .await;
                anyhow::Ok(answered)
            });

            // Watch the Lease through the whole storm and 20 s past it (failed pods still
            // cost writes then): every renewal, and who holds it.
            let mut last: Option<(String, Instant)> = None;
            let mut worst = Duration::ZERO;
            let mut holders = std::collections::BTreeSet::new();
            let started = Instant::now();
            let mut storm_over_at: Option<Instant> = None;
            while storm_over_at.is_none_or(|t| t.elapsed() < Duration::from_secs(20)) {
                env.check_alive().await?;
                if let Ok(l) = leases.get(SCHEDULER).await {
                    let spec = l.spec.unwrap_or_default();
                    if let Some(h) = spec.holder_identity.clone() {
                        holders.insert(h);
                    }
                    let renew = spec.renew_time.map(|t| t.0.to_string()).unwrap_or_default();
                    match &last {
                        Some((r, at)) if *r == renew => worst = worst.max(at.elapsed()),
                        _ => last = Some((renew, Instant::now())),
                    }
                }
                if storm_over_at.is_none() && creating.is_finished() && flooding.is_finished() {
                    storm_over_at = Some(Instant::now());
                }
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(300),
                    "the storm did not end within 300 s"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            creating.await??;
            let answered = flooding.await??;
            println!(
                "figure: worst gap between Lease renewals under a 5,000-request flood and 2,000 failing pods: {:.1}s",
                worst.as_secs_f64()
            );
            assert_eq!(answered, 5000, "every flood request got an answer");
            assert!(
                worst < Duration::from_secs(10),
                "renewals within renewDeadline (10s), worst gap {worst:?}"
            );
            assert_eq!(
                holders.into_iter().collect::<Vec<_>>(),
                vec![id_a.clone()],
                "the standby {id_b} never took over"
            );
            // The failing pods were really processed: each has its PodScheduled=False.
            env.wait_for(
                "every failing pod's PodScheduled=False condition",
                Duration::from_secs(180),
                || async {
                    let l = pods.list(&Default::default()).await.ok()?;
                    let marked = l
                        .items
                        .iter()
                        .filter(|p| {
                            p.status
                                .as_ref()
                                .and_then(|s| s.conditions.as_ref())
                                .is_some_and(|cs| {
                                    cs.iter().any(|c| c.type_ == "PodScheduled" && c.status == "False")
                                })
                        })
                        .count();
                    (marked == 2000).then_some(())
                },
            )
            .await?;
            Ok(())
        })
        .await
}

/// Scenario 2: a new leader on a cluster of full and nearly full nodes (1,000 bound pods) with
/// pending pods waiting: nothing is bound before the caches have listed, so no node goes
/// over its allocatable CPU and no FailedScheduling is written for pods that fit; and
/// preemption honours a PodDisruptionBudget from its first cycle.
#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn a_new_leader_decides_only_on_synced_caches() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            // 20 nodes of 4 CPUs holding 50 pods each: n-00..n-09 full (80m pods), the
            // others with 250m left (75m pods). A scheduler deciding before it has seen the
            // bound pods spreads the pending ones over full nodes too.
            let specs = nodes(20, "4");
            let _leases = cluster(&env, &specs).await?;
            for (value, name) in [(1, "lowest"), (2, "low"), (1000, "high")] {
                let pc: PriorityClass = serde_json::from_value(
                    serde_json::json!({"metadata": {"name": name}, "value": value}),
                )?;
                Api::<PriorityClass>::all(c.clone())
                    .create(&PostParams::default(), &pc)
                    .await?;
            }
            let pods: Api<Pod> = Api::namespaced(c.clone(), WORK);
            let mut placed = Vec::new();
            for (i, spec) in specs.iter().enumerate() {
                for j in 0..50 {
                    let cpu = if i < 10 { "80m" } else { "75m" };
                    let mut p =
                        fixtures::pod(WORK, &format!("full-{i:02}-{j:02}"), SCHEDULER, cpu, "10Mi");
                    let s = p.spec.get_or_insert_with(Default::default);
                    s.node_name = Some(spec.name.clone());
                    // n-00's pods are the cheapest victims, but a PDB protects them.
                    s.priority_class_name = Some(if i == 0 { "lowest" } else { "low" }.into());
                    let labels = p.metadata.labels.get_or_insert_with(Default::default);
                    labels.insert("node".into(), spec.name.clone());
                    placed.push(p);
                }
            }
            futures::stream::iter(placed)
                .map(|p| {
                    let pods = pods.clone();
                    async move { pods.create(&PostParams::default(), &p).await }
                })
                .buffer_unordered(32)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?;
            let pdb: PodDisruptionBudget = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "keep-n-00", "namespace": WORK},
                "spec": {"minAvailable": 50, "selector": {"matchLabels": {"node": "n-00"}}},
            }))?;
            Api::<PodDisruptionBudget>::namespaced(c.clone(), WORK)
                .create(&PostParams::default(), &pdb)
                .await?;
            env.wait_for("the PDB's status", Duration::from_secs(60), || async {
                let p = Api::<PodDisruptionBudget>::namespaced(c.clone(), WORK)
                    .get("keep-n-00")
                    .await
                    .ok()?;
                (p.status?.current_healthy == Some(50)).then_some(())
            })
            .await?;
            // A pod needing 500m where no node has it: preemption, first in the queue by
            // priority. Without the PDB in view, n-00's lowest-priority pods would be the
            // victims; with it, a node whose eviction breaks no budget.
            let mut vip = fixtures::pod(WORK, "vip", SCHEDULER, "500m", "10Mi");
            vip.spec
                .get_or_insert_with(Default::default)
                .priority_class_name = Some("high".into());
            pods.create(&PostParams::default(), &vip).await?;
            // 18 pending pods of 100m: two fit on each node with room but the VIP's. Their
            // names list before the bound pods'.
            create_pods(&pods, (0..18).map(|i| format!("fits-{i:02}")), "100m").await?;

            let cfg = config(&env, (15, 10, 2), "")?;
            let (_s, _, _) = replica(&env, "fresh", &cfg, &[], &[]).await?;
            env.wait_for(
                "the 18 fitting pods bound",
                Duration::from_secs(120),
                || async {
                    let l = pods.list(&Default::default()).await.ok()?;
                    let n = l
                        .items
                        .iter()
                        .filter(|p| {
                            p.metadata
                                .name
                                .as_deref()
                                .is_some_and(|n| n.starts_with("fits-"))
                        })
                        .filter(|p| node_of(p).is_some())
                        .count();
                    (n == 18).then_some(())
                },
            )
            .await?;
            let per_node = cpu_per_node(&env).await?;
            println!(
                "figure: a new leader over 1,000 bound pods: fullest node {}m of 4000m",
                per_node.values().max().copied().unwrap_or_default()
            );
            assert!(
                per_node.values().all(|m| *m <= 4000),
                "no node over its 4 CPUs: {per_node:?}"
            );
            // No pod that fits was failed first: FailedScheduling only for the VIP, if any.
            let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(c.clone(), WORK);
            let failed: Vec<String> = events
                .list(&Default::default())
                .await?
                .items
                .into_iter()
                .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
                .filter_map(|e| e.regarding.and_then(|r| r.name))
                .filter(|n| n != "vip")
                .collect();
            assert!(
                failed.is_empty(),
                "FailedScheduling for pods that fit: {failed:?}"
            );
            // The VIP preempted on a node whose PDB allows it, never n-00.
            let vip_node = env
                .wait_for(
                    "the VIP nominated or bound",
                    Duration::from_secs(120),
                    || async {
                        let p = pods.get("vip").await.ok()?;
                        node_of(&p)
                            .map(str::to_string)
                            .or_else(|| p.status.and_then(|s| s.nominated_node_name))
                    },
                )
                .await?;
            assert_ne!(
                vip_node, "n-00",
                "preemption ignored the PodDisruptionBudget"
            );
            Ok(())
        })
        .await
}

/// Scenario 3: the scheduling thread of the leader panics (a fault injected in the debug
/// build): the process does not stay up looking healthy; it releases the Lease and exits
/// non-zero, a standby takes over at once, and then an informer dying does the same.
#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn a_dead_worker_fails_liveness_and_hands_the_lease_over() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let leases = cluster(&env, &nodes(3, "4")).await?;
            // A long lease: a takeover well before it ends proves the Lease was released.
            let cfg = config(&env, (60, 40, 2), "")?;
            let fault = ferrosched_scheduler::fault::ENV;
            let (mut a, port_a, id_a) =
                replica(&env, "dies-in-loop", &cfg, &[], &[(fault, "scheduling-loop:boom")]).await?;
            env.wait_for("the first replica leads", Duration::from_secs(30), || async {
                holder(&leases).await.filter(|h| *h == id_a)
            })
            .await?;
            let (mut b, _, id_b) =
                replica(&env, "dies-in-informer", &cfg, &[], &[(fault, "informers:bang")]).await?;
            let (_c, _, id_c) = replica(&env, "healthy", &cfg, &[], &[]).await?;
            let http = reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .timeout(Duration::from_secs(2))
                .build()?;
            let livez = format!("https://127.0.0.1:{port_a}/livez");
            assert_eq!(http.get(&livez).send().await?.status(), 200);

            let pods: Api<Pod> = Api::namespaced(env.client.clone(), WORK);
            create_pods(&pods, ["boom".to_string()].into_iter(), "100m").await?;
            let died = Instant::now();
            let code = a.wait(Duration::from_secs(30)).await?;
            assert!(code.is_some_and(|c| c != 0), "exit code {code:?}");
            assert!(
                a.log().contains("scheduling loop panicked"),
                "the death is logged"
            );
            let next = env
                .wait_for("a standby leads", Duration::from_secs(30), || async {
                    holder(&leases).await.filter(|h| *h != id_a)
                })
                .await?;
            let took = died.elapsed();
            println!(
                "figure: takeover after the leader's scheduling loop died: {:.1}s (leaseDuration 60s)",
                took.as_secs_f64()
            );
            assert!(took < Duration::from_secs(20), "released, not expired: {took:?}");
            assert!(next == id_b || next == id_c, "{next}");

            // The informer of the second replica dies on this pod, leader or not.
            create_pods(&pods, ["bang".to_string()].into_iter(), "100m").await?;
            let code = b.wait(Duration::from_secs(30)).await?;
            assert!(code.is_some_and(|c| c != 0), "exit code {code:?}");
            assert!(b.log().contains("informers panicked"), "the death is logged");
            env.wait_for("the healthy replica leads", Duration::from_secs(30), || async {
                holder(&leases).await.filter(|h| *h == id_c)
            })
            .await?;
            env.wait_for("both pods bound by the survivor", Duration::from_secs(60), || async {
                bound(&pods).await.filter(|n| *n == 2)
            })
            .await?;
            Ok(())
        })
        .await
}

/// Scenario 8: the leader is frozen (SIGSTOP) past its Lease while pods wait in its queue;
/// the standby takes over and binds them; on SIGCONT the old leader binds nothing more,
/// no pod is bound twice and no node goes over its allocatable.
#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn a_frozen_leader_binds_nothing_when_it_wakes() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let leases = cluster(&env, &nodes(2, "1")).await?;
            let cfg = config(&env, (6, 4, 1), "  qps: 1000\n  burst: 2000\n")?;
            let (mut old, _, id_old) = replica(&env, "frozen", &cfg, &["-v=2"], &[]).await?;
            env.wait_for(
                "the first replica leads",
                Duration::from_secs(30),
                || async { holder(&leases).await.filter(|h| *h == id_old) },
            )
            .await?;
            let (_new, _, id_new) = replica(&env, "standby", &cfg, &["-v=2"], &[]).await?;

            // 30 pods of 100m wait in the leader's queue: the two 1-CPU nodes hold 20.
            let pods: Api<Pod> = Api::namespaced(env.client.clone(), WORK);
            create_pods(&pods, (0..30).map(|i| format!("p-{i:02}")), "100m").await?;
            env.wait_for("20 pods bound", Duration::from_secs(60), || async {
                bound(&pods).await.filter(|n| *n == 20)
            })
            .await?;
            old.signal("STOP");
            // Room for the 10 waiting pods and 10 more appears while the leader is frozen.
            env.ready_nodes(&[NodeSpec {
                cpu: "2".into(),
                ..NodeSpec::standard("n-late")
            }])
            .await?;
            env.wait_for("the standby leads", Duration::from_secs(30), || async {
                holder(&leases).await.filter(|h| *h == id_new)
            })
            .await?;
            env.wait_for("30 pods bound", Duration::from_secs(60), || async {
                bound(&pods).await.filter(|n| *n == 30)
            })
            .await?;
            // More pods, which the woken leader's informers will deliver to its queue too.
            create_pods(&pods, (30..40).map(|i| format!("p-{i:02}")), "100m").await?;
            let mark = old.log().len();
            old.signal("CONT");
            let code = old.wait(Duration::from_secs(30)).await?;
            assert!(
                code.is_some_and(|c| c != 0),
                "the old leader exits: {code:?}"
            );
            let woke = &old.log()[mark..];
            let binds = woke.matches("Successfully bound pod to node").count()
                + woke.matches("binding failed").count()
                + woke.matches("bind not retried").count();
            println!("figure: binds by the frozen leader after SIGCONT: {binds}");
            assert_eq!(binds, 0, "the old leader bound after waking:\n{woke}");
            env.wait_for(
                "the last 10 pods bound by the new leader",
                Duration::from_secs(60),
                || async { bound(&pods).await.filter(|n| *n == 40) },
            )
            .await?;
            let per_node = cpu_per_node(&env).await?;
            let cap = |n: &str| if n == "n-late" { 2000 } else { 1000 };
            assert!(
                per_node.iter().all(|(n, m)| *m <= cap(n)),
                "no node over its CPU: {per_node:?}"
            );
            Ok(())
        })
        .await
}

/// FailedScheduling events about `pod`.
async fn failed_events(env: &TestEnv, pod: &str) -> anyhow::Result<usize> {
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(env.client.clone(), WORK);
    Ok(events
        .list(&Default::default())
        .await?
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(pod))
        .count())
}

/// Scenario 6: a pending pod that gets a deletionTimestamp (a finalizer keeps it) leaves
/// the queue: a cluster change that requeues pending pods writes no new FailedScheduling
/// for it, as kube-scheduler skips pods being deleted.
#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn a_pod_being_deleted_leaves_the_queue() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            cluster(&env, &nodes(1, "1")).await?;
            let cfg = config(&env, (15, 10, 2), "")?;
            let open = "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics";
            let (_s, port, _) = replica(&env, "deletes", &cfg, &[open], &[]).await?;
            let pods: Api<Pod> = Api::namespaced(env.client.clone(), WORK);
            let mut doomed = fixtures::pod(WORK, "doomed", SCHEDULER, "2", "10Mi");
            doomed.metadata.finalizers = Some(vec!["ferrosched.dev/test-hold".into()]);
            pods.create(&PostParams::default(), &doomed).await?;
            env.wait_for(
                "the first FailedScheduling",
                Duration::from_secs(60),
                || async { failed_events(&env, "doomed").await.ok().filter(|n| *n == 1) },
            )
            .await?;
            pods.delete("doomed", &Default::default()).await?;
            // The pod leaves the scheduler's queues (upstream drops it too).
            let http = reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .timeout(Duration::from_secs(3))
                .build()?;
            env.wait_for(
                "no pending pods in the scheduler",
                Duration::from_secs(30),
                || async {
                    let body = http
                        .get(format!("https://127.0.0.1:{port}/metrics"))
                        .send()
                        .await
                        .ok()?
                        .text()
                        .await
                        .ok()?;
                    let pending: f64 = body
                        .lines()
                        .filter(|l| l.starts_with("scheduler_pending_pods{"))
                        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                        .sum();
                    (body.contains("scheduler_pending_pods{") && pending == 0.0).then_some(())
                },
            )
            .await?;
            // A node where the doomed pod would now fit requeues every pending pod; a pod
            // created after it shows when the scheduler has handled that change.
            env.ready_nodes(&[NodeSpec {
                cpu: "4".into(),
                ..NodeSpec::standard("n-big")
            }])
            .await?;
            create_pods(&pods, ["sentinel".to_string()].into_iter(), "3").await?;
            env.wait_for("the sentinel bound", Duration::from_secs(60), || async {
                let p = pods.get("sentinel").await.ok()?;
                node_of(&p).map(|_| ())
            })
            .await?;
            let p = pods.get("doomed").await?;
            assert_eq!(node_of(&p), None, "a pod being deleted is not bound");
            assert_eq!(
                failed_events(&env, "doomed").await?,
                1,
                "no retry after deletion"
            );
            // Release the pod so the namespace can go.
            let patch = serde_json::json!({"metadata": {"finalizers": null}});
            pods.patch(
                "doomed",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await?;
            Ok(())
        })
        .await
}

/// Scenario 7: the longest names the API allows (a 253-character schedulerName and pod
/// names, a 64-character host name): every Scheduled and FailedScheduling event is
/// accepted by the API server.
#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries, and root (a UTS namespace)"]
async fn events_fit_the_api_at_the_longest_names() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            cluster(&env, &nodes(1, "1")).await?;
            let scheduler = ["s".repeat(63), "c".repeat(63), "h".repeat(63), "d".repeat(61)].join(".");
            assert_eq!(scheduler.len(), 253);
            let cfg = env.dir.join("long.yaml");
            std::fs::write(
                &cfg,
                fixtures::single_profile_config(&env.kubeconfig, &scheduler),
            )?;
            // The host name as long as Linux allows, in a UTS namespace of its own.
            let host = "x".repeat(64);
            let bin = ferrosched_e2e::procs::binary("ferrosched-scheduler");
            let port = free_port();
            let script = format!(
                "hostname {host} && exec {} --config={} --secure-port={port} --bind-address=127.0.0.1 --cert-dir={}",
                bin.display(),
                cfg.display(),
                env.dir.join("long-certs").display()
            );
            let _s = env.spawn(
                "long-names",
                std::path::Path::new("/usr/bin/unshare"),
                &["--uts".into(), "sh".into(), "-c".into(), script],
            )?;
            let pods: Api<Pod> = Api::namespaced(env.client.clone(), WORK);
            let long = |tag: &str| {
                let last = format!("{tag}{}", "z".repeat(61 - tag.len()));
                ["p".repeat(63), "q".repeat(63), "r".repeat(63), last].join(".")
            };
            let (fits, fails) = (long("fits"), long("fails"));
            assert_eq!(fits.len(), 253);
            for (name, cpu) in [(&fits, "100m"), (&fails, "2")] {
                pods.create(
                    &PostParams::default(),
                    &fixtures::pod(WORK, name, &scheduler, cpu, "10Mi"),
                )
                .await?;
            }
            let events: Api<k8s_openapi::api::events::v1::Event> =
                Api::namespaced(env.client.clone(), WORK);
            let found = env
                .wait_for("a Scheduled and a FailedScheduling event", Duration::from_secs(60), || async {
                    let l = events.list(&Default::default()).await.ok()?;
                    let of = |reason: &str, pod: &str| {
                        l.items.iter().find(|e| {
                            e.reason.as_deref() == Some(reason)
                                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(pod)
                        }).cloned()
                    };
                    Some((of("Scheduled", &fits)?, of("FailedScheduling", &fails)?))
                })
                .await?;
            for e in [found.0, found.1] {
                let instance = e.reporting_instance.unwrap_or_default();
                let controller = e.reporting_controller.unwrap_or_default();
                assert!(instance.len() <= 128 && controller.len() <= 63, "{controller} / {instance}");
                assert!(scheduler.starts_with(&controller), "{controller}");
                assert!(e.metadata.name.is_some_and(|n| n.len() <= 253));
            }
            Ok(())
        })
        .await
}
