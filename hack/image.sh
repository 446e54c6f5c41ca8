#!/usr/bin/env bash
# Builds the project's image from the Dockerfile with a real engine: a dockerd of its own
# (hack/images/engine.sh), started here and stopped before the script ends, even when
# interrupted. Then checks the image (runs both binaries read-only as 65532, no network)
# and saves it to a tar for a node's containerd:
#   ctr -n k8s.io images import "$(hack/image.sh | tail -1)"
# The last line printed is that tar's path.
#
# FERROSCHED_IMAGE_BASES=local (default): no registry is needed. The builder and runtime
# bases are assembled from Debian packages and this machine's Rust toolchain, and the
# crates vendored in (hack/images/*.sh); all of it is cached under $FERROSCHED_CACHE/image
# and made again only when its inputs change. The build runs with no network.
# FERROSCHED_IMAGE_BASES=upstream: the Dockerfile's defaults (rust:1.95-bookworm,
# distroless), pulled from their registries; the build uses the host's network.
#
# Warm builds: the release target directory is a BuildKit cache mount, kept in the
# engine's data root under the cache, so a build with Cargo.lock unchanged compiles only
# the workspace's crates, as `cargo build --release` on the host would.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh
source hack/images/common.sh
source hack/images/engine.sh

version="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
IMAGE="${FERROSCHED_IMAGE:-ferrosched:$version}"
BASES="${FERROSCHED_IMAGE_BASES:-local}"
TARBALL="$IMAGE_CACHE/${IMAGE//[:\/]/_}.tar"

ensure_debs docker.io util-linux
mkdir -p "$IMAGE_CACHE"
# One run at a time per cache: the engine, its data root and socket are shared.
exec 9>"$IMAGE_CACHE/.lock"
flock -n 9 || { echo "waiting for another hack/image.sh to finish" >&2; flock 9; }

BUILD_PID=
# On the way out: the build's client (its process group) first, so BuildKit cancels the
# build, then the engine.
on_exit() {
  [ -z "$BUILD_PID" ] || kill -TERM -- "-$BUILD_PID" 2>/dev/null || true
  engine_stop
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
engine_start

build_args=()
case "$BASES" in
  local)
    bash hack/images/builder-base.sh
    bash hack/images/runtime-base.sh
    builder="$(bash hack/images/crates.sh)"
    build_args=(--network=none --build-arg "BUILDER_IMAGE=$builder"
      --build-arg "RUNTIME_IMAGE=$RUNTIME_BASE")
    ;;
  upstream)
    # No bridge on this engine: the build step reaches crates.io through the host's network.
    build_args=(--network=host --pull)
    ;;
  *) echo "FERROSCHED_IMAGE_BASES: local or upstream, not '$BASES'" >&2; exit 2 ;;
esac

echo "building $IMAGE (bases: $BASES)" >&2
start=$SECONDS
# The whole log is kept; steps, crates compiled and errors are shown.
log="$IMAGE_CACHE/build.log"
# In the background, in a process group of its own, so a signal reaches this script's
# traps at once rather than when the build returns.
set -m
(
  DOCKER_BUILDKIT=1 docker build --progress=plain "${build_args[@]}" -t "$IMAGE" . 2>&1 |
    tee "$log" | grep --line-buffered -E '^#[0-9]+ (\[|[0-9.]+ +(Compiling|Finished|error|warning))|ERROR'
  exit "${PIPESTATUS[0]}"
) &
BUILD_PID=$!
set +m
status=0
wait "$BUILD_PID" || status=$?
BUILD_PID=
[ "$status" = 0 ] || { tail -30 "$log" >&2; echo "docker build failed (log: $log)" >&2; exit 1; }
echo "figure: image build: $((SECONDS - start)) s" >&2

# The image's checks: the user, and both binaries starting on a read-only root file
# system as that user, without network.
user="$(docker image inspect -f '{{.Config.User}}' "$IMAGE")"
[ "$user" = "65532:65532" ] || { echo "image user is '$user', not 65532:65532" >&2; exit 1; }
run=(docker run --rm --read-only --user 65532:65532 --network none)
"${run[@]}" "$IMAGE" --help >/dev/null
"${run[@]}" --entrypoint ferrosched-scheduler "$IMAGE" --help >/dev/null
echo "image checks: user 65532:65532, operator and scheduler --help run read-only" >&2

docker save -o "$TARBALL.part" "$IMAGE"
chmod 644 "$TARBALL.part"
mv "$TARBALL.part" "$TARBALL"
# Images this build replaced, and build steps nothing refers to any more (the cache
# mounts stay).
docker image prune -f >/dev/null
bytes="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
echo "image: $IMAGE"
echo "figure: image size: $((bytes / 1048576)) MiB (saved tar: $(($(stat -c %s "$TARBALL") / 1048576)) MiB)"
echo "$TARBALL"
