//! The scheduler's derived RBAC against the calls it really makes: the API server's audit
//! log records every request of a profile's ServiceAccount while its scheduler binds,
//! fails, preempts, binds and provisions volumes and checks a scrape's token; every write verb the
//! operator granted must show up there, and no request may be forbidden.

use std::collections::BTreeSet;
use std::time::Duration;

use ferrosched_e2e::controlplane::ControlPlaneOptions;
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::operator::{NS, apply_spec, start};
use ferrosched_e2e::{TestEnv, operands, procs};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, PostParams};
use serde_json::json;

const PROFILE: &str = "rbac";
const WRITES: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

/// `(group, resource[/subresource], verb)` for every write verb of `rules`.
fn granted_writes(rules: &[PolicyRule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for r in rules {
        for g in r.api_groups.iter().flatten() {
            for res in r.resources.iter().flatten() {
                for v in r.verbs.iter().filter(|v| WRITES.contains(&v.as_str())) {
                    out.insert((g.clone(), res.clone(), v.clone()));
                }
            }
        }
    }
    out
}

/// The audit log's requests by `user`: `(group, resource[/subresource], verb, code)`.
fn audited(log: &str, user: &str) -> Vec<(String, String, String, i64)> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["user"]["username"] == user && e["stage"] == "ResponseComplete")
        .filter_map(|e| {
            let o = &e["objectRef"];
            let res = o["resource"].as_str()?;
            let resource = match o["subresource"].as_str() {
                Some(sub) => format!("{res}/{sub}"),
                None => res.to_string(),
            };
            Some((
                o["apiGroup"].as_str().unwrap_or_default().to_string(),
                resource,
                e["verb"].as_str().unwrap_or_default().to_string(),
                e["responseStatus"]["code"].as_i64().unwrap_or_default(),
            ))
        })
        .collect()
}

fn pod(name: &str, cpu: &str, priority: Option<&str>, claim: Option<&str>) -> anyhow::Result<Pod> {
    let mut p = fixtures::pod("work", name, PROFILE, cpu, "100Mi");
    let mut v = serde_json::to_value(&p)?;
    if let Some(pc) = priority {
        v["spec"]["priorityClassName"] = json!(pc);
    }
    if let Some(c) = claim {
        v["spec"]["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": c}}]);
    }
    p = serde_json::from_value(v)?;
    Ok(p)
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn every_write_the_scheduler_is_granted_is_one_it_makes() -> anyhow::Result<()> {
    let user = format!("system:serviceaccount:{NS}:ferrosched-{PROFILE}");
    let opts = ControlPlaneOptions {
        audit_users: vec![user.clone()],
        ..Default::default()
    };
    TestEnv::start_with(opts).await?.run(|env| async move {
        let c = env.client.clone();
        env.ready_nodes(&[NodeSpec::standard("node-0")]).await?;
        let (_op, scrape) = start(&env, &[]).await?;
        apply_spec(&c, PROFILE, json!({"replicas": 1})).await?;
        let child = format!("ferrosched-{PROFILE}");
        let operand = env.wait_for("the profile's config", Duration::from_secs(60), || async {
            operands::prepare(&c, &env.server, &env.ca_pem, NS, PROFILE, &env.dir.join("operand")).await.ok()
        }).await?;
        let args = operand.args(&env.dir.join("certs"))?;
        let port: u16 = args.iter().find_map(|a| a.strip_prefix("--secure-port=")?.parse().ok()).unwrap_or_default();
        let _sched = env.spawn("scheduler", &procs::binary("ferrosched-scheduler"), &args)?;

        fixtures::create_namespace(&c, "work", &[]).await?;
        let pods: Api<Pod> = Api::namespaced(c.clone(), "work");
        let pcs: Api<PriorityClass> = Api::all(c.clone());
        for (name, value) in [("low", 10), ("high", 1000)] {
            let pc: PriorityClass = serde_json::from_value(json!({"metadata": {"name": name}, "value": value}))?;
            pcs.create(&PostParams::default(), &pc).await?;
        }
        // A volume bound at scheduling time (WaitForFirstConsumer): PV and PVC updates.
        let sc: StorageClass = serde_json::from_value(json!({"metadata": {"name": "local"},
            "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}))?;
        Api::<StorageClass>::all(c.clone()).create(&PostParams::default(), &sc).await?;
        let pv: PersistentVolume = serde_json::from_value(json!({"metadata": {"name": "pv-0"}, "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local",
            "local": {"path": "/mnt/pv-0"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-0"]}]}]}}}}))?;
        Api::<PersistentVolume>::all(c.clone()).create(&PostParams::default(), &pv).await?;
        let pvc: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data", "namespace": "work"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local", "resources": {"requests": {"storage": "1Gi"}}}}))?;
        Api::<PersistentVolumeClaim>::namespaced(c.clone(), "work").create(&PostParams::default(), &pvc).await?;
        pods.create(&PostParams::default(), &pod("with-volume", "100m", None, Some("data"))?).await?;
        // A volume to provision (no PV fits): the scheduler annotates the claim with the
        // node it chose (a PVC update); no provisioner runs here, so that pod waits.
        let dynamic: StorageClass = serde_json::from_value(json!({"metadata": {"name": "dynamic"},
            "provisioner": "csi.example.com", "volumeBindingMode": "WaitForFirstConsumer"}))?;
        Api::<StorageClass>::all(c.clone()).create(&PostParams::default(), &dynamic).await?;
        let pvc: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "provisioned", "namespace": "work"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "dynamic", "resources": {"requests": {"storage": "1Gi"}}}}))?;
        Api::<PersistentVolumeClaim>::namespaced(c.clone(), "work").create(&PostParams::default(), &pvc).await?;
        pods.create(&PostParams::default(), &pod("with-provisioned", "100m", None, Some("provisioned"))?).await?;
        // A bind, a failure, and a preemption.
        pods.create(&PostParams::default(), &pod("low", "3", Some("low"), None)?).await?;
        pods.create(&PostParams::default(), &pod("too-big", "64", None, None)?).await?;
        env.wait_for("low and with-volume bound", Duration::from_secs(60), || async {
            let bound = |p: Pod| p.spec.and_then(|s| s.node_name).is_some();
            (bound(pods.get("low").await.ok()?) && bound(pods.get("with-volume").await.ok()?)).then_some(())
        }).await?;
        pods.create(&PostParams::default(), &pod("high", "3", Some("high"), None)?).await?;
        env.wait_for("high bound after preempting low", Duration::from_secs(90), || async {
            pods.get("high").await.ok()?.spec?.node_name.map(|_| ())
        }).await?;
        // Delegated authentication and authorization of a scrape.
        let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build()?;
        let status = http.get(format!("https://127.0.0.1:{port}/metrics")).bearer_auth(&scrape.token).send().await?.status();
        assert_eq!(status, 200, "the scheduler's /metrics with a reader's token");

        let mut granted = granted_writes(&fixtures::profile_cluster_rules(&c, PROFILE).await?);
        granted.extend(granted_writes(&Api::<Role>::namespaced(c.clone(), NS).get(&child).await?.rules.unwrap_or_default()));
        let log_path = env.dir.join("audit.log");
        let missing = env.wait_for("every granted write in the audit log", Duration::from_secs(30), || async {
            let log = std::fs::read_to_string(&log_path).ok()?;
            let used: BTreeSet<(String, String, String)> = audited(&log, &user).into_iter()
                .filter(|(_, _, _, code)| *code < 400 || *code == 409)
                .map(|(g, r, v, _)| (g, r, v)).collect();
            let missing: Vec<_> = granted.difference(&used).cloned().collect();
            missing.is_empty().then_some(missing)
        }).await.map_err(|e| {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let used: BTreeSet<_> = audited(&log, &user).into_iter().map(|(g, r, v, _)| (g, r, v)).collect();
            anyhow::anyhow!("{e}: granted {granted:?}, used {used:?}")
        })?;
        assert!(missing.is_empty());
        let log = std::fs::read_to_string(&log_path)?;
        let requests = audited(&log, &user);
        let forbidden: Vec<_> = requests.iter().filter(|r| r.3 == 403).collect();
        assert!(forbidden.is_empty(), "requests the derived RBAC forbade: {forbidden:?}");
        println!(
            "figure: scheduler RBAC write grants {} / used in the audit log {} ({} audited requests, 0 forbidden)",
            granted.len(), granted.len(), requests.len()
        );
        Ok(())
    }).await
}
