//! `ferrosched-dev demo`: the README's main job. Uses the cluster in `--kubeconfig` (or
//! `$KUBECONFIG`) when one answers, otherwise starts the local control plane. Where the
//! machine allows a real node and `hack/demo.sh` built the image, the operator and the
//! scheduler replicas run as pods of that image on the real node, installed by
//! `helm install` ([`pods`]); otherwise, saying why, as local processes ([`processes`]).
//! Then it creates demo pods (and fake nodes on the local control plane) and shows where
//! they land and who leads. Ctrl-C stops everything.

mod pods;
mod processes;

use std::path::PathBuf;
use std::time::Duration;

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, PostParams};

use crate::controlplane::{ControlPlane, ControlPlaneOptions, NODE_NAME, NodeImage};
use crate::fixtures::{self, NodeSpec};
use crate::procs::Spawned;

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
    /// The image to run on a real node, or why the operands run as local processes.
    pub node: Result<NodeImage, String>,
}

const NS: &str = "ferrosched-system";
const DEMO_NS: &str = "ferrosched-demo";

/// The cluster the demo talks to.
pub struct Cluster {
    client: kube::Client,
    kubeconfig: PathBuf,
    server: String,
    ca: String,
}

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

async fn user_cluster(path: &std::path::Path) -> anyhow::Result<Cluster> {
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
    Ok(Cluster {
        client,
        kubeconfig: path.to_path_buf(),
        server: cfg.cluster_url.to_string(),
        ca,
    })
}

/// Starts the local control plane, with a real node when `image` is given; a real node
/// that does not start is reported and the demo goes on without it.
async fn local_cluster(opts: &DemoOptions) -> anyhow::Result<(ControlPlane, bool)> {
    let start = |real_node: bool| {
        ControlPlane::start(ControlPlaneOptions {
            work_dir: opts.work_dir.join(if real_node { "cp-node" } else { "cp" }),
            real_node,
            ..Default::default()
        })
    };
    if opts.node.is_ok() {
        match start(true).await {
            Ok(cp) => return Ok((cp, true)),
            Err(e) => println!(
                "the real node did not start ({e}): the operator and the schedulers run as local processes"
            ),
        }
    }
    Ok((start(false).await?, false))
}

fn cluster_of(cp: &ControlPlane) -> anyhow::Result<Cluster> {
    Ok(Cluster {
        client: cp.try_client()?,
        kubeconfig: cp.kubeconfig_path().to_path_buf(),
        server: cp.server_url(),
        ca: cp.ca_pem().to_string(),
    })
}

/// Runs the demo until Ctrl-C. Returns the process exit code.
pub async fn run(opts: DemoOptions) -> anyhow::Result<i32> {
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let text = std::fs::read_to_string(&opts.profile)?;
    let profile: SchedulerProfile = serde_saphyr::from_str(&text)?;
    let user_kc = opts
        .kubeconfig
        .clone()
        .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from));
    let mut local: Option<ControlPlane> = None;
    let mut on_node = false;
    let cluster = match &user_kc {
        Some(path) if reachable(path).await.is_some() => {
            println!("using the cluster in {}", path.display());
            if opts.node.is_ok() {
                println!(
                    "the operator and the schedulers run as local processes: the image built here is on this machine only (push it and `helm install`, see the README)"
                );
            }
            user_cluster(path).await?
        }
        _ => {
            println!(
                "no cluster reachable: starting a local control plane in {}",
                opts.work_dir.display()
            );
            if let Err(why) = &opts.node {
                println!("the operator and the schedulers run as local processes: {why}");
            }
            let (cp, node) = local_cluster(&opts).await?;
            let cluster = cluster_of(&cp)?;
            local = Some(cp);
            on_node = node;
            cluster
        }
    };
    let mut procs_held: Vec<Spawned> = Vec::new();
    let operands = async {
        if local.is_some() {
            fake_nodes(&cluster.client).await?;
        }
        match (&local, &opts.node) {
            (Some(cp), Ok(image)) if on_node => {
                pods::install(cp, &cluster, image, &profile, &opts.work_dir.join("demo")).await
            }
            _ => processes::start(&opts, &cluster, &profile, &mut procs_held).await,
        }
    };
    let result = tokio::select! {
        r = async {
            operands.await?;
            demo_pods(&opts, &cluster, &profile, on_node).await
        } => r,
        _ = sigint.recv() => Ok(()),
        _ = sigterm.recv() => Ok(()),
    };
    if let Err(e) = &result {
        eprintln!("error: {e:#}");
        for p in &procs_held {
            let log = p.log();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!("----- {} -----\n{}", p.name, tail.join("\n"));
        }
    }
    println!("stopping");
    drop(procs_held);
    if local.is_none() {
        let _ = Api::<Namespace>::all(cluster.client.clone())
            .delete(DEMO_NS, &DeleteParams::default())
            .await;
    }
    if let Some(cp) = local {
        cp.stop().await?;
    }
    Ok(if result.is_ok() { 0 } else { 1 })
}

/// Five kwok nodes on the local control plane, waited for until schedulable (the operands'
/// pods need them too when they run as local processes: the profile's Deployment becomes
/// Available on them).
async fn fake_nodes(client: &kube::Client) -> anyhow::Result<()> {
    let nodes: Vec<NodeSpec> = (0..5)
        .map(|i| NodeSpec::standard(&format!("demo-node-{i}")))
        .collect();
    fixtures::create_nodes(client, &nodes).await?;
    // A new node is tainted not-ready until kwok reports it Ready: pods created before
    // that could only go to the nodes already untainted.
    let api: Api<Node> = Api::all(client.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let list = api.list(&Default::default()).await?.items;
        let ready = nodes
            .iter()
            .filter(|s| {
                list.iter().any(|n| {
                    n.metadata.name.as_deref() == Some(s.name.as_str())
                        && fixtures::node_schedulable(n)
                })
            })
            .count();
        if ready == nodes.len() {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "{ready} of {} fake nodes schedulable after 60 s (is kwok running?)",
            nodes.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("created 5 fake nodes (4 CPU, 32Gi, 110 pods; kept Ready by kwok)");
    Ok(())
}

/// Creates the demo pods (one for the real node, where it runs, when there is one) and
/// prints where they land and who leads, every 2 s, until Ctrl-C.
async fn demo_pods(
    opts: &DemoOptions,
    cluster: &Cluster,
    profile: &SchedulerProfile,
    on_node: bool,
) -> anyhow::Result<()> {
    let client = &cluster.client;
    let name = profile.metadata.name.clone().unwrap_or_default();
    let scheduler_name = profile
        .spec
        .scheduler_name
        .clone()
        .unwrap_or_else(|| name.clone());
    let _ = fixtures::create_namespace(client, DEMO_NS, &[]).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), DEMO_NS);
    for i in 0..opts.pods {
        let mut p = fixtures::pod(
            DEMO_NS,
            &format!("demo-{i}"),
            &scheduler_name,
            "100m",
            "500Mi",
        );
        if on_node {
            // The fake nodes only: the real node is for the pod below and the operands.
            if let Some(spec) = p.spec.as_mut() {
                spec.node_selector = Some([("type".to_string(), "kwok".to_string())].into());
            }
        }
        let _ = pods.create(&PostParams::default(), &p).await;
    }
    if on_node {
        let pause = NodeImage::load(&ControlPlaneOptions::default_node_images_dir(), "pause")?;
        let mut p = fixtures::pod(DEMO_NS, "demo-real", &scheduler_name, "100m", "16Mi");
        if let Some(spec) = p.spec.as_mut() {
            spec.node_selector =
                Some([("kubernetes.io/hostname".to_string(), NODE_NAME.to_string())].into());
            if let Some(c) = spec.containers.first_mut() {
                c.image = Some(pause.reference.clone());
                c.image_pull_policy = Some("Never".into());
            }
        }
        pods.create(&PostParams::default(), &p).await?;
        println!(
            "created demo-real for the real node (it runs there: {})",
            pause.reference
        );
    }
    println!(
        "created {} pods with schedulerName {scheduler_name}",
        opts.pods + usize::from(on_node)
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
