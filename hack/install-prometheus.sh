#!/usr/bin/env bash
# Puts prometheus and promtool from Debian's `prometheus` package under a directory keyed by the
# package version and prints it. The package is extracted, not installed: no service, no user,
# nothing outside the cache. PROMETHEUS_DEB_VERSION pins a version (default: apt's candidate);
# PROMETHEUS_BIN and PROMTOOL_BIN name prebuilt binaries to use instead.
set -euo pipefail
# shellcheck source=lib/lock.sh
source "$(dirname "$0")/lib/lock.sh" && hold_lock install-prometheus

CACHE=${MODELOPS_CACHE:-$HOME/.cache/modelops}
log() { echo "install-prometheus: $*" >&2; }

if [[ -n "${PROMETHEUS_BIN:-}" && -n "${PROMTOOL_BIN:-}" ]]; then
  OUT="$CACHE/prometheus/prebuilt"
  mkdir -p "$OUT" && ln -sf "$PROMETHEUS_BIN" "$OUT/prometheus" && ln -sf "$PROMTOOL_BIN" "$OUT/promtool"
  echo "$OUT"
  exit 0
fi

candidate() { apt-cache policy prometheus 2>/dev/null | sed -n 's/^ *Candidate: *//p'; }
version=${PROMETHEUS_DEB_VERSION:-}
if [[ -z "$version" ]]; then
  # A cached version serves until apt is asked for another one.
  cached=$(ls -d "$CACHE"/prometheus/*/promtool 2>/dev/null | sort -V | tail -1 || true)
  if [[ -n "$cached" ]]; then
    dirname "$cached"
    exit 0
  fi
  version=$(candidate)
  if [[ -z "$version" || "$version" == "(none)" ]]; then
    apt-get update -qq >&2
    version=$(candidate)
  fi
fi
OUT="$CACHE/prometheus/$version"
if [[ ! -x "$OUT/promtool" || ! -x "$OUT/prometheus" ]]; then
  log "extracting Debian's prometheus $version (first run on this machine only)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  chmod 755 "$tmp"  # apt's download user must be able to write there
  (cd "$tmp" && apt-get download -qq "prometheus=$version" >&2)
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
  mkdir -p "$OUT"
  cp "$tmp/root/usr/bin/prometheus" "$tmp/root/usr/bin/promtool" "$OUT/"
fi
echo "$OUT"
