#!/usr/bin/env bash
# The README's main-job command: set up, build the release configuration, and run the demo
# (a local three-region deployment). Arguments go to meridian-demo (e.g. --once).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target meridian-demo meridian-sidecar meridian-node meridian
exec ./build/release/integration/demo/meridian-demo "$@"
