#!/usr/bin/env bash
# The GPU throughput table of docs/benchmarks.rst, in one run of at most ~10 minutes.
#
# Training step: 256x256, `cyclegan` preset (9 residual blocks), batch 1, 16 and 4, for the
# plain eager fp32 loop (always), our eager fp32 step, bf16, bf16+channels_last, bf16+compile
# and bf16+compile "reduce-overhead" (CUDA graphs). Inference: g_xy at 256x256 and 1024x1024.
# Every figure is also a ratio against the plain eager fp32 loop measured in the same process.
#
# Usage (on a CUDA machine, from the repository root, after `pip install -e .`):
#     bash benchmarks/gpu.sh [OUTPUT_DIR]
# Writes OUTPUT_DIR/*.json (one report per run), OUTPUT_DIR/table.md (all tables) and
# OUTPUT_DIR/log.txt. Default OUTPUT_DIR: benchmarks/results/gpu-YYYYMMDD.
#
# Time budget: compilation dominates (each compiled variant compiles its graphs for each batch
# size). A run whose turn comes after BUDGET_S seconds (default 540) is skipped and named in
# the table, so the script ends in about ten minutes on any GPU. ONLY="name ..." runs only the
# named runs (e.g. ONLY="inference-1024 train-b4-eager train-b4-compiled train-b16-tuned",
# what the run of 2026-12-04 on an H200 did not reach).
set -uo pipefail

OUT="${1:-benchmarks/results/gpu-$(date +%Y%m%d)}"
BUDGET_S="${BUDGET_S:-540}"
mkdir -p "$OUT"
LOG="$OUT/log.txt"
TABLE="$OUT/table.md"
: > "$LOG"
PYTHON="${PYTHON:-python}"
BENCH=("$PYTHON" -m unpaired_i2i bench --device "${DEVICE:-cuda}" --preset cyclegan --n-blocks 9)
EAGER=(eager-fp32 bf16 bf16+channels_last)
COMPILED=(bf16+compile bf16+compile-reduce-overhead)
# The inductor caches make a second compile of the same graph fast; keep them in the run.
export TORCHINDUCTOR_FX_GRAPH_CACHE=1

{
  echo "# GPU throughput, $(date -u +%Y-%m-%d)"
  echo
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
    | sed 's/^/GPU: /'
  echo
} > "$TABLE"

run() {  # run NAME SECONDS_LIMIT ARGS...
  local name="$1" limit="$2"
  shift 2
  if [[ -n "${ONLY:-}" && " $ONLY " != *" $name "* ]]; then
    return
  fi
  local left=$((BUDGET_S - SECONDS))
  if (( left < 30 )); then
    echo "skipped $name: the time budget is spent" | tee -a "$LOG" >> "$TABLE"
    echo >> "$TABLE"
    return
  fi
  (( limit > left )) && limit=$left
  echo "== $name (limit ${limit}s, ${SECONDS}s elapsed)" | tee -a "$LOG"
  if timeout "$limit" "${BENCH[@]}" "$@" --json "$OUT/$name.json" --markdown "$OUT/$name.md" \
      >> "$LOG" 2>&1; then
    cat "$OUT/$name.md" >> "$TABLE"
  else
    echo "$name: failed or timed out after ${limit}s (see log.txt)" | tee -a "$LOG" >> "$TABLE"
  fi
  echo >> "$TABLE"
}

# Eager variants and compiled ones run in separate processes, so that a compile that outlasts
# its limit loses only its own rows. Batch 1 first (the reference's setting), then 16
# (throughput), inference, then 4.
B1=(--size 256 --batch-size 1 --steps 20 --warmup 5 --repeats 3)
B16=(--size 256 --batch-size 16 --steps 5 --warmup 3 --repeats 3)
run train-b1-eager 90 "${B1[@]}" --variants "${EAGER[@]}"
run train-b1-compiled 200 "${B1[@]}" --variants "${COMPILED[@]}"
run train-b16-eager 90 "${B16[@]}" --variants "${EAGER[@]}"
run train-b16-compiled 150 "${B16[@]}" --variants "${COMPILED[@]}"
run inference-256 60 --inference --size 256 --batch-size 1 --steps 20 --warmup 5 --repeats 3 \
  --variants eager-fp32 bf16 bf16+channels_last bf16+compile-reduce-overhead
run inference-1024 60 --inference --size 1024 --batch-size 1 --steps 10 --warmup 3 \
  --repeats 3 --variants eager-fp32 bf16 bf16+channels_last
B4=(--size 256 --batch-size 4 --steps 10 --warmup 3 --repeats 3)
run train-b4-eager 60 "${B4[@]}" --variants "${EAGER[@]}"
run train-b4-compiled 150 "${B4[@]}" --variants "${COMPILED[@]}"
# Not in the published table's first run: layouts and autotuning at batch 16, where the step
# is compute-bound (max-autotune compiles for minutes).
run train-b16-tuned 300 "${B16[@]}" \
  --variants bf16+channels_last+compile bf16+channels_last+compile-reduce-overhead \
  bf16+compile-max-autotune

echo "done in ${SECONDS}s: $TABLE" | tee -a "$LOG"
