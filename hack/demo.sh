#!/usr/bin/env bash
# The main job. Uses the cluster in $KUBECONFIG when one answers, otherwise builds and
# starts a local control plane. Where the machine allows a real node (root, cgroups,
# Debian packages; see ../shared/REAL_NODE.md), it builds the image (hack/image.sh) and
# installs Ferrosched the way a user does: the image in the node's containerd, then
# `helm install` with examples/second-scheduler.yaml as the release's profile; the operator
# and the scheduler replicas run as pods on the real node. Elsewhere it says why and runs
# them as local processes. Then it places demo pods and shows where they land and who
# leads. Ctrl-C stops everything.
#   FERROSCHED_DEMO_PROCESSES=1   local processes even where a real node could run
# Extra arguments go to `ferrosched-dev demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh

# Why this machine cannot run the real node, or nothing when it can.
why_no_real_node() {
  if [ -n "${FERROSCHED_DEMO_PROCESSES:-}" ]; then
    echo "FERROSCHED_DEMO_PROCESSES is set"
  elif [ "$(id -u)" != 0 ]; then
    echo "not root: containerd and the kubelet need root"
  elif [ ! -d /sys/fs/cgroup ] || [ ! -w /sys/fs/cgroup ]; then
    echo "/sys/fs/cgroup is missing or read-only: the kubelet needs to create cgroups"
  elif ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    echo "no apt-get: the node's packages (containerd, runc, CNI plugins) and the image engine come from Debian"
  elif [ -n "${KUBECONFIG:-}" ] && [ -f "$KUBECONFIG" ]; then
    # ferrosched-dev uses that cluster when it answers; the local image would not be there.
    echo "KUBECONFIG is set: a cluster of yours would not have the image built here"
  fi
}

phase "toolchain" ensure_toolchain
phase "control plane build (cached)" bash hack/build-control-plane.sh
phase "build" cargo build --workspace --bins --locked

args=()
why="$(why_no_real_node)"
if [ -z "$why" ]; then
  image_out="$(mktemp)"
  if phase "node packages" bash hack/node-packages.sh \
    && phase "node images (cached)" bash hack/node-images.sh \
    && phase "image build (hack/image.sh)" bash -c 'set -o pipefail; bash hack/image.sh | tee "$1"' _ "$image_out"; then
    args+=(--image-archive "$(tail -1 "$image_out")" --image "$(sed -n 's/^image: //p' "$image_out" | tail -1)")
  else
    why="preparing the real node or the image failed (output above)"
  fi
  rm -f "$image_out"
fi
[ -n "$why" ] && args+=(--processes-because "$why")
print_phases
exec "$CARGO_TARGET_DIR/debug/ferrosched-dev" demo "${args[@]}" "$@"
