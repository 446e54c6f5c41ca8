#!/usr/bin/env bash
# Benchmark (issues #7, #26; not a test): Ferrosched's scheduler, upstream kube-scheduler
# and two no-logic binders (limit-events writes a Scheduled event per pod, limit does not)
# on the same local control plane, a fresh one per run, with upstream scheduler_perf's
# workloads, each in creation and backlog mode. Writes docs/benchmarks/results.{md,json} and
# throughput.svg (with --quick: docs/benchmarks/quick/; with filters: the cache dir).
#
#   hack/bench.sh                      # full set: 5,000 nodes (about 17 min per repeat on 2 cores)
#   hack/bench.sh --quick              # the 500-node variants (a few minutes)
#   hack/bench.sh --workload SchedulingBasic --contestant ferrosched --timeout 300
#   hack/bench.sh idle                 # standby and idle-leader cost (docs/benchmarks/idle.md)
#   hack/bench.sh growth               # in-process cost at 1k-50k nodes (docs/benchmarks/growth.md)
#
# Extra arguments go to `ferrosched-bench run` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh
phase "toolchain" ensure_toolchain
phase "control plane build (cached)" bash hack/build-control-plane.sh
phase "release build" cargo build --release --locked -p ferrosched-scheduler -p ferrosched-e2e \
  --bin ferrosched-scheduler --bin ferrosched-bench
export FERROSCHED_BENCH_COMMAND="hack/bench.sh${*:+ $*}"
if [[ "${1:-}" == "growth" ]]; then
  phase "example build" cargo build --release --locked -p ferrosched-scheduler --example inprocess_bench
  phase "growth benchmark" "$CARGO_TARGET_DIR/release/ferrosched-bench" growth \
    --example "$CARGO_TARGET_DIR/release/examples/inprocess_bench" "${@:2}"
elif [[ "${1:-}" == "idle" ]]; then
  phase "idle benchmark" "$CARGO_TARGET_DIR/release/ferrosched-bench" "$@"
else
  phase "benchmark" "$CARGO_TARGET_DIR/release/ferrosched-bench" run "$@"
fi
print_phases
