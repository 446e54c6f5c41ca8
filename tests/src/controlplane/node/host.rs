//! The host as the real node finds it: its primary address, the sysctls kubelet and the
//! CNI bridge change, and the host paths they create. Saved to `<node dir>/host-state.json`
//! before anything starts, so teardown (or the next node, after a crash) can put them back.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Sysctls a node changes: kubelet's kernel tunables (`setupKernelTunables`), the
/// forwarding switch the CNI bridge turns on for its gateway, and those kube-proxy would
/// touch with other settings than ours (saved anyway, so a change is undone).
pub const SYSCTLS: &[&str] = &[
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.forwarding",
    "net.ipv4.conf.default.forwarding",
    "net.ipv6.conf.all.forwarding",
    "net.ipv4.conf.all.route_localnet",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
];

/// Host directories the node's components create when missing, whatever their configured
/// dirs: kubelet's container log links and device-plugin socket (both fixed paths),
/// libcni's result cache, containerd's shim sockets. Teardown removes the ones that were
/// absent, once empty of what the node left in them; parents come before children here.
pub const HOST_PATHS: &[&str] = &[
    "/var/log/containers",
    "/var/lib/kubelet",
    "/var/lib/kubelet/device-plugins",
    "/var/lib/cni",
    "/var/lib/cni/results",
    "/run/containerd",
    "/run/containerd/s",
    "/run/netns",
];

/// What teardown restores.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostState {
    /// Sysctl values before start (keys that exist on this kernel).
    pub sysctls: BTreeMap<String, String>,
    /// [`HOST_PATHS`] that did not exist before start.
    pub absent_paths: Vec<PathBuf>,
    /// nft tables before start (`<family> <name>`).
    pub nft_tables: BTreeSet<String>,
    /// iptables chains before start (`<save command>/<table>/<chain>`).
    #[serde(default)]
    pub chains: BTreeSet<String>,
}

/// `/proc/sys/<key with dots as slashes>`.
pub fn sysctl_path(key: &str) -> PathBuf {
    Path::new("/proc/sys").join(key.replace('.', "/"))
}

/// A sysctl's value, trimmed; `None` if the key does not exist here.
pub fn read_sysctl(key: &str) -> Option<String> {
    std::fs::read_to_string(sysctl_path(key))
        .ok()
        .map(|v| v.trim().to_owned())
}

impl HostState {
    /// The current values and paths.
    pub fn capture() -> Self {
        let sysctls = SYSCTLS
            .iter()
            .filter_map(|k| read_sysctl(k).map(|v| ((*k).to_owned(), v)))
            .collect();
        let absent_paths = HOST_PATHS
            .iter()
            .map(PathBuf::from)
            .filter(|p| std::fs::symlink_metadata(p).is_err())
            .collect();
        HostState {
            sysctls,
            absent_paths,
            nft_tables: super::netfilter::nft_tables(),
            chains: super::netfilter::chains(),
        }
    }

    /// Write to `path` (JSON).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    /// Read what [`HostState::save`] wrote.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    /// Put every saved sysctl back where it changed; returns what could not be restored.
    pub fn restore_sysctls(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, before) in &self.sysctls {
            let now = read_sysctl(key);
            if now.as_deref() == Some(before.as_str()) {
                continue;
            }
            tracing::info!(%key, ?now, %before, "restoring sysctl");
            if let Err(e) = std::fs::write(sysctl_path(key), before) {
                problems.push(format!("restoring sysctl {key}={before}: {e}"));
            }
        }
        problems
    }
}

/// The IPv4 address of the interface the default route leaves by: the address pods reach
/// the host on (their traffic to it never leaves the machine).
pub fn primary_ipv4() -> Result<Ipv4Addr, String> {
    let routes = std::fs::read_to_string("/proc/net/route")
        .map_err(|e| format!("reading /proc/net/route: {e}"))?;
    // Columns: Iface Destination Gateway Flags ...; the default route has destination 0.
    let iface = routes
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.len() > 2 && cols[1] == "00000000")
        .map(|cols| cols[0].to_owned())
        .ok_or("no default route in /proc/net/route")?;
    let out = std::process::Command::new("ip")
        .args(["-j", "-4", "addr", "show", "dev", &iface])
        .output()
        .map_err(|e| format!("running ip addr: {e}"))?;
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("parsing `ip -j -4 addr show dev {iface}`: {e}"))?;
    parsed
        .pointer("/0/addr_info")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter(|a| a.get("scope").and_then(|s| s.as_str()) == Some("global"))
        .find_map(|a| a.get("local")?.as_str()?.parse().ok())
        .ok_or_else(|| format!("no global IPv4 address on {iface}"))
}
