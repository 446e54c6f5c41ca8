//! The main job where the machine cannot run a real node (`hack/demo.sh` passes the
//! reason): `ferrosched-dev demo` says why, runs the operator and the profile's scheduler
//! replicas as local processes on a local control plane, places the demo pods on fake
//! nodes, and on Ctrl-C stops everything it started.

use std::time::Duration;

use ferrosched_e2e::demo_run;

const WHY: &str = "this test asks for local processes";

#[tokio::test]
#[ignore = "needs the local control plane (hack/build-control-plane.sh)"]
async fn without_a_real_node_the_demo_says_why_and_runs_local_processes() -> anyhow::Result<()> {
    let milestones = [
        "no cluster reachable: starting a local control plane".to_string(),
        format!("the operator and the schedulers run as local processes: {WHY}"),
        "operator started".to_string(),
        "2 scheduler replicas running as ServiceAccount ferrosched-system/ferrosched-ferrosched"
            .to_string(),
        "created 10 pods with schedulerName ferrosched".to_string(),
        "all demo pods placed by ferrosched".to_string(),
    ];
    let milestones: Vec<&str> = milestones.iter().map(String::as_str).collect();
    let args = [
        "--pods".into(),
        "10".into(),
        "--processes-because".into(),
        WHY.into(),
    ];
    let run = demo_run::run(
        env!("CARGO_BIN_EXE_ferrosched-dev").as_ref(),
        &demo_run::work_dir(),
        &args,
        &milestones,
        Duration::from_secs(180),
    )
    .await?;
    run.check_clean_run()?;
    println!(
        "figure: hack/demo.sh with local processes, start to every demo pod placed: {:.1} s",
        run.elapsed.as_secs_f64()
    );
    assert!(
        !run.output.iter().any(|l| l.contains("helm install")),
        "no helm install without a real node"
    );
    let (used, last) = run.fake_nodes_used(10)?;
    assert!(
        used >= 3,
        "demo pods spread over {used} of 5 fake nodes: {last}"
    );
    Ok(())
}
