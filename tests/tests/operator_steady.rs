//! Steady state writes nothing: with every example and a profile full of values the API
//! server stores in another spelling (`nodeSelector: {}`, a toleration with `value: ""`,
//! `cpu: 0.5`, memory in bytes, a percentage budget), the operator makes no API write in
//! 60 s once everything is rolled out.

use std::time::{Duration, Instant};

use ferrosched_crds::SchedulerProfile;
use ferrosched_e2e::TestEnv;
use ferrosched_e2e::fixtures::{MANAGER, NodeSpec};
use ferrosched_e2e::operator::{apply_spec, start, wait_rolled_out, writes};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

const STEADY: Duration = Duration::from_secs(60);

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn steady_state_makes_no_write_for_examples_and_respelled_specs() -> anyhow::Result<()> {
    TestEnv::start().await?.run(|env| async move {
        let c = env.client.clone();
        let nodes: Vec<NodeSpec> = (0..3).map(|i| NodeSpec::standard(&format!("node-{i}"))).collect();
        env.ready_nodes(&nodes).await?;
        let (_op, scrape) = start(&env, &[]).await?;
        let mut names = Vec::new();
        for e in ["second-scheduler.yaml", "bin-packing.yaml", "pod-capacity.yaml", "replace-default.yaml"] {
            let text = std::fs::read_to_string(format!("{}/../examples/{e}", env!("CARGO_MANIFEST_DIR")))?;
            let p: SchedulerProfile = serde_saphyr::from_str(&text)?;
            let name = p.metadata.name.clone().unwrap_or_default();
            Api::<SchedulerProfile>::all(c.clone())
                .patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&p))
                .await?;
            names.push(name);
        }
        apply_spec(&c, "respelled", json!({
            "nodeSelector": {},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "", "effect": "NoSchedule"},
                            {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "resources": {"requests": {"cpu": "0.5", "memory": "134217728"}, "limits": {"memory": "0.5Gi"}},
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "respelled"}}}}]}},
            "disruptionBudget": {"maxUnavailable": "50%"},
            "imagePullSecrets": [{"name": "regcred"}],
            "leaderElection": {"leaseDuration": "15000ms", "renewDeadline": "10s", "retryPeriod": "2s"},
        })).await?;
        names.push("respelled".into());
        for name in &names {
            wait_rolled_out(&env, &c, name).await?;
        }
        // Rolled out: the last status updates (ready replicas, leader) settle within a few
        // seconds; wait until the counter holds still for 10 s, then measure.
        let settled = Instant::now();
        let last = std::sync::Mutex::new((writes(&scrape).await?, Instant::now()));
        env.wait_for("writes to settle", Duration::from_secs(120), || async {
            let now = writes(&scrape).await.ok()?;
            let mut last = last.lock().ok()?;
            if now != last.0 {
                *last = (now, Instant::now());
            }
            (last.1.elapsed() >= Duration::from_secs(10)).then_some(())
        }).await?;
        println!("settled {:.0} s after roll-out", settled.elapsed().as_secs_f64());
        let before = writes(&scrape).await?;
        tokio::time::sleep(STEADY).await; // the measurement window itself
        let made = writes(&scrape).await? - before;
        println!("figure: operator API writes in {} s of steady state ({} profiles): {made}", STEADY.as_secs(), names.len());
        assert_eq!(made, 0.0, "writes in steady state");
        Ok(())
    }).await
}
