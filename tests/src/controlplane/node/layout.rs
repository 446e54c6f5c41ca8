//! Where the real node keeps everything: one directory under the control plane's work
//! dir, plus the cgroup root it owns on the host.

use std::path::{Path, PathBuf};

/// containerd's Kubernetes namespace.
pub const K8S_NAMESPACE: &str = "k8s.io";

/// The node's cgroup root in every cgroup v1 hierarchy (`/sys/fs/cgroup/<h>/ferrosched-node`).
/// One real node runs on a machine at a time (see `lock.rs`), so the name is fixed.
pub const CGROUP_ROOT: &str = "/ferrosched-node";

/// Paths of one real node. Every process, mount and file of the node lives under `dir`,
/// which is how teardown finds them (`-address <dir>/…` of the shims included).
#[derive(Debug, Clone)]
pub struct Layout {
    /// `<work_dir>/node`.
    pub dir: PathBuf,
    /// containerd's config file.
    pub containerd_config: PathBuf,
    /// containerd's persistent root (content store, snapshots).
    pub containerd_root: PathBuf,
    /// containerd's state dir (shim bundles, network namespaces).
    pub containerd_state: PathBuf,
    /// containerd's gRPC socket (the CRI endpoint).
    pub containerd_sock: PathBuf,
    /// containerd's `opt` plugin dir (default `/opt/containerd`).
    pub containerd_opt: PathBuf,
    /// runc's state root (default `/run/containerd/runc`, shared by every containerd).
    pub runc_root: PathBuf,
    /// The CNI config dir.
    pub cni_conf_dir: PathBuf,
    /// host-local's address allocations.
    pub cni_ipam_dir: PathBuf,
    /// kubelet's `--root-dir`.
    pub kubelet_root: PathBuf,
    /// kubelet's `podLogsDir`.
    pub pod_logs_dir: PathBuf,
    /// kubelet's flexvolume dir (it creates it if missing).
    pub volume_plugin_dir: PathBuf,
    /// Config files and kubeconfigs of kubelet and kube-proxy.
    pub config_dir: PathBuf,
    /// The node's `/etc/kubernetes`: control-plane credentials for static pods.
    pub etc_kubernetes: PathBuf,
    /// kubelet's `staticPodPath` (`<etc_kubernetes>/manifests`).
    pub static_pods: PathBuf,
    /// The host state saved before start (sysctls, paths that did not exist).
    pub host_state: PathBuf,
    /// The cgroupfs path of the node's cgroup root.
    pub cgroup_root: &'static str,
}

/// The longest unix socket path (`sun_path` is 108 bytes with its NUL); containerd also
/// listens on `<sock>.ttrpc`.
const MAX_SOCKET_PATH: usize = 100;

impl Layout {
    /// The layout under `<work_dir>/node`. Errs if containerd's socket path would be too long.
    pub fn new(work_dir: &Path) -> Result<Self, String> {
        let dir = work_dir.join("node");
        let containerd = dir.join("containerd");
        let layout = Layout {
            containerd_config: containerd.join("config.toml"),
            containerd_root: containerd.join("root"),
            containerd_state: containerd.join("state"),
            containerd_sock: containerd.join("containerd.sock"),
            containerd_opt: containerd.join("opt"),
            runc_root: containerd.join("runc"),
            cni_conf_dir: dir.join("cni/net.d"),
            cni_ipam_dir: dir.join("cni/ipam"),
            kubelet_root: dir.join("kubelet"),
            pod_logs_dir: dir.join("pod-logs"),
            volume_plugin_dir: dir.join("volume-plugins"),
            config_dir: dir.join("config"),
            etc_kubernetes: dir.join("etc-kubernetes"),
            static_pods: dir.join("etc-kubernetes/manifests"),
            host_state: dir.join("host-state.json"),
            cgroup_root: CGROUP_ROOT,
            dir,
        };
        let sock_len = layout.containerd_sock.as_os_str().len() + ".ttrpc".len();
        if sock_len > MAX_SOCKET_PATH {
            return Err(format!(
                "containerd's socket path under {} is {sock_len} bytes, over {MAX_SOCKET_PATH}: use a shorter work dir",
                layout.dir.display()
            ));
        }
        Ok(layout)
    }

    /// Directories created before any component starts.
    pub fn dirs(&self) -> [&Path; 10] {
        [
            &self.containerd_root,
            &self.containerd_state,
            &self.containerd_opt,
            &self.runc_root,
            &self.cni_conf_dir,
            &self.cni_ipam_dir,
            &self.kubelet_root,
            &self.pod_logs_dir,
            &self.config_dir,
            &self.static_pods,
        ]
    }

    /// runc's state dir for the Kubernetes namespace (`<runc_root>/k8s.io`).
    pub fn runc_k8s_root(&self) -> PathBuf {
        self.runc_root.join(K8S_NAMESPACE)
    }
}
