#!/usr/bin/env bash
# One-time (idempotent, quick when done) set-up of everything DeepGuard-TS needs on a fresh
# Debian/Ubuntu machine with python3, node/npm and g++:
#   1. Deno (pinned) from the npm package `deno`, into .tools/
#   2. the project venv .venv (pinned torch wheel = the libtorch the shim links against unless
#      $LIBTORCH is set, plus the Python oracle used by parity tests and benchmarks)
#   3. the evaluation tools (scripts/setup-eval.sh: analyzers, compilers, the eval venv)
#   4. the native shim (compiled against the chosen libtorch, cached under ~/.cache/deepguard-ts)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
DENO_VERSION=2.9.6
deno="$root/.tools/node_modules/.bin/deno"

log() { echo "setup: $*" >&2; }

if ! "$deno" --version 2>/dev/null | grep -q "^deno $DENO_VERSION "; then
  log "installing Deno $DENO_VERSION (npm package deno) into .tools/"
  npm install --prefix "$root/.tools" --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION" >&2
fi

req_hash=$(sha256sum tools/requirements.txt | cut -c1-16)
if [ "$(cat .venv/.requirements-hash 2>/dev/null)" != "$req_hash" ]; then
  log "creating .venv from tools/requirements.txt (torch CPU wheel, transformers, peft)"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt >&2
  echo "$req_hash" > .venv/.requirements-hash
fi

# DG_SETUP_EVAL=0 skips them (scripts/gpu-check.sh: a GPU machine only benchmarks and tests).
if [ "${DG_SETUP_EVAL:-1}" != 0 ] && [ -f scripts/setup-eval.sh ]; then
  bash scripts/setup-eval.sh
fi

# Builds the shim if needed (cached by source hash) and checks that it loads.
"$deno" run -A --quiet "$root/tasks/doctor.ts" --quiet
