#!/usr/bin/env bash
# Compiles the native shim against the CUDA build of the pinned torch wheel and loads it, to catch
# a shim change that breaks the CUDA link (libtorch_cuda / libc10_cuda, CUDA headers) without a
# GPU. Not part of the test suite: it downloads the CUDA wheel and its nvidia-* packages (~5 GB)
# into a throwaway venv under the cache ($DG_CACHE, default ~/.cache/deepguard-ts), never into the
# checkout. Run it when you touch csrc/ or ffi/native.ts. Re-runs reuse the venv; --clean removes
# it afterwards. Usage: bash scripts/check-cuda-build.sh [--clean]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
clean=0
for arg in "$@"; do
  case "$arg" in
    --clean) clean=1 ;;
    *) echo "check-cuda-build: unknown argument '$arg' (expected --clean)" >&2; exit 2 ;;
  esac
done

log() { echo "check-cuda-build: $*" >&2; }
cache=${DG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deepguard-ts}
venv="$cache/cuda-check/venv"
# The torch pin of the project venv, so that the CUDA shim is built from the same headers.
torch_pin=$(grep -E '^torch==' tools/requirements.txt)

if ! "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('torch') == '${torch_pin#torch==}'" 2>/dev/null; then
  log "creating $venv and installing $torch_pin from PyPI (CUDA build, ~5 GB)"
  python3 -m venv "$venv"
  # --isolated: ignore pip config and PIP_* variables, whose find-links or index may hold the CPU
  # build of the same version (2.13.0+cpu also satisfies ==2.13.0).
  "$venv/bin/pip" install --isolated --quiet --disable-pip-version-check "$torch_pin" >&2
fi

torch_dir=$("$venv/bin/python" -c "import importlib.util as u, os; print(os.path.dirname(u.find_spec('torch').origin))")
log "torch $("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('torch'))") at $torch_dir"
if [ ! -f "$torch_dir/lib/libtorch_cuda.so" ]; then
  log "FAIL: $torch_dir/lib/libtorch_cuda.so is missing: pip installed a CPU-only wheel"
  exit 1
fi
log "CUDA libraries: $(cd "$torch_dir/lib" && ls libtorch_cuda.so libc10_cuda.so 2>/dev/null | tr '\n' ' ')"

# The project's own build path: ffi/native.ts compiles against $LIBTORCH into $DG_CACHE/shim.
status=0
report=$(LIBTORCH="$torch_dir" DG_CACHE="$cache" .tools/node_modules/.bin/deno run -A tasks/doctor.ts) || status=$?
echo "$report"
shim=$(echo "$report" | awk '$1 == "shim" {print $2}')
if [ -z "$shim" ]; then
  log "FAIL: doctor did not load the shim (exit $status)"
  exit 1
fi
log "the shim's CUDA libraries (ldd):"
ldd "$shim" | grep -E 'libtorch_cuda|libc10_cuda|libcudart' | awk '{print "  " $1 " => " $3}' >&2
missing=$(ldd "$shim" | grep -c 'not found' || true)
log "unresolved libraries: $missing"
# CUDA graphs: compiled in (DG_CUDA and ATen/cuda/CUDAGraph.h) only when the shim references
# at::cuda::CUDAGraph; the dg_cuda_graph_* functions are exported by every build.
graph_fns=$(nm -D --defined-only "$shim" | awk '$3 ~ /^dg_cuda_graph/ {print $3}' | sort | tr '\n' ' ')
graph_refs=$(nm -D --undefined-only "$shim" | c++filt | grep -c 'at::cuda::CUDAGraph::' || true)
log "graph functions (nm -D): $graph_fns"
log "at::cuda::CUDAGraph members referenced: $graph_refs"
if ! echo "$report" | grep -q '^CUDA graphs *yes'; then
  log "FAIL: the shim was built without CUDA graphs (no DG_CUDA: CUDA runtime headers not found?)"
  status=1
fi

if [ "$clean" = 1 ]; then
  log "removing $cache/cuda-check"
  rm -rf "$cache/cuda-check"
fi
if [ "$status" != 0 ] || [ "$missing" != 0 ]; then
  log "FAIL (doctor exit $status, $missing unresolved libraries)"
  exit 1
fi
log "OK: the shim compiles, links libtorch_cuda and loads"
