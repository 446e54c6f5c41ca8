//! Configuration files of the real node's components: containerd (TOML), the CNI
//! network (JSON), kubelet and kube-proxy (JSON, which both read as YAML).
//! `/work/shared/REAL_NODE.md` says why each non-default setting is there.

use std::path::Path;

use serde_json::json;

pub use super::layout::K8S_NAMESPACE;
use super::layout::Layout;
use crate::controlplane::certs::{NodeIdentity, Pki};

/// The pod network: one /24 on the node's own bridge.
pub const POD_CIDR: &str = "10.85.0.0/24";
/// The bridge the CNI plugin creates (and teardown deletes).
pub const BRIDGE: &str = "fsnode0";
/// The CNI network's name (also the prefix of its result cache files).
pub const NETWORK: &str = "ferrosched-node";

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// TOML basic string: the paths used here hold no quote or backslash, but escape anyway.
fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// containerd: its own root, state, sockets, runc root and `opt` dir, so nothing is shared
/// with another containerd; CRI with the local pause image, cgroupfs, no negative
/// oom_score_adj, CNI from Debian's `/usr/lib/cni` and our own config dir, network
/// namespaces mounted under its state dir.
pub fn containerd(layout: &Layout, sandbox_image: &str) -> String {
    let s = |path: &Path| toml_str(&p(path));
    format!(
        r#"version = 2
root = {root}
state = {state}
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = {sock}

[ttrpc]
  address = {ttrpc}

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = {sandbox}
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = {cni_conf}
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = {runc_root}
        SystemdCgroup = false
"#,
        root = s(&layout.containerd_root),
        state = s(&layout.containerd_state),
        sock = s(&layout.containerd_sock),
        ttrpc = toml_str(&format!("{}.ttrpc", p(&layout.containerd_sock))),
        opt = s(&layout.containerd_opt),
        sandbox = toml_str(sandbox_image),
        cni_conf = s(&layout.cni_conf_dir),
        runc_root = s(&layout.runc_root),
    )
}

/// The pod network: a bridge with host-local addresses (kept in our own dir) and the
/// bridge as the pods' gateway. No masquerading: pods only talk to this host. (containerd
/// sets up each pod's `lo` itself, with the `loopback` plugin from the same bin dir.)
pub fn cni(layout: &Layout) -> serde_json::Value {
    json!({
        "cniVersion": "1.0.0",
        "name": NETWORK,
        "plugins": [{
            "type": "bridge",
            "bridge": BRIDGE,
            "isGateway": true,
            "ipMasq": false,
            "hairpinMode": true,
            "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": POD_CIDR }]],
                "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": layout.cni_ipam_dir,
            },
        }],
    })
}

/// Ports of the node's local servers.
#[derive(Debug, Clone, Copy)]
pub struct NodePorts {
    /// kubelet's HTTPS server (on the node address; the API server calls it).
    pub kubelet: u16,
    /// kubelet's plain `/healthz` on 127.0.0.1.
    pub kubelet_healthz: u16,
    /// kube-proxy's `/healthz` on 127.0.0.1.
    pub proxy_healthz: u16,
    /// kube-proxy's `/metrics` on 127.0.0.1.
    pub proxy_metrics: u16,
}

/// KubeletConfiguration: cgroup v1 allowed, cgroupfs under its own cgroup root, no
/// negative OOM score, webhook authentication and authorization with the cluster CA for
/// client certificates, every directory under the node's own dir, no image GC of the
/// imported images, eviction only when nearly full.
pub fn kubelet(
    layout: &Layout,
    pki: &Pki,
    node: &NodeIdentity,
    ports: NodePorts,
) -> serde_json::Value {
    let serving = pki.node.as_ref().map(|n| &n.kubelet_serving);
    json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": node.ip.to_string(),
        "port": ports.kubelet,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": ports.kubelet_healthz,
        "tlsCertFile": serving.map(|s| &s.cert),
        "tlsPrivateKeyFile": serving.map(|s| &s.key),
        "rotateCertificates": false,
        "serverTLSBootstrap": false,
        "authentication": {
            "anonymous": { "enabled": false },
            "webhook": { "enabled": true, "cacheTTL": "10s" },
            "x509": { "clientCAFile": pki.ca.cert },
        },
        "authorization": {
            "mode": "Webhook",
            "webhook": { "cacheAuthorizedTTL": "10s", "cacheUnauthorizedTTL": "5s" },
        },
        "containerRuntimeEndpoint": format!("unix://{}", p(&layout.containerd_sock)),
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": layout.cgroup_root,
        "cgroupsPerQOS": true,
        "failCgroupV1": false,
        "oomScoreAdj": 0,
        "failSwapOn": false,
        "protectKernelDefaults": false,
        "podLogsDir": layout.pod_logs_dir,
        "volumePluginDir": layout.volume_plugin_dir,
        "staticPodPath": layout.static_pods,
        "fileCheckFrequency": "5s",
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "50Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "serializeImagePulls": false,
        "registerNode": true,
        "nodeStatusUpdateFrequency": "5s",
    })
}

/// KubeProxyConfiguration: iptables mode; conntrack sizes and timeouts 0 and NodePorts on
/// the primary address only, so it changes no host sysctl.
pub fn kube_proxy(kubeconfig: &Path, node: &NodeIdentity, ports: NodePorts) -> serde_json::Value {
    json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": { "kubeconfig": kubeconfig },
        "hostnameOverride": node.name,
        "mode": "iptables",
        "clusterCIDR": POD_CIDR,
        "oomScoreAdj": 0,
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "nodePortAddresses": ["primary"],
        "iptables": { "localhostNodePorts": false },
        "healthzBindAddress": format!("127.0.0.1:{}", ports.proxy_healthz),
        "metricsBindAddress": format!("127.0.0.1:{}", ports.proxy_metrics),
    })
}
