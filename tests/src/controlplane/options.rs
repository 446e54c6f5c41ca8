//! Options of [`super::ControlPlane::start`].

use std::path::PathBuf;

/// How to start a [`super::ControlPlane`].
#[derive(Debug, Clone)]
pub struct ControlPlaneOptions {
    /// Directory with etcd, kube-apiserver, ... (default: `$FERROSCHED_BIN_DIR`, else
    /// `~/.cache/ferrosched/k8s-v1.37.2/bin`). kwok stages are read from `<bin_dir>/../kwok-stages`.
    pub bin_dir: PathBuf,
    /// Certificates, kubeconfigs, logs and etcd data (default: a new dir under the system temp dir).
    pub work_dir: PathBuf,
    /// Run kube-controller-manager (default true). Without it the harness creates the
    /// `default` ServiceAccount of the `default` namespace itself.
    pub with_controller_manager: bool,
    /// Run kwok to keep nodes annotated `kwok.x-k8s.io/node: fake` Ready and their pods Running (default true).
    pub with_kwok: bool,
    /// Run the upstream kube-scheduler as the cluster's `default-scheduler` (default true),
    /// so workloads such as the scheduler Deployment's own pods get placed.
    pub with_default_scheduler: bool,
    /// Extra flags for that kube-scheduler (e.g. `--vmodule=schedule_one=10` to log scores).
    pub default_scheduler_args: Vec<String>,
    /// Users whose requests the API server writes to `<work_dir>/audit.log` (JSON lines,
    /// level Metadata, stage ResponseComplete); empty (the default): no audit log.
    pub audit_users: Vec<String>,
    /// Run a real node (default false): containerd, kubelet and kube-proxy on this host,
    /// registered as [`super::node::NODE_NAME`]. The API server then serves and advertises
    /// on the host's primary address (pods reach it through the `kubernetes` Service).
    /// Needs root, `hack/node-packages.sh`, kubelet and kube-proxy in `bin_dir`, and the
    /// images of `hack/node-images.sh`. One real node runs per machine; another waits.
    pub real_node: bool,
    /// Where `hack/node-images.sh` put the node's image archives (the pause image, test
    /// images): `$FERROSCHED_NODE_IMAGES`, else `$FERROSCHED_CACHE/node-images`, else
    /// `~/.cache/ferrosched/node-images`.
    pub node_images_dir: PathBuf,
}

impl ControlPlaneOptions {
    /// The default [`ControlPlaneOptions::node_images_dir`].
    pub fn default_node_images_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("FERROSCHED_NODE_IMAGES") {
            return dir.into();
        }
        if let Some(cache) = std::env::var_os("FERROSCHED_CACHE") {
            return PathBuf::from(cache).join("node-images");
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
        home.join(".cache/ferrosched/node-images")
    }

    /// The default bin dir: `$FERROSCHED_BIN_DIR`, else `~/.cache/ferrosched/k8s-v1.37.2/bin`.
    pub fn default_bin_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("FERROSCHED_BIN_DIR") {
            return dir.into();
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
        home.join(".cache/ferrosched/k8s-v1.37.2/bin")
    }
}

impl Default for ControlPlaneOptions {
    fn default() -> Self {
        Self {
            bin_dir: Self::default_bin_dir(),
            work_dir: std::env::temp_dir()
                .join(format!("ferrosched-cp-{}", uuid::Uuid::new_v4().simple())),
            with_controller_manager: true,
            with_kwok: true,
            with_default_scheduler: true,
            default_scheduler_args: Vec::new(),
            audit_users: Vec::new(),
            real_node: false,
            node_images_dir: Self::default_node_images_dir(),
        }
    }
}
