# Shared by hack/*.sh: timing of phases, toolchain checks, cache locations.
export FERROSCHED_CACHE="${FERROSCHED_CACHE:-$HOME/.cache/ferrosched}"
# Build outside the work tree so a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FERROSCHED_CACHE/target}"
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
PHASES=()

# Runs a command as a named, timed phase. Under `set -e` a failure stops the script as
# before; inside `if` or `&&` (errexit off) the command's status is returned. (Not
# `"$@" || rc=$?`: that would turn errexit off inside shell functions run as phases.)
phase() {
  local name="$1"; shift
  local start=$SECONDS
  echo "==> $name ($(date -u +%H:%M:%S) UTC, ${SECONDS}s into the run)"
  "$@"
  local rc=$?
  PHASES+=("$(printf '%5ss  %s' "$((SECONDS - start))" "$name")")
  return "$rc"
}

print_phases() {
  echo "==> phase durations"
  printf '%s\n' "${PHASES[@]}"
}

ensure_toolchain() {
  command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; return 1; }
  command -v go >/dev/null || {
    echo "go not found: installing golang-go from Debian" >&2
    apt-get update -qq && apt-get install -y -qq golang-go
  }
  rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt
  cargo --version; go version
}

# Installs the Debian packages named that are not installed yet (the project's scripts
# install what they need; nothing is expected to be there from an earlier machine).
# apt's index is refreshed once per run, and only when something is missing.
ensure_debs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" = 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}" >&2
  if [ -z "${FERROSCHED_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    export FERROSCHED_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Runs a cargo test command, keeping its output (also shown) for the final summary.
run_tests() {
  local out="$1"; shift
  "$@" 2>&1 | tee -a "$out"
}

# The end-to-end tests in two lanes at once: the test files named after the results file
# argument (the operator lane: its output is kept and shown when it ends) and every other
# test file plus the library's tests (the scheduler lane, shown as it runs). Fails if
# either lane fails.
run_e2e_lanes() {
  local out="$1"; shift
  local operator_lane=() scheduler_lane=(--lib) t name
  for t in "$@"; do operator_lane+=(--test "$t"); done
  for t in tests/tests/*.rs; do
    name="$(basename "$t" .rs)"
    [[ " $* " == *" $name "* ]] || scheduler_lane+=(--test "$name")
  done
  local args=(-- --include-ignored --test-threads=1 --show-output)
  local lane_log; lane_log="$(mktemp)"
  # In a process group of its own, killed if this script ends first (an interrupted or
  # timed-out run must not leave a lane holding the machine's real-node lock).
  set -m
  cargo test -p ferrosched-e2e --locked "${operator_lane[@]}" "${args[@]}" >"$lane_log" 2>&1 &
  local pid=$!
  set +m
  trap "kill -TERM -- -$pid 2>/dev/null || true; rm -f '$out' '$lane_log'" EXIT
  local rc=0 lane_rc=0
  run_tests "$out" cargo test -p ferrosched-e2e --locked "${scheduler_lane[@]}" "${args[@]}" || rc=$?
  wait "$pid" || lane_rc=$?
  echo "==> operator lane (ran alongside; exit $lane_rc)"
  tee -a "$out" <"$lane_log"
  rm -f "$lane_log"
  [[ $rc -eq 0 && $lane_rc -eq 0 ]]
}

# The closing line: totals over every `test result:` line cargo printed.
summarize_tests() {
  awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1); if ($i ~ /^ignored/) s += $(i-1) } }
       END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$1"
}
