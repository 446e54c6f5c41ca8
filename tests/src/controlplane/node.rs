//! A real node in the test control plane: its own containerd, the kubelet and kube-proxy,
//! on the host's network and cgroups (see `/work/shared/REAL_NODE.md`).
//!
//! [`super::ControlPlaneOptions::real_node`] turns it on. [`prepare`] runs before the
//! certificates are made (it needs the host's address for their SANs): it takes the
//! machine-wide lock ([`lock`]), cleans up after a previous node that died without tearing
//! down, and saves the host state teardown restores. [`start`] runs last in the control
//! plane's boot: containerd → the pause image imported → kubelet → kube-proxy → the Node
//! Ready and kube-proxy healthy. Its processes are ordinary components of the control plane
//! (stopped first, logs in `<work_dir>/<name>.log`); [`RealNode::teardown`] then removes
//! what they leave (containers, shims, mounts, bridge, chains, cgroups, sysctls), from
//! [`super::ControlPlane::stop`] or from `Drop` when a test fails or panics.
//!
//! kwok manages only nodes annotated `kwok.x-k8s.io/node=fake` (`--manage-all-nodes=false`),
//! so it leaves this node, which has no such annotation, to its kubelet.

mod cgroups;
mod config;
mod foreign;
mod host;
mod layout;
mod lock;
mod mounts;
mod netfilter;
mod procs;
mod teardown;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::Api;

pub use config::{BRIDGE, POD_CIDR};
pub use host::{SYSCTLS, read_sysctl};
pub use layout::CGROUP_ROOT;
pub use lock::lock_path;
pub use netfilter::{CHAIN_PREFIXES, chains as netfilter_chains, nft_tables};

use super::certs::{NodeIdentity, Pki};
use super::process::Component;
use super::{ControlPlane, Error, kubeconfig, readiness};
use host::HostState;
use layout::Layout;
use lock::MachineLock;

/// The real node's name.
pub const NODE_NAME: &str = "ferrosched-node";
/// How long a second real node waits for the first to stop.
const LOCK_PATIENCE: Duration = Duration::from_secs(15 * 60);
const CONTAINERD_TIMEOUT: Duration = Duration::from_secs(60);
const NODE_READY_TIMEOUT: Duration = Duration::from_secs(180);
const PROXY_TIMEOUT: Duration = Duration::from_secs(60);
/// The scheduler's kubeconfig in the node's `/etc/kubernetes`.
const SCHEDULER_KUBECONFIG: &str = "scheduler.conf";
/// `ctr`, from Debian's containerd package (`hack/node-packages.sh`).
const CTR: &str = "ctr";

/// The real node's stand-in for a control-plane node's `/etc/kubernetes`.
#[derive(Debug, Clone)]
pub struct EtcKubernetes {
    /// kubelet's `staticPodPath`: a pod manifest written here runs without a scheduler.
    pub manifests: PathBuf,
    /// A kubeconfig of user `system:kube-scheduler` (client certificate, everything
    /// embedded, mode 0600), as kubeadm's `scheduler.conf`.
    pub scheduler_kubeconfig: PathBuf,
}

/// An image archive built by `hack/node-images.sh`: `<dir>/<name>.tar` and its reference.
#[derive(Debug, Clone)]
pub struct NodeImage {
    /// The OCI image layout tar.
    pub archive: PathBuf,
    /// The reference it is imported under (e.g. `localhost/ferrosched/probe:v1`).
    pub reference: String,
}

impl NodeImage {
    /// The image `name` in `dir` (see [`super::ControlPlaneOptions::node_images_dir`]).
    pub fn load(dir: &Path, name: &str) -> Result<NodeImage, Error> {
        let archive = dir.join(format!("{name}.tar"));
        let ref_file = dir.join(format!("{name}.ref"));
        let reference = std::fs::read_to_string(&ref_file)
            .map_err(|e| {
                Error::Node(format!(
                    "reading {} ({e}): build the node images with hack/node-images.sh",
                    ref_file.display()
                ))
            })?
            .trim()
            .to_owned();
        if !archive.is_file() {
            return Err(Error::MissingBinary(archive));
        }
        Ok(NodeImage { archive, reference })
    }
}

/// The real node of a control plane: what teardown needs, and the machine lock.
#[derive(Debug)]
pub struct RealNode {
    layout: Layout,
    identity: NodeIdentity,
    host: HostState,
    pause: NodeImage,
    lock: Option<MachineLock>,
    torn_down: bool,
}

/// Binaries of the node, checked before anything starts.
#[derive(Debug, Clone)]
pub struct NodeBins {
    /// containerd (Debian's, on PATH).
    pub containerd: PathBuf,
    /// kubelet (from the bin dir).
    pub kubelet: PathBuf,
    /// kube-proxy (from the bin dir).
    pub kube_proxy: PathBuf,
}

fn on_path(name: &str) -> Result<PathBuf, Error> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Node(format!(
                "{name} not found on PATH: install the node's packages with hack/node-packages.sh"
            ))
        })
}

impl NodeBins {
    /// kubelet and kube-proxy from `bin_dir`; containerd, runc, ctr and the iptables tools
    /// from the system.
    pub fn find(bin_dir: &Path) -> Result<NodeBins, Error> {
        let bin = |name: &str| {
            let p = bin_dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(Error::MissingBinary(p))
            }
        };
        for tool in ["runc", CTR, "iptables-restore", "ip6tables-restore", "nft"] {
            on_path(tool)?;
        }
        if !Path::new("/usr/lib/cni/bridge").is_file() {
            return Err(Error::Node(
                "/usr/lib/cni/bridge not found: install containernetworking-plugins (hack/node-packages.sh)".into(),
            ));
        }
        Ok(NodeBins {
            containerd: on_path("containerd")?,
            kubelet: bin("kubelet")?,
            kube_proxy: bin("kube-proxy")?,
        })
    }
}

/// Before the certificates: take the machine lock (waiting for another node to stop),
/// clean up after a holder that died, and save the host state.
pub async fn prepare(work_dir: &Path, images_dir: &Path) -> Result<RealNode, Error> {
    let layout = Layout::new(work_dir).map_err(Error::Node)?;
    let pause = NodeImage::load(images_dir, "pause")?;
    let ip: Ipv4Addr = host::primary_ipv4().map_err(Error::Node)?;
    let (lock, previous) = MachineLock::acquire(&layout.dir, LOCK_PATIENCE)
        .await
        .map_err(Error::Node)?;
    if let Some(previous) = previous {
        clean_up_after(&previous);
    }
    if let Some(why) = foreign::another_node(&netfilter::chains(), &procs::find(|_| true)) {
        // The lock is released as clean: nothing of ours was started.
        lock.release_clean();
        return Err(Error::Node(why));
    }
    for dir in layout.dirs() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let host = HostState::capture();
    host.save(&layout.host_state)
        .map_err(|e| Error::io("saving the host state", e))?;
    Ok(RealNode {
        identity: NodeIdentity {
            name: NODE_NAME.to_owned(),
            ip,
        },
        layout,
        host,
        pause,
        lock: Some(lock),
        torn_down: false,
    })
}

/// Tear down the node a dead holder of the lock left (its dir is `<work_dir>/node`).
fn clean_up_after(node_dir: &Path) {
    let Some(work_dir) = node_dir.parent() else {
        return;
    };
    let Ok(layout) = Layout::new(work_dir) else {
        return;
    };
    let host = HostState::load(&layout.host_state).ok();
    tracing::warn!(dir = %node_dir.display(), "a previous real node was not torn down; cleaning up after it");
    for problem in teardown::teardown(&layout, host.as_ref()) {
        tracing::warn!(%problem, "cleaning up after the previous real node");
    }
}

impl RealNode {
    /// Who the node is (for certificates and the API server's flags).
    pub fn identity(&self) -> &NodeIdentity {
        &self.identity
    }

    /// `unix://` path of containerd's socket.
    pub fn containerd_sock(&self) -> &Path {
        &self.layout.containerd_sock
    }

    /// The node's dir (`<work_dir>/node`).
    pub fn dir(&self) -> &Path {
        &self.layout.dir
    }

    /// The node's `/etc/kubernetes`, as a kubeadm control-plane node has it.
    pub fn etc_kubernetes(&self) -> EtcKubernetes {
        EtcKubernetes {
            manifests: self.layout.static_pods.clone(),
            scheduler_kubeconfig: self.layout.etc_kubernetes.join(SCHEDULER_KUBECONFIG),
        }
    }

    /// Remove everything the node made and restore the host (see [`teardown`]); call after
    /// its processes are stopped. Idempotent. On success the lock is released as clean.
    pub fn teardown(&mut self) -> Result<(), Error> {
        if self.torn_down {
            return Ok(());
        }
        self.torn_down = true;
        let started = Instant::now();
        let problems = teardown::teardown(&self.layout, Some(&self.host));
        tracing::info!(elapsed = ?started.elapsed(), problems = problems.len(), "real node torn down");
        match self.lock.take() {
            Some(lock) if problems.is_empty() => lock.release_clean(),
            // Keep the dir named in the lock file: the next node retries the cleanup.
            other => drop(other),
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Node(format!(
                "tearing down the real node left:\n  {}",
                problems.join("\n  ")
            )))
        }
    }
}

impl Drop for RealNode {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            tracing::error!(error = %e, "real node teardown");
        }
    }
}

/// `ctr --address <sock> -n k8s.io images import <archive>`.
pub async fn import_image(sock: &Path, archive: &Path) -> Result<(), Error> {
    let out = tokio::process::Command::new(CTR)
        .arg("--address")
        .arg(sock)
        .args(["-n", config::K8S_NAMESPACE, "images", "import"])
        .arg(archive)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| Error::io(format!("running {CTR}"), e))?;
    if !out.status.success() {
        return Err(Error::Node(format!(
            "importing {}: {}: {}",
            archive.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    tracing::debug!(archive = %archive.display(), out = %String::from_utf8_lossy(&out.stdout).trim(), "image imported");
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::io("serializing", std::io::Error::other(e)))?;
    write(path, &text)
}

/// Start containerd, kubelet and kube-proxy as components of `cp` and wait until the Node
/// is Ready and kube-proxy healthy. `cp.node` must hold what [`prepare`] returned.
pub async fn start(
    cp: &mut ControlPlane,
    bins: &NodeBins,
    pki: &Pki,
    server_url: &str,
) -> Result<(), Error> {
    let started = Instant::now();
    let node = cp
        .node
        .as_ref()
        .ok_or_else(|| Error::Node("no real node prepared".into()))?;
    let (layout, identity, pause) = (
        node.layout.clone(),
        node.identity.clone(),
        node.pause.clone(),
    );
    let node_pki = pki
        .node
        .as_ref()
        .ok_or_else(|| Error::Node("no node certificates".into()))?;
    let [kubelet, kubelet_healthz, proxy_healthz, proxy_metrics] =
        super::process::free_ports::<4>()?;
    let ports = config::NodePorts {
        kubelet,
        kubelet_healthz,
        proxy_healthz,
        proxy_metrics,
    };

    cgroups::create(layout.cgroup_root).map_err(Error::Node)?;
    write(
        &layout.containerd_config,
        &config::containerd(&layout, &pause.reference),
    )?;
    write_json(
        &layout.cni_conf_dir.join("10-ferrosched.conflist"),
        &config::cni(&layout),
    )?;
    let cfg = &layout.config_dir;
    let kubelet_kubeconfig = cfg.join("kubelet.kubeconfig");
    kubeconfig::write(
        &kubelet_kubeconfig,
        server_url,
        &pki.ca.cert,
        &format!("system:node:{}", identity.name),
        &node_pki.kubelet_client,
    )?;
    let kubelet_config = cfg.join("kubelet.json");
    write_json(
        &kubelet_config,
        &config::kubelet(&layout, pki, &identity, ports),
    )?;
    let proxy_kubeconfig = cfg.join("kube-proxy.kubeconfig");
    kubeconfig::write(
        &proxy_kubeconfig,
        server_url,
        &pki.ca.cert,
        "system:kube-proxy",
        &node_pki.kube_proxy,
    )?;
    // As kubeadm's /etc/kubernetes/scheduler.conf: for a scheduler run as a static pod.
    kubeconfig::write_embedded(
        &layout.etc_kubernetes.join(SCHEDULER_KUBECONFIG),
        server_url,
        &pki.ca.cert,
        "system:kube-scheduler",
        &node_pki.scheduler_client,
    )?;
    let proxy_config = cfg.join("kube-proxy.json");
    write_json(
        &proxy_config,
        &config::kube_proxy(&proxy_kubeconfig, &identity, ports),
    )?;

    let work_dir = cp.work_dir.clone();
    cp.components.push(Component::spawn(
        "containerd",
        &bins.containerd,
        &[
            format!("--config={}", layout.containerd_config.display()),
            "--log-level=info".into(),
        ],
        &work_dir,
    )?);
    let sock = layout.containerd_sock.clone();
    readiness::poll(
        cp,
        "containerd",
        "its CRI plugin",
        CONTAINERD_TIMEOUT,
        || containerd_ready(&sock),
    )
    .await?;
    import_image(&sock, &pause.archive).await?;

    let p = |path: &Path| path.display().to_string();
    cp.components.push(Component::spawn(
        "kubelet",
        &bins.kubelet,
        &[
            format!("--config={}", p(&kubelet_config)),
            format!("--kubeconfig={}", p(&kubelet_kubeconfig)),
            format!("--root-dir={}", p(&layout.kubelet_root)),
            format!("--hostname-override={}", identity.name),
            format!("--node-ip={}", identity.ip),
            "--v=1".into(),
        ],
        &work_dir,
    )?);
    cp.components.push(Component::spawn(
        "kube-proxy",
        &bins.kube_proxy,
        &[format!("--config={}", p(&proxy_config)), "--v=1".into()],
        &work_dir,
    )?);
    let nodes: Api<Node> = Api::all(cp.try_client()?);
    let name = identity.name.clone();
    readiness::poll(cp, "kubelet", "its Node Ready", NODE_READY_TIMEOUT, || {
        node_ready(&nodes, &name)
    })
    .await?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Error::Client(e.to_string()))?;
    let url = format!("http://127.0.0.1:{proxy_healthz}/healthz");
    readiness::poll(cp, "kube-proxy", "/healthz", PROXY_TIMEOUT, || {
        readiness::get_ok(&http, &url)
    })
    .await?;
    tracing::info!(elapsed = ?started.elapsed(), node = %identity.name, ip = %identity.ip, "real node ready");
    Ok(())
}

/// `ctr plugins ls` lists the CRI plugin as `ok`.
async fn containerd_ready(sock: &Path) -> Result<(), String> {
    let out = tokio::process::Command::new(CTR)
        .arg("--address")
        .arg(sock)
        .args(["plugins", "ls"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("running {CTR}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let cri = text.lines().find(|l| {
        l.starts_with("io.containerd.grpc.v1") && l.split_whitespace().nth(1) == Some("cri")
    });
    match cri {
        Some(line) if line.split_whitespace().last() == Some("ok") => Ok(()),
        Some(line) => Err(format!("CRI plugin: {line}")),
        None => Err(format!(
            "no CRI plugin yet: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The Node exists and its Ready condition is True.
async fn node_ready(nodes: &Api<Node>, name: &str) -> Result<(), String> {
    let node = nodes
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("Node {name} not registered yet"))?;
    let ready = node
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Ready");
    match ready {
        Some(c) if c.status == "True" => Ok(()),
        Some(c) => Err(format!(
            "Ready={}: {}",
            c.status,
            c.message.unwrap_or_default()
        )),
        None => Err("no Ready condition yet".into()),
    }
}
