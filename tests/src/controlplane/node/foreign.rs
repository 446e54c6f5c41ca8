//! Refusing to start next to another Kubernetes node. Our kube-proxy and kubelet would
//! rewrite the shared chains another node's kube-proxy keeps (`KUBE-SERVICES`, …) and
//! fight its kubelet over the host's cgroups and ports, and teardown could not tell their
//! rules from ours. Checked with the machine lock held, after cleaning up a dead holder's
//! node, so whatever is found belongs to someone else.

use std::collections::BTreeSet;

use super::procs::Proc;

/// Process names (`argv[0]`'s file name) of another node's components.
const NODE_BINARIES: &[&str] = &["kubelet", "kube-proxy"];

/// Why this host already runs (or ran) another Kubernetes node, if it does: its kubelet or
/// kube-proxy processes, or the `KUBE-` chains its kube-proxy and kubelet leave in
/// `chains` (as [`super::netfilter::chains`] lists them).
pub fn another_node(chains: &BTreeSet<String>, procs: &[Proc]) -> Option<String> {
    let running: Vec<String> = procs
        .iter()
        .filter(|p| {
            let bin = p.args.first().map(String::as_str).unwrap_or_default();
            let name = bin.rsplit('/').next().unwrap_or(bin);
            NODE_BINARIES.contains(&name)
        })
        .map(|p| format!("{} (pid {})", p.args[0], p.pid))
        .collect();
    if !running.is_empty() {
        return Some(format!(
            "another Kubernetes node runs on this host ({}): a real node here would fight it over cgroups, ports and iptables chains",
            running.join(", ")
        ));
    }
    let kube: Vec<&str> = chains
        .iter()
        .filter(|c| c.rsplit('/').next().is_some_and(|n| n.starts_with("KUBE-")))
        .map(String::as_str)
        .collect();
    if !kube.is_empty() {
        let shown: Vec<&str> = kube.iter().take(3).copied().collect();
        return Some(format!(
            "iptables chains of another Kubernetes node are on this host ({}{}): a real node here would rewrite them; stop that node or remove its chains first",
            shown.join(", "),
            if kube.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: u32, args: &[&str]) -> Proc {
        Proc {
            pid,
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn a_clean_host_has_no_other_node() {
        let chains = BTreeSet::from([
            "iptables-save/filter/INPUT".to_string(),
            "iptables-save/nat/DOCKER".to_string(),
        ]);
        let procs = [
            proc(7, &["/usr/bin/containerd"]),
            proc(8, &["kubectl", "get"]),
        ];
        assert_eq!(another_node(&chains, &procs), None);
    }

    #[test]
    fn a_running_kubelet_or_kube_proxy_chains_mean_another_node() {
        let why = another_node(
            &BTreeSet::new(),
            &[proc(42, &["/usr/bin/kubelet", "--v=2"])],
        )
        .expect("a kubelet runs");
        assert!(why.contains("/usr/bin/kubelet (pid 42)"), "{why}");
        let chains = BTreeSet::from([
            "iptables-save/nat/KUBE-SERVICES".to_string(),
            "ip6tables-save/filter/KUBE-FIREWALL".to_string(),
        ]);
        let why = another_node(&chains, &[]).expect("kube chains");
        assert!(why.contains("iptables-save/nat/KUBE-SERVICES"), "{why}");
    }
}
