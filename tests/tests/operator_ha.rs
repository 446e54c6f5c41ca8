//! The operator through API-server restarts, a killed leader and a frozen API server:
//! watches that resume after a restart relist and miss no change; a standby replica
//! takes over a rollout the leader was killed in; and, read from the API server's audit
//! log, the two replicas never write in turns except when leadership moves.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrosched_crds::SchedulerProfile;
use ferrosched_e2e::controlplane::ControlPlaneOptions;
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::operator::{NS, apply_spec, start, wait_rolled_out};
use ferrosched_e2e::{TestEnv, procs};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, PostParams};
use serde_json::json;

/// The profile's last good configuration hash (status.configHash).
async fn config_hash(c: &kube::Client, name: &str) -> Option<String> {
    Api::<SchedulerProfile>::all(c.clone())
        .get(name)
        .await
        .ok()?
        .status?
        .config_hash
}

/// Waits until `name` runs a configuration other than `old`, rolled out.
async fn rolled_past(
    env: &TestEnv,
    c: &kube::Client,
    name: &str,
    old: &str,
) -> anyhow::Result<String> {
    let new = env
        .wait_for(
            &format!("{name} rolled past {old}"),
            Duration::from_secs(180),
            || async { config_hash(c, name).await.filter(|h| h != old) },
        )
        .await?;
    wait_rolled_out(env, c, name).await?;
    Ok(new)
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn changes_made_while_watches_are_down_are_not_missed() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            let nodes: Vec<NodeSpec> = (0..3)
                .map(|i| NodeSpec::standard(&format!("node-{i}")))
                .collect();
            env.ready_nodes(&nodes).await?;
            let (op, _) = start(&env, &[]).await?;
            for p in ["a", "b"] {
                apply_spec(&c, p, json!({"replicas": 1})).await?;
            }
            for p in ["a", "b"] {
                wait_rolled_out(&env, &c, p).await?;
            }
            let old = config_hash(&c, "a").await.unwrap_or_default();

            // The operator frozen, the changes made, the API server restarted under it: its
            // watches resume from revisions the new watch cache no longer has (410 Gone).
            op.signal("STOP");
            apply_spec(
                &c,
                "a",
                json!({"replicas": 1, "percentageOfNodesToScore": 40}),
            )
            .await?;
            apply_spec(&c, "c", json!({"replicas": 1})).await?;
            let services: Api<Service> = Api::namespaced(c.clone(), NS);
            services.delete("ferrosched-b", &Default::default()).await?;
            env.restart_apiserver().await?;
            op.signal("CONT");

            // Within the watches' first retries: before the fix a 410 on each watch in turn
            // backed off every trigger for minutes.
            let resumed = Instant::now();
            rolled_past(&env, &c, "a", &old).await?;
            wait_rolled_out(&env, &c, "c").await?;
            env.wait_for("b's Service restored", Duration::from_secs(60), || async {
                services.get_opt("ferrosched-b").await.ok()?
            })
            .await?;
            let caught_up = resumed.elapsed();
            println!(
                "figure: operator caught up with changes made while its watches were down: {:.1} s",
                caught_up.as_secs_f64()
            );
            assert!(caught_up < Duration::from_secs(60), "took {caught_up:?}");
            Ok(())
        })
        .await
}

/// Write requests of each user in the audit log, by time received, except the election
/// Lease (a standby writes it when it tries to take over).
fn writes_in_order(log: &str, users: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["stage"] == "ResponseComplete")
        .filter(|e| {
            ["create", "update", "patch", "delete"]
                .contains(&e["verb"].as_str().unwrap_or_default())
        })
        .filter(|e| e["objectRef"]["resource"] != "leases")
        .filter_map(|e| {
            let user = e["user"]["username"].as_str()?.to_string();
            users.contains(&user).then(|| {
                (
                    e["requestReceivedTimestamp"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    user,
                )
            })
        })
        .collect();
    out.sort();
    out
}

/// The election Lease's holder and transitions.
async fn operator_lease(c: &kube::Client) -> Option<(String, i32)> {
    let l = Api::<Lease>::namespaced(c.clone(), NS)
        .get("ferrosched-operator")
        .await
        .ok()?;
    let s = l.spec?;
    Some((
        s.holder_identity.filter(|h| !h.is_empty())?,
        s.lease_transitions.unwrap_or(0),
    ))
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn a_standby_finishes_the_rollout_and_two_replicas_never_write_in_turns() -> anyhow::Result<()>
{
    let users: Vec<String> = ["op-a", "op-b"]
        .iter()
        .map(|s| format!("system:serviceaccount:{NS}:{s}"))
        .collect();
    let opts = ControlPlaneOptions {
        audit_users: users.clone(),
        ..Default::default()
    };
    TestEnv::start_with(opts).await?.run(|env| async move {
        let c = env.client.clone();
        let nodes: Vec<NodeSpec> = (0..3).map(|i| NodeSpec::standard(&format!("node-{i}"))).collect();
        env.ready_nodes(&nodes).await?;
        fixtures::install_with_restricted_namespace(&c, NS).await?;
        let mut kubeconfigs = BTreeMap::new();
        for sa in ["op-a", "op-b"] {
            let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": sa, "namespace": NS}}))?;
            Api::<ServiceAccount>::namespaced(c.clone(), NS).create(&PostParams::default(), &account).await?;
            let binding: ClusterRoleBinding = serde_json::from_value(json!({"metadata": {"name": sa},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": NS}]}))?;
            Api::<ClusterRoleBinding>::all(c.clone()).create(&PostParams::default(), &binding).await?;
            let kc = fixtures::service_account_kubeconfig(&c, &env.server, &env.ca_pem, NS, sa, &env.dir.join(sa)).await?;
            kubeconfigs.insert(sa, kc);
        }
        let spawn = |sa: &str, run: u32| {
            let args = vec![
                format!("--kubeconfig={}", kubeconfigs[sa].display()),
                format!("--namespace={NS}"),
                "--scheduler-image=ferrosched:e2e".into(),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={}", ferrosched_e2e::operands::free_port()),
                "--leader-elect=true".into(),
            ];
            env.spawn(&format!("{sa}-{run}"), &procs::binary("ferrosched-operator"), &args)
        };
        let mut ops = BTreeMap::new();
        ops.insert("op-a", spawn("op-a", 1)?);
        ops.insert("op-b", spawn("op-b", 1)?);
        let (first, transitions0) = env.wait_for("an operator leads", Duration::from_secs(60), || operator_lease(&c)).await?;
        apply_spec(&c, "ha", json!({})).await?;
        wait_rolled_out(&env, &c, "ha").await?;

        // Kill the leader in the middle of a rollout.
        let leader = ops
            .iter()
            .find(|(_, p)| p.logged_identity().as_deref() == Some(first.as_str()))
            .map(|(sa, _)| *sa)
            .ok_or_else(|| anyhow::anyhow!("no operator logged identity {first}"))?;
        let standby = if leader == "op-a" { "op-b" } else { "op-a" };
        let old = config_hash(&c, "ha").await.unwrap_or_default();
        apply_spec(&c, "ha", json!({"percentageOfNodesToScore": 30})).await?;
        env.wait_for("the rollout under way", Duration::from_secs(30), || async {
            let d = Api::<Deployment>::namespaced(c.clone(), NS).get("ferrosched-ha").await.ok()?;
            let volumes = serde_json::to_string(&d.spec.template.spec?.volumes).ok()?;
            (!volumes.contains(&old)).then_some(())
        }).await?;
        let killed = Instant::now();
        if let Some(p) = ops.get(leader) {
            p.signal("KILL");
        }
        let (second, _) = env.wait_for("the standby leads", Duration::from_secs(60), || async {
            operator_lease(&c).await.filter(|(h, _)| *h != first)
        }).await?;
        let failover = killed.elapsed().as_secs_f64();
        assert_eq!(ops[standby].logged_identity().as_deref(), Some(second.as_str()), "the standby leads");
        let mid = rolled_past(&env, &c, "ha", &old).await?;
        println!("figure: operator failover after the leader is killed: {failover:.1} s (rollout finished by the standby)");

        // The killed replica comes back as a standby; the API server freezes for 30 s in
        // the middle of the next rollout.
        ops.insert(leader, spawn(leader, 2)?);
        env.wait_for("the returned replica stands by", Duration::from_secs(30), || async {
            ops[leader].logged_identity().map(|_| ())
        }).await?;
        apply_spec(&c, "ha", json!({"percentageOfNodesToScore": 20})).await?;
        let apiserver = env.pid_of("kube-apiserver").await.ok_or_else(|| anyhow::anyhow!("no apiserver pid"))?;
        let signal = |sig: &str| std::process::Command::new("kill").arg(format!("-{sig}")).arg(apiserver.to_string()).status();
        signal("STOP")?;
        tokio::time::sleep(Duration::from_secs(30)).await; // the freeze itself
        signal("CONT")?;
        rolled_past(&env, &c, "ha", &mid).await?;
        let (_, transitions) = operator_lease(&c).await.unwrap_or_default();

        let log = std::fs::read_to_string(env.dir.join("audit.log"))?;
        let writes = writes_in_order(&log, &users);
        let turns = writes.windows(2).filter(|w| w[0].1 != w[1].1).count();
        let moves = usize::try_from(transitions - transitions0).unwrap_or(0);
        println!("operator writes {}, changes of writer {turns}, leadership moves {moves}", writes.len());
        assert!(writes.len() > 10, "the audit log holds the operators' writes");
        assert!(turns >= 1, "the standby wrote after the kill");
        assert!(turns <= moves, "writers changed {turns} times but leadership only {moves}: {writes:?}");
        Ok(())
    }).await
}
