# Shared by the build scripts (sourced, not run): build Go commands from the Go module proxy
# into "$OUT", each skipped when "$OUT/<name>" already exists or an environment variable
# names a prebuilt binary. Callers set OUT and log() first.

export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

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

# build_kubernetes VERSION NAME=VAR...: the named commands of k8s.io/kubernetes at VERSION,
# e.g. build_kubernetes v1.36.3 kubelet=KUBELET_BIN kube-proxy=KUBE_PROXY_BIN.
build_kubernetes() {
  local version=$1 need=() pair
  shift
  for pair in "$@"; do
    link_prebuilt "${pair%%=*}" "${pair#*=}" || need+=("${pair%%=*}")
  done
  [[ ${#need[@]} -eq 0 ]] && return 0
  log "building ${need[*]} $version (first run on this machine only)"
  local start=$SECONDS dir="$OUT/.build-kubernetes"
  new_module "$dir"
  # k8s.io/kubernetes points every staging module at ./staging/...; generate the
  # replace block from its own go.mod so each one resolves to the matching v0.x.y.
  local gomod staging="v0.${version#v1.}"
  gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "replace ("
    sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$gomod"
    echo ")"
  } >>"$dir/go.mod"
  local pkgs=() name
  for name in "${need[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$name"); done
  local major=${version#v}; major=${major%%.*}
  local minor=${version#v*.}; minor=${minor%%.*}
  local ver="-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitVersion=$version"
  ver+=" -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor"
  ver+=" -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  (cd "$dir" && go get "k8s.io/kubernetes@$version" >&2 && go build -trimpath -ldflags "-s -w $ver" -o "$OUT/" "${pkgs[@]}" >&2)
  rm -rf "$dir"
  log "built ${need[*]} in $((SECONDS - start))s"
}

# build_command NAME VAR MODULE@VERSION PACKAGE [TAGS]: build one command inside a wrapper
# module (not `go install pkg@version`, which refuses modules whose go.mod has
# replace directives, as etcd's server module does); the wrapper resolves the
# command's dependencies from the requirements of its published go.mod. TAGS are Go
# build tags (comma-separated).
build_command() {
  link_prebuilt "$1" "$2" && return 0
  wrapper_build "$1" "$3" "$4" "${5:-}"
}

# build_main NAME VAR DIR MODULE@VERSION: build the main package in DIR (this repository's own
# small commands on an upstream module) against MODULE@VERSION, in a wrapper module of its own.
build_main() {
  link_prebuilt "$1" "$2" && return 0
  wrapper_build "$1" "$4" . "" "$3"
}

# wrapper_build NAME MODULE@VERSION PACKAGE TAGS [SRC]: what both of the above do once no
# prebuilt binary is named. With SRC, its Go files are the wrapper's own main package, whose
# imports `go mod tidy` resolves.
wrapper_build() {
  local name=$1 modver=$2 pkg=$3 tags=$4 src=${5:-}
  log "building $name from $modver (first run on this machine only)"
  local start=$SECONDS dir="$OUT/.build-$name"
  new_module "$dir"
  [[ -z $src ]] || cp "$src"/*.go "$dir/"
  (cd "$dir" && go get "$modver" >&2)
  [[ -z $src ]] || (cd "$dir" && go mod tidy >&2)
  (cd "$dir" && go build -trimpath -tags "$tags" -ldflags "-s -w" -o "$OUT/.$name.tmp" "$pkg" >&2)
  mv "$OUT/.$name.tmp" "$OUT/$name"
  rm -rf "$dir"
  log "built $name in $((SECONDS - start))s"
}
