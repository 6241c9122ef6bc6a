#!/usr/bin/env bash
# Builds the metrics pipeline of an autoscaling cluster, each from its Go module, cached under a
# directory keyed by their versions so only the first run on a machine pays:
#   prometheus          with Kubernetes service discovery only (build tags): Debian's package, which
#                       hack/install-prometheus.sh extracts for promtool and static targets, is built
#                       without Kubernetes discovery ("field kubernetes_sd_configs not found")
#   prometheus-adapter  serves custom.metrics.k8s.io from Prometheus with the chart's rules
#   metrics-server      serves metrics.k8s.io (pod CPU, for `autoscaling.metric: cpu`)
# Prints that directory.
#
# A binary named by PROMETHEUS_K8S_BIN, PROMETHEUS_ADAPTER_BIN or METRICS_SERVER_BIN is linked instead.
set -euo pipefail
# shellcheck source=lib/lock.sh
source "$(dirname "$0")/lib/lock.sh" && hold_lock build-metrics

# The module proxy serves these versions (it refuses to list the adapter's, so pin one).
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v0.316.0}
PROMETHEUS_ADAPTER_VERSION=${PROMETHEUS_ADAPTER_VERSION:-v0.12.0}
METRICS_SERVER_VERSION=${METRICS_SERVER_VERSION:-v0.8.0}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MODELOPS_CACHE:-$HOME/.cache/modelops}
OUT="$CACHE/metrics/prometheus-$PROMETHEUS_VERSION-adapter-$PROMETHEUS_ADAPTER_VERSION-metrics-server-$METRICS_SERVER_VERSION"

mkdir -p "$OUT"
log() { echo "build-metrics: $*" >&2; }
# shellcheck source=lib/gobuild.sh
source "$HERE/lib/gobuild.sh"

build_command prometheus PROMETHEUS_K8S_BIN "github.com/prometheus/prometheus@$PROMETHEUS_VERSION" \
  github.com/prometheus/prometheus/cmd/prometheus remove_all_sd,enable_kubernetes_sd
build_command prometheus-adapter PROMETHEUS_ADAPTER_BIN "sigs.k8s.io/prometheus-adapter@$PROMETHEUS_ADAPTER_VERSION" \
  sigs.k8s.io/prometheus-adapter/cmd/adapter
build_command metrics-server METRICS_SERVER_BIN "sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION" \
  sigs.k8s.io/metrics-server/cmd/metrics-server
echo "$OUT"
