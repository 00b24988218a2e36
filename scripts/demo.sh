#!/usr/bin/env bash
# The README's first command (after scripts/setup.sh): builds yardstick, writes a tiny
# DeepSeek-architecture model with random weights, runs GSM8K on 5 problems on the CPU by the
# paper's protocol (8-shot chain of thought, greedy), and prints the report against the paper's
# number for deepseek-llm-7b-base. A random model scores ~0%: the point is the whole path
# (prompt -> engine -> grading -> SQLite -> report) on any machine, in about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${YARDSTICK_BUILD_DIR:-build}
jobs=${YARDSTICK_JOBS:-$(nproc)}
work=${YARDSTICK_DEMO_DIR:-$build/demo}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$jobs" --target yardstick
ys="$build/yardstick"

mkdir -p "$work"
"$ys" synth-model --out "$work/tiny-model" --preset tiny --seed 0
# A fresh database each time, so the demo always generates (re-running a run would resume it).
rm -f "$work/demo.db" "$work/demo.db-wal" "$work/demo.db-shm"
start=$(date +%s)
"$ys" run --model "$work/tiny-model" --tasks gsm8k --limit 5 --backend cpu --db "$work/demo.db"
echo "demo: run took $(( $(date +%s) - start )) s; samples are in $work/demo.db (docs/schema.md)" >&2
echo
"$ys" report --db "$work/demo.db" --against deepseek-llm-7b-base
