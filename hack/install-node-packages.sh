#!/usr/bin/env bash
# Installs the Debian packages a real test node needs (containerd, runc, the CNI plugins,
# iptables, conntrack, buildah, debootstrap) with apt-get, once per machine: when every
# command is already present this costs a few `command -v` calls. Needs root.
set -euo pipefail
# shellcheck source=lib/lock.sh
source "$(dirname "$0")/lib/lock.sh" && hold_lock install-node-packages

PACKAGES=(containerd runc containernetworking-plugins iptables conntrack buildah debootstrap iproute2 util-linux)
COMMANDS=(containerd containerd-shim-runc-v2 runc /usr/lib/cni/bridge iptables conntrack buildah debootstrap ip nsenter)

missing=0
for cmd in "${COMMANDS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [[ -x "$cmd" ]] || missing=1
done
[[ $missing -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "install-node-packages: root is needed to install ${PACKAGES[*]}" >&2
  exit 1
fi
echo "install-node-packages: installing ${PACKAGES[*]} (first run on this machine only)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2
