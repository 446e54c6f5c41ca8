//! `ferrosched-dev demo`: the README's main job. Uses the cluster in `--kubeconfig` (or
//! `$KUBECONFIG`) when one answers, otherwise starts the local control plane; installs the
//! CRD, runs the operator, applies `examples/second-scheduler.yaml`, runs the scheduler
//! replicas as the operator's ServiceAccount, creates demo pods (and fake nodes on the
//! local control plane) and shows where they land and who leads. Ctrl-C stops everything.

use std::path::PathBuf;
use std::time::Duration;

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

use crate::controlplane::{ControlPlane, ControlPlaneOptions};
use crate::fixtures::{self, MANAGER, NodeSpec};
use crate::operands;
use crate::procs::{self, Spawned};

/// Options of the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// A cluster to use instead of starting one.
    pub kubeconfig: Option<PathBuf>,
    /// Work dir (logs, certs).
    pub work_dir: PathBuf,
    /// Profile manifest to apply.
    pub profile: PathBuf,
    /// Demo pods to create.
    pub pods: usize,
}

const NS: &str = "ferrosched-system";
const DEMO_NS: &str = "ferrosched-demo";

async fn reachable(kubeconfig: &std::path::Path) -> Option<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).ok()?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .ok()?;
    let client = kube::Client::try_from(cfg).ok()?;
    tokio::time::timeout(Duration::from_secs(5), client.apiserver_version())
        .await
        .ok()?
        .ok()?;
    Some(client)
}

/// Runs the demo until Ctrl-C. Returns the process exit code.
pub async fn run(opts: DemoOptions) -> anyhow::Result<i32> {
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let user_kc = opts
        .kubeconfig
        .clone()
        .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from));
    let mut local: Option<ControlPlane> = None;
    let (client, kubeconfig, server, ca) = match &user_kc {
        Some(path) if reachable(path).await.is_some() => {
            println!("using the cluster in {}", path.display());
            let client = reachable(path)
                .await
                .ok_or_else(|| anyhow::anyhow!("cluster went away"))?;
            let cfg = kube::Config::from_custom_kubeconfig(
                kube::config::Kubeconfig::read_from(path)?,
                &Default::default(),
            )
            .await?;
            let ca = cfg
                .root_cert
                .as_ref()
                .and_then(|c| c.first())
                .map(|der| pem_of(der))
                .unwrap_or_default();
            (client, path.clone(), cfg.cluster_url.to_string(), ca)
        }
        _ => {
            println!(
                "no cluster reachable: starting a local control plane in {}",
                opts.work_dir.display()
            );
            let cp = ControlPlane::start(ControlPlaneOptions {
                work_dir: opts.work_dir.join("cp"),
                ..Default::default()
            })
            .await?;
            let out = (
                cp.try_client()?,
                cp.kubeconfig_path().to_path_buf(),
                cp.server_url(),
                cp.ca_pem().to_string(),
            );
            local = Some(cp);
            out
        }
    };
    let mut procs_held: Vec<Spawned> = Vec::new();
    let result = tokio::select! {
        r = demo(&opts, &client, &kubeconfig, &server, &ca, local.is_some(), &mut procs_held) => r,
        _ = sigint.recv() => Ok(()),
        _ = sigterm.recv() => Ok(()),
    };
    if let Err(e) = &result {
        eprintln!("error: {e:#}");
        for p in &procs_held {
            eprintln!(
                "----- {} -----\n{}",
                p.name,
                p.log()
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
    println!("stopping");
    drop(procs_held);
    if local.is_none() {
        let _ = Api::<Namespace>::all(client.clone())
            .delete(DEMO_NS, &DeleteParams::default())
            .await;
    }
    if let Some(cp) = local {
        cp.stop().await?;
    }
    Ok(if result.is_ok() { 0 } else { 1 })
}

fn pem_of(der: &[u8]) -> String {
    let b64 = base64_encode(der);
    let body: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        body.join("\n")
    )
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn demo(
    opts: &DemoOptions,
    client: &kube::Client,
    kubeconfig: &std::path::Path,
    server: &str,
    ca: &str,
    local: bool,
    held: &mut Vec<Spawned>,
) -> anyhow::Result<()> {
    let dir = opts.work_dir.join("demo");
    fixtures::install_crd(client).await?;
    println!("CRD schedulerprofiles.ferrosched.dev installed");
    let _ = fixtures::create_namespace(
        client,
        NS,
        &[("pod-security.kubernetes.io/enforce", "restricted")],
    )
    .await;
    let _ = fixtures::create_namespace(client, DEMO_NS, &[]).await;
    if local {
        let nodes: Vec<NodeSpec> = (0..5)
            .map(|i| NodeSpec::standard(&format!("demo-node-{i}")))
            .collect();
        fixtures::create_nodes(client, &nodes).await?;
        println!("created 5 fake nodes (4 CPU, 32Gi, 110 pods; kept Ready by kwok)");
    }
    held.push(Spawned::start(
        "operator",
        &procs::binary("ferrosched-operator"),
        &[
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--namespace={NS}"),
            "--scheduler-image=ferrosched:dev".into(),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=0".into(),
        ],
        &dir,
        &[],
    )?);
    println!("operator started (log: {}/operator.log)", dir.display());
    let text = std::fs::read_to_string(&opts.profile)?;
    let profile: SchedulerProfile = serde_saphyr::from_str(&text)?;
    let name = profile.metadata.name.clone().unwrap_or_default();
    let scheduler_name = profile
        .spec
        .scheduler_name
        .clone()
        .unwrap_or_else(|| name.clone());
    let profiles: Api<SchedulerProfile> = Api::all(client.clone());
    profiles
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&profile),
        )
        .await?;
    println!(
        "applied {} (SchedulerProfile {name}, schedulerName {scheduler_name})",
        opts.profile.display()
    );
    let operand = loop {
        match operands::prepare(client, server, ca, NS, &name, &dir).await {
            Ok(o) => break o,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let replicas = profile.spec.replicas.max(1) as usize;
    for i in 0..replicas {
        let args = operand.args(&dir.join(format!("certs-{i}")))?;
        held.push(Spawned::start(
            &format!("scheduler-{i}"),
            &procs::binary("ferrosched-scheduler"),
            &args,
            &dir,
            &[],
        )?);
    }
    println!("{replicas} scheduler replicas running as ServiceAccount {NS}/ferrosched-{name}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), DEMO_NS);
    for i in 0..opts.pods {
        let p = fixtures::pod(
            DEMO_NS,
            &format!("demo-{i}"),
            &scheduler_name,
            "100m",
            "500Mi",
        );
        let _ = pods.create(&PostParams::default(), &p).await;
    }
    println!(
        "created {} pods with schedulerName {scheduler_name}",
        opts.pods
    );
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        let list = pods.list(&Default::default()).await?;
        let bound = list
            .items
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
            .count();
        let leader = leases
            .get(&format!("ferrosched-{name}"))
            .await
            .ok()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
            .unwrap_or_default();
        let mut per_node: std::collections::BTreeMap<String, usize> = nodes
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .map(|n| (n, 0))
            .collect();
        for p in &list.items {
            if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
                *per_node.entry(n).or_default() += 1;
            }
        }
        println!(
            "bound {bound}/{} | leader: {} | per node: {:?}",
            list.items.len(),
            if leader.is_empty() { "-" } else { &leader },
            per_node
        );
        if bound == list.items.len() {
            println!("all demo pods placed by {scheduler_name}; Ctrl-C to stop and clean up");
            futures::future::pending::<()>().await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
