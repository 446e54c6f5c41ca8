#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, and the end-to-end tests on a local
# control plane built from the Kubernetes Go modules (cached in ~/.cache/ferrosched).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh

phase "toolchain" ensure_toolchain
phase "control plane build (cached after the first run)" bash hack/build-control-plane.sh
phase "cargo fmt --check" cargo fmt --all -- --check
phase "cargo clippy -D warnings" cargo clippy --workspace --all-targets --locked -- -D warnings
phase "build binaries" cargo build --workspace --bins --locked
# The image, built from the Dockerfile by a dockerd of the script's own (its release build
# replaces the host one CI ran before; bases assembled locally, no registry needed), run
# read-only as 65532 and saved to a tar under the cache; the daemon is stopped after.
IMAGE_OUT="$(mktemp)"
phase "image build (hack/image.sh)" bash -c 'set -o pipefail; bash hack/image.sh | tee "$1"' _ "$IMAGE_OUT"
# For tests/tests/node_install.rs: the saved image (last line) and its name.
FERROSCHED_IMAGE_ARCHIVE="$(tail -1 "$IMAGE_OUT")"
FERROSCHED_IMAGE="$(sed -n 's/^image: //p' "$IMAGE_OUT" | tail -1)"
export FERROSCHED_IMAGE_ARCHIVE FERROSCHED_IMAGE
rm -f "$IMAGE_OUT"
RESULTS="$(mktemp)"
trap 'rm -f "$RESULTS"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
phase "unit tests" run_tests "$RESULTS" cargo test --workspace --exclude ferrosched-e2e --locked
# The real node's packages (containerd, runc, CNI plugins, iptables, ...) and its images
# (pause, probe), for the real-node tests.
phase "node packages" bash hack/node-packages.sh
phase "node images (cached after the first run)" bash hack/node-images.sh
phase "end-to-end tests (build)" cargo test -p ferrosched-e2e --locked --no-run
# One control plane per end-to-end test, one test at a time in each of two lanes: the
# scheduler's tests (timing and throughput matter) and the operator's (mostly waiting on
# rollouts, a 30 s API-server freeze) run side by side. The real-node tests (the node, the
# user's install, replace-default as a static pod, the demo) share the operator lane (one
# real node runs on a machine at a time); the shorter operator tests and the 60 s
# steady-state window run in the scheduler lane, so both take about as long (2026-12-08:
# about 530 s and 540 s).
phase "end-to-end tests" run_e2e_lanes "$RESULTS" \
  operator operator_crash operator_ha real_node node_install replace_default demo_node
print_phases
summarize_tests "$RESULTS"
