#!/usr/bin/env bash
# One script for a lent GPU machine (GPU time is scarce): set up against that machine's torch,
# report the build (doctor), run the device-aware tests on CUDA (DG_TEST_DEVICE=cuda), then
# bench:generate and bench:train in bf16 on CUDA at the 0.5B, 1.5B and 7B shapes, each next to
# transformers in the same process pair, and greedy generation at 0.5B with and without the decode
# step replayed as a CUDA graph (tok/s of both, same tokens or not). Every step is time-boxed
# (`timeout`), the limits capped by what is left of the whole budget (default 540 s = 9 minutes),
# so the script always ends in time; a step that fails or times out is recorded and the rest still
# run.
# Writes bench/results/gpu-*.json (one per benchmark, plus gpu-check.json: the steps) and the
# results section of docs/gpu.md (tasks/gpu_report.ts); the full log is bench/results/gpu-check.log.
# Usage: bash scripts/gpu-check.sh [--dry-run] [--budget SECONDS]
#   --dry-run  print the steps with their time limits and exit (runs nothing; works on any machine)
#   --machine-venv  only the first step: make the venv over python3's CUDA torch if needed
# No internet needed when Deno is in .tools/ and python3 holds a CUDA torch with transformers:
# the project venv is then made over that python's packages (--system-site-packages).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dry=0
budget=540
mode=all
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --machine-venv) mode=machine-venv ;;
    --budget)
      budget=${2:-}
      shift
      if ! [[ "$budget" =~ ^[0-9]+$ ]]; then
        echo "gpu-check: --budget needs a whole number of seconds" >&2
        exit 2
      fi
      ;;
    *) echo "gpu-check: unknown argument '$1' (expected --dry-run or --budget SECONDS)" >&2; exit 2 ;;
  esac
  shift
done

results=bench/results
log=$results/gpu-check.log
steps=$results/gpu-check.steps.tsv
deno=.tools/node_modules/.bin/deno
start=$SECONDS
planned=0
failed=0

# step NAME LIMIT_S CMD...: runs CMD under `timeout`, LIMIT_S capped by the budget left; records
# name, exit code, seconds and limit in $steps. In --dry-run it prints the step instead.
step() {
  local name=$1 limit=$2
  shift 2
  if [ "$dry" = 1 ]; then
    planned=$((planned + limit))
    printf '%-22s %4d s  %s\n' "$name" "$limit" "$*"
    return 0
  fi
  local left=$((budget - (SECONDS - start)))
  if [ "$left" -lt 5 ]; then
    printf '%s\tskipped\t0\t%s\t%s\n' "$name" "$limit" "$*" >>"$steps"
    echo "gpu-check: $name skipped (budget spent)"
    failed=1
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0=$SECONDS rc=0
  echo "=== $name (limit ${limit}s): $*" >>"$log"
  timeout --kill-after=5 "$limit" "$@" >>"$log" 2>&1 || rc=$?
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t0))" "$limit" "$*" >>"$steps"
  echo "gpu-check: $name exit $rc after $((SECONDS - t0)) s (limit $limit s)"
  [ "$rc" = 0 ] || failed=1
  return "$rc"
}

# The machine's torch: when the project venv has no CUDA torch and python3 has one, the venv is
# made over python3's packages (torch, transformers, peft) and marked current for setup.sh.
use_machine_torch() {
  local probe="import torch, transformers; assert torch.version.cuda"
  if [ -x .venv/bin/python ] && .venv/bin/python -c "$probe" 2>/dev/null; then return 0; fi
  python3 -c "$probe" 2>/dev/null || return 0 # setup.sh installs the pinned wheel then
  [ -L .venv ] && rm .venv                     # a link that did not travel with the checkout
  python3 -m venv --system-site-packages .venv &&
    sha256sum tools/requirements.txt | cut -c1-16 >.venv/.requirements-hash
}

if [ "$mode" = machine-venv ]; then
  use_machine_torch
  exit $?
fi

if [ "$dry" = 0 ]; then
  mkdir -p "$results"
  : >"$log"
  : >"$steps"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$results/gpu-machine.txt" 2>&1 ||
    echo "no nvidia-smi" >"$results/gpu-machine.txt"
fi
# The tests that honour DG_TEST_DEVICE (docs/gpu.md).
device_tests="tests/model_generate.test.ts tests/model_static_step.test.ts tests/guided_decoding.test.ts
  tests/lora_adapter.test.ts tests/pipeline_samples.test.ts tests/pipeline_workers.test.ts
  tests/train_loss_parity.test.ts"

step machine-venv 30 bash scripts/gpu-check.sh --machine-venv
step setup 110 env DG_SETUP_EVAL=0 bash scripts/setup.sh
step doctor 20 "$deno" run -A tasks/doctor.ts
if [ "$dry" = 0 ] && ! grep -q '^CUDA *available' "$log"; then
  echo "gpu-check: CUDA is not available (doctor's report is in $log); no CUDA step can run"
  budget=0 # the remaining steps are recorded as skipped
fi
step tests-cuda 85 env DG_TEST_DEVICE=cuda "$deno" test -A $device_tests
for shape in 0.5b 1.5b 7b; do
  case "$shape" in 7b) gen=80 train=60 ;; 1.5b) gen=35 train=40 ;; *) gen=30 train=25 ;; esac
  step "generate-$shape" "$gen" "$deno" run -A tasks/bench_generate.ts --device cuda --dtype bf16 \
    --shape "qwen2.5-coder-$shape" --batches 1,16 --new-tokens 64 --runs 1 --reps 2 \
    --out "$results/gpu-generate-$shape.json"
  if [ "$shape" = 0.5b ]; then
    # the decode step as a CUDA graph vs eager, batch 1 (the bench model is cached by now)
    step graphs-0.5b 25 "$deno" run -A tasks/bench_generate.ts --device cuda --dtype bf16 \
      --shape qwen2.5-coder-0.5b --batches 1 --new-tokens 64 --runs 2 --reps 1 --cuda-graphs \
      --out "$results/gpu-graphs-0.5b.json"
  fi
  step "train-$shape" "$train" "$deno" run -A tasks/bench_train.ts --device cuda --dtype bf16 \
    --shape "qwen2.5-coder-$shape" --seq-len 512 --pairs 2 --steps 2 --checkpointing \
    --out "$results/gpu-train-$shape.json"
done

if [ "$dry" = 1 ]; then
  echo "total of the limits: $planned s (budget $budget s)"
  exit 0
fi
{ "$deno" run -A tasks/gpu_report.ts --steps "$steps" --results "$results" --doc docs/gpu.md &&
  "$deno" fmt -q docs/gpu.md; } || failed=1
echo "gpu-check: done in $((SECONDS - start)) s; log $log"
exit "$failed"
