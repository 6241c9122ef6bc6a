#!/usr/bin/env bash
# Builds the S3-compatible server the component tests run on loopback
# (gofakes3's own server command, from its Go module) and caches it under a
# directory keyed by its version, so only the first run on a machine pays for
# the build (about 10 s). Prints the path of the binary.
#
# GOFAKES3_BIN names a prebuilt binary to use instead.
set -euo pipefail
# shellcheck source=lib/lock.sh
source "$(dirname "$0")/lib/lock.sh" && hold_lock build-s3server

GOFAKES3_VERSION=${GOFAKES3_VERSION:-v1.2.0}
CACHE=${MODELOPS_CACHE:-$HOME/.cache/modelops}
OUT="$CACHE/s3server/gofakes3-$GOFAKES3_VERSION"

if [[ -n "${GOFAKES3_BIN:-}" ]]; then
  echo "$GOFAKES3_BIN"
  exit 0
fi
if [[ ! -x "$OUT/gofakes3" ]]; then
  echo "build-s3server: building gofakes3 $GOFAKES3_VERSION (first run on this machine only)" >&2
  mkdir -p "$OUT"
  tmp=$(mktemp -d "$OUT/.gobin-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$tmp" \
    go install -trimpath -ldflags "-s -w" "github.com/johannesboyne/gofakes3/cmd/gofakes3@$GOFAKES3_VERSION" >&2
  mv "$tmp/gofakes3" "$OUT/gofakes3"
fi
echo "$OUT/gofakes3"
