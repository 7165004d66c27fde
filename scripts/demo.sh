#!/usr/bin/env bash
# Set up Berth, start berthd, make a base image offline and run an app that answers.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

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
berth images

echo "demo: a one-shot container"
berth run --rm busybox echo "hello from a Berth container"

echo "demo: an HTTP server in a container (host network), answering on 127.0.0.1:18080"
berth rm -f berth-demo-web >/dev/null 2>&1 || true
berth run -d --name berth-demo-web --network host busybox httpd -f -p 127.0.0.1:18080 -h /etc
for _ in $(seq 1 50); do wget -qO- http://127.0.0.1:18080/hostname 2>/dev/null && break; sleep 0.1; done
berth ps
echo "demo: the server answered; stop it with: berth rm -f berth-demo-web"
