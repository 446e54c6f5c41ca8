#!/usr/bin/env bash
# Installs what a real test node needs from Debian (see tests/src/controlplane/node.rs):
#   containerd + runc      the container runtime the kubelet talks CRI to
#   containernetworking-plugins   bridge, host-local, loopback (installed in /usr/lib/cni)
#   iptables, conntrack    kube-proxy's iptables mode and kubelet's own chains
#   nftables               `nft`, to list and remove the tables iptables-nft leaves behind
#   gcc, libc6-dev         the static pause binary of hack/node-images.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh
ensure_debs containerd runc containernetworking-plugins iptables conntrack nftables gcc libc6-dev
for tool in containerd containerd-shim-runc-v2 runc ctr iptables conntrack nft; do
  command -v "$tool" >/dev/null || { echo "$tool missing after installing packages" >&2; exit 1; }
done
[ -x /usr/lib/cni/bridge ] || { echo "/usr/lib/cni/bridge missing" >&2; exit 1; }
