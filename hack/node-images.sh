#!/usr/bin/env bash
# Builds the images a real test node needs, without a container engine or a registry:
#   pause  the pod sandbox (hack/node-images/pause.c, gcc -static)
#   probe  a pod that GETs the API server's /version through the `kubernetes` Service
#          with its ServiceAccount token (hack/node-images/probe, Go, CGO_ENABLED=0)
# Each is one static binary in one layer, hand-assembled as an OCI image layout tar that
# `ctr images import` accepts, into $FERROSCHED_CACHE/node-images/<name>.tar, with its
# reference in <name>.ref. Rebuilt only when the sources or this script change.
# Usage: hack/node-images.sh          -> prints the images directory on the last line
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh
OUT="$FERROSCHED_CACHE/node-images"
SRC="hack/node-images"
log() { echo "[node-images] $*" >&2; }
mkdir -p "$OUT"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# oci_image NAME REF ROOTFS ENTRYPOINT USER: writes $OUT/NAME.tar and $OUT/NAME.ref.
oci_image() {
  local name="$1" ref="$2" rootfs="$3" entrypoint="$4" user="$5"
  local work; work="$(mktemp -d)"
  mkdir -p "$work/blobs/sha256"
  # The layer: uncompressed, reproducible (sorted names, owner root, mtime 0).
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
    -C "$rootfs" -cf "$work/layer.tar" .
  local layer; layer="$(sha "$work/layer.tar")"
  mv "$work/layer.tar" "$work/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"User":"%s","Entrypoint":["%s"],"Env":["PATH=/"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"hack/node-images.sh","comment":"%s"}]}' \
    "$user" "$entrypoint" "$layer" "$name" >"$work/config.json"
  local config; config="$(sha "$work/config.json")"
  local config_size; config_size="$(size "$work/config.json")"
  mv "$work/config.json" "$work/blobs/sha256/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config" "$config_size" "$layer" "$(size "$work/blobs/sha256/$layer")" >"$work/manifest.json"
  local manifest; manifest="$(sha "$work/manifest.json")"
  local manifest_size; manifest_size="$(size "$work/manifest.json")"
  mv "$work/manifest.json" "$work/blobs/sha256/$manifest"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$manifest_size" "$ref" "${ref##*:}" >"$work/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
    -C "$work" -cf "$OUT/$name.tar.new" oci-layout index.json blobs
  mv "$OUT/$name.tar.new" "$OUT/$name.tar"
  echo "$ref" >"$OUT/$name.ref"
  rm -rf "$work"
  log "$name: $ref ($(size "$OUT/$name.tar") bytes, manifest sha256:$manifest)"
}

# cached NAME FILES...: true when NAME was built from exactly these files.
stamp_of() { cat "$0" "${@:2}" | sha256sum | cut -d' ' -f1; }
cached() {
  local name="$1"
  [ -f "$OUT/$name.tar" ] && [ -f "$OUT/$name.ref" ] && [ -f "$OUT/$name.stamp" ] &&
    [ "$(cat "$OUT/$name.stamp")" = "$(stamp_of "$@")" ]
}

build_pause() {
  cached pause "$SRC/pause.c" && { log "pause: cached"; return; }
  command -v gcc >/dev/null || { log "gcc missing: run hack/node-packages.sh"; return 1; }
  local rootfs; rootfs="$(mktemp -d)"
  gcc -static -O2 -Wall -Wextra -Werror -o "$rootfs/pause" "$SRC/pause.c"
  strip "$rootfs/pause"
  oci_image pause localhost/ferrosched/pause:v1 "$rootfs" /pause 65535:65535
  rm -rf "$rootfs"
  stamp_of pause "$SRC/pause.c" >"$OUT/pause.stamp"
}

build_probe() {
  cached probe "$SRC/probe/go.mod" "$SRC/probe/main.go" && { log "probe: cached"; return; }
  local rootfs; rootfs="$(mktemp -d)"
  (cd "$SRC/probe" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$rootfs/probe" .)
  oci_image probe localhost/ferrosched/probe:v1 "$rootfs" /probe 65532:65532
  rm -rf "$rootfs"
  stamp_of probe "$SRC/probe/go.mod" "$SRC/probe/main.go" >"$OUT/probe.stamp"
}

build_pause
build_probe
echo "$OUT"
