#!/usr/bin/env bash
# The CUDA backend's check on the GPU machine, in one call:
#   scripts/device-check.sh prepare   here: builds yardstick and the GPU tests (CUDA on, re2 static)
#                                     and copies them into .carry/ (git-ignored) for the trip
#   scripts/device-check.sh run       there, from the repo root: build checks, the GPU tests, and
#                                     `yardstick bench --synthetic 7b --compare-hf`; logs under $OUT,
#                                     a short table at the end
#   scripts/device-check.sh gsm8k     there: `yardstick run --backend cuda` on GSM8K (first
#                                     ${GSM8K_LIMIT:-256} problems, 8-shot) with a synthetic 7B
#                                     written by `yardstick synth-model`; timings and the report
#   scripts/device-check.sh eval      there, in one call: the GPU tests, a short bench (with shared-
#                                     prefix decode rows), then `yardstick run` of GSM8K's full test
#                                     at 160 new tokens and the workloads (scripts/workload-bench.sh
#                                     when present)
#   scripts/device-check.sh profile   there: per-kernel times of a short 7B bench under Nsight
#                                     Compute ($OUT/ncu.csv, a summary by kernel and grid), and two
#                                     plain batch-1 decode runs for the run-to-run spread
# The device tool's call: run(command="bash scripts/device-check.sh run", carry=[".carry"]).
set -uo pipefail
cd "$(dirname "$0")/.."

prepare() {
  local build=${YARDSTICK_BUILD_DIR:-build-cuda}
  cmake -S . -B "$build" -DYARDSTICK_CUDA=ON -DYARDSTICK_STATIC_DEPS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
  local gpu_tests=(cuda_kernels_test cuda_backend_test scheduler_cuda_test prefix_cache_cuda_test)
  cmake --build "$build" -j2 --target yardstick "${gpu_tests[@]}" || exit 1
  rm -rf .carry/bin && mkdir -p .carry/bin
  # What the binaries were built from, for the results log (scripts/workload-bench.sh).
  { git rev-parse --short HEAD | tr -d '\n'; git diff --quiet HEAD -- . ':!docs' || printf '+changes'; echo; } >.carry/COMMIT
  cp "$build"/yardstick .carry/bin/
  for t in "${gpu_tests[@]}"; do cp "$build/$t" .carry/bin/; done
  strip .carry/bin/*
  # The GPU tests each link the kernels' machine code: compressed, everything fits the trip's 64 MiB.
  tar -C .carry -cf - bin | xz -T2 -6 >.carry/bin.tar.xz && rm -rf .carry/bin
  # What the GSM8K run needs from ../shared (which does not travel): the data and the tokenizer.
  rm -rf .carry/datasets .carry/tokenizer && mkdir -p .carry/datasets .carry/tokenizer
  # The deepseek-llm-base suite's data (GSM8K, CMMLU and C-Eval alone for the workloads).
  local d
  for d in gsm8k math cmath ceval cmmlu chid cluewsc c3 ccpm humaneval mbpp; do cp -r ../shared/datasets/$d .carry/datasets/; done
  cp ../shared/reference/tokenizer/tokenizer.json ../shared/reference/tokenizer/deepseek-llm-7b-base.tokenizer_config.json \
    .carry/tokenizer/
  du -sh .carry
}

setup_env() {
  [ -f .carry/bin.tar.xz ] && [ ! -d .carry/bin ] && xz -dc .carry/bin.tar.xz | tar -C .carry -xf -
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
  echo "== bench at GSM8K-like context (1024-token prompts)"
  timeout 240 .carry/bin/yardstick bench --synthetic 7b --prompt-len 1024 --decode-steps 32 --batches 1,32,128 \
    --prefill-seqs 4 --prefill-len 1024 --json "$out/bench_long.json" >"$out/bench_long.md" 2>/dev/null; local l=$?
  echo "== summary"
  echo "machine code: ${arch:-none} | kernels test: exit $k | backend test: exit $b | scheduler test: exit $s | bench: exit $r"
  grep -E '^\[ metrics \]' "$out/backend.log"
  cat "$out/bench.md"
  echo "long-context bench: exit $l"
  grep -E '^\|' "$out/bench_long.md"
}

gsm8k() {
  local out=${OUT:-/tmp/device-check}
  mkdir -p "$out"
  setup_env
  local model=/tmp/synth-7b
  echo "== synth-model 7b"
  /usr/bin/time -f "synth-model: %e s wall" .carry/bin/yardstick synth-model --out "$model" --preset 7b --dtype bf16 \
    --tokenizer .carry/tokenizer/tokenizer.json 2>&1 | tail -2
  echo "== yardstick run --backend cuda, gsm8k --limit ${GSM8K_LIMIT:-256}"
  /usr/bin/time -f "run: %e s wall" .carry/bin/yardstick run --model "$model" --tasks gsm8k --limit "${GSM8K_LIMIT:-256}" \
    --backend cuda --max-batch "${GSM8K_BATCH:-128}" --db "$out/gsm8k.db" --data-dir .carry/datasets \
    >"$out/gsm8k.md" 2>"$out/gsm8k.err"
  echo "run exit $?"
  grep -vE '\r' "$out/gsm8k.err" | tail -12
  cat "$out/gsm8k.md"
}

gpu_tests() {
  local out=$1 t rc all=0
  for t in cuda_kernels_test cuda_backend_test scheduler_cuda_test prefix_cache_cuda_test; do
    timeout 240 .carry/bin/$t --gtest_brief=1 >"$out/$t.log" 2>&1; rc=$?
    echo "$t: exit $rc"; grep -E '^\[ metrics \]|FAILED|PASSED|Failure|error' "$out/$t.log" | head -30
    [ $rc -eq 0 ] || all=1
  done
  return $all
}

eval_run() {
  local out=${OUT:-/tmp/device-check}
  mkdir -p "$out"
  setup_env
  echo "== device"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  [ "${SKIP_TESTS:-0}" = 1 ] || { echo "== GPU tests"; gpu_tests "$out"; }
  local model=/tmp/synth-7b
  if [ "${SKIP_BENCH:-0}" != 1 ]; then
    echo "== bench"
    timeout 300 .carry/bin/yardstick bench --synthetic 7b ${BENCH_ARGS:-} --json "$out/bench.json" >"$out/bench.md" 2>"$out/bench.err"
    echo "bench exit $?"; tail -3 "$out/bench.err"; grep -E '^\|' "$out/bench.md"
    echo "== bench: 256 sequences behind a 752-token shared prefix, 100 own tokens"
    timeout 200 .carry/bin/yardstick bench --synthetic 7b --batches 256 --prompt-len 100 --shared-prefix 752 \
      --decode-steps 32 --mixed-batch 0 --no-prefill-ab --prefill-seqs 8 --prefill-len 512 >"$out/bench_shared.md" 2>/dev/null
    echo "exit $?"; grep -E '^\|' "$out/bench_shared.md"
  fi
  { [ "${SKIP_GSM8K:-0}" = 1 ] && [ -z "${WORKLOADS:-}" ]; } || [ -e "$model/config.json" ] || /usr/bin/time -f "synth-model: %e s wall" .carry/bin/yardstick synth-model --out "$model" \
    --preset 7b --dtype bf16 --tokenizer .carry/tokenizer/tokenizer.json 2>&1 | tail -1
  # DROP_CACHES=1: the weights come from disk, as a freshly copied checkpoint's would.
  [ "${DROP_CACHES:-0}" = 1 ] && { sync; echo 3 > /proc/sys/vm/drop_caches; }
  [ "${SKIP_GSM8K:-0}" = 1 ] || {
  echo "== yardstick run gsm8k (full test, 160 new tokens, batch 256)"
  /usr/bin/time -f "run: %e s wall" .carry/bin/yardstick run --model "$model" --tasks gsm8k --max-new-tokens 160 \
    --backend cuda --max-batch 256 --db "$out/gsm8k.db" --data-dir .carry/datasets ${RUN_ARGS:-} \
    >"$out/gsm8k.md" 2>"$out/gsm8k.err"
  echo "run exit $?"; tr '\r' '\n' <"$out/gsm8k.err" | grep -v '^synth-7b\|^$' | tail -14; tail -4 "$out/gsm8k.md"
  }
  if [ -n "${WORKLOADS:-}" ]; then
    echo "== workloads: $WORKLOADS on $model"
    timeout "${WL_TIMEOUT:-400}" bash scripts/workload-bench.sh --yardstick .carry/bin/yardstick --data-dir .carry/datasets \
      --model "$model" --workloads "$WORKLOADS" --log "$out/workloads.tsv" -- ${WL_ARGS:-} 2>&1 | tail -60
  fi
  if [ "${RUN_67B:-0}" = 1 ]; then
    echo "== yardstick run gsm8k --limit 256 on synthetic:67b"
    /usr/bin/time -f "run: %e s wall" .carry/bin/yardstick run --model synthetic:67b \
      --tokenizer .carry/tokenizer/tokenizer.json --tasks gsm8k --limit 256 --max-new-tokens 160 --backend cuda \
      --max-batch 256 --db "$out/gsm8k67b.db" --data-dir .carry/datasets >"$out/gsm8k67b.md" 2>"$out/gsm8k67b.err"
    echo "run exit $?"; tr '\r' '\n' <"$out/gsm8k67b.err" | grep -v '^synthetic\|^$' | tail -10; tail -3 "$out/gsm8k67b.md"
  fi
}

profile() {
  local out=${OUT:-/tmp/device-check}
  mkdir -p "$out"
  setup_env
  local ncu
  ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  local short=(bench --synthetic 7b --batches 1 --decode-steps 4 --prefill-seqs 1 --prefill-len 8 --mixed-batch 0
               --no-prefill-ab)
  # PROFILE=prefill: the kernels of 8 x 512-token prefill steps instead (NCU_LAUNCHES of them).
  [ "${PROFILE:-decode}" = prefill ] && short=(bench --synthetic 7b --batches 1 --decode-steps 1 --prefill-seqs 8
                                              --prefill-len 512 --mixed-batch 0 --no-prefill-ab)
  timeout "${NCU_TIMEOUT:-300}" "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv \
    --launch-count "${NCU_LAUNCHES:-100000}" .carry/bin/yardstick "${short[@]}" >"$out/ncu.csv" 2>"$out/ncu.err"
  echo "ncu exit $?"; tail -3 "$out/ncu.err"
  python3 scripts/ncu_summary.py "$out/ncu.csv" | tee "$out/ncu_summary.txt"
  [ "${PROFILE:-decode}" = prefill ] && return
  for i in 1 2; do
    .carry/bin/yardstick bench --synthetic 7b --batches 1 --decode-steps 256 --prefill-seqs 1 --prefill-len 8 2>/dev/null |
      grep -E '^\| decode'
  done
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  gsm8k) gsm8k ;;
  profile) profile ;;
  eval) eval_run ;;
  *) echo "usage: $0 prepare|run|gsm8k|eval|profile" >&2; exit 2 ;;
esac
