//! Ferrosched decides as kube-scheduler does: generated cluster states (nodes with varied
//! capacity, labels, zones, taints and cordons; pods with requests, selectors, node and pod
//! (anti-)affinities, spread constraints, tolerations, host ports and priorities) are
//! applied to the real control plane and scheduled by the upstream kube-scheduler; for each,
//! Ferrosched's scheduling code (default profile, percentageOfNodesToScore 100) must agree
//! on schedulability, write the identical `FailedScheduling` message (preemption's part
//! included), and rank kube-scheduler's node among its highest-scoring ones.
//!
//! `FERROSCHED_DIFF_SEED=<n>` replays a run; `FERROSCHED_DIFF_STATES=<n>` sets the count.

use std::time::Instant;

use ferrosched_e2e::controlplane::{ControlPlane, ControlPlaneOptions};
use ferrosched_e2e::diff::generate::Generator;
use ferrosched_e2e::diff::generate::State;
use ferrosched_e2e::diff::{
    Outcome, Runner, disagreement, install_priority_classes, kube_scores, score_disagreement,
};

fn pod_name(state: &State) -> String {
    state.incoming["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

async fn compare(cp: &ControlPlane, seed: u64, states: usize) -> anyhow::Result<Vec<String>> {
    let client = cp.client().await;
    install_priority_classes(&client).await?;
    let runner = Runner::new(client, "default-scheduler")?;
    let mut generator = Generator::new(seed);
    let (mut bound, mut failed, mut ranked, mut problems) = (0, 0, 0, Vec::new());
    let mut compared_totals = 0;
    let started = Instant::now();
    for i in 0..states {
        let state = generator.state(i, "default-scheduler");
        runner.clear().await?;
        runner.apply(i, &state).await?;
        let snapshot = runner.snapshot().await?;
        let (pod, kube) = runner.kube_outcome(&state).await?;
        match &kube {
            Outcome::Bound(_) => bound += 1,
            Outcome::Failed(_) => failed += 1,
        }
        let ferro = runner.ferrosched_verdict(pod, &snapshot)?;
        if let ferrosched_e2e::diff::Verdict::Scores(scores) = &ferro {
            // States where the scores single out fewer nodes than fit (ranking mattered).
            ranked += usize::from(ferro.best().len() < scores.len());
        }
        let log = cp
            .log_path("kube-scheduler")
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .unwrap_or_default();
        let key = format!("{}/{}", ferrosched_e2e::diff::NAMESPACE, pod_name(&state));
        let kube_totals = kube_scores(&log, &key);
        compared_totals += usize::from(!kube_totals.is_empty());
        let why = disagreement(&kube, &ferro).or_else(|| {
            matches!(kube, Outcome::Bound(_))
                .then(|| score_disagreement(&kube_totals, &ferro))
                .flatten()
        });
        if let Some(why) = why {
            problems.push(format!(
                "state {i} (seed {seed}): {why}\n  nodes: {}\n  bound pods: {}\n  incoming: {}",
                serde_json::to_string(&state.nodes)?,
                serde_json::to_string(&state.existing)?,
                serde_json::to_string(&state.incoming)?,
            ));
        }
    }
    println!(
        "figure: differential states {states} (kube-scheduler bound {bound}, {ranked} of them decided by scores, {compared_totals} with every node's total score compared; unschedulable {failed}), disagreements {}, {:.0} s",
        problems.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(problems)
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh)"]
async fn ferrosched_agrees_with_kube_scheduler_on_generated_states() -> anyhow::Result<()> {
    let seed = env_number("FERROSCHED_DIFF_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let states = env_number("FERROSCHED_DIFF_STATES").unwrap_or(200) as usize;
    println!("differential seed: {seed} (replay with FERROSCHED_DIFF_SEED={seed})");
    // Only the API server, etcd and kube-scheduler: nodes are created Ready and nothing
    // else changes the state between kube-scheduler's decision and Ferrosched's.
    let cp = ControlPlane::start(ControlPlaneOptions {
        with_controller_manager: false,
        with_kwok: false,
        // Log every node's final score, to compare totals exactly.
        default_scheduler_args: vec!["--vmodule=schedule_one=10".into()],
        ..Default::default()
    })
    .await?;
    let result = compare(&cp, seed, states).await;
    if let (Err(_), Some(log)) = (&result, cp.log_path("kube-scheduler")) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        eprintln!("kube-scheduler log tail:\n{}", tail.join("\n"));
    }
    cp.stop().await?;
    let problems = result?;
    assert!(
        problems.is_empty(),
        "{} of {states} states disagree (seed {seed}):\n{}",
        problems.len(),
        problems
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    Ok(())
}
