#!/usr/bin/env bash
# Installs whatever Meridian needs that is missing, and nothing else.
# Idempotent: when everything is present it only checks and exits.
# Debian packages (apt) and the nats.js client for integration tests (npm, from a lockfile).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Build tools, libraries, and the real servers and clients the tests run; systemd
# (systemd-analyze verify) and dpkg-dev (dpkg-shlibdeps for cpack) for the install tests.
packages=(
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config git curl procps
  libuv1-dev node-llhttp libssl-dev nlohmann-json3-dev libtomlplusplus-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  nats-server libnats-dev
  systemd dpkg-dev
)

missing=()
# Node.js may come from elsewhere (with its own npm); take Debian's only when absent.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing missing Debian packages: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "setup: not root and no sudo: install these packages first: ${missing[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all Debian packages present"
fi

# nats.js for the integration tests, pinned by integration/js/package-lock.json.
js="$here/integration/js"
if [ -f "$js/package-lock.json" ]; then
  if [ ! -d "$js/node_modules/nats" ] || [ "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ]; then
    echo "setup: installing nats.js from integration/js/package-lock.json"
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "setup: nats.js present"
  fi
fi
