//! Crash after every write (Sieve/Acto style): a profile is created and then edited, and
//! the operator is stopped right after its n-th API write (a debug-build hook, exit 86),
//! for every n the uninterrupted run makes, then started again without the hook. Each
//! run must end where the uninterrupted one does: the same children, one config
//! ConfigMap, the edit rolled out, nothing orphaned.
//!
//! `FERROSCHED_CRASH_POINTS=<k>` tries only every k-th point (default 1: all of them).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrosched_crds::SchedulerProfile;
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::operator::{NS, apply_spec, wait_rolled_out};
use ferrosched_e2e::procs::Spawned;
use ferrosched_e2e::{TestEnv, procs};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

const CRASH_ENV: &str = "FERROSCHED_TEST_CRASH_AFTER_WRITES";
const CRASH_EXIT: i32 = 86;

fn edited() -> Value {
    json!({"percentageOfNodesToScore": 40})
}

fn operator(env: &TestEnv, name: &str, crash_at: Option<u64>) -> anyhow::Result<Spawned> {
    let args = vec![
        format!("--kubeconfig={}", env.kubeconfig.display()),
        format!("--namespace={NS}"),
        "--scheduler-image=ferrosched:e2e".into(),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={}", ferrosched_e2e::operands::free_port()),
        "--leader-elect=false".into(),
    ];
    let envs: Vec<(String, String)> = crash_at
        .map(|n| (CRASH_ENV.to_string(), n.to_string()))
        .into_iter()
        .collect();
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.spawn_with_env(name, &procs::binary("ferrosched-operator"), &args, &envs)
}

/// Whether `p` runs the edited configuration, rolled out.
async fn runs_edit(c: &kube::Client, p: &str) -> bool {
    let Ok(prof) = Api::<SchedulerProfile>::all(c.clone()).get(p).await else {
        return false;
    };
    let Some(cm) = prof.status.and_then(|s| s.config_map_name) else {
        return false;
    };
    let Ok(cm) = Api::<ConfigMap>::namespaced(c.clone(), NS).get(&cm).await else {
        return false;
    };
    let text = cm
        .data
        .and_then(|d| d.get("config.yaml").cloned())
        .unwrap_or_default();
    text.contains("percentageOfNodesToScore: 40")
}

/// `name` read through `api`, as JSON.
async fn get_json<K>(api: Api<K>, name: &str) -> anyhow::Result<Value>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    Ok(serde_json::to_value(api.get(name).await?)?)
}

/// Every child of `p` as the operator owns it, with `p` and config hashes made generic so
/// two profiles compare.
async fn fingerprint(c: &kube::Client, p: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let child = format!("ferrosched-{p}");
    let ns = |c: &kube::Client| c.clone();
    let bindings: Vec<Value> = fixtures::profile_bindings(c, p)
        .await?
        .into_iter()
        .map(|b| serde_json::json!([b.metadata.name, b.role_ref, b.subjects]))
        .collect();
    let objects = [
        (
            "sa",
            get_json(Api::<ServiceAccount>::namespaced(ns(c), NS), &child).await?,
            &["/metadata/labels"][..],
        ),
        ("crbs", Value::Array(bindings), &[""][..]),
        (
            "role",
            get_json(Api::<Role>::namespaced(ns(c), NS), &child).await?,
            &["/rules"][..],
        ),
        (
            "rb",
            get_json(Api::<RoleBinding>::namespaced(ns(c), NS), &child).await?,
            &["/roleRef", "/subjects"][..],
        ),
        (
            "auth",
            get_json(
                Api::<RoleBinding>::namespaced(ns(c), "kube-system"),
                &format!("{child}-auth-reader"),
            )
            .await?,
            &["/roleRef", "/subjects"][..],
        ),
        (
            "lease",
            get_json(Api::<Lease>::namespaced(ns(c), NS), &child).await?,
            &["/metadata/labels"][..],
        ),
        (
            "service",
            get_json(Api::<Service>::namespaced(ns(c), NS), &child).await?,
            &["/spec/ports", "/spec/selector"][..],
        ),
        (
            "pdb",
            get_json(Api::<PodDisruptionBudget>::namespaced(ns(c), NS), &child).await?,
            &["/spec"][..],
        ),
        (
            "deployment",
            get_json(Api::<Deployment>::namespaced(ns(c), NS), &child).await?,
            &[
                "/spec/replicas",
                "/spec/template/spec/containers",
                "/spec/template/spec/volumes",
            ][..],
        ),
    ];
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: Value| out.insert(k.to_string(), v.to_string());
    for (key, obj, fields) in objects {
        let picked: Vec<Value> = fields
            .iter()
            .map(|f| obj.pointer(f).cloned().unwrap_or(Value::Null))
            .collect();
        put(key, Value::Array(picked));
    }
    let cms = Api::<ConfigMap>::namespaced(c.clone(), NS)
        .list(&ListParams::default().labels(&format!("ferrosched.dev/profile={p}")))
        .await?;
    put("configmaps", json!(cms.items.len()));
    let status = Api::<SchedulerProfile>::all(c.clone())
        .get(p)
        .await?
        .status
        .unwrap_or_default();
    let conditions: Vec<_> = status
        .conditions
        .iter()
        .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
        .collect();
    put("conditions", serde_json::to_value(conditions)?);
    let hash = status.config_hash.unwrap_or_default();
    Ok(out
        .into_iter()
        .map(|(k, v)| {
            let v = if hash.is_empty() {
                v
            } else {
                v.replace(&hash, "<hash>")
            };
            (k, v.replace(p, "<p>"))
        })
        .collect())
}

/// Creates `p`, waits for it, edits it, waits for the edit; with an operator that may
/// crash. Returns whether it crashed (exit 86), and waits for nothing after a crash.
async fn scenario(c: &kube::Client, p: &str, op: &mut Spawned) -> anyhow::Result<bool> {
    apply_spec(c, p, json!({})).await?;
    // Polled by hand: `wait_for`'s closure cannot borrow `op` mutably.
    let crashed = |op: &mut Spawned| !op.running();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if crashed(op) {
            return Ok(true);
        }
        if wait_rolled_out_now(c, p).await {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "{p} did not roll out");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    apply_spec(c, p, edited()).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if crashed(op) {
            return Ok(true);
        }
        if runs_edit(c, p).await && wait_rolled_out_now(c, p).await {
            return Ok(false);
        }
        anyhow::ensure!(Instant::now() < deadline, "{p}'s edit did not roll out");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn op_log(env: &TestEnv, n: u64) -> String {
    std::fs::read_to_string(env.dir.join("procs").join(format!("operator-{n}.log")))
        .unwrap_or_default()
}

/// Available and not progressing, now.
async fn wait_rolled_out_now(c: &kube::Client, p: &str) -> bool {
    let Ok(prof) = Api::<SchedulerProfile>::all(c.clone()).get(p).await else {
        return false;
    };
    let conditions = prof.status.map(|s| s.conditions).unwrap_or_default();
    let is = |t: &str, s: &str| conditions.iter().any(|c| c.type_ == t && c.status == s);
    is("Available", "True") && is("Progressing", "False")
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn a_crash_after_any_write_converges_to_the_uninterrupted_end_state() -> anyhow::Result<()> {
    let every: u64 = std::env::var("FERROSCHED_CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    TestEnv::start().await?.run(|env| async move {
        let c = env.client.clone();
        let nodes: Vec<NodeSpec> = (0..3).map(|i| NodeSpec::standard(&format!("node-{i}"))).collect();
        env.ready_nodes(&nodes).await?;
        fixtures::install_with_restricted_namespace(&c, NS).await?;

        // The uninterrupted run, with a hook that never fires, counting its writes.
        let mut op = operator(&env, "operator-ref", Some(u64::MAX))?;
        let crashed = scenario(&c, "ref", &mut op).await?;
        anyhow::ensure!(!crashed, "the reference run crashed");
        wait_rolled_out(&env, &c, "ref").await?;
        let want = fingerprint(&c, "ref").await?;
        drop(op);

        let started = Instant::now();
        let (mut tried, mut n) = (0u64, 1u64);
        loop {
            let p = format!("crash-{n}");
            let mut op = operator(&env, &format!("operator-{n}"), Some(n))?;
            let crashed = scenario(&c, &p, &mut op).await?;
            if crashed {
                let code = op.wait(Duration::from_secs(5)).await?;
                anyhow::ensure!(code == Some(CRASH_EXIT), "operator-{n} exited with {code:?}");
            }
            drop(op);
            if !crashed {
                // Past the last write of the scenario.
                break;
            }
            let injected = op_log(&env, n).contains(CRASH_ENV);
            anyhow::ensure!(injected, "operator-{n} exited without the injected crash (exit {CRASH_EXIT} expected)");
            tried += 1;
            let mut again = operator(&env, &format!("operator-{n}-again"), None)?;
            if !runs_edit(&c, &p).await {
                // The edit may not have been made before the crash: make it now.
                env.wait_for(&format!("{p} rolled out after the restart"), Duration::from_secs(120), || async {
                    wait_rolled_out_now(&c, &p).await.then_some(())
                }).await?;
                apply_spec(&c, &p, edited()).await?;
            }
            env.wait_for(&format!("{p} runs the edit after the restart"), Duration::from_secs(120), || async {
                (runs_edit(&c, &p).await && wait_rolled_out_now(&c, &p).await).then_some(())
            }).await?;
            let got = fingerprint(&c, &p).await?;
            let differ: Vec<_> = want.iter().filter(|(k, v)| got.get(*k) != Some(*v)).map(|(k, v)| format!("{k}: want {v}, got {:?}", got.get(k))).collect();
            anyhow::ensure!(differ.is_empty(), "crash after write {n}: {differ:#?}");
            anyhow::ensure!(again.running(), "the restarted operator keeps running");
            drop(again);
            n += every;
        }
        println!(
            "figure: operator crash points tried {tried}, converged {tried} (every {every} write up to write {}, the last of create + edit), {:.0} s",
            n - every,
            started.elapsed().as_secs_f64()
        );
        anyhow::ensure!(tried >= 10, "only {tried} crash points: the scenario writes too little to test");
        Ok(())
    }).await
}
