#!/usr/bin/env bash
# Install what Berth and its tests need on a Debian 12 host (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(crun runc catatonit busybox-static iproute2 nftables mmdebstrap util-linux procps
          systemd ca-certificates wget dropbear-bin openssh-client docker-registry skopeo
          docker-compose)
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
# Byte-compile now: with PYTHONDONTWRITEBYTECODE set, every command would
# otherwise recompile its modules (15 ms per `berth ps`).
python3 -m compileall -q src >/dev/null

# /usr/local/bin/berth is a launcher that starts Python without `site`: .pth
# processing costs 25+ ms on every command, more than the rest of `berth ps`.
# berthd keeps pip's entry point (its start-up time does not matter).
python3 - <<'PY'
import os, sys, sysconfig
import berth
src = os.path.dirname(os.path.dirname(os.path.abspath(berth.__file__)))
paths = [src] + sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
launcher = f"""#!{os.path.realpath(sys.executable)} -S
import sys
sys.path[:0] = {paths!r}
from berth.cli.main import main
sys.exit(main())
"""
tmp = "/usr/local/bin/.berth.tmp"
with open(tmp, "w") as f:
    f.write(launcher)
os.chmod(tmp, 0o755)
os.replace(tmp, "/usr/local/bin/berth")
daemon = os.path.join(os.path.dirname(sys.executable), "berthd")
if os.path.realpath(daemon) != "/usr/local/bin/berthd" and os.path.exists(daemon):
    if os.path.lexists("/usr/local/bin/berthd"):
        os.unlink("/usr/local/bin/berthd")
    os.symlink(daemon, "/usr/local/bin/berthd")
PY
