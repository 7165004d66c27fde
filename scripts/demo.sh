#!/usr/bin/env bash
# The quick start: set up Berth, start berthd, make a base image offline, build the
# example app (examples/app) and run it with a published port, then show it answering.
set -euo pipefail
cd "$(dirname "$0")/.."
# (The test suite runs this script in a private namespace after setup has run once.)
[ -n "${BERTH_DEMO_SKIP_SETUP:-}" ] || ./scripts/setup.sh

SOCK=unix:///run/berth/berth.sock
export BERTH_HOST=$SOCK
if ! berth version >/dev/null 2>&1; then
  echo "demo: starting berthd (log in /var/log/berthd.log)"
  nohup berthd -H "$SOCK" >>/var/log/berthd.log 2>&1 &
  for _ in $(seq 1 100); do berth version >/dev/null 2>&1 && break; sleep 0.1; done
fi
berth version

echo "demo: bootstrapping busybox:latest offline from Debian's busybox-static"
berth image bootstrap busybox

echo "demo: building the example app (examples/app/Dockerfile)"
berth build --progress=plain -t berth-demo-app examples/app
berth images

echo "demo: running it with port 80 published on 127.0.0.1:8080"
berth rm -f berth-demo-web >/dev/null 2>&1 || true
berth run -d --name berth-demo-web -p 127.0.0.1:8080:80 berth-demo-app
berth ps
answer=""
for _ in $(seq 1 50); do
  answer=$(wget -qO- http://127.0.0.1:8080/ 2>/dev/null) && break
  sleep 0.1
done
echo "$answer"
echo "$answer" | grep -q "Hello from a container" || { echo "demo: the app did not answer" >&2; exit 1; }
echo "demo: the app answered on http://127.0.0.1:8080/ (stop it with: berth rm -f berth-demo-web)"
