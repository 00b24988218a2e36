#!/usr/bin/env bash
# The CUDA backend's check on the GPU machine, in one call:
#   scripts/device-check.sh prepare   here: builds yardstick and the GPU tests (CUDA on, re2 static)
#                                     and copies them into .carry/ (git-ignored) for the trip
#   scripts/device-check.sh run       there, from the repo root: build checks, the GPU tests, and
#                                     `yardstick bench --synthetic 7b --compare-hf`; logs under $OUT,
#                                     a short table at the end
#   scripts/device-check.sh profile   there: per-kernel times of a short 7B bench under Nsight
#                                     Compute ($OUT/ncu.csv, a summary by kernel and grid), and two
#                                     plain batch-1 decode runs for the run-to-run spread
# The device tool's call: run(command="bash scripts/device-check.sh run", carry=[".carry"]).
set -uo pipefail
cd "$(dirname "$0")/.."

prepare() {
  local build=${YARDSTICK_BUILD_DIR:-build-cuda}
  cmake -S . -B "$build" -DYARDSTICK_CUDA=ON -DYARDSTICK_STATIC_DEPS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
  cmake --build "$build" -j2 --target yardstick cuda_kernels_test cuda_backend_test scheduler_cuda_test || exit 1
  rm -rf .carry/bin && mkdir -p .carry/bin
  cp "$build"/yardstick "$build"/cuda_kernels_test "$build"/cuda_backend_test "$build"/scheduler_cuda_test .carry/bin/
  strip .carry/bin/*
  du -sh .carry
}

setup_env() {
  local cublas_dir
  cublas_dir=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(os.path.dirname(nvidia.cublas.__file__), "lib"))' 2>/dev/null)
  export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${cublas_dir}:${LD_LIBRARY_PATH:-}
  # The test binaries look for tests/fixtures under the checkout they were built in.
  [ -e /work/main ] || { mkdir -p /work && ln -s "$PWD" /work/main; }
}

run() {
  local out=${OUT:-/tmp/device-check}
  mkdir -p "$out"
  setup_env
  echo "== device"
  nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,clocks.sm,clocks.mem --format=csv | tee "$out/gpu.txt"
  echo "== build checks"
  local arch libs
  arch=$(cuobjdump --list-elf .carry/bin/yardstick 2>&1 | grep -o 'sm_[0-9a]*' | sort -u | tr '\n' ' ')
  libs=$(ldd .carry/bin/yardstick | grep -E 'not found|cublas|cudart' | tr -s ' \t' ' ')
  echo "machine code: ${arch:-none}"; echo "$libs"
  echo "== GPU tests"
  timeout 120 .carry/bin/cuda_kernels_test --gtest_brief=1 >"$out/kernels.log" 2>&1; local k=$?
  tail -25 "$out/kernels.log"
  timeout 180 .carry/bin/cuda_backend_test --gtest_brief=1 >"$out/backend.log" 2>&1; local b=$?
  grep -E 'metrics' "$out/backend.log"; tail -25 "$out/backend.log"
  timeout 180 .carry/bin/scheduler_cuda_test --gtest_brief=1 >"$out/scheduler.log" 2>&1; local s=$?
  tail -8 "$out/scheduler.log"
  echo "== bench"
  timeout "${BENCH_TIMEOUT:-330}" .carry/bin/yardstick bench --synthetic 7b --compare-hf --hf-script bench/hf_compare.py \
    --json "$out/bench.json" >"$out/bench.md" 2>"$out/bench.err"; local r=$?
  tail -8 "$out/bench.err"
  echo "== summary"
  echo "machine code: ${arch:-none} | kernels test: exit $k | backend test: exit $b | scheduler test: exit $s | bench: exit $r"
  grep -E '^\[ metrics \]' "$out/backend.log"
  cat "$out/bench.md"
}

profile() {
  local out=${OUT:-/tmp/device-check}
  mkdir -p "$out"
  setup_env
  local ncu
  ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  local short=(bench --synthetic 7b --batches 1 --decode-steps 4 --prefill-seqs 1 --prefill-len 8)
  timeout 300 "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv .carry/bin/yardstick "${short[@]}" \
    >"$out/ncu.csv" 2>"$out/ncu.err"
  echo "ncu exit $?"; tail -3 "$out/ncu.err"
  python3 scripts/ncu_summary.py "$out/ncu.csv" | tee "$out/ncu_summary.txt"
  for i in 1 2; do
    .carry/bin/yardstick bench --synthetic 7b --batches 1 --decode-steps 256 --prefill-seqs 1 --prefill-len 8 2>/dev/null |
      grep -E '^\| decode'
  done
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  profile) profile ;;
  *) echo "usage: $0 prepare|run|profile" >&2; exit 2 ;;
esac
