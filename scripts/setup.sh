#!/usr/bin/env bash
# Install what Berth and its tests need on a Debian 12 host (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(crun runc catatonit busybox-static iproute2 nftables mmdebstrap util-linux procps
          systemd ca-certificates wget)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
getent group berth >/dev/null || groupadd --system berth

python3 -m pip install -q --disable-pip-version-check -e ".[test]"
