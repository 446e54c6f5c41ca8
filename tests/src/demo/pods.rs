//! The demo's operands as pods of the built image on the real node, installed the way a
//! user installs them: the image imported into the node's containerd, `helm install` with
//! the profile in the release's values.

use std::time::{Duration, Instant};

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::json;

use super::{Cluster, NS};
use crate::chart::{self, RELEASE};
use crate::controlplane::{ControlPlane, NODE_NAME, NodeImage};
use crate::fixtures;
use crate::user_path::{self, pod_ready, split_reference};

const PATIENCE: Duration = Duration::from_secs(180);

/// The release's values: the operator and `profile` on the real node, the image as the
/// node has it (never pulled).
fn values(image: &NodeImage, profile: &SchedulerProfile) -> anyhow::Result<serde_json::Value> {
    let (repository, tag) = split_reference(&image.reference);
    let pin = json!({"kubernetes.io/hostname": NODE_NAME});
    let mut spec = serde_json::to_value(&profile.spec)?;
    spec["nodeSelector"] = pin.clone();
    spec["imagePullPolicy"] = json!("Never");
    Ok(json!({
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "operator": {"nodeSelector": pin},
        "profiles": [{"name": profile.metadata.name, "spec": spec}],
    }))
}

/// Imports the image, runs `helm install` and waits for the operator and the profile's
/// scheduler pods to be Ready; prints where they run.
pub async fn install(
    cp: &ControlPlane,
    cluster: &Cluster,
    image: &NodeImage,
    profile: &SchedulerProfile,
    work_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let client = &cluster.client;
    cp.import_image(&image.archive).await?;
    println!(
        "image {} imported into the real node's containerd",
        image.reference
    );
    fixtures::create_namespace(client, NS, &fixtures::RESTRICTED).await?;
    let values_file = work_dir.join("demo-values.json");
    std::fs::create_dir_all(work_dir)?;
    std::fs::write(&values_file, values(image, profile)?.to_string())?;
    let chart_dir = chart::chart_dir().display().to_string();
    let values_path = values_file.display().to_string();
    let started = Instant::now();
    user_path::helm(
        &cluster.kubeconfig,
        &work_dir.join("helm"),
        &["install", RELEASE, &chart_dir, "-n", NS, "-f", &values_path],
    )?;
    println!("helm install {RELEASE} charts/ferrosched -n {NS} (values: {values_path})");
    let name = profile.metadata.name.clone().unwrap_or_default();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let want = profile.spec.replicas.max(1);
    for (what, deployment, replicas) in [
        ("operator", RELEASE.to_string(), 1),
        ("scheduler", format!("ferrosched-{name}"), want),
    ] {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ready = deployments
                .get_opt(&deployment)
                .await?
                .and_then(|d| d.status?.ready_replicas)
                .unwrap_or(0);
            if ready >= replicas {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{what} Deployment {NS}/{deployment}: {ready}/{replicas} Ready after {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        println!(
            "{what} Ready ({replicas} replica(s)) {:.1} s after helm install",
            started.elapsed().as_secs_f64()
        );
    }
    for p in Api::<Pod>::namespaced(client.clone(), NS)
        .list(&ListParams::default())
        .await?
        .items
    {
        println!(
            "  pod {NS}/{} on {} ({})",
            p.metadata.name.as_deref().unwrap_or_default(),
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .unwrap_or("-"),
            if pod_ready(&p) { "Ready" } else { "not Ready" }
        );
    }
    Ok(())
}
