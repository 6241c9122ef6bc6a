#!/usr/bin/env bash
# Builds the integration-test control plane from the upstream Go modules and
# caches each binary under a directory keyed by its version, so only the first
# run on a machine pays for the build. Prints the directory holding the binaries.
#
# A binary already named by an environment variable (ETCD_BIN, KUBE_APISERVER_BIN,
# KUBE_CONTROLLER_MANAGER_BIN, KUBE_SCHEDULER_BIN, KUBECTL_BIN, KWOK_BIN, HELM_BIN)
# is linked instead of built.
set -euo pipefail
# shellcheck source=lib/lock.sh
source "$(dirname "$0")/lib/lock.sh" && hold_lock build-controlplane

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
HELM_VERSION=${HELM_VERSION:-v3.19.5}
CACHE=${MODELOPS_CACHE:-$HOME/.cache/modelops}
OUT="$CACHE/controlplane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION"

mkdir -p "$OUT"
log() { echo "build-controlplane: $*" >&2; }
# shellcheck source=lib/gobuild.sh
source "$(dirname "$0")/lib/gobuild.sh"

build_kubernetes "$K8S_VERSION" kube-apiserver=KUBE_APISERVER_BIN kube-controller-manager=KUBE_CONTROLLER_MANAGER_BIN \
  kube-scheduler=KUBE_SCHEDULER_BIN kubectl=KUBECTL_BIN
build_command etcd ETCD_BIN "go.etcd.io/etcd/server/v3@$ETCD_VERSION" go.etcd.io/etcd/server/v3
build_command kwok KWOK_BIN "sigs.k8s.io/kwok@$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
build_command helm HELM_BIN "helm.sh/helm/v3@$HELM_VERSION" helm.sh/helm/v3/cmd/helm
echo "$OUT"
