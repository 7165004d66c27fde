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

# The systemd units (contrib/) and the README call /usr/local/bin/berth{,d}.
prefix_bin="$(python3 -c 'import sys; print(sys.prefix)')/bin"
for tool in berth berthd; do
  if [ "$prefix_bin/$tool" != "/usr/local/bin/$tool" ] && [ -x "$prefix_bin/$tool" ]; then
    ln -sf "$prefix_bin/$tool" "/usr/local/bin/$tool"
  fi
done
