#!/usr/bin/env bash
# Builds the kstatus command (hack/kstatus, on sigs.k8s.io/cli-utils) and collects the upstream
# CRDs that GitOps and monitoring manifests are checked against (KEDA's ScaledObject, the
# Prometheus Operator's PodMonitor / ServiceMonitor / PrometheusRule, Argo CD's Application,
# Flux's Kustomization and GitRepository), each from its project's Go module source tree.
# Everything is cached under a directory keyed by the versions (and the kstatus source), so
# only the first run on a machine pays (KSTATUS_BIN names a prebuilt kstatus); prints that directory:
#   <dir>/kstatus   <dir>/crds/*.yaml
set -euo pipefail
# shellcheck source=lib/lock.sh
source "$(dirname "$0")/lib/lock.sh" && hold_lock build-gitops-tools

CLI_UTILS_VERSION=${CLI_UTILS_VERSION:-v0.37.2}
KEDA_VERSION=${KEDA_VERSION:-v2.21.0}
PROMETHEUS_OPERATOR_VERSION=${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}
ARGOCD_VERSION=${ARGOCD_VERSION:-v3.5.7}
FLUX_KUSTOMIZE_VERSION=${FLUX_KUSTOMIZE_VERSION:-v1.9.6}
FLUX_SOURCE_VERSION=${FLUX_SOURCE_VERSION:-v1.9.6}
CACHE=${MODELOPS_CACHE:-$HOME/.cache/modelops}
HERE=$(cd "$(dirname "$0")" && pwd)
SOURCE_HASH=$(sha256sum "$HERE/kstatus/main.go" | cut -c1-12)
OUT="$CACHE/gitops/cli-utils-$CLI_UTILS_VERSION-$SOURCE_HASH-keda-$KEDA_VERSION-promop-$PROMETHEUS_OPERATOR_VERSION-argocd-$ARGOCD_VERSION-flux-$FLUX_KUSTOMIZE_VERSION-$FLUX_SOURCE_VERSION"

log() { echo "build-gitops-tools: $*" >&2; }
mkdir -p "$OUT/crds"
# shellcheck source=lib/gobuild.sh
source "$HERE/lib/gobuild.sh"

build_main kstatus KSTATUS_BIN "$HERE/kstatus" "sigs.k8s.io/cli-utils@$CLI_UTILS_VERSION"

# crd MODULE@VERSION PATH...: copy files out of a module's source tree (go mod download).
crd() {
  local modver=$1 path moddir missing=0
  shift
  for path in "$@"; do [[ -f "$OUT/crds/$(basename "$path")" ]] || missing=1; done
  [[ $missing -eq 0 ]] && return 0
  log "fetching CRDs from $modver (first run on this machine only)"
  moddir=$(go mod download -json "$modver" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  for path in "$@"; do cp "$moddir/$path" "$OUT/crds/"; done
}

crd "github.com/kedacore/keda/v2@$KEDA_VERSION" config/crd/bases/keda.sh_scaledobjects.yaml
crd "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
  example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml \
  example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml \
  example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml
crd "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" manifests/crds/application-crd.yaml
crd "github.com/fluxcd/kustomize-controller@$FLUX_KUSTOMIZE_VERSION" \
  config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml
crd "github.com/fluxcd/source-controller@$FLUX_SOURCE_VERSION" \
  config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml
echo "$OUT"
