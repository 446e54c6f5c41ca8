#!/usr/bin/env bash
# Builds the pinned control plane from Go modules into a cache outside the repository:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok (and helm),
#   and a real node's kubelet and kube-proxy (WITH_NODE=0 skips them).
# A second run finds the binaries and builds nothing.
# Usage: hack/build-control-plane.sh            -> prints the bin directory on the last line
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE="${FERROSCHED_CACHE:-$HOME/.cache/ferrosched}"
BIN="$CACHE/k8s-$K8S_VERSION/bin"
SRC="$CACHE/k8s-$K8S_VERSION/src"
STAGING_MINOR="v0.${K8S_VERSION#v1.}"

log() { echo "[build-control-plane] $*" >&2; }

command -v go >/dev/null || { log "go is required (https://go.dev); not found on PATH"; exit 1; }
mkdir -p "$BIN" "$SRC"
# One build at a time per cache: a second run waits here, then finds the binaries.
exec 9>"$CACHE/.build-control-plane.lock"
if ! flock -n 9; then
  log "another build holds $CACHE/.build-control-plane.lock; waiting for it"
  flock 9
fi

STAGING=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
  cloud-provider cluster-bootstrap code-generator component-base component-helpers
  controller-manager cri-api cri-client cri-streaming csi-translation-lib
  dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
  kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
  pod-security-admission sample-apiserver sample-cli-plugin sample-controller streaming)

# build_k8s_cmds DIR CMD...: builds k8s.io/kubernetes/cmd/CMD... into $BIN through a wrapper
# module in DIR that requires k8s.io/kubernetes and replaces each staging module by its
# published version (k8s.io/kubernetes's own go.mod points them at ./staging).
build_k8s_cmds() {
  local dir="$1"; shift
  mkdir -p "$dir"
  {
    echo "module ferrosched.dev/$(basename "$dir")"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    for s in "${STAGING[@]}"; do echo "replace k8s.io/$s => k8s.io/$s $STAGING_MINOR"; done
  } >"$dir/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for c in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
    printf ')\n'
  } >"$dir/tools.go"
  (cd "$dir" && go mod tidy -e >/dev/null 2>&1 || (cd "$dir" && go mod tidy))
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
    -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
    -X k8s.io/component-base/version.gitTreeState=clean \
    -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  local pkgs=()
  for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$BIN/" "${pkgs[@]}")
}

# all_cached NAME...: every binary is in $BIN.
all_cached() {
  local b
  for b in "$@"; do [ -x "$BIN/$b" ] || return 1; done
}

build_k8s() {
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  all_cached "${want[@]}" && { log "kubernetes $K8S_VERSION: cached"; return; }
  log "kubernetes $K8S_VERSION: building (cold: several minutes)"
  build_k8s_cmds "$SRC/kubernetes" "${want[@]}"
}

# The real node's binaries (tests/src/controlplane/node.rs), cached on their own so a
# cache holding the control plane builds only these (about 4 minutes on 2 cores).
build_node() {
  local want=(kubelet kube-proxy)
  all_cached "${want[@]}" && { log "kubelet, kube-proxy $K8S_VERSION: cached"; return; }
  log "kubelet, kube-proxy $K8S_VERSION: building"
  build_k8s_cmds "$SRC/node" "${want[@]}"
}

build_etcd() {
  [ -x "$BIN/etcd" ] && { log "etcd $ETCD_VERSION: cached"; return; }
  log "etcd $ETCD_VERSION: building"
  local dir="$SRC/etcd"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<GOMOD
module ferrosched.dev/etcd

go 1.25

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  cat >"$dir/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$dir" && go mod tidy && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" .)
}

build_tool() { # name module version
  [ -x "$BIN/$1" ] && { log "$1 $3: cached"; return; }
  log "$1 $3: building"
  CGO_ENABLED=0 GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "$2@$3"
}

build_etcd
build_k8s
if [ "${WITH_NODE:-1}" = 1 ]; then
  build_node
fi
build_tool kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION"
if [ "${WITH_HELM:-1}" = 1 ]; then
  build_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
fi
# kwok's stage configs live in its module; copy them beside the binaries.
if [ ! -d "$BIN/../kwok-stages" ]; then
  moddir="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  if [ ! -d "$moddir" ]; then
    (cd "$SRC" && GOFLAGS=-mod=mod go mod download -x "sigs.k8s.io/kwok@$KWOK_VERSION" >/dev/null 2>&1 || true)
  fi
  mkdir -p "$BIN/../kwok-stages"
  cp -r "$moddir"/. "$BIN/../kwok-stages/"
  chmod -R u+w "$BIN/../kwok-stages"
fi
echo "$BIN"
