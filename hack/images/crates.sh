#!/usr/bin/env bash
# The local builder base plus the workspace's crates: `cargo vendor` of Cargo.lock (on
# this machine, which reaches crates.io) copied into the image, and CARGO_HOME's config
# replacing crates.io with that directory, offline. The image build itself has no network
# (the engine runs with --bridge=none), so this is how crates reach it. Vendored sources
# live outside CARGO_HOME/registry, so the Dockerfile's registry cache mount (useful with
# the upstream rust image) neither hides nor feeds them. Tagged by Cargo.lock's digest:
# made again only when the lock file (or this script) changes. Prints the image name.
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/lib.sh
source hack/images/common.sh

key="$(files_digest Cargo.lock hack/images/crates.sh <(docker image inspect -f '{{.Id}}' "$BUILDER_BASE"))"
image="ferrosched-local/rust-crates:$key"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "crates: $image up to date" >&2
  echo "$image"
  exit 0
fi

ctx="$(mktemp -d "$IMAGE_CACHE/crates.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
echo "crates: vendoring Cargo.lock into $image" >&2
cargo vendor --locked --versioned-dirs --quiet "$ctx/vendor" >/dev/null
cat >"$ctx/config.toml" <<'TOML'
# Written by hack/images/crates.sh: crates come from the vendored copy, never the network.
[source.crates-io]
replace-with = "vendored"

[source.vendored]
directory = "/usr/local/cargo/vendor"

[net]
offline = true
TOML
printf '%s\n' "FROM $BUILDER_BASE" 'COPY vendor /usr/local/cargo/vendor' \
  'COPY config.toml /usr/local/cargo/config.toml' >"$ctx/Dockerfile"
DOCKER_BUILDKIT=1 docker build -q -t "$image" "$ctx" >/dev/null
# BuildKit keeps a copy of each build context; this one is the vendored crates, now in
# the image.
docker builder prune -f --filter type=source.local >/dev/null
# Images for earlier lock files are of no further use.
docker image ls --format '{{.Repository}}:{{.Tag}}' ferrosched-local/rust-crates |
  { grep -vxF "$image" || true; } | xargs -r "$DOCKER_BIN" image rm >/dev/null
echo "$image"
