# Shared by hack/image.sh and hack/images/*.sh: where the local image engine and the
# assembled base images live, and how to reach that engine.
# Sourced after hack/lib.sh (FERROSCHED_CACHE).
IMAGE_CACHE="$FERROSCHED_CACHE/image"
# Debian's docker.io CLI (20.10, BuildKit built in); the `docker` first on PATH may be a
# newer client without buildx, which only has the legacy builder.
DOCKER_BIN="${DOCKER_BIN:-/usr/bin/docker}"
# Runtime state (sockets, pid files) of the engine hack/image.sh starts; kept short,
# since containerd's socket path under it must fit in a unix socket address.
IMAGE_RUN="${FERROSCHED_IMAGE_RUN:-/run/ferrosched-image}"
export DOCKER_HOST="unix://$IMAGE_RUN/docker.sock"

# The pinned toolchain (Dockerfile default: rust:1.95-bookworm).
RUST_RELEASE=1.95.0
BUILDER_BASE="ferrosched-local/rust:$RUST_RELEASE-bookworm"
RUNTIME_BASE="ferrosched-local/cc-debian12:nonroot"

docker() { "$DOCKER_BIN" "$@"; }

# The value of a label of a local image, empty when the image or the label is missing.
image_label() {
  docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# A short digest of the files named (what an assembled base was made from).
files_digest() {
  cat "$@" | sha256sum | cut -c1-16
}

# The Debian mirror apt is configured with (first URIs of the main archive).
debian_mirror() {
  local m
  m="$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  [ -n "$m" ] || m="$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)"
  echo "${m:-http://deb.debian.org/debian}"
}
