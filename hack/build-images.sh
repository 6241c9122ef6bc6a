#!/usr/bin/env bash
# Builds the images a real test node runs, without Docker or a registry, and caches each as an
# image archive keyed by the hash of its inputs, so only the first run on a machine (or the
# first after the inputs change) pays. Prints one "NAME ARCHIVE" line per image, ready for
# `ctr images import`:
#   modelops   the project's Dockerfile, built unchanged with buildah; its `FROM python:3.11-slim`
#              is a local base of that name: Debian bookworm (debootstrap) with Debian's Python.
#   pause      the pod sandbox: hack/pause's static binary in a `FROM scratch` image.
# Needs root, buildah and debootstrap (hack/install-node-packages.sh) and the pause binary
# (hack/build-node.sh).
set -euo pipefail
# shellcheck source=lib/lock.sh
source "$(dirname "$0")/lib/lock.sh" && hold_lock build-images

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${MODELOPS_CACHE:-$HOME/.cache/modelops}
OUT="$CACHE/images"
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Debian's Python stands in for the official image's; python-is-python3 gives the `python`
# the Dockerfile calls, passwd its groupadd/useradd.
BASE_PACKAGES=python3,python3-venv,python-is-python3,passwd,ca-certificates
log() { echo "build-images: $*" >&2; }
mkdir -p "$OUT"

# Every build gets a throw-away buildah store, removed on exit: nothing is left in
# /var/lib/containers, and only the archives below are kept.
STORE=$(mktemp -d "$OUT/.buildah-XXXXXX")
RUNROOT=$(mktemp -d /run/modelops-buildah-XXXXXX)
# buildah's runc and blob-info cache make these whatever --root says; remove them if we made them
LEFTOVERS=()
for dir in /run/runc /var/lib/containers; do [[ -e $dir ]] || LEFTOVERS+=("$dir"); done
cleanup() {
  buildah --root "$STORE/root" --runroot "$RUNROOT" rm --all >/dev/null 2>&1 || true
  buildah --root "$STORE/root" --runroot "$RUNROOT" rmi --all --force >/dev/null 2>&1 || true
  # an overlay store can leave its mounts behind; unmount before deleting
  grep -o " $STORE[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$STORE" "$RUNROOT" "${LEFTOVERS[@]}"
}
trap cleanup EXIT
bah() { buildah --root "$STORE/root" --runroot "$RUNROOT" --storage-driver overlay "$@"; }

# archive NAME IMAGE FILE: write IMAGE to FILE as a docker-archive named NAME (atomically).
archive() {
  rm -f "$3.tmp"
  bah push --quiet "$2" "docker-archive:$3.tmp:$1" >&2
  mv "$3.tmp" "$3"
}

build_base() {
  local key=$1 file=$2
  [[ -f "$file" ]] && return 0
  log "making the base image python:3.11-slim from Debian $SUITE (first run on this machine only)"
  local start=$SECONDS rootfs="$STORE/rootfs"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$STORE/debootstrap.log" 2>&1 ||
    { tail -20 "$STORE/debootstrap.log" >&2; return 1; }
  # pip refuses to touch Debian's Python while this marker exists; the official image has none.
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  local ctr mnt
  ctr=$(bah from scratch)
  mnt=$(bah mount "$ctr")
  tar -C "$rootfs" -cf - . | tar -C "$mnt" -xpf -
  bah umount "$ctr" >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd python3 --label "io.modelops.base-key=$key" "$ctr"
  bah commit --quiet "$ctr" "localhost/modelops-base:$key" >/dev/null
  archive "python:3.11-slim" "localhost/modelops-base:$key" "$file"
  rm -rf "$rootfs"
  log "made the base image in $((SECONDS - start))s"
}

build_modelops() {
  local key=$1 base=$2 file=$3 context=$4
  [[ -f "$file" ]] && return 0
  log "building the modelops image $key from the Dockerfile"
  local start=$SECONDS
  bah pull --quiet "docker-archive:$base" >/dev/null
  # The build reaches PyPI and Debian through this machine's TLS setup: lend it the host's CA
  # bundle (and pip's config naming it) for the build only; nothing of it lands in the image.
  local mounts=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  [[ -f /etc/pip.conf ]] && mounts+=(-v /etc/pip.conf:/etc/pip.conf:ro)
  # --network=host: no netavark/CNI network (and no iptables chains) for RUN steps.
  bah bud --quiet --pull=never --network=host --layers=false "${mounts[@]}" \
    -t "localhost/modelops:$key" -f "$context/Dockerfile" "$context" >"$STORE/bud.log" 2>&1 ||
    { tail -40 "$STORE/bud.log" >&2; return 1; }
  archive "modelops:$key" "localhost/modelops:$key" "$file"
  log "built the modelops image in $((SECONDS - start))s"
}

build_pause() {
  local key=$1 binary=$2 file=$3
  [[ -f "$file" ]] && return 0
  local ctr
  ctr=$(bah from scratch)
  bah copy --quiet "$ctr" "$binary" /pause >/dev/null
  bah config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
  bah commit --quiet "$ctr" "localhost/modelops-pause:$key" >/dev/null
  archive "modelops-pause:$key" "localhost/modelops-pause:$key" "$file"
}

# The image's inputs are what its Dockerfile copies and its wheel ships: the context holds only
# those (modelops.testing is not in the wheel), so the image is rebuilt only when they change.
CONTEXT="$STORE/context"
mkdir -p "$CONTEXT"
cp "$ROOT/Dockerfile" "$ROOT/pyproject.toml" "$ROOT/README.md" "$CONTEXT/"
tar -C "$ROOT" --exclude=__pycache__ --exclude='*.pyc' --exclude=modelops/testing -cf - modelops | tar -C "$CONTEXT" -xf -

BASE_KEY=$(echo "$SUITE $BASE_PACKAGES $(sed -n '/^build_base()/,/^}/p' "$0")" | sha256sum | cut -c1-12)
MODELOPS_KEY=$( (echo "$BASE_KEY"; cd "$CONTEXT" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12)
BASE_FILE="$OUT/python-3.11-slim-$BASE_KEY.tar"
build_base "$BASE_KEY" "$BASE_FILE"
build_modelops "$MODELOPS_KEY" "$BASE_FILE" "$OUT/modelops-$MODELOPS_KEY.tar" "$CONTEXT"
# an archive of earlier inputs is never used again, and each is over a gigabyte
find "$OUT" -maxdepth 1 -name 'modelops-*.tar' ! -name "modelops-$MODELOPS_KEY.tar" -delete
# last: on a fresh machine `make test` runs this script beside the node's Go builds, and the
# pause binary comes from them
PAUSE_BIN="$(bash "$HERE/build-node.sh")/pause"
PAUSE_KEY=$(sha256sum "$PAUSE_BIN" | cut -c1-12)
build_pause "$PAUSE_KEY" "$PAUSE_BIN" "$OUT/pause-$PAUSE_KEY.tar"
echo "docker.io/library/modelops:$MODELOPS_KEY $OUT/modelops-$MODELOPS_KEY.tar"
echo "docker.io/library/modelops-pause:$PAUSE_KEY $OUT/pause-$PAUSE_KEY.tar"
