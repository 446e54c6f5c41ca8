# Sourced by hack/image.sh: a Docker engine of the project's own (Debian's docker.io),
# separate from any other on the machine: its own data root (under the cache, so images,
# bases and BuildKit's cache mounts survive between runs), exec root, socket and pid
# file, no iptables rules and no bridge (builds get no network). It runs in a mount
# namespace of its own, in which /run/containerd is hidden: dockerd 20.10 would otherwise
# use any containerd listening there (a node's) instead of starting its own.
# Needs hack/images/common.sh.

ENGINE_PIDFILE="$IMAGE_RUN/dockerd.pid"
ENGINE_LOG="$IMAGE_CACHE/dockerd.log"

# The process of a pid file, if it is alive and runs the program named (a pid file left
# by a killed run may name a pid reused since).
live_pid() {
  local pid
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
  echo "$pid"
}

# Sends SIGTERM and waits up to the seconds given for the process to exit.
terminate() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "pid $pid still running after $2 s: killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

# BuildKit runs a build's RUN steps with runc itself (runc's default state root, not
# containerd), and they outlive a dockerd that stops mid-build: end the containers whose
# bundle is in this engine's BuildKit directory.
build_containers_stop() {
  local bundles="$IMAGE_CACHE/docker/buildkit/executor/" id
  command -v runc >/dev/null || return 0
  for id in $(runc list 2>/dev/null | awk -v b="$bundles" 'index($4, b) == 1 { print $1 }'); do
    runc kill --all "$id" KILL 2>/dev/null || true
    runc delete --force "$id" 2>/dev/null || true
  done
}

# Stops the engine of an earlier run of ours (killed before it could stop it) and the
# containerd it started, by their pid files. Also the clean-up at the end of a run.
engine_stop() {
  local pid
  if pid="$(live_pid "$ENGINE_PIDFILE" "--exec-root $IMAGE_RUN")"; then
    terminate "$pid" 30
  fi
  # dockerd stops its containerd when it shuts down; a dockerd killed outright does not.
  if pid="$(live_pid "$IMAGE_RUN/containerd/containerd.pid" "$IMAGE_RUN/containerd/")"; then
    terminate "$pid" 10
  fi
  build_containers_stop
  rm -f "$ENGINE_PIDFILE"
}

engine_start() {
  engine_stop
  mkdir -p "$IMAGE_RUN" "$IMAGE_CACHE/docker"
  echo "starting dockerd (data root $IMAGE_CACHE/docker, socket $IMAGE_RUN/docker.sock)" >&2
  setsid unshare --mount --propagation private -- sh -c '
    if [ -d /run/containerd ]; then mount -t tmpfs -o size=64k tmpfs /run/containerd; fi
    exec "$@"' sh \
    dockerd --data-root "$IMAGE_CACHE/docker" --exec-root "$IMAGE_RUN" \
    --host "$DOCKER_HOST" --pidfile "$ENGINE_PIDFILE" \
    --iptables=false --ip-masq=false --bridge=none >>"$ENGINE_LOG" 2>&1 </dev/null 9>&- &
  local i
  for ((i = 0; i < 600; i++)); do
    docker version >/dev/null 2>&1 && return 0
    kill -0 $! 2>/dev/null || break
    sleep 0.1
  done
  echo "dockerd did not come up; its log ($ENGINE_LOG) ends with:" >&2
  tail -20 "$ENGINE_LOG" >&2
  return 1
}
