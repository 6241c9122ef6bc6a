#!/usr/bin/env bash
# Builds the integration-test control plane from the upstream Go modules and
# caches each binary under a directory keyed by its version, so only the first
# run on a machine pays for the build. Prints the directory holding the binaries.
#
# A binary already named by an environment variable (ETCD_BIN, KUBE_APISERVER_BIN,
# KUBE_CONTROLLER_MANAGER_BIN, KUBE_SCHEDULER_BIN, KUBECTL_BIN, KWOK_BIN, HELM_BIN)
# is linked instead of built.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
HELM_VERSION=${HELM_VERSION:-v3.19.5}
CACHE=${MODELOPS_CACHE:-$HOME/.cache/modelops}
OUT="$CACHE/controlplane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"

export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$OUT"
log() { echo "build-controlplane: $*" >&2; }

# link_prebuilt NAME VAR: use the binary an environment variable names, if any.
link_prebuilt() {
  local name=$1 var=$2
  if [[ -n "${!var:-}" ]]; then
    ln -sf "${!var}" "$OUT/$name"
    return 0
  fi
  [[ -x "$OUT/$name" ]]
}

# new_module DIR: an empty wrapper module to build a dependency's commands in.
new_module() {
  rm -rf "$1" && mkdir -p "$1" && (cd "$1" && go mod init modelops.local/build >/dev/null 2>&1)
}

build_kubernetes() {
  local need=()
  link_prebuilt kube-apiserver KUBE_APISERVER_BIN || need+=(kube-apiserver)
  link_prebuilt kube-controller-manager KUBE_CONTROLLER_MANAGER_BIN || need+=(kube-controller-manager)
  link_prebuilt kube-scheduler KUBE_SCHEDULER_BIN || need+=(kube-scheduler)
  link_prebuilt kubectl KUBECTL_BIN || need+=(kubectl)
  [[ ${#need[@]} -eq 0 ]] && return 0
  log "building ${need[*]} $K8S_VERSION (first run on this machine only)"
  local dir="$OUT/.build-kubernetes"
  new_module "$dir"
  cd "$dir"
  # k8s.io/kubernetes points every staging module at ./staging/...; generate the
  # replace block from its own go.mod so each one resolves to the matching v0.x.y.
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "replace ("
    sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\t\1 => \1 '"$STAGING_VERSION"'#p' "$gomod"
    echo ")"
  } >>go.mod
  local pkgs=()
  for name in "${need[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$name"); done
  go get "k8s.io/kubernetes@$K8S_VERSION" >&2
  local ver="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  local major=${K8S_VERSION#v}; major=${major%%.*}
  local minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
  ver+=" -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor"
  ver+=" -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  go build -trimpath -ldflags "-s -w $ver" -o "$OUT/" "${pkgs[@]}" >&2
  cd - >/dev/null
}

# build_command NAME VAR MODULE@VERSION PACKAGE: build one command inside a wrapper
# module (not `go install pkg@version`, which refuses modules whose go.mod has
# replace directives, as etcd's server module does); the wrapper resolves the
# command's dependencies from the requirements of its published go.mod.
build_command() {
  local name=$1 var=$2 modver=$3 pkg=$4
  link_prebuilt "$name" "$var" && return 0
  log "building $name from $modver (first run on this machine only)"
  local start=$SECONDS dir="$OUT/.build-$name"
  new_module "$dir"
  (cd "$dir" && go get "$modver" >&2 && go build -trimpath -ldflags "-s -w" -o "$OUT/.$name.tmp" "$pkg" >&2)
  mv "$OUT/.$name.tmp" "$OUT/$name"
  rm -rf "$dir"
  log "built $name in $((SECONDS - start))s"
}

start=$SECONDS
build_kubernetes
[[ $((SECONDS - start)) -gt 1 ]] && log "built kubernetes binaries in $((SECONDS - start))s"
build_command etcd ETCD_BIN "go.etcd.io/etcd/server/v3@$ETCD_VERSION" go.etcd.io/etcd/server/v3
build_command kwok KWOK_BIN "sigs.k8s.io/kwok@$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
build_command helm HELM_BIN "helm.sh/helm/v3@$HELM_VERSION" helm.sh/helm/v3/cmd/helm
rm -rf "$OUT/.build-kubernetes"
echo "$OUT"
