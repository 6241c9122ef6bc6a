#!/usr/bin/env bash
# Builds the binaries of a real test node from their Go modules and caches them under a
# directory keyed by their versions, so only the first run on a machine pays (kubelet and
# kube-proxy come from the same pinned k8s.io/kubernetes as the control plane). Prints the
# directory holding kubelet, kube-proxy, coredns, versitygw (the S3 server) and pause.
#
# A binary named by KUBELET_BIN, KUBE_PROXY_BIN, COREDNS_BIN or VERSITYGW_BIN is linked instead.
set -euo pipefail
# shellcheck source=lib/lock.sh
source "$(dirname "$0")/lib/lock.sh" && hold_lock build-node

K8S_VERSION=${K8S_VERSION:-v1.36.3}
COREDNS_VERSION=${COREDNS_VERSION:-v1.14.7}
VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
HERE=$(cd "$(dirname "$0")" && pwd)
PAUSE_KEY=$(sha256sum "$HERE/pause/pause.go" | cut -c1-12)
COREDNS_KEY=$(sha256sum "$HERE/coredns/main.go" | cut -c1-12)
CACHE=${MODELOPS_CACHE:-$HOME/.cache/modelops}
OUT="$CACHE/node/k8s-$K8S_VERSION-coredns-$COREDNS_VERSION-$COREDNS_KEY-versitygw-$VERSITYGW_VERSION-pause-$PAUSE_KEY"

mkdir -p "$OUT"
log() { echo "build-node: $*" >&2; }
# shellcheck source=lib/gobuild.sh
source "$HERE/lib/gobuild.sh"

build_kubernetes "$K8S_VERSION" kubelet=KUBELET_BIN kube-proxy=KUBE_PROXY_BIN
# CoreDNS with the plugins the node uses only (hack/coredns/main.go)
build_main coredns COREDNS_BIN "$HERE/coredns" "github.com/coredns/coredns@$COREDNS_VERSION"
build_command versitygw VERSITYGW_BIN "github.com/versity/versitygw@$VERSITYGW_VERSION" github.com/versity/versitygw/cmd/versitygw
if [[ ! -x "$OUT/pause" ]]; then
  (cd "$HERE/pause" && go build -trimpath -ldflags "-s -w" -o "$OUT/.pause.tmp" pause.go)
  mv "$OUT/.pause.tmp" "$OUT/pause"
fi
echo "$OUT"
