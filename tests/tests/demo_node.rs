//! The main job on a machine that allows a real node: `ferrosched-dev demo` (what
//! `hack/demo.sh` runs) with the image `hack/image.sh` built starts a local control plane
//! with a real node, installs Ferrosched with `helm install`, the operator and both
//! scheduler replicas running as pods of the image on the real node, places the demo pods
//! (one on the real node), and on Ctrl-C stops cleanly, leaving no node process behind.

use std::process::Stdio;
use std::time::{Duration, Instant};

use ferrosched_e2e::user_path::project_image;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

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

/// Processes of a node that would outlive a demo that did not clean up.
fn node_processes(work_dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = work_dir.display().to_string();
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle) && !c.contains("ferrosched-dev"))
        .collect()
}

#[tokio::test]
#[ignore = "needs root, the real node's packages and images, and hack/image.sh's image"]
async fn the_demo_runs_the_operands_as_pods_on_a_real_node() -> anyhow::Result<()> {
    let image = project_image()?;
    // Short: containerd's socket path under it has at most 100 bytes.
    let id = uuid::Uuid::new_v4().simple().to_string();
    let work_dir = std::env::temp_dir().join(format!("ferrosched-demo-{}", &id[..12]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrosched-dev"))
        .current_dir(ferrosched_e2e::chart::repo())
        .env_remove("KUBECONFIG")
        .args(["demo", "--pods", "10", "--work-dir"])
        .arg(&work_dir)
        .arg("--image-archive")
        .arg(&image.archive)
        .args(["--image", &image.reference])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    let mut seen = 0;
    let mut output = Vec::new();
    let reached = tokio::time::timeout(Duration::from_secs(300), async {
        while let Some(line) = lines.next_line().await? {
            println!("demo: {line}");
            if line.contains(MILESTONES[seen]) {
                seen += 1;
            }
            output.push(line);
            if seen == MILESTONES.len() {
                return Ok::<bool, std::io::Error>(true);
            }
        }
        Ok(false)
    })
    .await;
    let placed = matches!(reached, Ok(Ok(true)));
    if placed {
        println!(
            "figure: hack/demo.sh on a real node, start to every demo pod placed: {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    // Ctrl-C, then the demo stops the node and the control plane.
    if let Some(pid) = child.id() {
        Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .await?;
    }
    let status = tokio::time::timeout(Duration::from_secs(120), async {
        while let Ok(Some(line)) = lines.next_line().await {
            println!("demo: {line}");
        }
        child.wait().await
    })
    .await;
    let left = node_processes(&work_dir);
    let _ = std::fs::remove_dir_all(&work_dir);
    assert!(
        placed,
        "the demo stopped at {:?}",
        MILESTONES.get(seen).unwrap_or(&"?")
    );
    let pods_on_node = output
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
    let last = output
        .iter()
        .rev()
        .find(|l| l.starts_with("bound 11/11"))
        .ok_or_else(|| anyhow::anyhow!("no line with every pod bound"))?;
    let used = (0..5)
        .filter(|i| !last.contains(&format!("\"demo-node-{i}\": 0")))
        .count();
    assert!(
        used >= 3,
        "demo pods spread over {used} of 5 fake nodes: {last}"
    );
    assert!(last.contains("\"ferrosched-node\": 1"), "{last}");
    let status =
        status.map_err(|_| anyhow::anyhow!("the demo did not stop within 120 s of Ctrl-C"))??;
    assert!(status.success(), "the demo exited with {status}");
    assert!(left.is_empty(), "processes left by the demo: {left:?}");
    Ok(())
}
