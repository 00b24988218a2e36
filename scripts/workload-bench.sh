#!/usr/bin/env bash
# The real evaluation workloads on synthetic weights: `yardstick run` on the task prompts of
# GSM8K (full test, 160 new tokens), CMMLU (5-shot, full) and C-Eval (val), optionally the whole
# deepseek-llm-base suite, with random weights of a 7B shape made in memory (no checkpoint).
# Prints per workload the wall time from the command's start, prefill and decode tokens/s,
# engine steps, prefix-cache hit rate and the time to the first finished sample, appends a line
# per workload to a results log (TSV) and prints the previous entry of the same workload and
# settings beside the new one.
#
#   scripts/workload-bench.sh                          # cuda, synthetic:7b, --max-batch 256, full sets
#   scripts/workload-bench.sh --backend cpu --model synthetic:tiny --limit 5   # a quick try on a CPU
#
# Options: --backend cpu|cuda  --model synthetic:SPEC|DIR  --max-batch N  --limit N (docs per task)
#          --workloads gsm8k,cmmlu,ceval[,suite] (or the names as plain arguments)
#          --yardstick BIN  --data-dir DIR  --tokenizer PATH (for synthetic models)
#          --log FILE (default docs/results/workloads.tsv)  --no-log
#          -- ARGS...  (passed to every `yardstick run`, e.g. -- --no-prefix-cache)
# The environment may set the defaults instead (scripts/device-check.sh does): YARDSTICK,
# DATA_DIR, MODEL, TOKENIZER, BACKEND, LOG.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
backend="${BACKEND:-cuda}"
model="${MODEL:-synthetic:7b}"
max_batch=256
limit=""
workloads=gsm8k,cmmlu,ceval
named=()
yardstick="${YARDSTICK:-$root/build/yardstick}"
data_dir="${DATA_DIR:-}"
tokenizer="${TOKENIZER:-}"
log="${LOG:-$root/docs/results/workloads.tsv}"
extra=()
while (($#)); do
  case "$1" in
    --backend) backend="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --max-batch) max_batch="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --workloads) workloads="$2"; shift 2 ;;
    --yardstick) yardstick="$2"; shift 2 ;;
    --data-dir) data_dir="$2"; shift 2 ;;
    --tokenizer) tokenizer="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    --no-log) log=""; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "workload-bench: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) named+=("$1"); shift ;;
  esac
done
if ((${#named[@]})); then workloads="$(IFS=,; echo "${named[*]}")"; fi
[ -x "$yardstick" ] || { echo "workload-bench: no yardstick binary at $yardstick (build first, or --yardstick BIN)" >&2; exit 2; }

# The arguments of each workload.
workload_args() {
  case "$1" in
    gsm8k) echo "--tasks gsm8k --max-new-tokens 160" ;;
    cmmlu) echo "--tasks cmmlu --shots 5" ;;
    ceval) echo "--tasks ceval" ;;
    suite) echo "--suite deepseek-llm-base" ;;
    *) echo "workload-bench: unknown workload '$1' (gsm8k, cmmlu, ceval, suite)" >&2; return 2 ;;
  esac
}

# The commit the binary was built from: COMMIT, else the COMMIT file `device-check.sh prepare`
# leaves beside the carried binaries (a copied tree may carry stale git metadata), else the tree's.
built_from="$(dirname "$yardstick")/../COMMIT"
if [ -z "${COMMIT:-}" ] && [ -s "$built_from" ]; then COMMIT="$(cat "$built_from")"; fi
commit="${COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
if [ "$backend" = cuda ] && command -v nvidia-smi >/dev/null; then
  device="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' \t' '__')"
else
  device="cpu-$(nproc)cores"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
header="date	commit	device	backend	model	workload	limit	max_batch	samples	wall_s	first_sample_s	prefill_tok_s	decode_tok_s	steps	preemptions	prefix_hit_pct	extra"
if [ -n "$log" ] && [ ! -s "$log" ]; then mkdir -p "$(dirname "$log")"; echo "$header" > "$log"; fi

# "label: value" lines of one TSV row (header order).
show_row() {
  awk -F'\t' -v h="$header" 'BEGIN { n = split(h, name, "\t") } { for (i = 1; i <= n; ++i) printf "  %-15s %s\n", name[i], $i }'
}

status=0
IFS=',' read -ra list <<< "$workloads"
for w in "${list[@]}"; do
  args="$(workload_args "$w")" || exit 2
  db="$work/$w.db"
  cmd=("$yardstick" run --model "$model" --backend "$backend" --max-batch "$max_batch" --db "$db" $args)
  [ -n "$limit" ] && cmd+=(--limit "$limit")
  [ -n "$data_dir" ] && cmd+=(--data-dir "$data_dir")
  [ -n "$tokenizer" ] && [[ "$model" == synthetic:* ]] && cmd+=(--tokenizer "$tokenizer")
  cmd+=("${extra[@]}")
  echo "== $w: ${cmd[*]}" >&2
  t0="$(date +%s.%N)"
  if ! "${cmd[@]}" > "$work/$w.out" 2> "$work/$w.err"; then
    echo "workload-bench: $w failed:" >&2; tail -20 "$work/$w.err" >&2; status=1; continue
  fi
  t1="$(date +%s.%N)"
  out="$work/$w.out"
  # The numbers from the run's summary (harness/cmd_run.cpp prints them).
  samples="$(sed -n 's/^samples: \([0-9]*\) planned.*/\1/p' "$out")"
  steps="$(sed -n 's/.*, \([0-9]*\) engine steps.*/\1/p' "$out")"
  preempt="$(sed -n 's/.* engine steps, \([0-9]*\) KV preemptions.*/\1/p' "$out")"
  prefill="$(sed -n 's/^engine: prefill [0-9]* tokens in [0-9.]* s (\([0-9.]*\) tok\/s).*/\1/p' "$out")"
  decode="$(sed -n 's/^engine: .*| decode [0-9]* tokens in [-0-9.]* s (\([0-9.]*\) tok\/s).*/\1/p' "$out")"
  hit="$(sed -n 's/^engine: .*| prefix cache \([0-9.]*\)%.*/\1/p' "$out")"
  first="$(sed -n 's/.*first sample finished at \([0-9.]*\) s.*/\1/p' "$out")"
  wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
  row="$(date -u +%Y-%m-%dT%H:%M:%SZ)	$commit	$device	$backend	$model	$w	${limit:-full}	$max_batch	${samples:-?}	$wall	${first:-?}	${prefill:-?}	${decode:-?}	${steps:-?}	${preempt:-?}	${hit:-?}	${extra[*]:-}"
  echo "-- $w (this run)"
  echo "$row" | show_row
  # Where the time went, as the run itself reports it.
  grep -hE '^yardstick: cuda:|^(samples|engine|time): ' "$work/$w.err" "$out" | sed 's/^/  | /'
  if [ -n "$log" ]; then
    # The latest earlier entry with the same workload and settings (device, backend, model,
    # limit, max batch, extra arguments).
    prev="$(awk -F'\t' -v r="$row" 'BEGIN { split(r, n, "\t") }
      NR > 1 && $3 == n[3] && $4 == n[4] && $5 == n[5] && $6 == n[6] && $7 == n[7] && $8 == n[8] && $17 == n[17] { last = $0 }
      END { print last }' "$log")"
    if [ -n "$prev" ]; then echo "-- $w (previous entry)"; echo "$prev" | show_row; else echo "-- $w: no previous entry in $log"; fi
    echo "$row" >> "$log"
  fi
done
exit "$status"
