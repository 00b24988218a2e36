#!/usr/bin/env bash
# Installs dependencies, builds everything (the CUDA backend too when nvcc is present) and runs
# the whole test suite. GPU tests skip themselves when no GPU is present. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The real trained model some tests use (sha256-checked, into the ignored .cache/). Under CI a
# failed fetch fails the run (those tests would fail anyway); elsewhere, offline, they skip.
if ! bash scripts/fetch-test-models.sh; then
  [ -n "${CI:-}" ] && exit 1
  echo "test.sh: the test model could not be fetched; the tests that need it will skip" >&2
fi
build=${YARDSTICK_BUILD_DIR:-build}
jobs=${YARDSTICK_JOBS:-$(nproc)}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs" --timeout 600
