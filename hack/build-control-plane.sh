#!/usr/bin/env bash
# Builds the pinned control plane from Go modules into a cache outside the repository:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok (and helm).
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

build_k8s() {
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  local missing=0
  for b in "${want[@]}"; do [ -x "$BIN/$b" ] || missing=1; done
  [ "$missing" = 0 ] && { log "kubernetes $K8S_VERSION: cached"; return; }
  log "kubernetes $K8S_VERSION: building (cold: several minutes)"
  local dir="$SRC/kubernetes"
  mkdir -p "$dir"
  local staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
    cloud-provider cluster-bootstrap code-generator component-base component-helpers
    controller-manager cri-api cri-client cri-streaming csi-translation-lib
    dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
    kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
    pod-security-admission sample-apiserver sample-cli-plugin sample-controller streaming)
  {
    echo "module ferrosched.dev/controlplane"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    for s in "${staging[@]}"; do echo "replace k8s.io/$s => k8s.io/$s $STAGING_MINOR"; done
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "$dir" && go mod tidy -e >/dev/null 2>&1 || (cd "$dir" && go mod tidy))
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
    -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
    -X k8s.io/component-base/version.gitTreeState=clean \
    -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
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
