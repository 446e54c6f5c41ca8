#!/usr/bin/env bash
# The main job: uses the cluster in $KUBECONFIG when one answers, otherwise builds and
# starts a local control plane; installs the CRD, runs the operator, applies
# examples/second-scheduler.yaml, runs its scheduler replicas and places demo pods.
# Ctrl-C stops everything.  Extra arguments go to `ferrosched-dev demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh
phase "toolchain" ensure_toolchain
phase "control plane build (cached)" bash hack/build-control-plane.sh
phase "build" cargo build --workspace --bins --locked
exec "$CARGO_TARGET_DIR/debug/ferrosched-dev" demo "$@"
