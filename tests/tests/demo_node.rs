//! The main job on a machine that allows a real node: `ferrosched-dev demo` (what
//! `hack/demo.sh` runs) with the image `hack/image.sh` built starts a local control plane
//! with a real node, installs Ferrosched with `helm install`, the operator and both
//! scheduler replicas running as pods of the image on the real node, places the demo pods
//! (one on the real node), and on Ctrl-C stops cleanly, leaving no node process behind.

use std::time::Duration;

use ferrosched_e2e::demo_run;
use ferrosched_e2e::user_path::project_image;

/// Lines the demo prints, in order, on its way to the placed pods.
const MILESTONES: &[&str] = &[
    "no cluster reachable: starting a local control plane",
    "imported into the real node's containerd",
    "helm install ferrosched charts/ferrosched",
    "operator Ready",
    "scheduler Ready (2 replica(s))",
    "created demo-real for the real node",
    "all demo pods placed by ferrosched",
];

#[tokio::test]
#[ignore = "needs root, the real node's packages and images, and hack/image.sh's image"]
async fn the_demo_runs_the_operands_as_pods_on_a_real_node() -> anyhow::Result<()> {
    let image = project_image()?;
    let args = [
        "--pods".into(),
        "10".into(),
        "--image-archive".into(),
        image.archive.clone().into_os_string(),
        "--image".into(),
        image.reference.clone().into(),
    ];
    let run = demo_run::run(
        env!("CARGO_BIN_EXE_ferrosched-dev").as_ref(),
        &demo_run::work_dir(),
        &args,
        MILESTONES,
        Duration::from_secs(300),
    )
    .await?;
    run.check_clean_run()?;
    println!(
        "figure: hack/demo.sh on a real node, start to every demo pod placed: {:.1} s",
        run.elapsed.as_secs_f64()
    );
    let pods_on_node = run
        .output
        .iter()
        .filter(|l| {
            l.trim_start().starts_with("pod ferrosched-system/")
                && l.contains("on ferrosched-node (Ready)")
        })
        .count();
    assert_eq!(
        pods_on_node, 3,
        "the operator and two schedulers Ready on the real node"
    );
    // The last placement line: 10 demo pods spread over the five fake nodes (upstream's
    // default scoring spreads small pods), one on the real node.
    let (used, last) = run.fake_nodes_used(11)?;
    assert!(
        used >= 3,
        "demo pods spread over {used} of 5 fake nodes: {last}"
    );
    assert!(last.contains("\"ferrosched-node\": 1"), "{last}");
    Ok(())
}
