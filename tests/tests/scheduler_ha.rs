//! Three scheduler processes on one Lease: one leads and binds; killing or stopping the
//! leader hands over within the client-go bounds; no pod is bound twice and no node is
//! over-committed; the secure port serves health openly and metrics only to the allowed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrosched_e2e::TestEnv;
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::operands::free_port;
use ferrosched_e2e::procs::Spawned;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, PostParams};

const NS: &str = "ha-system";
const LEASE_SECS: u64 = 6;
const RETRY_SECS: u64 = 1;

fn config(kubeconfig: &std::path::Path) -> String {
    format!(
        "apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: {}
  qps: 1000
  burst: 2000
leaderElection:
  leaderElect: true
  leaseDuration: {LEASE_SECS}s
  renewDeadline: 4s
  retryPeriod: {RETRY_SECS}s
  resourceName: ha
  resourceNamespace: {NS}
profiles:
- schedulerName: ha
",
        kubeconfig.display()
    )
}

struct Replica {
    proc: Spawned,
    port: u16,
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get("ha")
        .await
        .ok()?
        .spec?
        .holder_identity
        .filter(|h| !h.is_empty())
}

async fn create_pods(pods: &Api<Pod>, range: std::ops::Range<usize>) -> anyhow::Result<()> {
    for i in range {
        pods.create(
            &PostParams::default(),
            &fixtures::pod("work", &format!("p-{i}"), "ha", "100m", "500Mi"),
        )
        .await?;
    }
    Ok(())
}

async fn bound_count(pods: &Api<Pod>) -> Option<usize> {
    let l = pods.list(&Default::default()).await.ok()?;
    Some(
        l.items
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
            .count(),
    )
}

/// Namespaces, the (empty) Lease, `nodes` ready nodes, and three scheduler replicas named
/// `<prefix>-<i>` with `extra` flags.
async fn ha_cluster(
    env: &TestEnv,
    nodes: usize,
    prefix: &str,
    extra: &[&str],
) -> anyhow::Result<(Api<Lease>, Vec<Replica>)> {
    let c = env.client.clone();
    fixtures::create_namespace(&c, NS, &[]).await?;
    fixtures::create_namespace(&c, "work", &[]).await?;
    let lease: Lease = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "ha", "namespace": NS}, "spec": {}}),
    )?;
    let leases: Api<Lease> = Api::namespaced(c.clone(), NS);
    leases.create(&PostParams::default(), &lease).await?;
    let specs: Vec<NodeSpec> = (0..nodes)
        .map(|i| NodeSpec::standard(&format!("n-{i:02}")))
        .collect();
    env.ready_nodes(&specs).await?;
    let cfg = env.dir.join(format!("{prefix}.yaml"));
    std::fs::write(&cfg, config(&env.kubeconfig))?;
    let mut replicas = Vec::new();
    for i in 0..3 {
        let port = free_port();
        let proc = env.spawn_scheduler(&format!("{prefix}-{i}"), &cfg, port, extra)?;
        replicas.push(Replica { proc, port });
    }
    Ok((leases, replicas))
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn leader_fails_over_and_every_pod_is_bound_once() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            let (leases, mut replicas) = ha_cluster(&env, 50, "ha", &[]).await?;
            let first = env
                .wait_for("a leader", Duration::from_secs(30), || holder(&leases))
                .await?;
            let ids: Vec<String> = env
                .wait_for(
                    "every replica's identity",
                    Duration::from_secs(10),
                    || async {
                        replicas
                            .iter()
                            .map(|r| r.proc.logged_identity())
                            .collect::<Option<Vec<_>>>()
                    },
                )
                .await?;
            assert!(
                ids.contains(&first),
                "the leader {first} is one of ours: {ids:?}"
            );

            // Half the pods, then kill the leader without letting it release.
            let pods: Api<Pod> = Api::namespaced(c.clone(), "work");
            create_pods(&pods, 0..250).await?;
            env.wait_for("100 pods bound", Duration::from_secs(60), || async {
                bound_count(&pods).await.filter(|n| *n >= 100)
            })
            .await?;
            let leader_idx = ids.iter().position(|i| *i == first).unwrap_or(0);
            let killed = Instant::now();
            replicas[leader_idx].proc.signal("KILL");
            let second = env
                .wait_for(
                    "a new leader after SIGKILL",
                    Duration::from_secs(30),
                    || async { holder(&leases).await.filter(|h| *h != first) },
                )
                .await?;
            let took = killed.elapsed();
            println!(
                "figure: failover after SIGKILL took {:.1}s",
                took.as_secs_f64()
            );
            // client-go's bound: the standby saw the last renewal up to one retryPeriod
            // after it was made, waits leaseDuration from then, and tries again up to one
            // retryPeriod later; plus the requests on a loaded 2-core machine.
            assert!(
                took <= Duration::from_secs(LEASE_SECS + 2 * RETRY_SECS + 3),
                "takeover within leaseDuration + 2 retryPeriods + 3s, took {took:?}"
            );

            create_pods(&pods, 250..500).await?;
            env.wait_for("500 pods bound", Duration::from_secs(120), || async {
                bound_count(&pods).await.filter(|n| *n == 500)
            })
            .await?;

            // SIGTERM: the leader finishes, releases, and a standby takes over at once.
            let second_idx = ids
                .iter()
                .position(|i| *i == second)
                .ok_or_else(|| anyhow::anyhow!("unknown leader {second}"))?;
            let termed = Instant::now();
            replicas[second_idx].proc.signal("TERM");
            let third = env
                .wait_for(
                    "a new leader after SIGTERM",
                    Duration::from_secs(30),
                    || async { holder(&leases).await.filter(|h| *h != second) },
                )
                .await?;
            let took = termed.elapsed();
            println!(
                "figure: handover after SIGTERM took {:.1}s",
                took.as_secs_f64()
            );
            assert!(
                took <= Duration::from_secs(RETRY_SECS + 2),
                "handover within retryPeriod + 2s, took {took:?}"
            );
            assert_eq!(
                replicas[second_idx]
                    .proc
                    .wait(Duration::from_secs(20))
                    .await?,
                Some(0),
                "graceful exit"
            );
            assert_ne!(third, first);
            // The new leader schedules too.
            create_pods(&pods, 500..501).await?;
            env.wait_for(
                "the 501st pod bound by the new leader",
                Duration::from_secs(60),
                || async { bound_count(&pods).await.filter(|n| *n == 501) },
            )
            .await?;

            // Every pod bound exactly once, by a replica that held the lease; no node over-committed.
            let events: Api<Event> = Api::namespaced(c.clone(), "work");
            let evs = events.list(&Default::default()).await?;
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")?
                .trim()
                .to_string();
            let mut per_pod: BTreeMap<String, usize> = BTreeMap::new();
            for e in evs
                .items
                .iter()
                .filter(|e| e.reason.as_deref() == Some("Scheduled"))
            {
                *per_pod
                    .entry(
                        e.regarding
                            .as_ref()
                            .and_then(|r| r.name.clone())
                            .unwrap_or_default(),
                    )
                    .or_default() += 1;
                // Upstream's reportingInstance: `<schedulerName>-<host name>`.
                let inst = e.reporting_instance.clone().unwrap_or_default();
                assert_eq!(inst, format!("ha-{host}"), "reported as upstream reports");
            }
            assert!(per_pod.values().all(|n| *n == 1), "no pod bound twice");
            let all = pods.list(&Default::default()).await?;
            let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
            for p in &all.items {
                *per_node
                    .entry(
                        p.spec
                            .as_ref()
                            .and_then(|s| s.node_name.clone())
                            .unwrap_or_default(),
                    )
                    .or_default() += 1;
            }
            // 4 CPU / 100m = 40 pods per node at most (memory: 32Gi / 500Mi = 65).
            assert_eq!(per_pod.len(), 501, "one Scheduled event per pod");
            assert!(
                per_node.values().all(|n| *n <= 40),
                "no node above allocatable: {per_node:?}"
            );

            // The secure port: health open, metrics only with a token RBAC allows.
            let live = &replicas[ids.iter().position(|i| *i == third).unwrap_or(0)];
            check_serving(&env, live.port).await?;
            Ok(())
        })
        .await
}

async fn check_serving(env: &TestEnv, port: u16) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()?;
    let base = format!("https://127.0.0.1:{port}");
    assert_eq!(
        http.get(format!("{base}/healthz")).send().await?.status(),
        200
    );
    assert_eq!(
        http.get(format!("{base}/readyz")).send().await?.status(),
        200
    );
    let anon = http.get(format!("{base}/metrics")).send().await?.status();
    assert_eq!(anon, 403, "anonymous /metrics is refused");
    // A ServiceAccount allowed to get /metrics reads them.
    let c = env.client.clone();
    let sa: ServiceAccount = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "prometheus", "namespace": NS}}),
    )?;
    Api::<ServiceAccount>::namespaced(c.clone(), NS)
        .create(&PostParams::default(), &sa)
        .await?;
    let role: ClusterRole = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "metrics-reader"}, "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}),
    )?;
    Api::<ClusterRole>::all(c.clone())
        .create(&PostParams::default(), &role)
        .await?;
    let binding: ClusterRoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "metrics-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "metrics-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "prometheus", "namespace": NS}],
    }))?;
    Api::<ClusterRoleBinding>::all(c.clone())
        .create(&PostParams::default(), &binding)
        .await?;
    let kc = fixtures::service_account_kubeconfig(
        &c,
        &env.server,
        &env.ca_pem,
        NS,
        "prometheus",
        &env.dir.join("prom"),
    )
    .await?;
    let text = std::fs::read_to_string(kc)?;
    let token = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap_or_default()
        .to_string();
    let body = env.metrics_with_token(&http, &base, &token).await?;
    assert!(
        body.contains("scheduler_schedule_attempts_total{result=\"scheduled\",profile=\"ha\"}"),
        "attempts counted"
    );
    assert!(
        body.contains("scheduler_queue_incoming_pods_total{queue=\"active\",event=\"PodAdd\"}"),
        "incoming pods counted"
    );
    assert!(
        body.contains("scheduler_framework_extension_point_duration_seconds_bucket")
            && body.contains("extension_point=\"Filter\""),
        "extension points timed"
    );
    assert!(
        body.contains("leader_election_master_status{name=\"kube-scheduler\"} 1"),
        "leader gauge exported"
    );
    Ok(())
}

async fn leader_gauge(port: u16, token: &str) -> Option<bool> {
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(3))
        .build()
        .ok()?;
    let body = http
        .get(format!("https://127.0.0.1:{port}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let line = body
        .lines()
        .find(|l| l.starts_with("leader_election_master_status{"))?;
    Some(line.ends_with(" 1"))
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn a_frozen_api_server_leaves_exactly_one_leader() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            let (leases, mut replicas) = ha_cluster(
                &env,
                10,
                "freeze",
                &["--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics"],
            )
            .await?;
            env.wait_for("a leader", Duration::from_secs(30), || holder(&leases))
                .await?;
            let pods: Api<Pod> = Api::namespaced(c.clone(), "work");
            create_pods(&pods, 0..100).await?;

            // Freeze the API server for 30 s while pods are pending.
            let apiserver = env
                .pid_of("kube-apiserver")
                .await
                .ok_or_else(|| anyhow::anyhow!("no apiserver"))?;
            std::process::Command::new("kill")
                .args(["-STOP", &apiserver.to_string()])
                .status()?;
            tokio::time::sleep(Duration::from_secs(30)).await; // the fault lasts 30 s by design
            std::process::Command::new("kill")
                .args(["-CONT", &apiserver.to_string()])
                .status()?;

            env.wait_for(
                "100 pods bound after the freeze",
                Duration::from_secs(120),
                || async { bound_count(&pods).await.filter(|n| *n == 100) },
            )
            .await?;
            let leader = env
                .wait_for("a leader after the freeze", Duration::from_secs(30), || {
                    holder(&leases)
                })
                .await?;
            // Exactly one live replica says it leads (a leader that could not renew has exited).
            let deadline = Instant::now() + Duration::from_secs(30);
            let states = loop {
                env.check_alive().await?;
                let mut out = Vec::new();
                for r in replicas.iter_mut() {
                    if r.proc.running() {
                        out.push(leader_gauge(r.port, "").await.unwrap_or(false));
                    }
                }
                if out.iter().filter(|l| **l).count() == 1 {
                    break out;
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "not exactly one leader after the freeze: {out:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            println!("after the freeze: leader {leader}, live replicas' leader gauges {states:?}");
            Ok(())
        })
        .await
}
