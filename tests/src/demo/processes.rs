//! The demo's operands as local processes: the operator, then the profile's scheduler
//! replicas as the operator's ServiceAccount (what the Deployment's pods would run).

use std::path::Path;
use std::time::Duration;

use ferrosched_crds::SchedulerProfile;
use kube::api::{Api, Patch, PatchParams};

use super::{Cluster, DemoOptions, NS};
use crate::fixtures::{self, MANAGER};
use crate::operands;
use crate::procs::{self, Spawned};

/// Installs the CRD, starts the operator, applies `profile` and runs its replicas.
pub async fn start(
    opts: &DemoOptions,
    cluster: &Cluster,
    profile: &SchedulerProfile,
    held: &mut Vec<Spawned>,
) -> anyhow::Result<()> {
    let dir = opts.work_dir.join("demo");
    let client = &cluster.client;
    fixtures::install_crd(client).await?;
    println!("CRD schedulerprofiles.ferrosched.dev installed");
    let _ = fixtures::create_namespace(
        client,
        NS,
        &[("pod-security.kubernetes.io/enforce", "restricted")],
    )
    .await;
    held.push(Spawned::start(
        "operator",
        &procs::binary("ferrosched-operator"),
        &[
            format!("--kubeconfig={}", cluster.kubeconfig.display()),
            format!("--namespace={NS}"),
            "--scheduler-image=ferrosched:dev".into(),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=0".into(),
        ],
        &dir,
        &[],
    )?);
    println!("operator started (log: {}/operator.log)", dir.display());
    let name = profile.metadata.name.clone().unwrap_or_default();
    Api::<SchedulerProfile>::all(client.clone())
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(profile),
        )
        .await?;
    println!(
        "applied {} (SchedulerProfile {name})",
        opts.profile.display()
    );
    let operand = loop {
        match operands::prepare(client, &cluster.server, &cluster.ca, NS, &name, &dir).await {
            Ok(o) => break o,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let replicas = profile.spec.replicas.max(1) as usize;
    for i in 0..replicas {
        let args = operand.args(&certs_dir(&dir, i))?;
        held.push(Spawned::start(
            &format!("scheduler-{i}"),
            &procs::binary("ferrosched-scheduler"),
            &args,
            &dir,
            &[],
        )?);
    }
    println!("{replicas} scheduler replicas running as ServiceAccount {NS}/ferrosched-{name}");
    Ok(())
}

fn certs_dir(dir: &Path, i: usize) -> std::path::PathBuf {
    dir.join(format!("certs-{i}"))
}
