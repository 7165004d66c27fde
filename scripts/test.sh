#!/usr/bin/env bash
# Set up and run the whole test suite (unit, integration against a real berthd
# in private namespaces, compatibility with the docker CLI and SDK).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec python3 -m pytest -q -ra -p no:cacheprovider tests "$@"
